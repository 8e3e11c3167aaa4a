"""Schema migrations (Alembic), run on our own async engine.

Idempotent: running it twice leaves the schema as it is. An advisory lock
keeps two daemons starting at once from migrating the same database together.

The Alembic scripts are the top-level ``migrations/`` of a checkout, or the
copy an installed package carries (:mod:`hotline_pbx.resources`), unless
``HOTLINE_MIGRATIONS_DIR`` names another directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection, text

from hotline_pbx.resources import shipped_dir
from hotline_pbx.store.database import Database

_LOCK_KEY = 0x486F746C  # "Hotl": one advisory lock id for schema changes


def migrations_dir() -> Path:
    """Where the Alembic scripts are; looked up when needed, so that importing
    this module never fails on an incomplete install."""
    override = os.environ.get("HOTLINE_MIGRATIONS_DIR")
    return Path(override) if override else shipped_dir("migrations")


def _alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


class SchemaFromNewerVersion(RuntimeError):
    """The database's schema revision is not one of ours: a newer hotline-pbx
    migrated it. Neither `run` nor `migrate` can use or change it."""


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def check_known(revision: str | None, where: str) -> None:
    """Raise `SchemaFromNewerVersion` when `revision`, the schema of the database
    described by `where`, is unknown to this version's migrations."""
    if revision is None:
        return
    scripts = ScriptDirectory.from_config(_alembic_config())
    try:
        scripts.get_revision(revision)
    except CommandError:
        raise SchemaFromNewerVersion(
            f"{where} was migrated by a newer hotline-pbx: its schema is at revision "
            f"{revision}, this version knows revisions up to {scripts.get_current_head()}; "
            "run the newer hotline-pbx (a downgrade is not supported)") from None


async def current_revision(db: Database) -> str | None:
    async with db.engine.connect() as conn:
        return await conn.run_sync(
            lambda sync: MigrationContext.configure(sync).get_current_revision()
        )


async def migrate(db: Database) -> tuple[str | None, str | None]:
    """Upgrade to the newest revision; returns (before, after). A schema of a
    newer version is left as it is (`SchemaFromNewerVersion`)."""

    def upgrade(sync: Connection) -> tuple[Any, Any]:
        sync.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
        before = MigrationContext.configure(sync).get_current_revision()
        check_known(before, db.description)
        command.upgrade(_alembic_config(sync), "head")
        after = MigrationContext.configure(sync).get_current_revision()
        return before, after

    async with db.engine.begin() as conn:
        before, after = await conn.run_sync(upgrade)
    return before, after
