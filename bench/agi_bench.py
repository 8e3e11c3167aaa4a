"""FastAGI benchmark: our `hotline_pbx.agi` server against `panoramisk.fast_agi`.

    .venv/bin/python bench/agi_bench.py                 # both servers on the asyncio loop
    .venv/bin/python bench/agi_bench.py --loop uvloop   # both servers on uvloop

Both servers run in this process, on the same event loop, answering the same
exchange: three `SET VARIABLE` commands per session. A load generator
(`agi_loadgen.py`, uvloop) runs as a subprocess pinned to the other core when
there are two, and drives one server at a time, over loopback:

* closed loop: `--concurrency` sessions back to back; sessions/s is the
  throughput at saturation (latency there is just concurrency ÷ throughput);
* open loop: `--held` sessions kept idle mid-session while new sessions arrive
  at `--rate` per second (Poisson); latency of the decision = connect → reply
  to the last command, and of the session = connect → server closes.

Our server is measured twice: three round trips (the same exchange as
panoramisk) and `set_variables(..., final=True)` (the three commands in one
write, then our end-of-stream).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
import os
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from panoramisk.fast_agi import Application, Request

from hotline_pbx.agi import AgiChannel, AgiSession, FastAgiServer

LOADGEN = Path(__file__).with_name("agi_loadgen.py")
VARIABLES = {
    "HOTLINE_ROUTE": "queue",
    "HOTLINE_TARGET_COUNT": "1",
    "HOTLINE_TARGET_1": "PJSIP/agent1",
}


class ThreeRoundTrips:
    async def handle(self, session: AgiSession, channel: AgiChannel) -> None:
        for name, value in VARIABLES.items():
            await channel.set_variable(name, value)


class Pipelined:
    async def handle(self, session: AgiSession, channel: AgiChannel) -> None:
        await channel.set_variables(VARIABLES, final=True)


async def panoramisk_route(request: Request) -> None:
    for name, value in VARIABLES.items():
        await request.send_command(f'SET VARIABLE {name} "{value}"')


@dataclass
class Phase:
    label: str
    port: int
    script: str
    mode: str


async def run_loadgen(phase: Phase, options: argparse.Namespace, cpu: int | None) -> dict[str, Any]:
    argv = [sys.executable, str(LOADGEN), phase.mode, "--port", str(phase.port)]
    argv += ["--script", phase.script]
    if cpu is not None:
        argv += ["--cpu", str(cpu)]
    if phase.mode == "closed":
        argv += ["--concurrency", str(options.concurrency), "--duration", str(options.duration)]
    else:
        argv += ["--rate", str(options.rate), "--held", str(options.held)]
        argv += ["--duration", str(options.open_duration)]
    cpu_before = time.process_time()
    process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE)
    stdout, _ = await process.communicate()
    cpu_used = time.process_time() - cpu_before
    if process.returncode != 0:
        raise RuntimeError(f"load generator failed for {phase.label} ({process.returncode})")
    result: dict[str, Any] = json.loads(stdout)
    sessions = result.get("total_sessions") or result["sessions"] + result.get("held", 0)
    result["server_cpu_us"] = cpu_used / max(sessions, 1) * 1e6
    return result


async def bench(options: argparse.Namespace) -> None:
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu, client_cpu = (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)
    if server_cpu is not None:
        os.sched_setaffinity(0, {server_cpu})

    ours = FastAgiServer(
        {"route": ThreeRoundTrips(), "route_pipelined": Pipelined()},
        host="127.0.0.1",
        port=0,
        max_sessions=options.held + 5000,
        read_timeout=120.0,  # the held sessions wait out the whole open-loop phase
        idle_timeout=120.0,
    )
    await ours.start()
    application = Application(loop=asyncio.get_running_loop())
    application.add_route("route", panoramisk_route)
    peer = await asyncio.start_server(application.handler, "127.0.0.1", 0, backlog=1024)
    peer_port = peer.sockets[0].getsockname()[1]

    print(
        f"loop={options.loop}  server cpu={server_cpu}  load generator cpu={client_cpu}  "
        f"python={sys.version.split()[0]}",
        flush=True,
    )
    closed = [
        Phase("ours, 3 round trips", ours.port, "route", "closed"),
        Phase("ours, pipelined (final)", ours.port, "route_pipelined", "closed"),
        Phase("panoramisk 1.4", peer_port, "route", "closed"),
    ]
    opened = [
        Phase("ours, 3 round trips", ours.port, "route", "open"),
        Phase("ours, pipelined (final)", ours.port, "route_pipelined", "open"),
        Phase("panoramisk 1.4", peer_port, "route", "open"),
    ]
    results: dict[str, dict[str, Any]] = {}
    if "closed" in options.phases:
        for phase in closed:
            results[f"closed {phase.label}"] = await run_loadgen(phase, options, client_cpu)
            await asyncio.sleep(0.5)
        print_closed(closed, results, options)
    if "open" in options.phases:
        for phase in opened:
            results[f"open {phase.label}"] = await run_loadgen(phase, options, client_cpu)
            await asyncio.sleep(0.5)
        print_open(opened, results, options)

    peer.close()
    await ours.stop(drain_deadline=2.0)
    if options.json:
        Path(options.json).write_text(json.dumps(results, indent=2))


def print_closed(phases: list[Phase], results: dict[str, dict[str, Any]], o: argparse.Namespace) -> None:
    print(f"\nClosed loop: {o.concurrency} concurrent sessions, {o.duration:g} s each")
    header = f"{'server':<26}{'sessions/s':>12}{'vs panoramisk':>15}{'p50 ms':>9}{'p99 ms':>9}"
    print(header + f"{'server CPU µs/session':>23}{'errors':>8}")
    base = results[f"closed {phases[-1].label}"]["per_second"]
    for phase in phases:
        r = results[f"closed {phase.label}"]
        print(
            f"{phase.label:<26}{r['per_second']:>12,.0f}{r['per_second'] / base:>14.2f}×"
            f"{r['session_p50_ms']:>9.2f}{r['session_p99_ms']:>9.2f}"
            f"{r['server_cpu_us']:>23.0f}{r['errors']:>8}"
        )


def print_open(phases: list[Phase], results: dict[str, dict[str, Any]], o: argparse.Namespace) -> None:
    print(
        f"\nOpen loop: {o.rate:g} new sessions/s (Poisson) for {o.open_duration:g} s "
        f"while {o.held} sessions are held idle mid-session"
    )
    print(
        f"{'server':<26}{'held':>6}{'done':>7}{'decision p50':>14}{'p99':>8}{'max':>8}"
        f"{'session p99':>13}{'arrival lag p99':>17}{'errors':>8}"
    )
    for phase in phases:
        r = results[f"open {phase.label}"]
        print(
            f"{phase.label:<26}{r['held']:>6}{r['sessions']:>7}"
            f"{fmt(r['decision_p50_ms']):>14}{fmt(r['decision_p99_ms']):>8}"
            f"{fmt(r['decision_max_ms']):>8}{fmt(r['session_p99_ms']):>13}"
            f"{fmt(r['arrival_lag_p99_ms']):>17}{r['errors']:>8}"
        )
    print("(times in ms)")


def fmt(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument("--phases", nargs="+", choices=["closed", "open"], default=["closed", "open"])
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--duration", type=float, default=5.0, help="closed-loop seconds")
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--held", type=int, default=2000)
    parser.add_argument("--open-duration", type=float, default=10.0)
    parser.add_argument("--json", help="also write the raw figures to this file")
    options = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    # Neither server may log per session during a benchmark; panoramisk logs a
    # traceback for every held session we close at the end.
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("panoramisk").setLevel(logging.CRITICAL)
    run: Callable[..., Any] = asyncio.run
    if options.loop == "uvloop":
        import uvloop

        run = uvloop.run
    run(bench(options))


if __name__ == "__main__":
    main()
