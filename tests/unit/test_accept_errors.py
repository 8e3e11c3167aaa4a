"""accept() failing for lack of file descriptors (issue 9, item 7): the log stays a
few lines, and the server serves again once descriptors are free.

The server runs in a subprocess with RLIMIT_NOFILE lowered, with the handler the
daemon installs (`install_accept_error_log`), on each loop `daemon.event_loop`
may name. asyncio leaves the connections it cannot take in the listen backlog
and logs one line an interval (10 s in the daemon); uvloop (libuv keeps a
descriptor in reserve for this) takes each and closes it at once, so Asterisk's
AGI fails and the call takes the fail-safe route, and nothing is logged: the alert
HotlineFileDescriptorsLow says it instead (docker/prometheus/rules.yml)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pytest

from .agi.fake_asterisk import env_bytes

SERVER = """
import asyncio, logging, resource, sys
from hotline_pbx.agi import FastAgiServer
from hotline_pbx.logs import install_accept_error_log, setup_logging

class Route:
    async def handle(self, session, channel):
        await channel.set_variable("HOTLINE_ROUTE", "queue")

async def main():
    setup_logging("text", "info")
    install_accept_error_log(asyncio.get_running_loop(), interval=float(sys.argv[1]))
    server = FastAgiServer({"route": Route()}, host="127.0.0.1", port=0, max_sessions=1000,
                           read_timeout=30, idle_timeout=30)
    await server.start()
    print(server.port, flush=True)
    await asyncio.sleep(3600)

resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
if sys.argv[2] == "uvloop":
    import uvloop
    uvloop.run(main())
else:
    asyncio.run(main())
"""


@pytest.mark.parametrize("event_loop", ["asyncio", "uvloop"])
def test_out_of_descriptors_logs_at_most_one_line_per_interval_and_recovers(
        event_loop: str) -> None:
    server = subprocess.Popen([sys.executable, "-c", SERVER, "60", event_loop],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    held: list[socket.socket] = []
    try:
        assert server.stdout is not None
        port = int(server.stdout.readline())
        # Twice the server's descriptors: the rest wait in the listen backlog,
        # and every accept() of them fails with EMFILE.
        for _ in range(128):
            held.append(socket.create_connection(("127.0.0.1", port), timeout=10))
        time.sleep(3.5)  # asyncio retries the listening socket once a second
        closed = sum(_closed_by_the_server(sock) for sock in held)
        for sock in held:
            sock.close()
        held.clear()
        time.sleep(1.5)  # the next retry finds descriptors again
        with socket.create_connection(("127.0.0.1", port), timeout=10) as agi:
            agi.settimeout(10)
            agi.sendall(env_bytes())
            assert agi.recv(4096).startswith(b'SET VARIABLE "HOTLINE_ROUTE" "queue"')
    finally:
        for sock in held:
            sock.close()
        server.terminate()
        _, log = server.communicate(timeout=30)
    accept_lines = [line for line in log.splitlines() if "accept" in line]
    if event_loop == "asyncio":
        assert closed == 0  # all waited
        assert len(accept_lines) == 1, log[-3000:]
        assert "cannot accept connections on 127.0.0.1:" in accept_lines[0]
        assert "Too many open files" in accept_lines[0]
    else:
        assert closed > 0  # dropped at once: the fail-safe route, not a wait
        assert accept_lines == [], log[-3000:]
    assert "Traceback" not in log
    assert len(log) < 2000, log[-3000:]


def _closed_by_the_server(sock: socket.socket) -> bool:
    sock.settimeout(0.01)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False  # open, waiting for its session
    except ConnectionResetError:
        return True
