"""Load generator for `agi_bench.py`: plays Asterisk against a FastAGI server.

Run as a subprocess (uvloop, pinned to its own core) so that it does not
share a CPU or an event loop with the server under test. Each session sends
an Asterisk 22 environment block, answers every command line with
`200 result=1` (one write per reply, as Asterisk does) and waits for the
server to close. Prints one JSON object on stdout.

Modes:
  closed  N workers, each starting a new session as soon as the last ended
  open    `held` sessions kept idle mid-session (their first command is never
          answered), then Poisson arrivals at `rate` per second
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import sys
import time
from dataclasses import dataclass, field
from typing import cast

import uvloop

from hotline_pbx.agi.protocol import encode_env_block

REPLY = b"200 result=1\n"
COMMANDS_PER_SESSION = 3


def environment(script: str) -> bytes:
    return encode_env_block(
        {
            "network": "yes",
            "network_script": script,
            "request": f"agi://127.0.0.1/{script}",
            "channel": "PJSIP/carrier-00000001",
            "language": "en",
            "type": "PJSIP",
            "uniqueid": "1754380000.1",
            "version": "22.5.0",
            "callerid": "13800138000",
            "calleridname": "Zhang San",
            "callingpres": "0",
            "callingani2": "0",
            "callington": "0",
            "callingtns": "0",
            "dnid": "4008001234",
            "rdnis": "unknown",
            "context": "hotline-inbound",
            "extension": "4008001234",
            "priority": "2",
            "enhanced": "0.0",
            "accountcode": "",
            "threadid": "140234567890",
        }
    )


class FakeAsterisk(asyncio.Protocol):
    """One FastAGI session seen from Asterisk's side."""

    __slots__ = ("commands", "decided_at", "done", "env", "held", "hold", "partial", "transport")

    def __init__(self, env: bytes, done: asyncio.Future[None], *, hold: bool = False) -> None:
        self.env = env
        self.done = done
        self.hold = hold
        self.held: asyncio.Future[None] | None = None
        self.commands = 0
        self.partial = b""
        self.decided_at = 0.0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: no isinstance check.
        self.transport = cast(asyncio.Transport, transport)
        self.transport.write(self.env)

    def data_received(self, data: bytes) -> None:
        data = self.partial + data
        lines = data.count(b"\n")
        self.partial = data[data.rfind(b"\n") + 1 :]
        if self.hold:
            if lines and self.held is not None and not self.held.done():
                self.held.set_result(None)
            return
        assert self.transport is not None
        for _ in range(lines):
            self.transport.write(REPLY)
            self.commands += 1
            if self.commands == COMMANDS_PER_SESSION:
                self.decided_at = time.perf_counter()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_result(None)


@dataclass
class Outcome:
    sessions: int = 0
    errors: int = 0
    decision_ms: list[float] = field(default_factory=list)
    session_ms: list[float] = field(default_factory=list)


async def one_session(
    loop: asyncio.AbstractEventLoop,
    port: int,
    env: bytes,
    outcome: Outcome,
    window: tuple[float, float] = (0.0, float("inf")),
) -> None:
    """Run one session; count it in `outcome` if it ends inside `window` (perf_counter)."""
    started = time.perf_counter()
    done: asyncio.Future[None] = loop.create_future()
    client = FakeAsterisk(env, done)
    try:
        await loop.create_connection(lambda: client, "127.0.0.1", port)
        await done
    except OSError:
        outcome.errors += 1
        await asyncio.sleep(0.001)
        return
    ended = time.perf_counter()
    if client.commands != COMMANDS_PER_SESSION:
        outcome.errors += 1
    elif window[0] <= ended < window[1]:
        outcome.sessions += 1
        outcome.decision_ms.append((client.decided_at - started) * 1000)
        outcome.session_ms.append((ended - started) * 1000)


async def closed_loop(
    port: int, script: str, concurrency: int, warmup: float, duration: float
) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    env = environment(script)
    outcome = Outcome()
    begin = time.perf_counter()
    window = (begin + warmup, begin + warmup + duration)
    started = 0

    async def worker() -> None:
        nonlocal started
        while time.perf_counter() < window[1]:
            started += 1
            await one_session(loop, port, env, outcome, window)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return {
        "mode": "closed",
        "sessions": outcome.sessions,
        "total_sessions": started,
        "errors": outcome.errors,
        "seconds": duration,
        "per_second": outcome.sessions / duration,
        **percentiles("session", outcome.session_ms),
    }


async def open_loop(
    port: int, script: str, hold_script: str, rate: float, held: int, duration: float
) -> dict[str, object]:
    loop = asyncio.get_running_loop()
    env = environment(script)
    holders = await hold_sessions(loop, port, environment(hold_script), held)
    outcome = Outcome()
    rng = random.Random(4008001234)
    tasks: list[asyncio.Task[None]] = []
    lags: list[float] = []
    start = time.perf_counter()
    at = 0.0
    while (at := at + rng.expovariate(rate)) < duration:
        delay = start + at - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        lags.append((time.perf_counter() - start - at) * 1000)
        tasks.append(loop.create_task(one_session(loop, port, env, outcome)))
    await asyncio.gather(*tasks)
    still_held = sum(1 for h in holders if not h.done.done())
    for h in holders:
        assert h.transport is not None
        h.transport.close()
    return {
        "mode": "open",
        "held": still_held,
        "offered": len(tasks),
        "sessions": outcome.sessions,
        "errors": outcome.errors,
        "rate": rate,
        "seconds": duration,
        "arrival_lag_p99_ms": quantile(lags, 0.99),
        **percentiles("decision", outcome.decision_ms),
        **percentiles("session", outcome.session_ms),
    }


async def hold_sessions(
    loop: asyncio.AbstractEventLoop, port: int, env: bytes, count: int
) -> list[FakeAsterisk]:
    """Open `count` sessions and leave each waiting for the reply to its first command."""
    holders: list[FakeAsterisk] = []

    async def hold() -> None:
        client = FakeAsterisk(env, loop.create_future(), hold=True)
        client.held = loop.create_future()
        await loop.create_connection(lambda: client, "127.0.0.1", port)
        await asyncio.wait_for(client.held, 10)
        holders.append(client)

    for first in range(0, count, 200):
        await asyncio.gather(*(hold() for _ in range(min(200, count - first))))
    return holders


def quantile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def percentiles(name: str, values: list[float]) -> dict[str, float]:
    return {
        f"{name}_p50_ms": statistics.median(values) if values else float("nan"),
        f"{name}_p99_ms": quantile(values, 0.99),
        f"{name}_max_ms": max(values, default=float("nan")),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["closed", "open"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--script", default="route")
    parser.add_argument(
        "--hold-script",
        default="route",
        help="script of the held sessions: one that waits for a reply to its first command",
    )
    parser.add_argument("--cpu", type=int, default=None)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=500.0)
    parser.add_argument("--held", type=int, default=2000)
    args = parser.parse_args()
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if args.mode == "closed":
        coro = closed_loop(args.port, args.script, args.concurrency, args.warmup, args.duration)
    else:
        coro = open_loop(
            args.port, args.script, args.hold_script, args.rate, args.held, args.duration
        )
    wall, usage = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    result = uvloop.run(coro)
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - usage.ru_utime - usage.ru_stime
    result["client_cpu_seconds"] = cpu
    result["client_cpu_share"] = cpu / (time.perf_counter() - wall)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
