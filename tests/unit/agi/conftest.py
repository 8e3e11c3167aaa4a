from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
import uvloop

from hotline_pbx.agi import AgiChannel, AgiSession, FastAgiServer
from hotline_pbx.agi.server import ConnectionState, _AgiConnection
from hotline_pbx.metrics import REGISTRY

from .fake_asterisk import FakeAsterisk

Body = Callable[[AgiSession, AgiChannel], Awaitable[object]]
# One `_move_to` call: the connection, its state before, the state asked for, allowed.
Move = tuple[_AgiConnection, ConnectionState, ConnectionState, bool]


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, Callable[[], asyncio.AbstractEventLoop]]:
    """Every async test here runs on both loops: uvloop's transports differ (not
    `asyncio.Transport` subclasses, other buffering), and the daemon may use either."""
    return {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}


class RecordingHandler:
    """Runs `body` for each session and remembers what happened."""

    def __init__(self, body: Body | None = None) -> None:
        self.body = body
        self.sessions: list[AgiSession] = []
        self.errors: list[BaseException] = []
        self.done = asyncio.Event()
        self.started = asyncio.Event()

    async def handle(self, session: AgiSession, channel: AgiChannel) -> None:
        self.sessions.append(session)
        self.started.set()
        try:
            if self.body is not None:
                await self.body(session, channel)
        except BaseException as exc:
            self.errors.append(exc)
            raise
        finally:
            self.done.set()


class Counts:
    """`hotline_agi_requests_total` deltas since the test started (the registry is global)."""

    def __init__(self) -> None:
        self._before = self._snapshot()

    @staticmethod
    def _snapshot() -> dict[tuple[str, str], float]:
        values: dict[tuple[str, str], float] = {}
        for metric in REGISTRY.collect():
            if metric.name == "hotline_agi_requests":
                for sample in metric.samples:
                    if sample.name.endswith("_total"):
                        key = (sample.labels["script"], sample.labels["result"])
                        values[key] = sample.value
        return values

    def delta(self) -> dict[tuple[str, str], float]:
        now = self._snapshot()
        return {k: v - self._before.get(k, 0.0) for k, v in now.items() if v != self._before.get(k)}

    def seconds_count(self, script: str) -> float:
        value = REGISTRY.get_sample_value("hotline_agi_request_seconds_count", {"script": script})
        return value or 0.0


class Moves:
    """Every `_move_to` the server's connections make, wrapping the real one."""

    def __init__(self) -> None:
        self.log: list[Move] = []

    @contextlib.contextmanager
    def installed(self) -> Iterator[Moves]:
        original = _AgiConnection._move_to

        def recording(connection: _AgiConnection, state: ConnectionState) -> bool:
            before = connection.state
            allowed = original(connection, state)
            self.log.append((connection, before, state, allowed))
            return allowed

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(_AgiConnection, "_move_to", recording)
            yield self

    def connections(self) -> list[_AgiConnection]:
        return list(dict.fromkeys(move[0] for move in self.log))

    def path(self, connection: _AgiConnection) -> list[ConnectionState]:
        moves = [m for m in self.log if m[0] is connection]
        return [ConnectionState.NEW, *(m[2] for m in moves if m[3])]

    def illegal(self) -> list[Move]:
        return [m for m in self.log if not m[3]]


async def eventually(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    """Wait until `predicate()` holds; fail the test after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


@pytest.fixture
def counts() -> Counts:
    return Counts()


@pytest.fixture
async def start_server() -> AsyncIterator[Callable[..., Awaitable[FastAgiServer]]]:
    servers: list[FastAgiServer] = []

    async def _start(handlers: dict[str, Any], **options: Any) -> FastAgiServer:
        settings: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": 0,
            "max_sessions": 50,
            "read_timeout": 2.0,
            "idle_timeout": 2.0,
        }
        settings.update(options)
        server = FastAgiServer(handlers, **settings)
        await server.start()
        servers.append(server)
        return server

    yield _start
    await FakeAsterisk.close_all()
    for server in servers:
        await server.stop(drain_deadline=0.5)
