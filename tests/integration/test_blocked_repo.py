"""blocked_outbound on a real PostgreSQL: idempotent writes, rows read back
through the API's listing (``api_repo.list_blocked``; its paging, time window
and refusals are tested through the API in test_api_calls.py), and the writer
that keeps records while the database is unreachable.

The outage is real: the writer talks to PostgreSQL through a TCP relay that
the test cuts (every connection reset, new ones refused) and restores. The
machine's PostgreSQL itself is never stopped (other test runs share it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import select

from hotline_pbx.config import DatabaseSettings, Secret
from hotline_pbx.store import api_repo, models
from hotline_pbx.store.blocked_repo import BlockedRecord, BlockedWriter, insert_blocked
from hotline_pbx.store.database import Database, open_database

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)


def record(n: int, *, at: datetime | None = None, method: str = "originate") -> BlockedRecord:
    return BlockedRecord(
        event_key=f"hangup:1795748325.{n}", occurred_at=at or T0 + timedelta(seconds=n),
        method=method, action="hung_up", source_channel="", source="",
        dialled_number=f"12{n}", reaction_ms=3.5 + n,
        details={"channel": f"PJSIP/carrier-{n:08x}", "origin": "ami"},
    )


async def count(db: Database) -> int:
    async with db.engine.connect() as conn:
        return int((await conn.exec_driver_sql("SELECT count(*) FROM blocked_outbound")).scalar())


async def stored_numbers(db: Database) -> list[str]:
    """Every stored row's dialled number, newest first."""
    b = models.blocked_outbound
    async with db.engine.connect() as conn:
        return list((await conn.execute(select(b.c.dialled_number)
                                        .order_by(b.c.occurred_at.desc(), b.c.id.desc())))
                    .scalars())


async def test_insert_is_idempotent(db: Database) -> None:
    async with db.engine.begin() as conn:
        assert await insert_blocked(conn, [record(1), record(2)]) == 2
    async with db.engine.begin() as conn:
        # A batch retried after a lost reply: the stored rows are skipped.
        assert await insert_blocked(conn, [record(2), record(3)]) == 1
        assert await insert_blocked(conn, []) == 0
    assert await count(db) == 3


async def test_rows_read_back_through_the_api_listing(db: Database) -> None:
    same_time = T0 + timedelta(minutes=5)
    async with db.engine.begin() as conn:
        await insert_blocked(conn, [record(n) for n in range(7)])
        await insert_blocked(conn, [record(10, at=same_time), record(11, at=same_time)])
    async with db.engine.connect() as conn:
        rows, cursor = await api_repo.list_blocked(conn, api_repo.TimeFilter(), after=None,
                                                   limit=1)
    first = rows[0]
    assert cursor is not None and cursor[0] == same_time
    assert first.occurred_at == same_time and first.occurred_at.utcoffset() is not None
    assert (first.dialled_number, first.reaction_ms) == ("1211", 14.5)
    assert first.method == "originate" and first.details["origin"] == "ami"
    assert await stored_numbers(db) == ["1211", "1210", "126", "125", "124", "123", "122",
                                        "121", "120"]


def test_records_are_checked_before_they_are_queued() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        BlockedRecord("k", datetime(2026, 1, 1), "dial", "hung_up")
    with pytest.raises(ValueError, match="method"):
        BlockedRecord("k", T0, "teleport", "hung_up")
    with pytest.raises(ValueError, match="action"):
        BlockedRecord("k", T0, "dial", "ignored")


# -- the writer across a real outage ---------------------------------------------------------


class Relay:
    """A TCP relay to PostgreSQL that can be cut and restored."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.up = True
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.up:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}

    def cut(self) -> None:
        self.up = False
        for writer in list(self._writers):
            writer.transport.abort()

    def restore(self) -> None:
        self.up = True

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()


@pytest.fixture
async def relayed(db: Database, pg_dsn: str, tmp_path: Path) -> AsyncIterator[tuple[Relay,
                                                                                   Database]]:
    parts = urlsplit(pg_dsn)
    relay = Relay(parts.hostname or "127.0.0.1", parts.port or 5432)
    await relay.start()
    netloc = parts.netloc.rsplit("@", 1)
    host = f"127.0.0.1:{relay.port}"
    dsn = urlunsplit(parts._replace(netloc=f"{netloc[0]}@{host}" if len(netloc) == 2 else host))
    through = await open_database(
        DatabaseSettings(dsn=Secret(dsn), connect_timeout=1, command_timeout=2), tmp_path)
    try:
        yield relay, through
    finally:
        await through.close()
        await relay.close()


async def wait_until(predicate, timeout: float = 15.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_writer_keeps_records_through_an_outage(db: Database,
                                                      relayed: tuple[Relay, Database]) -> None:
    relay, through = relayed
    writer = BlockedWriter(through.engine, command_timeout=2)
    writer.start()
    try:
        assert writer.submit(record(1))
        assert await wait_until(lambda: _eq(count(db), 1))
        relay.cut()
        for n in range(2, 6):
            assert writer.submit(record(n))
        await asyncio.sleep(1.5)  # several failed attempts while it is down
        assert writer.pending == 4 and writer.failures >= 1
        assert await count(db) == 1
        relay.restore()
        assert await writer.flush(20), "queue not written after PostgreSQL came back"
        assert await count(db) == 5
    finally:
        await writer.stop(1)


async def test_a_full_queue_refuses_and_logs_what_it_could_not_keep(
        db: Database, relayed: tuple[Relay, Database], caplog: pytest.LogCaptureFixture) -> None:
    relay, through = relayed
    relay.cut()
    writer = BlockedWriter(through.engine, capacity=3, command_timeout=2)
    writer.start()
    try:
        with caplog.at_level(logging.ERROR, logger="hotline_pbx.store.blocked_repo"):
            accepted = [writer.submit(record(n)) for n in range(5)]
        assert accepted == [True, True, True, False, False]
        assert writer.dropped == 2
        # The refused records are in the log, content and all.
        assert sum("queue full" in r.message and '"dialled_number": "124"' in r.message
                   for r in caplog.records) == 1
        relay.restore()
        assert await writer.flush(20)
        assert await stored_numbers(db) == ["122", "121", "120"]  # the first evidence is kept
    finally:
        await writer.stop(1)


async def test_stop_logs_what_it_could_not_write(relayed: tuple[Relay, Database],
                                                 caplog: pytest.LogCaptureFixture) -> None:
    relay, through = relayed
    relay.cut()
    writer = BlockedWriter(through.engine, command_timeout=1)
    writer.start()
    writer.submit(record(7))
    with caplog.at_level(logging.ERROR, logger="hotline_pbx.store.blocked_repo"):
        await writer.stop(0.5)
    assert any("not stored before shutdown" in r.message and "hangup:1795748325.7" in r.message
               for r in caplog.records)
    assert writer.pending == 0


async def _eq(value, expected: int) -> bool:  # type: ignore[no-untyped-def]
    return bool(await value == expected)
