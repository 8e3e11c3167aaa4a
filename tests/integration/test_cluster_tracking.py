"""Call tracking in a cluster, against a real PostgreSQL: the node's tracking lock
decides which instance writes; a takeover writes the window it may have
missed; the store keeps one row per node and Linkedid; /route decisions
travel between instances by NOTIFY.

The calls are the tracker's own ended :class:`Call` objects, handed to each
instance as its AMI stream would have (``call_ended``): the AMI side is the
e2e's (tests/e2e/test_failover.py, SIPp through a real Asterisk).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

from hotline_pbx.call_tracking import CallTracking
from hotline_pbx.config import ClusterSettings, Settings
from hotline_pbx.domain.call_record import CallRecord
from hotline_pbx.domain.call_tracker import Call, RouteInfo, RouteTarget
from hotline_pbx.store.batch_writer import BatchWriter
from hotline_pbx.store.call_writer import CALL_RECORDS
from hotline_pbx.store.database import Database
from hotline_pbx.store.models import ROUTES_CHANNEL
from hotline_pbx.store.notify import ConfigListener
from hotline_pbx.store.route_share import RoutePublisher, route_receiver
from tests.integration.test_call_writer import wait_until
from tests.unit.tracker.test_call_record import ended_call


def cluster(node: str = "pbx1", window: float = 60.0) -> Settings:
    return dataclasses.replace(Settings(), cluster=ClusterSettings(
        enabled=True, node=node, takeover_window=window, lock_retry=0.1))


class Instance:
    """One daemon's call tracking and call writer (its own spool)."""

    def __init__(self, db: Database, spool: Path, settings: Settings) -> None:
        self.writer: BatchWriter[CallRecord] = BatchWriter(db.engine, CALL_RECORDS, spool,
                                                           flush_interval=0.05)
        self.tracking = CallTracking(settings, self.writer, dsn=db.dsn)
        self.ended: list[str] = []
        self.tracking.observe_ended(lambda record: self.ended.append(record.call_key))

    async def start(self) -> Instance:
        await self.writer.start()
        await self.tracking.start()
        return self

    async def stop(self) -> None:
        await self.tracking.stop()
        await self.writer.stop()


@pytest.fixture
async def instances(db: Database, tmp_path: Path) -> AsyncIterator[list[Instance]]:
    made: list[Instance] = []
    yield made
    for instance in made:
        await instance.stop()


async def rows(db: Database) -> list[tuple[str, str]]:
    async with db.engine.connect() as conn:
        result = await conn.execute(text("SELECT node, call_key FROM calls ORDER BY id"))
        return [(r[0], r[1]) for r in result]


async def wait_rows(db: Database, count: int) -> None:
    """Until ``count`` rows are stored, then a little longer: a row more would show."""
    deadline = time.monotonic() + 5
    while len(await rows(db)) < count:
        assert time.monotonic() < deadline, f"{count} rows not stored in time"
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.3)
    assert len(await rows(db)) == count


def call(n: int) -> Call:
    key = f"1795000000.{n}"
    return ended_call(linkedid=key, uniqueid=key)


async def test_the_holder_writes_a_standby_keeps_and_a_takeover_writes_what_was_missed(
        db: Database, tmp_path: Path, instances: list[Instance]) -> None:
    first = await Instance(db, tmp_path / "first", cluster()).start()
    instances.append(first)
    await wait_until(lambda: first.tracking.holding, 5.0)
    second = await Instance(db, tmp_path / "second", cluster()).start()
    instances.append(second)
    await asyncio.sleep(0.3)  # several tries for the lock: all refused
    assert first.tracking.holding and not second.tracking.holding
    assert "standby" in second.tracking.readiness().detail

    # Both follow every call; only the holder writes and tells its observers.
    for instance in (first, second):
        instance.tracking.call_ended(call(1))
    await wait_rows(db, 1)
    # The first dies before it sees call 2 end (or before writing it).
    second.tracking.call_ended(call(2))
    await asyncio.sleep(0.2)
    assert await rows(db) == [("pbx1", "1795000000.1")]
    assert (first.ended, second.ended) == (["1795000000.1"], [])

    await first.stop()
    instances.remove(first)
    await wait_until(lambda: second.tracking.holding, 5.0)
    # Call 1 again (stored already: skipped), and call 2, which only it kept.
    await wait_rows(db, 2)
    assert second.tracking.taken_over == 2
    assert await rows(db) == [("pbx1", "1795000000.1"), ("pbx1", "1795000000.2")]
    assert second.ended == ["1795000000.1", "1795000000.2"]
    # From now on the second writes as it goes.
    second.tracking.call_ended(call(3))
    await wait_rows(db, 3)


