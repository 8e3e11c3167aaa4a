"""REST API benchmark: what a token check, a transaction and an audit row cost.

    .venv/bin/python bench/api_bench.py [--calls 20000] [--requests 2000] [--concurrency 8]
    .venv/bin/python bench/api_bench.py --parallel-exports 16 [--probe-seconds 20]

Creates a scratch database on the machine's PostgreSQL (HOTLINE_BENCH_ADMIN_DSN,
default postgresql://postgres@127.0.0.1:5432/postgres), fills ``calls`` with
``--calls`` rows over 60 days, serves the real aiohttp application (the one
``hotline-pbx run`` builds) on a loopback port and drives it with an aiohttp
client in the same process, ``--concurrency`` requests in flight, closed loop.

The peer is ``/healthz`` (same server, same client, no database): each
endpoint's throughput is printed with its ratio to it, and p50/p99 latency.

``--parallel-exports N``: instead, N clients download ``/api/v1/calls.csv``
(the whole table) over and over while one client, with the same token,
asks the cheap endpoints one request at a time for ``--probe-seconds`` each:
their p50/p99/max latency and status codes, and the exports' status codes.
The scratch database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from aiohttp import ClientSession, web

from hotline_pbx.api.app_factory import build_app
from hotline_pbx.api.auth import hash_token, new_token
from hotline_pbx.api.context import ApiContext
from hotline_pbx.config import DatabaseSettings, Secret, load_settings
from hotline_pbx.lifecycle import ReadinessBoard
from hotline_pbx.store import api_repo
from hotline_pbx.store.database import open_database
from hotline_pbx.store.migrate import migrate

ADMIN_DSN = os.environ.get("HOTLINE_BENCH_ADMIN_DSN",
                           "postgresql://postgres@127.0.0.1:5432/postgres")
ENDPOINTS = (
    ("healthz (peer, no database)", "/healthz"),
    ("schedule: token + 1 read", "/api/v1/schedule"),
    ("calls page of 50 + audit row", "/api/v1/calls?limit=50"),
    ("one call + notes + audit row", "/api/v1/calls/{id}"),
    ("stats, 30 days, per day", "/api/v1/stats?from={month_ago}&to={today}"),
)


async def fill(dsn: str, calls: int) -> None:
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        now = datetime.now(UTC)
        outcomes = ("answered",) * 8 + ("abandoned", "short_abandoned", "missed")
        rows = [(f"bench-{i}", f"138{i:08d}", now - timedelta(seconds=i * 60 * 60 * 24 * 60
                                                               // calls),
                 "open" if i % 3 else "closed", outcomes[i % len(outcomes)], float(i % 40),
                 60.0) for i in range(calls)]
        await conn.copy_records_to_table(
            "calls", records=rows, columns=["call_key", "caller", "started_at", "period",
                                            "outcome", "wait_seconds", "talk_seconds"])
        await conn.execute("ANALYZE calls")
    finally:
        await conn.close()


async def drive(session: ClientSession, url: str, headers: dict[str, str], total: int,
                concurrency: int) -> tuple[float, list[float]]:
    latencies: list[float] = []
    remaining = total

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            async with session.get(url, headers=headers) as response:
                await response.read()
                if response.status != 200:
                    raise RuntimeError(f"{url}: HTTP {response.status}")
            latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return total / (time.perf_counter() - began), latencies


PROBES = (("schedule: token + 1 read", "/api/v1/schedule"),
          ("calls page of 10 + audit row", "/api/v1/calls?limit=10"))


async def probe(session: ClientSession, url: str, headers: dict[str, str], seconds: float
                ) -> tuple[list[float], Counter[int]]:
    """One request at a time for ``seconds``: latencies and status codes."""
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        started = time.perf_counter()
        async with session.get(url, headers=headers) as response:
            await response.read()
            statuses[response.status] += 1
        latencies.append(time.perf_counter() - started)
    return latencies, statuses


async def under_exports(session: ClientSession, headers: dict[str, str], exports: int,
                        seconds: float) -> None:
    stop = asyncio.Event()
    exported: Counter[int] = Counter()

    async def exporter() -> None:
        while not stop.is_set():
            async with session.get("/api/v1/calls.csv", headers=headers) as response:
                await response.read()
                exported[response.status] += 1

    tasks = [asyncio.create_task(exporter()) for _ in range(exports)]
    await asyncio.sleep(1.0)  # the exports are under way
    print(f"{'endpoint, under ' + str(exports) + ' exports':<32} {'n':>6} {'p50 ms':>8} "
          f"{'p99 ms':>8} {'max ms':>8}  statuses")
    for label, url in PROBES:
        latencies, statuses = await probe(session, url, headers, seconds)
        cuts = (statistics.quantiles(latencies, n=100, method="inclusive")
                if len(latencies) > 1 else latencies * 99)
        print(f"{label:<32} {len(latencies):>6} {cuts[49] * 1000:>8.1f} "
              f"{cuts[98] * 1000:>8.1f} {max(latencies) * 1000:>8.1f}  {dict(statuses)}")
    stop.set()
    await asyncio.gather(*tasks)
    print(f"exports finished meanwhile: {dict(exported)}")


async def throughput(session: ClientSession, headers: dict[str, str], fmt: dict[str, str],
                     args: argparse.Namespace) -> None:
    print(f"{args.calls} calls, {args.requests} requests per endpoint, "
          f"concurrency {args.concurrency}, client and server in one process")
    print(f"{'endpoint':<32} {'req/s':>8} {'vs peer':>8} {'p50 ms':>8} {'p99 ms':>8}")
    peer = None
    for label, path in ENDPOINTS:
        url = path.format(**fmt)
        await drive(session, url, headers, min(100, args.requests), args.concurrency)
        rate, latencies = await drive(session, url, headers, args.requests, args.concurrency)
        peer = peer or rate
        cuts = statistics.quantiles(latencies, n=100)
        print(f"{label:<32} {rate:>8.0f} {rate / peer:>8.2f} "
              f"{cuts[49] * 1000:>8.1f} {cuts[98] * 1000:>8.1f}")


async def main(args: argparse.Namespace) -> None:
    name = f"hotline_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_DSN, timeout=10)
    await admin.execute(f"CREATE DATABASE {name}")
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    try:
        db = await open_database(DatabaseSettings(dsn=Secret(dsn), pool_size=10), Path.cwd())
        await migrate(db)
        await fill(dsn, args.calls)
        token = new_token()
        async with db.engine.begin() as conn:
            await api_repo.create_token(conn, "bench", "admin", hash_token(token))
        settings = load_settings(None, {"HOTLINE_AMI_SECRET": "x"})
        app = build_app(ApiContext(db.engine, settings), ReadinessBoard())
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        today = datetime.now(UTC).date()
        fmt = {"id": str(args.calls // 2), "today": today.isoformat(),
               "month_ago": (today - timedelta(days=30)).isoformat()}
        headers = {"Authorization": f"Bearer {token}"}
        async with ClientSession(f"http://127.0.0.1:{port}") as session:
            if args.parallel_exports:
                print(f"{args.calls} calls, {args.parallel_exports} parallel exports, "
                      "client and server in one process")
                await under_exports(session, headers, args.parallel_exports,
                                    args.probe_seconds)
            else:
                await throughput(session, headers, fmt, args)
        await runner.cleanup()
        await db.close()
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--parallel-exports", type=int, default=0, metavar="N",
                        help="measure the cheap endpoints while N exports run")
    parser.add_argument("--probe-seconds", type=float, default=20.0)
    asyncio.run(main(parser.parse_args()))
