"""blocked_outbound on a real PostgreSQL: idempotent writes, rows read back
through the API's listing (``api_repo.list_blocked``; its paging, time window
and refusals are tested through the API in test_api_calls.py), and the batch
writer that loses none of them: queue full, PostgreSQL unreachable, shutdown.

The outages are real: either the writer talks to PostgreSQL through a TCP
relay that the test cuts (every connection reset, new ones refused) and
restores, or a PostgreSQL of the test's own is stopped and started. The
machine's PostgreSQL itself is never stopped (other test runs share it).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from sqlalchemy import select

from hotline_pbx.config import DatabaseSettings, Secret
from hotline_pbx.metrics import DB_PENDING, DB_SPOOLED
from hotline_pbx.store import api_repo, models
from hotline_pbx.store.batch_writer import BatchWriter, Spool, insert_batch
from hotline_pbx.store.blocked_repo import BLOCKED_ATTEMPTS, BlockedRecord
from hotline_pbx.store.call_writer import CALL_RECORDS
from hotline_pbx.store.database import Database, open_database
from tests.integration.test_call_writer import make_record
from tests.private_postgres import PrivatePostgres

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


async def numbers_in_insert_order(db: Database) -> list[str]:
    b = models.blocked_outbound
    async with db.engine.connect() as conn:
        return list((await conn.execute(select(b.c.dialled_number).order_by(b.c.id))).scalars())


async def stored_numbers(db: Database) -> list[str]:
    """Every stored row's dialled number, newest first."""
    b = models.blocked_outbound
    async with db.engine.connect() as conn:
        return list((await conn.execute(select(b.c.dialled_number)
                                        .order_by(b.c.occurred_at.desc(), b.c.id.desc())))
                    .scalars())


async def test_insert_is_idempotent(db: Database) -> None:
    async with db.engine.begin() as conn:
        await insert_batch(conn, BLOCKED_ATTEMPTS, [record(1), record(2)])
    assert await count(db) == 2
    async with db.engine.begin() as conn:
        # A batch retried after a lost reply: the stored rows are skipped.
        await insert_batch(conn, BLOCKED_ATTEMPTS, [record(2), record(3)])
        await insert_batch(conn, BLOCKED_ATTEMPTS, [])
    assert await count(db) == 3


async def test_rows_read_back_through_the_api_listing(db: Database) -> None:
    same_time = T0 + timedelta(minutes=5)
    async with db.engine.begin() as conn:
        await insert_batch(conn, BLOCKED_ATTEMPTS, [record(n) for n in range(7)])
        await insert_batch(conn, BLOCKED_ATTEMPTS,
                           [record(10, at=same_time), record(11, at=same_time)])
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
        self.hung = False  # connections stay open, nothing gets through
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
                    if not self.hung:
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


async def _eq(value, expected: int) -> bool:  # type: ignore[no-untyped-def]
    return bool(await value == expected)


def blocked_writer(engine: object, spool_root: Path, **options: Any
                   ) -> BatchWriter[BlockedRecord]:
    return BatchWriter(engine, BLOCKED_ATTEMPTS, spool_root,  # type: ignore[arg-type]
                       flush_interval=0.01, retry_interval=0.2, **options)


async def test_writer_keeps_records_through_an_outage(db: Database, tmp_path: Path,
                                                      relayed: tuple[Relay, Database]) -> None:
    relay, through = relayed
    writer = blocked_writer(through.engine, tmp_path / "spool", write_timeout=2)
    await writer.start()
    try:
        writer.submit(record(1))
        assert await wait_until(lambda: _eq(count(db), 1))
        relay.cut()
        for n in range(2, 6):
            writer.submit(record(n))
            await asyncio.sleep(0.05)
        assert await wait_until(lambda: _true(writer.spooled == 4))
        assert await count(db) == 1
        relay.restore()
        assert await wait_until(lambda: _true(writer.spooled == 0 and writer.written == 5), 20)
        assert await numbers_in_insert_order(db) == ["121", "122", "123", "124", "125"]
    finally:
        await writer.stop(1)


async def test_a_full_queue_goes_to_the_spool_and_nothing_is_lost(
        db: Database, tmp_path: Path, relayed: tuple[Relay, Database]) -> None:
    """Issue #9 item 15: a toll-fraud flood while PostgreSQL is unreachable."""
    relay, through = relayed
    relay.cut()
    writer = blocked_writer(through.engine, tmp_path / "spool", max_pending=3, batch_size=2,
                            write_timeout=2)
    await writer.start()
    try:
        for n in range(40):  # all at once, before the writer task runs
            writer.submit(record(n))
        assert writer.pending == 40  # submit never refuses
        relay.restore()
        assert await wait_until(lambda: _eq(count(db), 40), 20)
        assert await numbers_in_insert_order(db) == [f"12{n}" for n in range(40)]
    finally:
        await writer.stop(5)


async def test_a_full_queue_with_the_database_up_loses_nothing(db: Database,
                                                               tmp_path: Path) -> None:
    writer = blocked_writer(db.engine, tmp_path / "spool", max_pending=5, batch_size=50)
    await writer.start()
    try:
        for n in range(200):
            writer.submit(record(n))
        assert await wait_until(lambda: _eq(count(db), 200), 20)
        assert await numbers_in_insert_order(db) == [f"12{n}" for n in range(200)]
    finally:
        await writer.stop(5)


