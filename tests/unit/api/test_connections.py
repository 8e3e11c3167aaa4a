"""The HTTP connection guard on a real socket (issue 9, item 7): slow clients are
closed at their deadline, and a full server still answers /healthz."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from hotline_pbx.api.connections import HttpConnectionGuard
from hotline_pbx.api.problems import problem_middleware

HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
WAIT = 5.0  # generous bound for what should happen "at once"


class Peer:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def closed_within(self, seconds: float) -> bool:
        """True when the server closes the connection (EOF or reset) within `seconds`."""
        try:
            async with asyncio.timeout(seconds):
                while await self.reader.read(65536):
                    pass
        except TimeoutError:
            return False
        except ConnectionError:
            pass
        return True

    async def response(self) -> bytes:
        async with asyncio.timeout(WAIT):
            head = await self.reader.readuntil(b"\r\n\r\n")
            length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            return head + await self.reader.readexactly(length)

    def close(self) -> None:
        self.writer.close()


Connect = Callable[[], Awaitable[Peer]]
Serve = Callable[..., Awaitable[tuple[Connect, asyncio.Event]]]


async def open_sending(connect: Connect, count: int, data: bytes) -> list[Peer]:
    """`count` connections, one after the other (an order of arrival), each sending `data`."""
    peers = []
    for _ in range(count):
        peer = await connect()
        await peer.send(data)
        peers.append(peer)
        await asyncio.sleep(0.05)
    return peers


@pytest.fixture
async def served() -> AsyncIterator[Serve]:
    runners: list[web.AppRunner] = []
    peers: list[Peer] = []

    async def serve(**limits: float) -> tuple[Connect, asyncio.Event]:
        guard = HttpConnectionGuard(**{"max_connections": 5, "header_timeout": 1.0,
                                       "body_timeout": 1.0, **limits})  # type: ignore[arg-type]
        release = asyncio.Event()

        async def healthz(_request: web.Request) -> web.Response:
            return web.json_response({"status": "ok"})

        async def slow(_request: web.Request) -> web.Response:
            await release.wait()
            return web.json_response({"released": True})

        async def echo(request: web.Request) -> web.Response:
            return web.json_response({"bytes": len(await request.read())})

        app = web.Application(middlewares=[problem_middleware, guard.middleware])
        app.router.add_get("/healthz", healthz)
        app.router.add_get("/slow", slow)
        app.router.add_post("/echo", echo)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        runners.append(runner)
        await guard.site(runner, "127.0.0.1", 0, backlog=128).start()
        port = runner.addresses[0][1]  # the guarded site reports its port as TCPSite does

        async def connect() -> Peer:
            peer = Peer(*await asyncio.open_connection("127.0.0.1", port))
            peers.append(peer)
            return peer

        return connect, release

    yield serve
    for peer in peers:
        peer.close()
    for runner in runners:
        await runner.cleanup()


async def test_a_trickling_request_head_is_closed_at_the_header_timeout(served: Serve) -> None:
    connect, _ = await served(header_timeout=1.0)
    peer = await connect()
    await peer.send(b"GET /healthz HTTP/1.1\r\n")
    for _ in range(3):  # one header line every 0.4 s: never a complete head
        await asyncio.sleep(0.4)
        with contextlib.suppress(ConnectionError):
            await peer.send(b"X-Trickle: 1\r\n")
    assert await peer.closed_within(WAIT)


async def test_an_idle_keep_alive_connection_is_closed_too(served: Serve) -> None:
    connect, _ = await served(header_timeout=1.0)
    peer = await connect()
    await peer.send(HEALTHZ)
    assert b'{"status": "ok"}' in await peer.response()
    assert not await peer.closed_within(0.3)  # kept alive for the next request …
    assert await peer.closed_within(WAIT)  # … for header_timeout only


async def test_a_full_server_closes_the_longest_waiting_one_for_healthz(served: Serve) -> None:
    connect, _ = await served(max_connections=5, header_timeout=30.0)
    tricklers = await open_sending(connect, 5, b"GET /healthz HTTP/1.1\r\n")
    monitor = await connect()
    await monitor.send(HEALTHZ)
    assert b'{"status": "ok"}' in await monitor.response()
    assert await tricklers[0].closed_within(WAIT)
    assert not await tricklers[-1].closed_within(0.2)


async def test_when_every_connection_is_busy_a_new_one_is_closed_at_once(served: Serve) -> None:
    connect, release = await served(max_connections=5, header_timeout=30.0)
    busy = await open_sending(connect, 5, b"GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.sleep(0.2)  # all five inside the handler
    late = await connect()
    assert await late.closed_within(WAIT)  # not left waiting in the backlog
    release.set()
    for peer in busy:  # requests in progress are never cut for a newcomer
        assert b'"released": true' in await peer.response()


async def test_a_slow_body_gets_408_within_the_body_timeout(served: Serve) -> None:
    connect, _ = await served(body_timeout=0.5, header_timeout=1.0)
    peer = await connect()
    await peer.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 100\r\n\r\n{\"a\":")
    response = await peer.response()
    assert response.startswith(b"HTTP/1.1 408 ")
    assert b"http.body_timeout" in response and b"application/problem+json" in response
    # aiohttp would linger 10 s reading the rest; the header deadline closes it sooner.
    assert await peer.closed_within(WAIT)


async def test_a_whole_body_is_still_read_by_the_handler(served: Serve) -> None:
    connect, _ = await served()
    peer = await connect()
    await peer.send(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
    assert b'{"bytes": 5}' in await peer.response()


def test_limits_are_checked() -> None:
    with pytest.raises(ValueError):
        HttpConnectionGuard(max_connections=0, header_timeout=1, body_timeout=1)
    with pytest.raises(ValueError):
        HttpConnectionGuard(max_connections=1, header_timeout=0, body_timeout=1)


async def test_a_client_gone_mid_body_is_no_database_warning(
        served: Serve, caplog: pytest.LogCaptureFixture) -> None:
    """50 clients that hang up in the middle of a body, on any path (issue 9 follow-up):
    a normal ending, logged at debug, never as the database being unavailable."""
    caplog.set_level(logging.DEBUG, logger="hotline_pbx")
    connect, _ = await served(header_timeout=30.0, body_timeout=30.0)
    for method, path in (("PUT", "/healthz"), ("POST", "/echo")) * 25:
        peer = await connect()
        await peer.send(f"{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Content-Length: 1000\r\n\r\n{\"weekly\": [".encode())
        peer.close()

    def reported() -> list[logging.LogRecord]:  # one line per request, at some level
        return [r for r in caplog.records if r.name == "hotline_pbx.api.problems"]

    async with asyncio.timeout(WAIT):
        while len(reported()) < 50:  # noqa: ASYNC110 - the log has no event
            await asyncio.sleep(0.05)
    assert {(r.levelno, "closed the connection" in r.getMessage())
            for r in reported()} == {(logging.DEBUG, True)}, caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.INFO
                and r.name.startswith("hotline_pbx")], caplog.text
