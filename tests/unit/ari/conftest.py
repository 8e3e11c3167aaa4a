"""A scripted ARI on loopback: a real aiohttp.web server on a real port.

It checks Basic credentials like Asterisk (401 with ARI's JSON body), records
every request, answers REST calls from a script (``reply``) and runs a
scripted coroutine for each events websocket (``on_websocket``).
"""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
import uvloop
from aiohttp import web

from hotline_pbx.config import AriSettings, Secret
from hotline_pbx.metrics import REGISTRY

USER = "hotline"
PASSWORD = "pw-Zq8-never-shown"


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Every async test here runs on both loops: uvloop's transports buffer and
    pause differently, and the daemon may use either."""
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


@dataclass(frozen=True)
class Seen:
    method: str
    path: str  # as sent (still quoted)
    query: dict[str, str]
    authorization: str
    body: Any


WebSocketScript = Callable[[web.WebSocketResponse], Awaitable[None]]


async def hold_open(ws: web.WebSocketResponse) -> None:
    """The default websocket script: send nothing, keep the connection until it closes."""
    async for _message in ws:
        pass


class ScriptedAri:
    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.replies: dict[tuple[str, str], tuple[int, Any]] = {}
        self.on_websocket: WebSocketScript = hold_open
        self.upgrades: list[float] = []  # monotonic time of each accepted upgrade
        self.refused: list[float] = []  # … of each upgrade refused for credentials
        self.websocket_query: list[dict[str, str]] = []
        self.autoping = True  # False: never answer the client's pings (a dead peer)
        self.password = PASSWORD
        self._runner: web.AppRunner | None = None
        self.port = 0

    def reply(self, method: str, path: str, status: int, body: Any = None) -> None:
        """Answer ``method path`` (e.g. ``GET /ari/channels``) with ``status`` and JSON ``body``."""
        self.replies[(method, path)] = (status, body)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def settings(self, password: str | None = None, **changes: Any) -> AriSettings:
        return AriSettings(enabled=True, url=self.url, username=USER,
                           password=Secret(self.password if password is None else password),
                           app="hotline-test", **changes)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/ari/events", self._events)
        app.router.add_route("*", "/ari/{tail:.*}", self._rest)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _authorised(self, request: web.Request) -> bool:
        expected = base64.b64encode(f"{USER}:{self.password}".encode()).decode()
        return request.headers.get("Authorization") == f"Basic {expected}"

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        body = await request.json() if request.can_read_body else None
        self.seen.append(Seen(request.method, request.raw_path.partition("?")[0],
                              dict(request.query), request.headers.get("Authorization", ""),
                              body))
        if not self._authorised(request):
            return web.json_response({"message": "Authentication required"}, status=401)
        status, reply = self.replies.get((request.method, request.raw_path.partition("?")[0]),
                                         (404, {"message": "Resource not found"}))
        if status == 204:
            return web.Response(status=204)
        if isinstance(reply, bytes):
            return web.Response(status=status, body=reply)
        return web.json_response(reply, status=status)

    async def _events(self, request: web.Request) -> web.StreamResponse:
        self.websocket_query.append(dict(request.query))
        if not self._authorised(request):
            self.refused.append(time.monotonic())
            return web.json_response({"message": "Authentication required"}, status=401)
        self.upgrades.append(time.monotonic())
        ws = web.WebSocketResponse(autoping=self.autoping)
        await ws.prepare(request)
        await self.on_websocket(ws)
        return ws


@pytest.fixture
async def ari() -> AsyncIterator[ScriptedAri]:
    server = ScriptedAri()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


def ari_connected() -> float | None:
    return REGISTRY.get_sample_value("hotline_ari_connected")


async def eventually(predicate: Callable[[], object], timeout: float, what: str) -> None:
    """Wait until ``predicate()`` is truthy, or fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)
