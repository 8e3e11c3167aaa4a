"""The call writer against a real PostgreSQL: batches, the spool, replay, idempotency.

The database outage uses a PostgreSQL of our own (tests/private_postgres.py),
stopped and started by the test: the machine's server is shared.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from hotline_pbx.config import DatabaseSettings, Secret
from hotline_pbx.domain.call_record import CallRecord, HangupSide
from hotline_pbx.domain.contract import Outcome, Period
from hotline_pbx.metrics import DB_PENDING, DB_SPOOLED
from hotline_pbx.store import models
from hotline_pbx.store.batch_writer import REJECTED, BatchWriter, Spool
from hotline_pbx.store.call_writer import CALL_RECORDS
from hotline_pbx.store.database import Database, open_database, sqlalchemy_url
from tests.private_postgres import PrivatePostgres

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # a Monday, 10:00 in Shanghai
CallWriter = BatchWriter[CallRecord]


def call_writer(engine: object, spool_root: Path, **options: object) -> CallWriter:
    return BatchWriter(engine, CALL_RECORDS, spool_root, **options)  # type: ignore[arg-type]


def make_record(n: int, **changes: object) -> CallRecord:
    started = T0 + timedelta(seconds=n)
    record = CallRecord(
        call_key=f"1795000000.{n}", linkedid=f"1795000000.{n}", uniqueid=f"1795000000.{n}",
        caller=f"1390000{n:04d}", caller_name="Caller", dnid="4008001234",
        started_at=started, routed_at=started + timedelta(milliseconds=5),
        answered_at=started + timedelta(seconds=3), ended_at=started + timedelta(seconds=60),
        period=Period.OPEN, route="queue", outcome=Outcome.ANSWERED, wait_seconds=3.0,
        talk_seconds=57.0, answered_by="Agent One", answered_role="agent",
        failover_attempts=0, hangup_side=HangupSide.CALLER, hangup_cause=16,
        details={"queue": "hotline"},
    )
    return dataclasses.replace(record, **changes)  # type: ignore[arg-type]


async def rows(db: Database) -> list[str]:
    async with db.engine.connect() as conn:
        result = await conn.execute(select(models.calls.c.call_key).order_by(models.calls.c.id))
        return list(result.scalars())


async def wait_until(predicate: Callable[[], object], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


async def private_writer(private_postgres: PrivatePostgres, tmp_path: Path,
                         **options: object) -> tuple[Database, CallWriter]:
    """A started writer on the test's own PostgreSQL (which the test stops and starts)."""
    db = await open_database(DatabaseSettings(dsn=Secret(private_postgres.dsn), connect_timeout=1),
                             tmp_path)
    writer = call_writer(db.engine, tmp_path / "spool", **options)
    await writer.start()
    return db, writer


@pytest.fixture
async def writer_factory(db: Database, tmp_path: Path) -> AsyncIterator[Callable[..., CallWriter]]:
    made: list[CallWriter] = []

    def make(engine: object = None, **options: object) -> CallWriter:
        writer = call_writer(engine or db.engine, tmp_path / "spool", **options)
        made.append(writer)
        return writer

    yield make
    for writer in made:
        await writer.stop(5)


async def test_rows_are_written_in_batches_and_the_rest_on_time(
        db: Database, writer_factory: Callable[..., CallWriter]) -> None:
    committed: list[int] = []
    writer = writer_factory(batch_size=200, flush_interval=0.25,
                            on_committed=lambda batch: committed.append(len(batch)))
    await writer.start()
    for n in range(450):
        writer.submit(make_record(n))
    await wait_until(lambda: sum(committed) == 450)
    assert committed == [200, 200, 50]  # two full batches at once, the rest 250 ms later
    assert await rows(db) == [f"1795000000.{n}" for n in range(450)]
    assert writer.pending == 0 and DB_PENDING._value.get() == 0


