"""The connection's lifecycle (`ConnectionState`, `TRANSITIONS`) seen from the real server.

Each scenario drives a real `FastAgiServer` over a socket with the scripted
Asterisk and asserts the exact path of states its connection took; together
the scenarios take every move `TRANSITIONS` allows (checked below, so a move
added to the table without a scenario fails here).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterator

import pytest

from hotline_pbx.agi import (
    AgiChannel,
    AgiConnectionLost,
    AgiProtocolError,
    AgiSession,
    AgiStateError,
    AgiTimeout,
    FastAgiServer,
)
from hotline_pbx.agi.protocol import AgiReply
from hotline_pbx.agi.server import TRANSITIONS, ConnectionState, _AgiConnection

from .conftest import Counts, Moves, RecordingHandler, eventually
from .fake_asterisk import REPLY_OK, WAIT, FakeAsterisk, env_bytes

S = ConnectionState
StartServer = Callable[..., Awaitable[FastAgiServer]]

# The path every connection starts with, up to the handler running.
TO_RUNNING = [S.NEW, S.CONNECTED, S.READING_ENV, S.RUNNING]
# One command and its reply.
ROUND_TRIP = [S.AWAITING_REPLY, S.RUNNING]

# scenario name → the states its connection goes through, in order.
PATHS: dict[str, list[ConnectionState]] = {
    "refused": [S.NEW, S.CLOSED],
    "connect_and_close": [S.NEW, S.CONNECTED, S.CLOSED],
    "silent_until_timeout": [S.NEW, S.CONNECTED, S.CLOSING, S.CLOSED],
    "close_mid_request": [S.NEW, S.CONNECTED, S.READING_ENV, S.CLOSED],
    "request_line_too_long": [S.NEW, S.CONNECTED, S.READING_ENV, S.CLOSING, S.CLOSED],
    "round_trip": [*TO_RUNNING, *ROUND_TRIP, S.CLOSING, S.CLOSED],
    "reply_timeout": [*TO_RUNNING, S.AWAITING_REPLY, S.FAILED, S.CLOSING, S.CLOSED],
    "reset_while_awaiting": [*TO_RUNNING, S.AWAITING_REPLY, S.UNWINDING, S.CLOSED],
    "reset_while_running": [*TO_RUNNING, S.UNWINDING, S.CLOSED],
    "unsolicited_replies": [*TO_RUNNING, S.FAILED, S.UNWINDING, S.CLOSED],
    "idle_cut": [*TO_RUNNING, S.FAILED, S.CLOSING, S.CLOSED],
    "returns_with_a_reply_awaited": [*TO_RUNNING, S.AWAITING_REPLY, S.CLOSING, S.CLOSED],
}


@pytest.fixture
def moves() -> Iterator[Moves]:
    with Moves().installed() as installed:
        yield installed


def test_the_scenarios_take_every_allowed_move() -> None:
    taken = {(a, b) for path in PATHS.values() for a, b in itertools.pairwise(path)}
    allowed = {(a, b) for a, targets in TRANSITIONS.items() for b in targets}
    assert taken == allowed
    assert set(TRANSITIONS) == set(ConnectionState)
    assert TRANSITIONS[S.CLOSED] == frozenset()  # the end, once


async def _only_path(moves: Moves, server: FastAgiServer) -> list[ConnectionState]:
    await eventually(lambda: server.active_sessions == 0)
    [connection] = moves.connections()
    await eventually(lambda: connection.state is S.CLOSED)
    assert moves.illegal() == []
    return moves.path(connection)


async def test_refused(start_server: StartServer, moves: Moves) -> None:
    release = asyncio.Event()
    server = await start_server(
        {"route": RecordingHandler(lambda s, c: release.wait())}, max_sessions=1
    )
    held = await FakeAsterisk.start(server.port)
    await eventually(lambda: server.active_sessions == 1)
    refused = await FakeAsterisk.start(server.port)
    assert await refused.expect_closed() == b""
    release.set()
    await held.expect_closed()
    await eventually(lambda: server.active_sessions == 0)
    first, second = moves.connections()
    assert moves.path(first) == [*TO_RUNNING, S.CLOSING, S.CLOSED]
    assert moves.path(second) == PATHS["refused"]
    assert moves.illegal() == []


async def test_connect_and_close(start_server: StartServer, moves: Moves) -> None:
    server = await start_server({"route": RecordingHandler()})
    asterisk = await FakeAsterisk.connect(server.port)
    await eventually(lambda: server.active_sessions == 1)
    await asterisk.close()
    assert await _only_path(moves, server) == PATHS["connect_and_close"]


async def test_silent_until_timeout(start_server: StartServer, moves: Moves) -> None:
    server = await start_server({"route": RecordingHandler()}, read_timeout=0.05)
    asterisk = await FakeAsterisk.connect(server.port)
    assert await asterisk.expect_closed() == b""
    assert await _only_path(moves, server) == PATHS["silent_until_timeout"]


async def test_close_mid_request(start_server: StartServer, moves: Moves) -> None:
    server = await start_server({"route": RecordingHandler()})
    asterisk = await FakeAsterisk.connect(server.port, env_bytes()[:-1])
    await eventually(lambda: moves.connections()[0].state is S.READING_ENV)
    await asterisk.close()
    assert await _only_path(moves, server) == PATHS["close_mid_request"]


async def test_request_line_too_long(start_server: StartServer, moves: Moves) -> None:
    server = await start_server({"route": RecordingHandler()}, line_limit=256)
    asterisk = await FakeAsterisk.connect(server.port, b"agi_calleridname: " + b"A" * 1000)
    assert await asterisk.expect_closed() == b""
    assert await _only_path(moves, server) == PATHS["request_line_too_long"]


async def test_round_trip(start_server: StartServer, moves: Moves) -> None:
    server = await start_server({"route": RecordingHandler(lambda s, c: c.set_variable("A", "1"))})
    asterisk = await FakeAsterisk.start(server.port)
    await asterisk.answer()
    assert await asterisk.expect_closed() == b""
    assert await _only_path(moves, server) == PATHS["round_trip"]


async def test_reply_timeout(start_server: StartServer, moves: Moves) -> None:
    handler = RecordingHandler(lambda s, c: c.set_variable("A", "1"))
    server = await start_server({"route": handler}, read_timeout=0.05)
    asterisk = await FakeAsterisk.start(server.port)
    await asterisk.command()
    assert await asterisk.expect_closed() == b""
    assert await _only_path(moves, server) == PATHS["reply_timeout"]
    assert isinstance(handler.errors[0], AgiTimeout)


async def test_reset_while_awaiting(start_server: StartServer, moves: Moves) -> None:
    handler = RecordingHandler(lambda s, c: c.set_variable("A", "1"))
    server = await start_server({"route": handler})
    asterisk = await FakeAsterisk.start(server.port)
    await asterisk.command()
    asterisk.reset()
    assert await _only_path(moves, server) == PATHS["reset_while_awaiting"]
    assert isinstance(handler.errors[0], AgiConnectionLost)


def busy_then_command() -> tuple[asyncio.Event, RecordingHandler]:
    """A handler busy elsewhere (no command in flight) until released, then sending one."""
    release = asyncio.Event()

    async def route(session: AgiSession, channel: AgiChannel) -> None:
        await release.wait()
        await channel.set_variable("A", "1")

    return release, RecordingHandler(route)


async def test_reset_while_running(start_server: StartServer, moves: Moves) -> None:
    release, handler = busy_then_command()
    server = await start_server({"route": handler})
    asterisk = await FakeAsterisk.start(server.port)
    await handler.started.wait()
    asterisk.reset()
    await eventually(lambda: moves.connections()[0].state is S.UNWINDING)
    release.set()  # its command finds the socket gone: raises, nothing sent
    assert await _only_path(moves, server) == PATHS["reset_while_running"]
    assert isinstance(handler.errors[0], AgiConnectionLost)


async def test_unsolicited_replies(start_server: StartServer, moves: Moves) -> None:
    release, handler = busy_then_command()
    server = await start_server({"route": handler})
    asterisk = await FakeAsterisk.start(server.port)
    await handler.started.wait()
    with contextlib.suppress(ConnectionError):
        await asterisk.send(REPLY_OK * 100)
    assert await asterisk.expect_closed() == b""
    # The socket closed under a handler that was busy elsewhere; it finds out on its next command.
    await eventually(lambda: moves.connections()[0].state is S.UNWINDING)
    release.set()
    assert await _only_path(moves, server) == PATHS["unsolicited_replies"]


async def test_idle_cut(start_server: StartServer, moves: Moves) -> None:
    server = await start_server(
        {"route": RecordingHandler(lambda s, c: asyncio.sleep(30))}, idle_timeout=0.05
    )
    asterisk = await FakeAsterisk.start(server.port)
    assert await asterisk.expect_closed() == b""
    assert await _only_path(moves, server) == PATHS["idle_cut"]


async def test_returns_with_a_reply_awaited(
    start_server: StartServer, moves: Moves, counts: Counts
) -> None:
    """A handler that leaves a command in flight (a bug of its own) still ends cleanly."""
    strays: list[asyncio.Task[str | None]] = []

    async def route(session: AgiSession, channel: AgiChannel) -> None:
        strays.append(asyncio.create_task(channel.get_variable("A")))
        await eventually(lambda: channel._stream.state is S.AWAITING_REPLY)  # type: ignore[attr-defined]

    server = await start_server({"route": RecordingHandler(route)})
    asterisk = await FakeAsterisk.start(server.port)
    assert await asterisk.expect_closed() != b""  # the stray command, then the close
    assert await _only_path(moves, server) == PATHS["returns_with_a_reply_awaited"]
    with pytest.raises(AgiConnectionLost):
        await strays[0]
    assert counts.delta() == {("route", "ok"): 1}


async def test_an_illegal_move_is_logged_once_and_closes_the_session(
    start_server: StartServer, moves: Moves, counts: Counts, caplog: pytest.LogCaptureFixture
) -> None:
    handler = RecordingHandler(lambda s, c: asyncio.sleep(30))
    server = await start_server({"route": handler})
    asterisk = await FakeAsterisk.start(server.port)
    await handler.started.wait()
    [connection] = moves.connections()
    assert connection.state is S.RUNNING
    assert connection._move_to(S.CONNECTED) is False  # a bug's move: refused, not raised
    assert connection._move_to(S.NEW) is False
    assert connection.state is S.RUNNING  # left for the legal moves that close it
    assert await asterisk.expect_closed() == b""
    await eventually(lambda: server.active_sessions == 0)
    assert connection.state is S.CLOSED
    # The handler is cancelled, ends, then the socket closes: legal moves only.
    assert moves.path(connection) == [*TO_RUNNING, S.CLOSING, S.CLOSED]
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in errors] == [
        f"FastAGI {connection.peer}: illegal state transition RUNNING -> CONNECTED; "
        "closing the session"
    ]
    assert isinstance(handler.errors[0], asyncio.CancelledError)
    assert counts.delta() == {("route", "error"): 1}


# -- a handler's own tasks (strays): never left waiting, never given another's reply


def when_a_reply_is_queued(connection: _AgiConnection, event: asyncio.Event) -> None:
    """Set `event` as each reply is queued: its waiters wake in the same loop turn as
    the task awaiting that reply, ahead of it (the reply is queued, then its waiter woken)."""
    queue_reply = connection._queue_reply

    def queued(reply: AgiReply) -> None:
        queue_reply(reply)
        event.set()

    connection._queue_reply = queued  # type: ignore[method-assign]


async def test_a_flood_of_replies_never_leaves_a_command_waiting(
    start_server: StartServer, moves: Moves, counts: Counts
) -> None:
    """One read with more replies than anyone asked for fails the connection, and
    the command in flight is woken: by the reply queued first. Before, it was left
    waiting for ever when a task of the handler's sent it (the handler itself is
    cut by the idle watchdog, a stray task never): the hang of the state-machine test."""
    release = asyncio.Event()
    strays: list[asyncio.Task[str | None]] = []

    async def route(session: AgiSession, channel: AgiChannel) -> None:
        strays.append(asyncio.create_task(channel.get_variable("A")))
        await release.wait()  # busy elsewhere: only the stray awaits a reply
        await channel.set_variable("B", "1")

    handler = RecordingHandler(route)
    server = await start_server({"route": handler}, idle_timeout=30.0)  # no watchdog rescue
    asterisk = await FakeAsterisk.start(server.port)
    assert await asterisk.command() == ["GET", "VARIABLE", "A"]
    with contextlib.suppress(ConnectionError):
        await asterisk.send(REPLY_OK * 80)
    done, _ = await asyncio.wait(strays, timeout=WAIT)
    assert done == {strays[0]}
    assert strays[0].exception() is None  # the reply that came first is its reply
    release.set()  # the next command finds the connection failed
    await eventually(lambda: server.active_sessions == 0)
    assert isinstance(handler.errors[0], AgiProtocolError)
    assert moves.illegal() == []
    assert counts.delta() == {("route", "protocol_error"): 1}


async def test_a_reply_awaited_is_never_taken_by_another_task(
    start_server: StartServer, moves: Moves, counts: Counts
) -> None:
    """A task of the handler's sending while the handler awaits a reply is refused
    before anything is sent, also once that reply is queued and the handler not yet
    resumed. Before, it took the handler's reply and the handler failed with an
    IndexError (`pop from an empty deque`)."""
    reply_queued = asyncio.Event()
    strays: list[asyncio.Task[str | None]] = []

    async def stray(channel: AgiChannel) -> str | None:
        await reply_queued.wait()  # the handler's reply is in, the handler not yet resumed
        return await channel.get_variable("STRAY")

    async def route(session: AgiSession, channel: AgiChannel) -> None:
        strays.append(asyncio.create_task(stray(channel)))
        assert await channel.get_variable("A") == "mine"

    handler = RecordingHandler(route)
    server = await start_server({"route": handler})
    asterisk = await FakeAsterisk.start(server.port)
    assert await asterisk.command() == ["GET", "VARIABLE", "A"]
    when_a_reply_is_queued(moves.connections()[0], reply_queued)
    await asterisk.send(b"200 result=1 (mine)\n")
    assert await asterisk.expect_closed() == b""  # the stray's command never went out
    with pytest.raises(AgiStateError, match="one command at a time"):
        await strays[0]
    await eventually(lambda: server.active_sessions == 0)
    assert handler.errors == []
    assert moves.illegal() == []
    assert counts.delta() == {("route", "ok"): 1}


async def test_a_command_after_the_handler_returned_fails_at_once(
    start_server: StartServer, moves: Moves, counts: Counts
) -> None:
    """A task of the handler's reading a pipelined reply after the handler returned
    (the connection CLOSING, its socket not yet closed) gets AgiConnectionLost for
    the reply it still expects, at once: no wait, no illegal move, nothing sent."""
    first_reply_in = asyncio.Event()
    strays: list[asyncio.Task[None]] = []
    asked_in: list[ConnectionState] = []

    async def stray(channel: AgiChannel) -> None:
        await channel.set_variables({"C": "1", "D": "2"}, final=True)

    async def route(session: AgiSession, channel: AgiChannel) -> None:
        strays.append(asyncio.create_task(stray(channel)))
        await first_reply_in.wait()  # returns while the stray is woken by its first reply

    server = await start_server({"route": RecordingHandler(route)})
    asterisk = await FakeAsterisk.start(server.port)
    assert [(await asterisk.command())[:3] for _ in "CD"] == [
        ["SET", "VARIABLE", "C"],
        ["SET", "VARIABLE", "D"],
    ]
    [connection] = moves.connections()
    when_a_reply_is_queued(connection, first_reply_in)
    next_reply = connection.next_reply

    async def recording_next_reply(timeout: float | None) -> tuple[AgiReply, bool]:
        asked_in.append(connection.state)
        return await next_reply(timeout)

    connection.next_reply = recording_next_reply  # type: ignore[method-assign]
    await asterisk.send(REPLY_OK)  # the first reply only
    done, _ = await asyncio.wait(strays, timeout=WAIT)
    assert done == {strays[0]}
    assert isinstance(strays[0].exception(), AgiConnectionLost)
    assert asked_in == [S.CLOSING]  # the second reply was asked for after the handler returned
    assert await asterisk.expect_closed() == b""
    await eventually(lambda: server.active_sessions == 0)
    assert moves.illegal() == []
    assert counts.delta() == {("route", "ok"): 1}
