"""The migrations create exactly the tables of ``store/models.py``: alembic's
own comparison of the migrated database against the metadata finds nothing
(types compared too)."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from hotline_pbx.store.models import metadata


async def test_migrated_schema_equals_the_models(pg_dsn: str) -> None:
    engine = create_async_engine(pg_dsn.replace("postgresql://", "postgresql+asyncpg://", 1))
    try:
        async with engine.connect() as conn:
            differences: list[Any] = await conn.run_sync(lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), metadata))
    finally:
        await engine.dispose()
    assert differences == []