async def test_a_record_written_twice_is_stored_once(
        db: Database, writer_factory: Callable[..., CallWriter]) -> None:
    writer = writer_factory(flush_interval=0.01)
    await writer.start()
    writer.submit(make_record(1))
    await wait_until(lambda: writer.written == 1)
    writer.submit(make_record(1, outcome=Outcome.MISSED))  # the same call_key again
    writer.submit(make_record(2))
    await wait_until(lambda: writer.written == 3)
    async with db.engine.connect() as conn:
        stored = (await conn.execute(select(models.calls.c.call_key, models.calls.c.outcome)
                                     .order_by("call_key"))).all()
    assert [tuple(r) for r in stored] == [("1795000000.1", "answered"),
                                          ("1795000000.2", "answered")]


async def test_stop_writes_what_is_pending(db: Database,
                                           writer_factory: Callable[..., CallWriter]) -> None:
    writer = writer_factory(flush_interval=60)
    await writer.start()
    for n in range(5):
        writer.submit(make_record(n))
    await writer.stop(5)
    assert len(await rows(db)) == 5


async def test_the_record_round_trips_through_the_row(
        db: Database, writer_factory: Callable[..., CallWriter]) -> None:
    writer = writer_factory(flush_interval=0.01)
    await writer.start()
    record = make_record(7, details={"attempts": [{"target": "Local/1@x", "status": "BUSY"}]})
    writer.submit(record)
    await wait_until(lambda: writer.written == 1)
    async with db.engine.connect() as conn:
        row = (await conn.execute(select(models.calls))).mappings().one()
    assert row["started_at"] == record.started_at
    assert (row["period"], row["outcome"], row["hangup_side"]) == ("open", "answered", "caller")
    assert row["details"] == {"attempts": [{"target": "Local/1@x", "status": "BUSY"}]}
    assert row["wait_seconds"] == 3.0 and row["talk_seconds"] == 57.0