async def test_stop_with_the_database_down_spools_what_is_left(
        relayed: tuple[Relay, Database], tmp_path: Path) -> None:
    relay, through = relayed
    relay.cut()
    writer = blocked_writer(through.engine, tmp_path / "spool", write_timeout=1)
    await writer.start()
    expected = [record(n, method=method) for n, method in enumerate(["dial", "cli", "forward"])]
    for item in expected:
        writer.submit(item)
    await writer.stop(0.5)
    spool = Spool(tmp_path / "spool", BLOCKED_ATTEMPTS)
    assert spool.open() == 3
    assert [r for segment in spool.segments() for r in spool.read(segment)] == expected
    assert writer.pending == 0


async def test_stop_while_a_write_hangs_spools_the_batch_in_flight(
        db: Database, relayed: tuple[Relay, Database], tmp_path: Path) -> None:
    relay, through = relayed
    writer = blocked_writer(through.engine, tmp_path / "spool", write_timeout=30)
    await writer.start()
    writer.submit(record(1))
    assert await wait_until(lambda: _eq(count(db), 1))
    relay.hung = True  # PostgreSQL stops answering mid-write
    writer.submit(record(2))
    await asyncio.sleep(0.3)  # the batch has left the queue: its INSERT waits for a reply
    assert writer.pending == 1
    await writer.stop(0.5)
    spool = Spool(tmp_path / "spool", BLOCKED_ATTEMPTS)
    assert spool.open() == 1
    assert [r for segment in spool.segments() for r in spool.read(segment)] == [record(2)]


async def test_a_failing_spool_disk_keeps_records_in_memory_until_it_recovers(
        db: Database, relayed: tuple[Relay, Database], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    relay, through = relayed
    relay.cut()
    writer = blocked_writer(through.engine, tmp_path / "spool", write_timeout=1)
    await writer.start()
    try:
        directory = writer.spool_dir
        directory.rmdir()
        directory.write_text("")  # the spool cannot take anything (even as root)
        for n in range(3):
            writer.submit(record(n))
        assert await wait_until(lambda: _true("cannot spool" in caplog.text))
        assert (writer.pending, writer.spooled) == (3, 0)
        directory.unlink()
        directory.mkdir()
        relay.restore()
        assert await wait_until(lambda: _eq(count(db), 3), 20)
        assert await numbers_in_insert_order(db) == ["120", "121", "122"]
    finally:
        await writer.stop(1)


async def test_stop_with_neither_database_nor_disk_logs_every_record(
        relayed: tuple[Relay, Database], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    relay, through = relayed
    relay.cut()
    writer = blocked_writer(through.engine, tmp_path / "spool", write_timeout=1)
    await writer.start()
    writer.spool_dir.rmdir()
    writer.spool_dir.write_text("")
    writer.submit(record(7))
    await writer.stop(1)
    assert any("not stored" in r.message and "hangup:1795748325.7" in r.message
               for r in caplog.records)


async def test_every_kind_counts_in_the_spool_gauge(relayed: tuple[Relay, Database],
                                                    tmp_path: Path) -> None:
    relay, through = relayed
    relay.cut()
    calls = BatchWriter(through.engine, CALL_RECORDS, tmp_path / "spool", flush_interval=0.01,
                        write_timeout=1)
    blocked = blocked_writer(through.engine, tmp_path / "spool", write_timeout=1)
    await calls.start()
    await blocked.start()
    try:
        calls.submit(make_record(1))
        calls.submit(make_record(2))
        for n in range(3):
            blocked.submit(record(n))
        assert await wait_until(lambda: _true(calls.spooled == 2 and blocked.spooled == 3))
        assert DB_SPOOLED._value.get() == 5
    finally:
        await calls.stop(1)
        await blocked.stop(1)
    assert DB_SPOOLED._value.get() == 0 and DB_PENDING._value.get() == 0


async def test_spooled_records_are_replayed_once_in_order_by_the_next_run(
        private_postgres: PrivatePostgres, tmp_path: Path) -> None:
    """PostgreSQL stops; records spool; the daemon stops; it starts again with
    PostgreSQL back: every record stored exactly once, in the order it came."""
    settings = DatabaseSettings(dsn=Secret(private_postgres.dsn), connect_timeout=1)
    db = await open_database(settings, tmp_path)
    try:
        writer = blocked_writer(db.engine, tmp_path / "spool", write_timeout=1,
                                segment_records=4)
        await writer.start()
        writer.submit(record(0))
        assert await wait_until(lambda: _true(writer.written == 1))
        await asyncio.to_thread(private_postgres.stop)
        for n in range(1, 11):
            writer.submit(record(n))
            await asyncio.sleep(0.02)
        writer.submit(record(0))  # the same attempt reported twice (a retried hang-up)
        await writer.stop(2)
        assert Spool(tmp_path / "spool", BLOCKED_ATTEMPTS).open() == 11

        await asyncio.to_thread(private_postgres.start)
        writer = blocked_writer(db.engine, tmp_path / "spool")
        await writer.start()
        assert await wait_until(lambda: _true(writer.spooled == 0), 20)
        await writer.stop(5)
        assert await numbers_in_insert_order(db) == [f"12{n}" for n in range(11)]
        assert list((tmp_path / "spool" / "blocked_outbound").glob("*.jsonl")) == []
    finally:
        await db.close()


async def _true(value: bool) -> bool:
    return value
