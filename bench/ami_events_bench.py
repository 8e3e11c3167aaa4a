"""AMI event path benchmark: recorded Asterisk 22 streams → call records in PostgreSQL.

    .venv/bin/python bench/ami_events_bench.py [--calls 6000] [--rate 2000] [--seconds 20]

The input is the tracker's replay fixtures (tests/unit/tracker/fixtures: 13
captures of the real sandbox, as the daemon's filtered AMI user receives them),
multiplied into ``--calls`` calls with fresh ids and interleaved in time like
a busy PBX: about 40 events per call. Nothing is synthetic but the ids.

1. **throughput**: the whole stream as fast as it goes through the daemon's own
   path, normaliser → tracker → metrics → batched writer → PostgreSQL, timed
   until the last row is committed. Twice: from parsed events (dicts), and
   from the raw bytes through everything the daemon runs (its AMI protocol,
   whose fast lane reads plain events without panoramisk's messages, our
   supervisor and the dispatcher), against the **peer**:
   panoramisk's parser alone on the same bytes, which was the floor of a
   daemon that parses every event through panoramisk.
2. **lag**: an open-loop feed at ``--rate`` events/s for ``--seconds``; for
   each call, the time from feeding its last event (the root ``Hangup``) to
   its row being committed: p50, p99, max.

PostgreSQL: a scratch database on the machine's server (``HOTLINE_TEST_ADMIN_DSN``
or postgres@127.0.0.1:5432), dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg

from hotline_pbx.ami.dispatch import EventDispatcher
from hotline_pbx.ami.supervisor import AmiEvent, AmiSupervisor, _Protocol
from hotline_pbx.call_tracking import CallTracking
from hotline_pbx.config import AmiSettings, DatabaseSettings, Secret, Settings
from hotline_pbx.store.batch_writer import BatchWriter
from hotline_pbx.store.call_writer import CALL_RECORDS
from hotline_pbx.store.database import Database, open_database
from hotline_pbx.store.migrate import migrate

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "unit" / "tracker" / "fixtures"
ADMIN_DSN = os.environ.get("HOTLINE_TEST_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
ID_KEYS = ("Uniqueid", "Linkedid", "DestUniqueid", "DestLinkedid", "LocalOneUniqueid",
           "LocalOneLinkedid", "LocalTwoUniqueid", "LocalTwoLinkedid", "TransfereeUniqueid",
           "TransfereeLinkedid", "TransfererUniqueid", "TransfererLinkedid")
CHUNK = 500  # events handed over between yields to the loop (the writer must run)


# -- the stream --------------------------------------------------------------------------


def captures() -> list[list[AmiEvent]]:
    return [json.loads(p.read_text()) for p in sorted(FIXTURES.glob("*/*.json"))]


def multiplied(calls: int, spacing: float) -> list[AmiEvent]:
    """``calls`` copies of the captures, ids made unique, call k starting at k*spacing."""
    sources = captures()
    events: list[tuple[float, int, AmiEvent]] = []
    for k in range(calls):
        capture = sources[k % len(sources)]
        t0 = float(capture[0]["Timestamp"])
        start = 1_800_000_000.0 + k * spacing
        for seq, raw in enumerate(capture):
            event = dict(raw)
            for key in ID_KEYS:
                if key in event:
                    event[key] = f"{event[key]}-{k}"
            ts = start + float(raw["Timestamp"]) - t0
            event["Timestamp"] = f"{ts:.6f}"
            events.append((ts, seq, event))
    events.sort(key=lambda e: (e[0], e[1]))
    return [e for _, _, e in events]


def wire(events: list[AmiEvent]) -> bytes:
    return "".join("".join(f"{k}: {v}\r\n" for k, v in e.items()) + "\r\n"
                   for e in events).encode()


def chunks(data: bytes, size: int = 65536) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start:start + size]


# -- panoramisk ------------------------------------------------------------------------------


class _Factory:
    """What panoramisk's AMIProtocol calls back: our supervisor's callback, or (the
    peer) nothing but a count."""

    save_stream = None

    def __init__(self, on_message: Any = None) -> None:
        self.on_message = on_message
        self.count = 0

    def dispatch(self, message: Any) -> None:
        self.count += 1
        if self.on_message is not None:
            self.on_message(message)


def panoramisk_protocol(factory: _Factory, protocol_class: Any = None) -> Any:
    from panoramisk.ami_protocol import AMIProtocol

    protocol = (protocol_class or AMIProtocol)()
    protocol.connection_made(None)
    protocol.factory = factory
    protocol.version = "11.0.0"
    return protocol


def peer_parse(data: bytes) -> tuple[int, float]:
    factory = _Factory()
    protocol = panoramisk_protocol(factory)
    started = time.perf_counter()
    for chunk in chunks(data):
        protocol.data_received(chunk)
    return factory.count, time.perf_counter() - started


# -- our path ----------------------------------------------------------------------------------


class Pipeline:
    """The daemon's tracking, assembled as app.py assembles it."""

    def __init__(self, db: Database, spool: Path) -> None:
        self.committed: dict[str, float] = {}
        self.writer = BatchWriter(db.engine, CALL_RECORDS, spool, on_committed=self._committed)
        self.tracking = CallTracking(Settings(), self.writer)

    def _committed(self, batch: Any) -> None:
        now = time.perf_counter()
        for record in batch:
            self.committed[record.call_key] = now

    async def __aenter__(self) -> Pipeline:
        await self.writer.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.writer.stop(30)

    async def until_written(self, count: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while self.writer.written < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {self.writer.written} of {count} rows written")
            await asyncio.sleep(0.005)


def ended_calls(events: list[AmiEvent]) -> int:
    return sum(1 for e in events if e.get("Event") == "Hangup"
               and e.get("Uniqueid") == e.get("Linkedid"))


async def throughput_dicts(db: Database, events: list[AmiEvent], tmp: Path) -> float:
    expected = ended_calls(events)
    async with Pipeline(db, tmp / "spool-a") as pipe:
        started = time.perf_counter()
        feed = pipe.tracking.on_ami_event
        for start in range(0, len(events), CHUNK):
            for event in events[start:start + CHUNK]:
                feed(event)
            await asyncio.sleep(0)
        await pipe.until_written(expected)
        return time.perf_counter() - started


async def throughput_bytes(db: Database, data: bytes, expected: int, tmp: Path) -> float:
    """The daemon's whole path: its AMI protocol (plain events read straight into
    dicts, the rest by panoramisk) → AmiSupervisor (counter) → EventDispatcher
    → tracking → writer, each read's events dispatched as it is read."""
    dispatcher = EventDispatcher()
    supervisor = AmiSupervisor(AmiSettings(secret=Secret("unused")), dispatcher.dispatch)
    async with Pipeline(db, tmp / "spool-b") as pipe:
        dispatcher.subscribe("call-tracker", pipe.tracking.on_ami_event)
        factory = _Factory(on_message=lambda m: supervisor._on_event(None, m))
        # The daemon's protocol: plain events take its fast lane.
        factory.deliver_event = supervisor._received  # type: ignore[attr-defined]
        protocol = panoramisk_protocol(factory, _Protocol)
        started = time.perf_counter()
        for chunk in chunks(data, 32768):
            protocol.data_received(chunk)  # ~65 events, dispatched
            await asyncio.sleep(0)  # what the loop does between two reads
        await pipe.until_written(expected)
        return time.perf_counter() - started


async def lag(db: Database, events: list[AmiEvent], rate: float, tmp: Path
              ) -> tuple[list[float], float]:
    """Open loop: event i is due at i/rate s; returns per-call lags and the achieved rate."""
    roots = {e["Linkedid"] for e in events if e.get("Event") == "Hangup"
             and e.get("Uniqueid") == e.get("Linkedid")}
    ended_at: dict[str, float] = {}
    async with Pipeline(db, tmp / "spool-c") as pipe:
        feed = pipe.tracking.on_ami_event
        started = time.perf_counter()
        index = 0
        while index < len(events):
            due = int((time.perf_counter() - started) * rate) + 1
            while index < min(due, len(events)):
                event = events[index]
                feed(event)
                if event.get("Event") == "Hangup" and event.get("Linkedid") in roots \
                        and event.get("Uniqueid") == event.get("Linkedid"):
                    ended_at[event["Linkedid"]] = time.perf_counter()
                index += 1
            await asyncio.sleep(0.002)
        achieved = len(events) / (time.perf_counter() - started)
        await pipe.until_written(len(ended_at))
        lags = [pipe.committed[key] - ended_at[key] for key in ended_at]
        return lags, achieved


# -- the run --------------------------------------------------------------------------------------


async def scratch_database(tmp: Path) -> tuple[Database, str]:
    name = f"hotline_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        await admin.execute(f"CREATE DATABASE {name}")
    finally:
        await admin.close()
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    db = await open_database(DatabaseSettings(dsn=Secret(dsn)), tmp)
    await migrate(db)
    return db, name


async def drop_database(name: str) -> None:
    admin = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


async def truncate(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.exec_driver_sql("TRUNCATE calls RESTART IDENTITY CASCADE")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def main_async(args: argparse.Namespace) -> None:
    logging.basicConfig(level=logging.WARNING)
    stream = multiplied(args.calls, spacing=0.02)
    data = wire(stream)
    calls = ended_calls(stream)
    print(f"stream: {len(stream)} events, {calls} calls ({len(stream) / calls:.1f} events/call),"
          f" {len(data) / len(stream):.0f} bytes/event, from {len(captures())} captures")
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmpdir:
        tmp = Path(tmpdir)
        db, name = await scratch_database(tmp)
        try:
            rounds: dict[str, list[float]] = {"peer": [], "dicts": [], "bytes": []}
            for _ in range(args.rounds):
                count, seconds = peer_parse(data)
                assert count == len(stream), (count, len(stream))
                rounds["peer"].append(count / seconds)
                await truncate(db)
                rounds["dicts"].append(len(stream) / await throughput_dicts(db, stream, tmp))
                await truncate(db)
                rounds["bytes"].append(len(stream) / await throughput_bytes(db, data, calls, tmp))
                await truncate(db)
            peer = statistics.median(rounds["peer"])
            print(f"\nThroughput, events/s (median of {args.rounds}; each until the last row "
                  "is committed):")
            rows = [("peer: panoramisk's parser alone (no queue, tracking, database)", "peer"),
                    ("ours from dicts: normaliser+tracker+metrics+writer→PostgreSQL", "dicts"),
                    ("ours from bytes: parser+supervisor+dispatcher+all above", "bytes")]
            for label, key in rows:
                value = statistics.median(rounds[key])
                print(f"  {label:64} {value:>9,.0f}   ratio to peer {value / peer:5.2f}")

            lag_stream = multiplied(max(1, int(args.rate * args.seconds / 40)),
                                    spacing=40 / args.rate)[: int(args.rate * args.seconds)]
            lags, achieved = await lag(db, lag_stream, args.rate, tmp)
            print(f"\nLag, event → committed row, open loop at {args.rate:,.0f} events/s "
                  f"(achieved {achieved:,.0f}) for {len(lag_stream)} events, {len(lags)} calls:")
            print(f"  p50 {percentile(lags, 50) * 1000:7.1f} ms   p99 "
                  f"{percentile(lags, 99) * 1000:7.1f} ms   max {max(lags) * 1000:7.1f} ms"
                  f"   (batches: 200 rows or 250 ms)")
        finally:
            await db.close()
            await drop_database(name)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=6000, help="calls in the throughput stream")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=2000.0, help="events/s of the lag test")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the lag test")
    asyncio.run(main_async(parser.parse_args()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
