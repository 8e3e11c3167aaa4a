"""The statistics pack: what a month of calls costs as data, HTML and PDF.

    .venv/bin/python bench/pack_bench.py [--calls 100000] [--repeat 3]

Creates a scratch database on the machine's PostgreSQL (HOTLINE_BENCH_ADMIN_DSN,
default postgresql://postgres@127.0.0.1:5432/postgres), fills ``calls`` with
``--calls`` rows spread over last month (open and closed periods, every outcome,
failovers, long calls), and times, best of ``--repeat``:

* the peer: ``compute_stats`` for the month (the per-day KPI SQL of /stats);
* ``monthly_pack`` (both KPI queries, the heat map, operations, purposes,
  complaints, visits and the staffing advice): its ratio to the peer;
* ``render_html`` and ``render_pdf`` of that pack, in both languages, against
  the limit of 5 s a manager waits for a PDF.

Prints a table with ratios and writes bench/results/pack_bench.json. The
scratch database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from hotline_pbx.config import DatabaseSettings, Secret, load_settings
from hotline_pbx.documents.pack_document import render_html, render_pdf
from hotline_pbx.domain.monthly import Month
from hotline_pbx.store.database import open_database
from hotline_pbx.store.migrate import migrate
from hotline_pbx.store.monthly_stats import monthly_pack
from hotline_pbx.store.stats import compute_stats

ADMIN_DSN = os.environ.get("HOTLINE_BENCH_ADMIN_DSN",
                           "postgresql://postgres@127.0.0.1:5432/postgres")
PDF_LIMIT_SECONDS = 5.0
RESULTS = Path(__file__).parent / "results" / "pack_bench.json"


def last_month(zone: ZoneInfo) -> Month:
    first = datetime.now(zone).date().replace(day=1) - timedelta(days=1)
    return Month(first.year, first.month, zone)


async def fill(dsn: str, month: Month, calls: int) -> None:
    outcomes = ("answered",) * 8 + ("abandoned", "short_abandoned", "missed")
    seconds = (month.end - month.start).total_seconds()
    rows = []
    for i in range(calls):
        started = month.start + timedelta(seconds=i * seconds / calls)
        local_hour = started.astimezone(month.zone).hour
        period = "open" if 9 <= local_hour < 17 else "closed"
        outcome = outcomes[i % len(outcomes)]
        rows.append((f"bench-{i}", f"138{i:08d}", started.astimezone(UTC), period, outcome,
                     float(i % 40), 60.0 + i % 900 if outcome == "answered" else None,
                     i % 17 == 0, i % 97 == 0,
                     "supervisor" if period == "closed" and outcome == "answered" else None))
    conn = await asyncpg.connect(dsn, timeout=10)
    try:
        await conn.copy_records_to_table("calls", records=rows, columns=[
            "call_key", "caller", "started_at", "period", "outcome", "wait_seconds",
            "talk_seconds", "long_call", "needs_callback", "answered_role"])
        await conn.execute("UPDATE calls SET failover_attempts = 1 WHERE id % 31 = 0")
        await conn.execute("ANALYZE calls")
    finally:
        await conn.close()


async def best(repeat: int, work: Callable[[], Awaitable[Any]]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        started = time.perf_counter()
        result = await work()
        times.append(time.perf_counter() - started)
    return min(times), result


async def main(args: argparse.Namespace) -> int:
    name = f"hotline_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_DSN, timeout=10)
    await admin.execute(f"CREATE DATABASE {name}")
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    settings = load_settings(None, {"HOTLINE_AMI_SECRET": "x"})
    month = last_month(ZoneInfo(settings.routing.timezone))
    results: dict[str, Any] = {"calls": args.calls, "month": month.label}
    try:
        db = await open_database(DatabaseSettings(dsn=Secret(dsn)), Path.cwd())
        await migrate(db)
        await fill(dsn, month, args.calls)
        now = datetime.now(UTC)
        async with db.engine.connect() as conn:
            peer, _ = await best(args.repeat, lambda: compute_stats(
                conn, month.start, month.end, "open", timezone=month.zone.key))
            took, pack = await best(args.repeat, lambda: monthly_pack(conn, settings, month,
                                                                      now))
        await db.close()
        body = pack.to_dict()
        results.update(stats_seconds=peer, pack_seconds=took, pack_ratio=took / peer)
        print(f"{args.calls} calls in {month.label}, best of {args.repeat}")
        print(f"{'step':<34} {'seconds':>8} {'ratio':>9}")
        print(f"{'compute_stats, month (peer)':<34} {peer:>8.3f} {1:>9.2f}")
        print(f"{'monthly_pack (every section)':<34} {took:>8.3f} {took / peer:>9.2f}")
        for lang in ("zh-CN", "en"):
            started = time.perf_counter()
            html = render_html(body, lang)
            html_took = time.perf_counter() - started
            started = time.perf_counter()
            pdf = await asyncio.to_thread(render_pdf, html)
            pdf_took = time.perf_counter() - started
            results[lang] = {"html_seconds": html_took, "pdf_seconds": pdf_took,
                             "html_bytes": len(html), "pdf_bytes": len(pdf)}
            print(f"{'render_html ' + lang:<34} {html_took:>8.3f} "
                  f"{html_took / PDF_LIMIT_SECONDS:>8.2f}L")
            print(f"{'render_pdf ' + lang + f' ({len(pdf) // 1024} KiB)':<34} "
                  f"{pdf_took:>8.3f} {pdf_took / PDF_LIMIT_SECONDS:>8.2f}L")
        print(f"L = ratio to the {PDF_LIMIT_SECONDS:g} s limit a manager waits for a PDF")
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    slowest = max(results[lang]["pdf_seconds"] for lang in ("zh-CN", "en"))
    return 0 if slowest < PDF_LIMIT_SECONDS else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    raise SystemExit(asyncio.run(main(parser.parse_args())))
