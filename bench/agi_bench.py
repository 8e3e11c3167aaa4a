"""FastAGI benchmark: our `hotline_pbx.agi` server against `panoramisk.fast_agi` and
against the bare-protocol limit (a minimal asyncio server doing the same exchange).

    .venv/bin/python bench/agi_bench.py                 # both servers on the asyncio loop
    .venv/bin/python bench/agi_bench.py --loop uvloop   # both servers on uvloop

All servers run in this process, on the same event loop, answering the same
exchange: three `SET VARIABLE` commands per session. A load generator
(`agi_loadgen.py`, uvloop) runs as a subprocess pinned to the other core when
there are two, and drives one server at a time, over loopback:

* closed loop: `--concurrency` sessions back to back; sessions/s is the
  throughput at saturation. Runs `--rounds` rounds, rotating the order, and
  reports the median (the machine may be shared: see the "other CPU" column).
* open loop: `--held` sessions kept idle mid-session while new sessions arrive
  at `--rate` per second (Poisson); latency of the decision = connect → reply
  to the last command; of the session = connect → the server closes.

Our server is measured twice: three round trips (the same exchange as
panoramisk) and `set_variables(..., final=True)` (the three commands in one
write, then our end-of-stream; what the `/route` handler does).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import math
import os
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
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


class BareRoute(asyncio.Protocol):
    """The bare-protocol limit: the least an asyncio FastAGI server can do for
    this exchange (the environment block read, the three commands in one write,
    their three replies counted, then close); no parsing, checks or timeouts."""

    def __init__(self) -> None:
        self.buffer = b""
        self.replies = -1  # until the environment's blank line

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if self.replies < 0:
            end = self.buffer.find(b"\n\n")
            if end < 0:
                return
            self.buffer, self.replies = self.buffer[end + 2:], 0
            assert isinstance(self.transport, asyncio.WriteTransport)
            self.transport.write(b"".join(f'SET VARIABLE {name} "{value}"\n'.encode()
                                          for name, value in VARIABLES.items()))
        self.replies += self.buffer.count(b"\n")
        self.buffer = self.buffer[self.buffer.rfind(b"\n") + 1:]
        if self.replies >= len(VARIABLES):
            self.transport.close()


async def panoramisk_route(request: Request) -> None:
    for name, value in VARIABLES.items():
        await request.send_command(f'SET VARIABLE {name} "{value}"')


@dataclass
class Target:
    label: str
    port: int
    script: str
    runs: list[dict[str, Any]] = field(default_factory=list)


class GcPauses:
    """Pauses of the server process's cyclic garbage collector, per load-generator run."""

    def __init__(self) -> None:
        self.started = 0.0
        self.reset()
        gc.callbacks.append(self._callback)

    def reset(self) -> None:
        self.count = 0
        self.full = 0
        self.longest_ms = 0.0

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self.started = time.perf_counter()
            return
        self.count += 1
        self.full += info["generation"] == 2
        self.longest_ms = max(self.longest_ms, (time.perf_counter() - self.started) * 1000)


GC = GcPauses()


