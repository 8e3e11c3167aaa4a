"""The record writer's cost per batch: what a call record costs PostgreSQL's client side.

    .venv/bin/python bench/writer_bench.py [--batches 400] [--sizes 1,3,25]

The daemon writes each kind of record in batches (``store/batch_writer.py``):
at 10 calls/s a batch of two or three call records every 0.25 s, so the cost
of a batch, not of a row, is most of what the writers spend. Per batch size,
the CPU of this process per batch (user + system) and the wall time, for:

* **ours**: ``BatchWriter`` writing the ``calls`` kind as the daemon does (the
  connection it holds while busy, the INSERT in autocommit);
* **peer**: the same statement in a transaction of a connection checked out of
  the pool for each batch (``engine.begin()``: the pool's pre-ping, BEGIN,
  COMMIT, the reset on return), which is how the writer worked before;
* **limit**: asyncpg alone on one connection, ``executemany`` of a prepared
  INSERT (no SQLAlchemy, no transaction of our own).

PostgreSQL: a scratch database on the machine's server (``HOTLINE_TEST_ADMIN_DSN``
or postgres@127.0.0.1:5432), dropped at the end. Results: ``--json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import asyncpg

from hotline_pbx.domain.call_record import CallRecord
from hotline_pbx.store.batch_writer import BatchWriter
from hotline_pbx.store.call_writer import CALL_RECORDS
from hotline_pbx.store.database import Database

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ami_events_bench import drop_database, scratch_database

# The tests' call record (test_stats, test_spool and test_blocked_repo use it too).
from tests.integration.test_call_writer import make_record as record


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


Write = Callable[[list[CallRecord]], Awaitable[None]]


async def measure(write: Write, size: int, batches: int, first: int) -> dict[str, float]:
    numbers = iter(range(first, first + size * (batches + 20)))
    for _ in range(20):  # warm: the statements prepared, the connection made
        await write([record(next(numbers)) for _ in range(size)])
    cpu, wall = cpu_seconds(), time.perf_counter()
    for _ in range(batches):
        await write([record(next(numbers)) for _ in range(size)])
    return {"cpu_ms_per_batch": round((cpu_seconds() - cpu) / batches * 1000, 3),
            "wall_ms_per_batch": round((time.perf_counter() - wall) / batches * 1000, 3)}


def writers(db: Database, spool: Path, limit: asyncpg.Connection) -> dict[str, Write]:
    ours = BatchWriter(db.engine, CALL_RECORDS, spool)
    statement = CALL_RECORDS.insert_statement()

    async def peer(batch: list[CallRecord]) -> None:
        async with db.engine.begin() as conn:
            await conn.execute(statement, CALL_RECORDS.rows(batch))

    columns = list(CALL_RECORDS.row(record(0)))
    sql = (f"INSERT INTO calls ({', '.join(columns)}) VALUES "
           f"({', '.join(f'${i + 1}' for i in range(len(columns)))}) "
           "ON CONFLICT (node, call_key) DO NOTHING")

    async def bare(batch: list[CallRecord]) -> None:
        rows = [CALL_RECORDS.row(r) for r in batch]
        await limit.executemany(sql, [tuple(json.dumps(v) if k == "details" else v
                                            for k, v in row.items()) for row in rows])

    async def ours_write(batch: list[CallRecord]) -> None:
        await ours._insert(batch)  # the writer's own write of one batch, as its task does

    return {"ours": ours_write, "peer": peer, "limit": bare}


async def main_async(args: argparse.Namespace) -> list[dict[str, Any]]:
    sizes = [int(s) for s in args.sizes.split(",") if s]
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmpdir:
        db, name = await scratch_database(Path(tmpdir))
        limit = await asyncpg.connect(db.dsn, timeout=5)
        try:
            ways = writers(db, Path(tmpdir) / "spool", limit)
            first = 0
            for size in sizes:
                row: dict[str, Any] = {"batch_rows": size}
                for label, write in ways.items():
                    row[label] = await measure(write, size, args.batches, first)
                    first += size * (args.batches + 20)
                results.append(row)
        finally:
            await limit.close()
            await db.close()
            await drop_database(name)
    return results


def report(results: list[dict[str, Any]]) -> None:
    print(f"{'rows':>5} {'ours ms CPU':>12} {'peer':>8} {'limit':>8}   "
          f"{'ours/peer':>9} {'ours/limit':>10}   wall ms ours/peer/limit")
    for row in results:
        ours, peer, limit = (row[k]["cpu_ms_per_batch"] for k in ("ours", "peer", "limit"))
        walls = "/".join(f"{row[k]['wall_ms_per_batch']:.2f}" for k in ("ours", "peer", "limit"))
        print(f"{row['batch_rows']:>5} {ours:>12.3f} {peer:>8.3f} {limit:>8.3f}   "
              f"{ours / peer:>9.2f} {ours / limit:>10.2f}   {walls}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=400)
    parser.add_argument("--sizes", default="1,3,25")
    parser.add_argument("--json", type=Path, default=Path("bench/results/writer_bench.json"))
    args = parser.parse_args(argv)
    results = asyncio.run(main_async(args))
    report(results)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
