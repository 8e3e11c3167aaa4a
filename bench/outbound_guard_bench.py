"""Outbound watchdog benchmark: how long an outbound channel on the 400 trunk lives.

    .venv/bin/python bench/outbound_guard_bench.py [--attempts 40] [--burst 20]   (as root)

One sandbox Asterisk 22, two watchdogs in turn against the same workload:

* ``guard``: the real daemon (``hotline-pbx run``, embedded PostgreSQL) and its
  outbound guard (panoramisk → bounded queue → dispatcher → guard → Hangup
  task, plus recording);
* ``peer``: the least an AMI watchdog can do: one plain socket in a thread,
  ``Hangup`` written the moment a ``Newchannel`` on the trunk in state Down is
  parsed (no recording, no queue, no asyncio).

Workload: ``--attempts`` AMI ``Originate``\\ s of ``PJSIP/<n>@carrier`` one at a
time (spaced ``--gap`` s), then a burst of ``--burst`` at once. The figure is
the channel's life on the PBX's own clock: ``Newchannel`` → ``Hangup``
timestamps, read by a third, independent AMI recorder; the guard's own
``reaction_ms`` (event → Hangup response) is printed too. Output: median,
p95 and max per watchdog, and guard/peer ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hotline_pbx.sandbox.ami_recorder import AmiRecorder
from hotline_pbx.sandbox.daemon import DaemonProcess
from hotline_pbx.sandbox.pbx import AsteriskSandbox, PbxPorts, running_sandbox
from hotline_pbx.store.database import embedded_dsn


class AmiClient:
    """A plain AMI session for sending actions (events off)."""

    def __init__(self, pbx: AsteriskSandbox, events: bool = False) -> None:
        self.sock = socket.create_connection(("127.0.0.1", pbx.ports.ami), timeout=5)
        self.send({"Action": "Login", "Username": pbx.ami_user, "Secret": pbx.ami_secret,
                   "Events": "on" if events else "off"})

    def send(self, action: dict[str, str]) -> None:
        self.sock.sendall(("".join(f"{k}: {v}\r\n" for k, v in action.items()) + "\r\n")
                          .encode())

    def close(self) -> None:
        self.sock.close()


@contextmanager
def peer_watchdog(pbx: AsteriskSandbox, trunk: str = "carrier") -> Iterator[None]:
    """Hang up every Down channel on the trunk the moment its Newchannel is read."""
    client = AmiClient(pbx, events=True)
    stop = threading.Event()
    prefix = f"Channel: PJSIP/{trunk}-".encode()

    def run() -> None:
        buffer = b""
        client.sock.settimeout(0.2)
        while not stop.is_set():
            try:
                chunk = client.sock.recv(65536)
            except TimeoutError:
                continue
            if not chunk:
                return
            buffer += chunk
            *blocks, buffer = buffer.split(b"\r\n\r\n")
            for block in blocks:
                if block.startswith(b"Event: Newchannel") and prefix in block \
                        and b"ChannelState: 0\r\n" in block:
                    channel = block.split(b"Channel: ", 1)[1].split(b"\r\n", 1)[0].decode()
                    client.send({"Action": "Hangup", "Channel": channel, "Cause": "21"})

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(2)
        client.close()


def workload(pbx: AsteriskSandbox, attempts: int, burst: int, gap: float, base: int) -> float:
    """Returns the wall-clock start of the burst."""
    client = AmiClient(pbx)
    try:
        for i in range(attempts):
            client.send({"Action": "Originate", "Channel": f"PJSIP/{base + i}@carrier",
                         "Application": "Wait", "Data": "10", "Async": "true"})
            time.sleep(gap)
        time.sleep(0.5)
        burst_start = time.time()
        for i in range(burst):
            client.send({"Action": "Originate", "Channel": f"PJSIP/{base + 500 + i}@carrier",
                         "Application": "Wait", "Data": "10", "Async": "true"})
        time.sleep(1.0)
        pbx.wait_idle(60)
    finally:
        client.close()
    return burst_start


def lifetimes(recorder: AmiRecorder, burst_start: float) -> tuple[list[float], list[float]]:
    """Newchannel → Hangup (ms) of each trunk channel: (spaced, burst)."""
    born = {e["Uniqueid"]: float(e["Timestamp"]) for e in recorder.events("Newchannel")
            if e.get("Channel", "").startswith("PJSIP/carrier-")}
    spaced: list[float] = []
    burst: list[float] = []
    for e in recorder.events("Hangup"):
        if e.get("Uniqueid") in born:
            start = born[e["Uniqueid"]]
            (burst if start >= burst_start else spaced).append(
                (float(e["Timestamp"]) - start) * 1000)
    return spaced, burst


def measure(pbx: AsteriskSandbox, args: argparse.Namespace,
            base: int) -> tuple[list[float], list[float]]:
    with AmiRecorder(pbx.ports.ami, pbx.ami_user, pbx.ami_secret) as recorder:
        burst_start = workload(pbx, args.attempts, args.burst, args.gap, base)
        time.sleep(0.5)
        return lifetimes(recorder, burst_start)


def reactions(dsn: str) -> list[float]:
    from sqlalchemy import select
    from sqlalchemy.ext.asyncio import create_async_engine

    from hotline_pbx.store.database import sqlalchemy_url
    from hotline_pbx.store.models import blocked_outbound

    async def go() -> list[float]:
        engine = create_async_engine(sqlalchemy_url(dsn))
        try:
            async with engine.connect() as conn:
                result = await conn.execute(select(blocked_outbound.c.reaction_ms).where(
                    blocked_outbound.c.reaction_ms.is_not(None)))
                return [float(ms) for ms in result.scalars()]
        finally:
            await engine.dispose()

    return asyncio.run(go())


def stats(values: list[float]) -> tuple[float, float, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return statistics.median(ordered), p95, ordered[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attempts", type=int, default=40)
    parser.add_argument("--burst", type=int, default=20)
    parser.add_argument("--gap", type=float, default=0.05, help="seconds between attempts")
    args = parser.parse_args()
    expected = args.attempts + args.burst
    with tempfile.TemporaryDirectory(prefix="hotline-bench-") as tmp, \
            running_sandbox("bench-outbound", PbxPorts.allocate()) as pbx:
        work = Path(tmp)
        daemon = DaemonProcess.for_sandbox(pbx, None, work)
        daemon.start(timeout=120)
        try:
            guard = measure(pbx, args, 1000)
            dsn = embedded_dsn(daemon.data_dir / "postgres")  # joined, not started as root
            deadline = time.monotonic() + 10
            while len(reacted := reactions(dsn)) < expected and time.monotonic() < deadline:
                time.sleep(0.2)
            blocked = daemon.metrics().get("hotline_outbound_blocked_total", 0.0)
        finally:
            daemon.stop()
        with peer_watchdog(pbx):
            peer = measure(pbx, args, 3000)

    print(f"\nChannel life on the 400 trunk (Newchannel → Hangup, PBX clock, ms), "
          f"{expected} attempts per watchdog:")
    print(f"{'phase':24} {'watchdog':10} {'n':>4} {'median':>9} {'p95':>9} {'max':>9}")
    phases = (f"spaced ({args.attempts} × {args.gap}s)", f"burst ({args.burst} at once)")
    for index, phase in enumerate(phases):
        g, p = stats(guard[index]), stats(peer[index])
        print(f"{phase:24} {'guard':10} {len(guard[index]):4d} {g[0]:9.2f} {g[1]:9.2f} "
              f"{g[2]:9.2f}")
        print(f"{'':24} {'peer':10} {len(peer[index]):4d} {p[0]:9.2f} {p[1]:9.2f} {p[2]:9.2f}")
        print(f"{'':24} {'guard/peer':10} {'':4} {g[0] / p[0]:8.2f}x {g[1] / p[1]:8.2f}x "
              f"{g[2] / p[2]:8.2f}x")
    med, p95, top = stats(reacted)
    print(f"\nguard reaction (its own figure: Newchannel Timestamp → Hangup response), "
          f"{len(reacted)} rows: median {med:.2f} ms, p95 {p95:.2f} ms, max {top:.2f} ms")
    print(f"hotline_outbound_blocked_total = {blocked:g} (expected {expected}); "
          f"rows in blocked_outbound: {len(reacted)}")


if __name__ == "__main__":
    main()
