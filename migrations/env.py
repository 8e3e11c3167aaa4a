"""Alembic environment: runs on the connection hotline_pbx.store.migrate hands in."""

from __future__ import annotations

from alembic import context

from hotline_pbx.store.models import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `hotline-pbx migrate`, not the alembic CLI")

context.configure(connection=connection, target_metadata=metadata, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