async def test_a_row_the_database_refuses_is_set_aside_and_blocks_nothing(
        db: Database, writer_factory: Callable[..., CallWriter], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    writer = writer_factory(flush_interval=0.05)
    await writer.start()
    with caplog.at_level(logging.ERROR):
        writer.submit(make_record(1))
        writer.submit(make_record(2, failover_attempts=70_000))  # calls.failover_attempts is int2
        writer.submit(make_record(3))
        await wait_until(lambda: writer.written == 2 and writer.rejected == 1)
    assert await rows(db) == ["1795000000.1", "1795000000.3"]
    (line,) = (tmp_path / "spool" / "calls" / REJECTED).read_text().splitlines()
    assert json.loads(line)["record"]["call_key"] == "1795000000.2"
    assert "call record 1795000000.2 rejected by PostgreSQL" in caplog.text
    assert writer.spooled == 0


async def test_a_spool_left_by_an_earlier_run_is_replayed_at_start(
        db: Database, writer_factory: Callable[..., CallWriter], tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", CALL_RECORDS, segment_records=3)
    spool.open()
    spool.append([make_record(n) for n in range(8)])  # three segments
    assert len(spool.segments()) == 3
    # A crash after some rows of the first segment were in, before it was deleted:
    writer = writer_factory(flush_interval=0.01)
    async with db.engine.begin() as conn:
        await conn.execute(text("INSERT INTO calls (call_key, started_at, period, outcome, "
                                "ended_at) VALUES ('1795000000.0', now(), 'open', 'missed', "
                                "now())"))
    await writer.start()
    assert writer.spooled == 8
    await wait_until(lambda: writer.spooled == 0)
    assert await rows(db) == [f"1795000000.{n}" for n in range(8)]  # .0 once, the old row
    assert spool.segments() == []


async def test_the_flat_spool_of_earlier_versions_is_replayed_first(
        db: Database, writer_factory: Callable[..., CallWriter], tmp_path: Path) -> None:
    """Before one directory per kind, call segments lay in <data_dir>/spool itself."""
    root = tmp_path / "spool"
    root.mkdir()
    for number, batch in ((1, range(0, 3)), (2, range(3, 5))):  # the old writer's lines
        lines = [json.dumps(make_record(n).to_dict(), ensure_ascii=False,
                            separators=(",", ":")) + "\n" for n in batch]
        (root / f"calls-{number:010d}.jsonl").write_text("".join(lines))
    newer = Spool(root, CALL_RECORDS)
    newer.open()
    newer.append([make_record(n) for n in range(5, 7)])  # written after an upgrade
    writer = writer_factory(flush_interval=0.01)
    await writer.start()
    assert writer.spooled == 7
    await wait_until(lambda: writer.spooled == 0)
    assert await rows(db) == [f"1795000000.{n}" for n in range(7)]
    assert list(root.rglob("calls-*.jsonl")) == []


async def test_a_damaged_spool_line_is_skipped_and_the_rest_replayed(
        db: Database, writer_factory: Callable[..., CallWriter], tmp_path: Path,
        caplog: pytest.LogCaptureFixture) -> None:
    spool = Spool(tmp_path / "spool", CALL_RECORDS)
    spool.open()
    spool.append([make_record(1), make_record(2)])
    (segment,) = spool.segments()
    with segment.open("a") as handle:
        handle.write('{"call_key": "1795000000.3", "linked')  # a crash mid-append
    writer = writer_factory(flush_interval=0.01)
    with caplog.at_level(logging.ERROR):
        await writer.start()
        await wait_until(lambda: writer.spooled == 0)
    assert await rows(db) == ["1795000000.1", "1795000000.2"]
    assert "line 3 is not a call record" in caplog.text


async def test_too_many_pending_records_move_to_the_spool_not_away(
        db: Database, writer_factory: Callable[..., CallWriter]) -> None:
    writer = writer_factory(batch_size=500, max_pending=20, flush_interval=0.05,
                            retry_interval=0.05)
    await writer.start()
    for n in range(100):  # all at once, before the writer task runs
        writer.submit(make_record(n))
    await wait_until(lambda: writer.written == 100, timeout=10)
    assert await rows(db) == [f"1795000000.{n}" for n in range(100)]


# -- a database outage -------------------------------------------------------------------


async def test_an_outage_spools_in_order_and_replays_exactly_once(
        private_postgres: PrivatePostgres, tmp_path: Path) -> None:
    db, writer = await private_writer(private_postgres, tmp_path, flush_interval=0.05,
                                      retry_interval=0.3, write_timeout=2, segment_records=7)
    try:
        for n in range(10):
            writer.submit(make_record(n))
        await wait_until(lambda: writer.written == 10)

        await asyncio.to_thread(private_postgres.stop)
        for n in range(10, 40):
            writer.submit(make_record(n))
            await asyncio.sleep(0.01)
        await wait_until(lambda: writer.spooled == 30)
        assert DB_SPOOLED._value.get() == 30
        assert len(list((tmp_path / "spool" / "calls").glob("calls-*.jsonl"))) == 5  # 7 a segment

        await asyncio.to_thread(private_postgres.start)
        for n in range(40, 45):  # arriving while the spool is replayed: behind it
            writer.submit(make_record(n))
        await wait_until(lambda: writer.spooled == 0 and writer.written == 45, timeout=20)
        assert await rows(db) == [f"1795000000.{n}" for n in range(45)]
        assert DB_SPOOLED._value.get() == 0
        assert list((tmp_path / "spool" / "calls").glob("calls-*.jsonl")) == []
    finally:
        await writer.stop(5)
        await db.close()


async def test_stop_while_the_database_is_down_keeps_everything_in_the_spool(
        private_postgres: PrivatePostgres, tmp_path: Path) -> None:
    db = await open_database(DatabaseSettings(dsn=Secret(private_postgres.dsn), connect_timeout=1),
                             tmp_path)
    try:
        await asyncio.to_thread(private_postgres.stop)
        writer = call_writer(db.engine, tmp_path / "spool", flush_interval=30, write_timeout=1)
        await writer.start()
        for n in range(3):
            writer.submit(make_record(n))
        await writer.stop(10)
        spool = Spool(tmp_path / "spool", CALL_RECORDS)
        assert spool.open() == 3
        # The next run replays them.
        await asyncio.to_thread(private_postgres.start)
        writer = call_writer(db.engine, tmp_path / "spool", flush_interval=0.01)
        await writer.start()
        await wait_until(lambda: writer.spooled == 0, timeout=15)
        await writer.stop(5)
        async with db.engine.connect() as conn:
            assert (await conn.execute(select(func.count()).select_from(models.calls))
                    ).scalar() == 3
    finally:
        await db.close()


async def test_a_restart_between_batches_costs_no_record_the_spool(
        private_postgres: PrivatePostgres, tmp_path: Path) -> None:
    """The writer keeps its connection while busy; PostgreSQL restarted under it
    (the connection is dead, the server is back): the next batch is written on a
    fresh connection at once, not spooled for the retry."""
    db, writer = await private_writer(private_postgres, tmp_path, flush_interval=0.02,
                                      retry_interval=30, write_timeout=2, hold_idle=60)
    try:
        writer.submit(make_record(1))
        await wait_until(lambda: writer.written == 1)
        await asyncio.to_thread(private_postgres.stop)
        await asyncio.to_thread(private_postgres.start)
        writer.submit(make_record(2))
        await wait_until(lambda: writer.written == 2 or writer.spooled > 0)
        assert (writer.written, writer.spooled) == (2, 0)
        assert await rows(db) == ["1795000000.1", "1795000000.2"]
    finally:
        await writer.stop(5)
        await db.close()


async def test_a_quiet_writer_gives_its_connection_back(db: Database, tmp_path: Path) -> None:
    pool = db.engine.pool
    writer = call_writer(db.engine, tmp_path / "spool", flush_interval=0.02, hold_idle=0.3)
    await writer.start()
    try:
        writer.submit(make_record(1))
        await wait_until(lambda: writer.written == 1)
        assert pool.checkedout() == 1  # type: ignore[attr-defined]
        await wait_until(lambda: pool.checkedout() == 0, timeout=3)  # type: ignore[attr-defined]
        writer.submit(make_record(2))  # and takes one again when there is work
        await wait_until(lambda: writer.written == 2)
        assert await rows(db) == ["1795000000.1", "1795000000.2"]
    finally:
        await writer.stop(5)
    assert pool.checkedout() == 0  # type: ignore[attr-defined]


async def test_a_server_timeout_spools_after_one_wait_not_two(db: Database, tmp_path: Path) -> None:
    """PostgreSQL itself gives up on the statement (lock_timeout here): the held
    connection is still open, so the batch is not tried again on a new one (that
    would wait the timeout twice before spooling); it goes to the spool."""
    engine = create_async_engine(sqlalchemy_url(db.dsn),
                                 connect_args={"server_settings": {"lock_timeout": "300"}})
    connections = 0

    def made(*_args: object) -> None:
        nonlocal connections
        connections += 1

    event.listen(engine.sync_engine, "connect", made)
    writer = call_writer(engine, tmp_path / "spool", flush_interval=0.02, retry_interval=30,
                         write_timeout=10)
    await writer.start()
    try:
        writer.submit(make_record(1))
        await wait_until(lambda: writer.written == 1)
        async with db.engine.begin() as locker:
            await locker.execute(text("LOCK TABLE calls IN ACCESS EXCLUSIVE MODE"))
            writer.submit(make_record(2))
            await wait_until(lambda: writer.spooled == 1)
        assert connections == 1  # no second connection for a retry
    finally:
        await writer.stop(5)
        await engine.dispose()
    assert await rows(db) == ["1795000000.1"]  # the second waits in the spool, kept
    assert Spool(tmp_path / "spool", CALL_RECORDS).open() == 1