async def test_a_takeover_writes_only_its_window(
        db: Database, tmp_path: Path, instances: list[Instance]) -> None:
    first = await Instance(db, tmp_path / "first", cluster(window=0.3)).start()
    instances.append(first)
    await wait_until(lambda: first.tracking.holding, 5.0)
    second = await Instance(db, tmp_path / "second", cluster(window=0.3)).start()
    instances.append(second)
    second.tracking.call_ended(call(1))  # older than the window at the takeover
    await asyncio.sleep(0.5)
    second.tracking.call_ended(call(2))
    await first.stop()
    instances.remove(first)
    await wait_until(lambda: second.tracking.holding, 5.0)
    await wait_rows(db, 1)
    assert await rows(db) == [("pbx1", "1795000000.2")]


async def test_two_nodes_each_hold_their_own_lock_and_share_the_table(
        db: Database, tmp_path: Path, instances: list[Instance]) -> None:
    one = await Instance(db, tmp_path / "one", cluster("pbx1")).start()
    two = await Instance(db, tmp_path / "two", cluster("pbx2")).start()
    instances.extend((one, two))
    await wait_until(lambda: one.tracking.holding and two.tracking.holding, 5.0)
    # The same Linkedid on two nodes is two calls; twice on one node, one.
    for instance in (one, two, one):
        instance.tracking.call_ended(call(7))
    await wait_rows(db, 2)
    assert sorted(await rows(db)) == [("pbx1", "1795000000.7"), ("pbx2", "1795000000.7")]


async def test_route_decisions_reach_the_other_instances_but_not_their_sender(
        db: Database) -> None:
    heard: dict[str, list[RouteInfo]] = {"a": [], "b": []}
    listeners = [ConfigListener(db.dsn, _nothing, channel=ROUTES_CHANNEL,
                                on_payload=route_receiver(name, heard[name].append))
                 for name in ("a", "b")]
    publisher = RoutePublisher(db.dsn, "a")
    for service in (*listeners, publisher):
        await service.start()
    try:
        await wait_until(lambda: all(listener.listening.is_set() for listener in listeners), 5.0)
        infos = [RouteInfo(call_id=f"1795000000.{n}", period="closed", route="forward",
                           decided_at=1_800_000_000.5 + n,
                           targets=(RouteTarget("supervisor", "li.na", "李娜 " * 20,
                                                "Local/13810200000@sandbox-mobiles"),),
                           caller="13912345678", caller_name="Caller", dnid="4008001234")
                     for n in range(200)]  # several payloads' worth
        for info in infos:
            publisher.publish(info)
        await wait_until(lambda: len(heard["b"]) == len(infos), 5.0)
        assert heard["b"] == infos  # every field, in order
        await asyncio.sleep(0.2)
        assert heard["a"] == []
        assert publisher.sent == len(infos) and publisher.dropped == 0
    finally:
        for service in (publisher, *listeners):
            await service.stop()


async def _nothing() -> None:
    return None


async def test_with_no_holder_known_a_standby_writes_what_leaves_its_window(
        db: Database, tmp_path: Path, instances: list[Instance]) -> None:
    """PostgreSQL unreachable for the lock (nobody can be known to hold it): a
    record past the window is written by the standby, and so is the rest at its
    stop. Never dropped; the store keeps each once."""
    lonely = Instance(db, tmp_path / "lonely", cluster(window=0.3))
    lonely.tracking = CallTracking(cluster(window=0.3), lonely.writer,
                                   dsn="postgresql://nobody@127.0.0.1:1/none")
    await lonely.start()
    instances.append(lonely)
    await asyncio.sleep(0.3)
    assert not lonely.tracking.holding and lonely.tracking.lock is not None
    assert not lonely.tracking.lock.another_holds
    lonely.tracking.call_ended(call(1))
    await asyncio.sleep(0.5)
    lonely.tracking.call_ended(call(2))  # call 1 leaves the window: written
    await wait_rows(db, 1)
    assert lonely.tracking.written_on_standby == 1
    await lonely.tracking.stop()  # call 2 with it
    await wait_rows(db, 2)
    assert [key for _, key in await rows(db)] == ["1795000000.1", "1795000000.2"]
