"""What wallboard viewers cost the daemon: its CPU with 0, 1 and 100 viewers.

    .venv/bin/python bench/wallboard_bench.py [--viewers 100] [--seconds 10] [--calls 300]

Serves the real aiohttp application (the API and the console, as ``hotline-pbx
run`` builds them) in a child process, with a wallboard over ``--calls`` calls
in progress whose board changes at every tick (a call joins the queue each
0.5 s). The parent logs ``--viewers`` browsers in (one session each) and reads
their event streams for ``--seconds``; the child's CPU time (user + system,
from /proc) is measured over the same window. The peer is the same run with no
viewer: the ratio says what the viewers add. Also printed: boards each viewer
received, and the child's RSS. Results go to bench/results/wallboard_bench.json.
A scratch database on the machine's PostgreSQL (HOTLINE_BENCH_ADMIN_DSN) is
dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
from aiohttp import ClientSession, ClientTimeout, CookieJar

from hotline_pbx.sandbox.proc import cpu_seconds, rss_mb

ADMIN_DSN = os.environ.get("HOTLINE_BENCH_ADMIN_DSN",
                           "postgresql://postgres@127.0.0.1:5432/postgres")
RESULTS = Path(__file__).parent / "results" / "wallboard_bench.json"


async def serve(dsn: str, calls: int) -> None:
    """The child: the real app with a live wallboard; prints its port and token."""
    from zoneinfo import ZoneInfo

    from aiohttp import web

    from hotline_pbx.api.app_factory import build_app
    from hotline_pbx.api.auth import hash_token, new_token
    from hotline_pbx.api.context import ApiContext
    from hotline_pbx.config import DatabaseSettings, Secret, load_settings
    from hotline_pbx.console.wallboard import Wallboard
    from hotline_pbx.domain.call_tracker import Call
    from hotline_pbx.lifecycle import ReadinessBoard
    from hotline_pbx.store import api_repo
    from hotline_pbx.store.config_repo import RoutingState
    from hotline_pbx.store.database import open_database
    from hotline_pbx.store.migrate import migrate

    settings = load_settings(None, {"HOTLINE_AMI_SECRET": "x",
                                    "HOTLINE_CONSOLE_MAX_WALLBOARDS": "1000"})
    db = await open_database(DatabaseSettings(dsn=Secret(dsn), pool_size=10), Path.cwd())
    await migrate(db)
    token = new_token()
    async with db.engine.begin() as conn:
        await api_repo.create_token(conn, "bench", "viewer", hash_token(token))

    class Tracker:
        def __init__(self) -> None:
            self.calls: dict[str, Call] = {}

    tracker = Tracker()
    now = time.time()
    for i in range(calls):
        tracker.calls[f"c{i}"] = Call(f"c{i}", f"u{i}", "PJSIP/x", now - i,
                                      answered_at=now - i / 2 if i % 3 else None,
                                      in_queue=i % 3 == 0, queued_at=now - i)
    routing = RoutingState(db.engine, settings)
    await routing.reload()
    board = Wallboard(calls=tracker, routing=routing, zone=ZoneInfo(settings.routing.timezone),
                      service_level_seconds=20.0, interval=0.5, buffer=8, max_viewers=1000)
    api = ApiContext(db.engine, settings)
    api.wallboard = board
    runner = web.AppRunner(build_app(api, ReadinessBoard()), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    await board.start()
    print(json.dumps({"port": runner.addresses[0][1], "token": token}), flush=True)
    n = calls
    while True:  # the board changes at every tick: one more caller queues
        await asyncio.sleep(0.5)
        tracker.calls[f"c{n}"] = Call(f"c{n}", f"u{n}", "PJSIP/x", time.time(),
                                      in_queue=True, queued_at=time.time())
        n += 1


async def viewer(url: str, token: str, seconds: float, counts: list[int]) -> None:
    async with ClientSession(cookie_jar=CookieJar(unsafe=True),
                             timeout=ClientTimeout(total=seconds + 30)) as session:
        await session.post(f"{url}/console/login", data={"token": token})
        boards = 0
        deadline = time.monotonic() + seconds
        async with session.get(f"{url}/console/events") as response:
            async for line in response.content:
                if line.startswith(b"data: "):
                    boards += 1
                if time.monotonic() > deadline:
                    break
        counts.append(boards)


async def measure(pid: int, url: str, token: str, viewers: int, seconds: float
                  ) -> dict[str, Any]:
    counts: list[int] = []
    tasks = [asyncio.create_task(viewer(url, token, seconds, counts)) for _ in range(viewers)]
    await asyncio.sleep(1.0)  # logins and first boards
    before, began = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds - 1.0)
    used, elapsed = cpu_seconds(pid) - before, time.monotonic() - began
    await asyncio.gather(*tasks)
    return {"viewers": viewers, "cpu_seconds": used, "cpu_share": used / elapsed,
            "boards_per_viewer": min(counts) if counts else 0, "rss_mb": rss_mb(pid)}


async def main(args: argparse.Namespace) -> int:
    name = f"hotline_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_DSN, timeout=10)
    await admin.execute(f"CREATE DATABASE {name}")
    dsn = ADMIN_DSN.rsplit("/", 1)[0] + f"/{name}"
    child = await asyncio.create_subprocess_exec(
        sys.executable, __file__, "--serve", dsn, "--calls", str(args.calls),
        stdout=asyncio.subprocess.PIPE)
    try:
        assert child.stdout is not None
        started = json.loads(await asyncio.wait_for(child.stdout.readline(), 60))
        url = f"http://127.0.0.1:{started['port']}"
        rows = [await measure(child.pid, url, started["token"], n, args.seconds)
                for n in (0, 1, args.viewers)]
    finally:
        child.terminate()
        await asyncio.wait_for(child.wait(), 10)
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()
    peer = rows[0]["cpu_share"] or 1e-9
    print(f"{args.calls} calls in progress, a new board every 0.5 s, {args.seconds:g} s each")
    print(f"{'viewers':>8} {'CPU %':>8} {'ratio':>8} {'boards each':>12} {'RSS MB':>8}")
    for row in rows:
        print(f"{row['viewers']:>8} {row['cpu_share'] * 100:>7.1f}% "
              f"{row['cpu_share'] / peer:>8.2f} {row['boards_per_viewer']:>12} "
              f"{row['rss_mb']:>8.1f}")
    extra = (rows[-1]["cpu_share"] - peer) / args.viewers * 1000
    print(f"each viewer adds {extra:.2f} ms of CPU per second (peer: no viewer)")
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps({"calls": args.calls, "rows": rows,
                                   "per_viewer_ms_per_s": extra}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--viewers", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--serve", metavar="DSN", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve:
        asyncio.run(serve(arguments.serve, arguments.calls))
    else:
        raise SystemExit(asyncio.run(main(arguments)))