def machine_busy_seconds() -> float:
    """CPU seconds spent by the whole machine so far (all cores, not idle)."""
    with open("/proc/stat") as stat:
        fields = [int(v) for v in stat.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


async def run_loadgen(
    target: Target, mode: str, o: argparse.Namespace, cpu: int | None
) -> dict[str, Any]:
    argv = [
        sys.executable,
        str(LOADGEN),
        mode,
        "--port",
        str(target.port),
        "--script",
        target.script,
    ]
    if cpu is not None:
        argv += ["--cpu", str(cpu)]
    if mode == "closed":
        argv += ["--concurrency", str(o.concurrency), "--duration", str(o.duration)]
        argv += ["--warmup", str(o.warmup)]
    else:
        argv += ["--rate", str(o.rate), "--held", str(o.held), "--duration", str(o.open_duration)]
    before, busy, wall = (
        resource.getrusage(resource.RUSAGE_SELF),
        machine_busy_seconds(),
        time.perf_counter(),
    )
    GC.reset()
    process = await asyncio.create_subprocess_exec(*argv, stdout=asyncio.subprocess.PIPE)
    stdout, _ = await process.communicate()
    gc_runs, gc_full, gc_longest = GC.count, GC.full, GC.longest_ms
    after, busy, wall = (
        resource.getrusage(resource.RUSAGE_SELF),
        machine_busy_seconds() - busy,
        time.perf_counter() - wall,
    )
    if process.returncode != 0:
        raise RuntimeError(f"load generator failed for {target.label} ({process.returncode})")
    r: dict[str, Any] = json.loads(stdout)
    user, system = after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime
    sessions = max(r.get("total_sessions") or r["sessions"] + r.get("held", 0), 1)
    r["server_cpu_us"] = (user + system) / sessions * 1e6
    r["server_sys_us"] = system / sessions * 1e6
    r["server_busy"] = (user + system) / wall
    r["gc_runs"], r["gc_full"], r["gc_longest_ms"] = gc_runs, gc_full, gc_longest
    r["gc_objects"] = len(gc.get_objects())
    # Everything else the machine did meanwhile: other tenants, softirq threads.
    r["other_cpu"] = max(busy - user - system - r["client_cpu_seconds"], 0.0) / wall
    return r


async def bench(o: argparse.Namespace) -> dict[str, Any]:
    cpus = sorted(os.sched_getaffinity(0))
    server_cpu, client_cpu = (cpus[0], cpus[1]) if len(cpus) >= 2 else (None, None)
    if server_cpu is not None:
        os.sched_setaffinity(0, {server_cpu})

    ours = FastAgiServer(
        {"route": ThreeRoundTrips(), "route_pipelined": Pipelined()},
        host="127.0.0.1",
        port=0,
        max_sessions=o.held + 5000,
        read_timeout=120.0,  # the held sessions wait out the whole open-loop phase
        idle_timeout=120.0,
    )
    await ours.start()
    application = Application(loop=asyncio.get_running_loop())
    application.add_route("route", panoramisk_route)
    peer = await asyncio.start_server(application.handler, "127.0.0.1", 0, backlog=1024)
    peer_port = peer.sockets[0].getsockname()[1]
    bare = await asyncio.get_running_loop().create_server(BareRoute, "127.0.0.1", 0,
                                                          backlog=1024)
    bare_port = bare.sockets[0].getsockname()[1]
    if o.gc_freeze:
        # What the daemon can do once started: leave startup objects out of
        # every later full collection (they are long-lived anyway).
        gc.collect()
        gc.freeze()
    print(
        f"loop={o.loop}  gc.freeze={o.gc_freeze}  server on cpu {server_cpu}, "
        f"load generator on cpu {client_cpu}  python {sys.version.split()[0]}",
        flush=True,
    )

    def targets() -> list[Target]:
        return [
            Target("ours, 3 round trips", ours.port, "route"),
            Target("ours, pipelined (final)", ours.port, "route_pipelined"),
            Target("bare-protocol limit", bare_port, "route"),
            Target("panoramisk 1.4", peer_port, "route"),
        ]

    report: dict[str, Any] = {"loop": o.loop, "gc_freeze": o.gc_freeze}
    if "closed" in o.phases:
        closed = targets()
        for round_ in range(o.rounds):
            for target in closed[round_ % len(closed) :] + closed[: round_ % len(closed)]:
                target.runs.append(await run_loadgen(target, "closed", o, client_cpu))
        print_closed(closed, o)
        report["closed"] = {t.label: t.runs for t in closed}
    if "open" in o.phases:
        opened = targets()
        for target in opened:
            target.runs.append(await run_loadgen(target, "open", o, client_cpu))
        print_open(opened, o)
        report["open"] = {t.label: t.runs for t in opened}

    peer.close()
    bare.close()
    await ours.stop(drain_deadline=2.0)
    return report


def median(target: Target, key: str) -> float:
    return float(statistics.median(r[key] for r in target.runs))


def print_closed(targets: list[Target], o: argparse.Namespace) -> None:
    print(
        f"\nClosed loop: {o.concurrency} concurrent sessions; {o.rounds} rounds of "
        f"{o.duration:g} s per server (medians; range in brackets)"
    )
    print(
        f"{'server':<25}{'sessions/s':>11}{'[min – max]':>17}{'ratio':>7}{'p99 ms':>8}"
        f"{'srv CPU µs/sess':>16}{'(sys)':>6}{'srv busy':>9}{'gen busy':>9}"
        f"{'other CPU':>10}{'errors':>7}"
    )
    base = median(targets[-1], "per_second")
    for t in targets:
        rates = [r["per_second"] for r in t.runs]
        print(
            f"{t.label:<25}{median(t, 'per_second'):>11,.0f}"
            f"{f'[{min(rates):,.0f} – {max(rates):,.0f}]':>17}"
            f"{median(t, 'per_second') / base:>6.2f}×{median(t, 'session_p99_ms'):>8.1f}"
            f"{median(t, 'server_cpu_us'):>16.0f}{median(t, 'server_sys_us'):>6.0f}"
            f"{median(t, 'server_busy'):>9.0%}{median(t, 'client_cpu_share'):>9.0%}"
            f"{median(t, 'other_cpu'):>10.0%}{sum(r['errors'] for r in t.runs):>7}"
        )
    print("ratio = median sessions/s ÷ panoramisk's; busy = CPU time ÷ wall time of that process")
    limit = next(t for t in targets if t.label == "bare-protocol limit")
    ours = next(t for t in targets if t.label == "ours, pipelined (final)")
    print(f"ours (pipelined, as /route) ÷ the bare-protocol limit: "
          f"{median(ours, 'per_second') / median(limit, 'per_second'):.2f}")


def print_open(targets: list[Target], o: argparse.Namespace) -> None:
    print(
        f"\nOpen loop: {o.rate:g} new sessions/s (Poisson) for {o.open_duration:g} s while "
        f"{o.held} sessions are held idle mid-session (times in ms)"
    )
    print(
        f"{'server':<25}{'held':>6}{'done':>7}{'decision p50':>14}{'p99':>7}{'max':>7}"
        f"{'session p99':>13}{'srv busy':>9}{'arrival lag p99':>17}{'other CPU':>10}"
        f"{'full GCs/longest':>17}{'errors':>7}"
    )
    for t in targets:
        [r] = t.runs
        print(
            f"{t.label:<25}{r['held']:>6}{r['sessions']:>7}{fmt(r['decision_p50_ms']):>14}"
            f"{fmt(r['decision_p99_ms']):>7}{fmt(r['decision_max_ms']):>7}"
            f"{fmt(r['session_p99_ms']):>13}{r['server_busy']:>9.0%}"
            f"{fmt(r['arrival_lag_p99_ms']):>17}{r['other_cpu']:>10.0%}"
            f"{r['gc_full']:>9} /{r['gc_longest_ms']:>5.1f}{r['errors']:>7}"
        )


def fmt(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], default="asyncio")
    parser.add_argument(
        "--phases", nargs="+", choices=["closed", "open"], default=["closed", "open"]
    )
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--duration", type=float, default=2.0, help="seconds per closed-loop run")
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--held", type=int, default=2000)
    parser.add_argument("--open-duration", type=float, default=10.0)
    parser.add_argument(
        "--gc-freeze", action="store_true", help="gc.freeze() after start-up, as a daemon may"
    )
    parser.add_argument("--json", help="also write the raw figures to this file")
    options = parser.parse_args()

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 2,000 held sessions
    # No per-session logging during a benchmark; panoramisk logs a traceback
    # for each held session the load generator closes at the end.
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("panoramisk").setLevel(logging.CRITICAL)
    run: Callable[..., Any] = asyncio.run
    if options.loop == "uvloop":
        import uvloop

        run = uvloop.run
    report = run(bench(options))
    if options.json:
        Path(options.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
