"""Daemon memory under hostile FastAGI sessions whose `520-` block never ends (issue 9).

Starts the real daemon (`hotline-pbx run`, AMI off, against `--dsn`, schema
migrated first), then opens `--sessions` FastAGI sessions that each send an
Asterisk environment, wait for the first command and answer it with a `520-`
block of `--lines` usage lines of `--line-bytes` bytes that never ends, then
hold the connection. Prints one JSON object: the daemon's RSS before, while
the sessions are held (and its peak), and after they closed; and how many
sessions the daemon cut.

The read and idle timeouts are raised to `--hold` seconds so that only the
buffer bound (not a timeout) can end a hostile session. To measure an older
tree, pass `--src path/to/old/src`: the daemon then imports that code.

    .venv/bin/python bench/agi_hostile_520.py --dsn postgresql://postgres@127.0.0.1/bench
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from hotline_pbx.agi.protocol import encode_env_block
from hotline_pbx.sandbox.unprivileged import DaemonHome, user_options

ENV = encode_env_block({
    "network": "yes", "network_script": "route", "request": "agi://127.0.0.1/route",
    "channel": "PJSIP/carrier-00000001", "uniqueid": "1754380000.1",
    "callerid": "13800138000", "dnid": "4008001234", "context": "hotline-inbound",
    "extension": "4008001234", "priority": "2",
})
HEAD = b"520-Invalid command syntax.  Proper usage follows:\n"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0])
    return fields


def wait_healthz(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the daemon exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2):
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("the daemon did not answer /healthz")


class Attack:
    """The hostile sessions: each sends its block, reports, then holds until released."""

    def __init__(self, port: int, sessions: int, line_bytes: int, lines: int) -> None:
        self.port = port
        self.sessions = sessions
        self.all_reported = asyncio.Event()
        self.block_line = b"u" * (line_bytes - 1) + b"\n"
        self.lines = lines
        self.release = asyncio.Event()
        self.outcomes: list[str] = []  # 'held', 'cut' (closed by the daemon) or 'failed'

    async def session(self) -> None:
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            self._report("failed")
            return
        try:
            self._report(await self._send_block(reader, writer))
            await self.release.wait()
        finally:
            writer.close()

    def _report(self, outcome: str) -> None:
        self.outcomes.append(outcome)
        if len(self.outcomes) == self.sessions:
            self.all_reported.set()

    async def _send_block(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> str:
        try:
            writer.write(ENV)
            if not (await asyncio.wait_for(reader.readline(), 30)).endswith(b"\n"):
                return "failed"
            writer.write(HEAD)
            for _ in range(self.lines):
                writer.write(self.block_line)
                await writer.drain()
            # The daemon may still be reading what the kernel buffered: give it time.
            await asyncio.sleep(1.0)
            writer.write(b"\n")
            await writer.drain()
            await asyncio.sleep(0.2)
            return "cut" if reader.at_eof() or writer.is_closing() else "held"
        except (ConnectionError, TimeoutError):
            return "cut"


async def attack(port: int, sessions: int, line_bytes: int, lines: int,
                 pid: int) -> dict[str, object]:
    hostile = Attack(port, sessions, line_bytes, lines)
    tasks = [asyncio.create_task(hostile.session()) for _ in range(sessions)]
    await hostile.all_reported.wait()
    await asyncio.sleep(2.0)
    held = rss_kib(pid)
    hostile.release.set()
    await asyncio.gather(*tasks)
    results = hostile.outcomes
    return {"during": held, "results": {r: results.count(r) for r in sorted(set(results))}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dsn", required=True)
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--lines", type=int, default=255, help="under the 256-line bound")
    parser.add_argument("--line-bytes", type=int, default=7000)
    parser.add_argument("--hold", type=float, default=300.0)
    parser.add_argument("--src", help="import the daemon from this tree instead")
    args = parser.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    agi_port, http_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    env.update({
        "HOTLINE_AMI_ENABLED": "false", "HOTLINE_DATABASE_DSN": args.dsn,
        "HOTLINE_AGI_PORT": str(agi_port), "HOTLINE_HTTP_PORT": str(http_port),
        "HOTLINE_AGI_MAX_SESSIONS": str(max(args.sessions, 2000)),
        "HOTLINE_AGI_READ_TIMEOUT": str(args.hold), "HOTLINE_AGI_IDLE_TIMEOUT": str(args.hold),
        "HOTLINE_DAEMON_LOG_LEVEL": "error",
    })
    # The daemon never runs as root: as root, it runs as the daemon user on a copy
    # of the package (hotline_pbx.sandbox.unprivileged).
    home = DaemonHome()
    env = home.environment(env)
    if args.src:  # must be readable by the daemon user (e.g. under /tmp)
        env["PYTHONPATH"] = str(Path(args.src).resolve())
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(home.remove)
        cli = home.cli()
        subprocess.run([*cli, "migrate"], env=env, check=True, capture_output=True, timeout=120,
                       cwd=home.path, **user_options())
        daemon = subprocess.Popen([*cli, "run"], env=env, stderr=subprocess.DEVNULL,
                                  cwd=home.path, **user_options())
        try:
            wait_healthz(http_port, daemon, 60)
            before = rss_kib(daemon.pid)
            outcome = asyncio.run(attack(agi_port, args.sessions, args.line_bytes, args.lines,
                                         daemon.pid))
            time.sleep(2.0)
            after = rss_kib(daemon.pid)
        finally:
            daemon.terminate()
            daemon.wait(60)
    mib = 1024
    during = outcome["during"]
    assert isinstance(during, dict)
    print(json.dumps({
        "sessions": args.sessions,
        "block_bytes_sent_per_session": len(HEAD) + args.lines * args.line_bytes,
        "sessions_outcome": outcome["results"],
        "rss_before_mib": round(before["VmRSS"] / mib, 1),
        "rss_while_held_mib": round(during["VmRSS"] / mib, 1),
        "rss_peak_mib": round(during["VmHWM"] / mib, 1),
        "rss_after_close_mib": round(after["VmRSS"] / mib, 1),
        "src": args.src or "this tree",
    }))


if __name__ == "__main__":
    main()
