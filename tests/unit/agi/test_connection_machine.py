"""A state-machine test of one FastAGI connection: random events, the real server.

Hypothesis drives a real `FastAgiServer` over a real socket: the Asterisk
side sends pieces of the environment, replies (`200`, `510`, `511`, `520`),
`HANGUP`, garbage and floods, half-closes, resets and closes; time passes
beyond the timeouts; the server shuts down. The handler runs a random
script (commands, pipelined commands, sleeps, errors, a command left in
flight). Whatever the order, every move is one `TRANSITIONS` allows, and the
connection ends CLOSED exactly once: released once, its watchdog gone, one
result counted, nothing raised into the loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar

import pytest
import uvloop
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from hotline_pbx.agi import AgiChannel, AgiError, AgiSession, FastAgiServer
from hotline_pbx.agi.server import TRANSITIONS, ConnectionState, _AgiConnection

from .conftest import Counts, Moves
from .fake_asterisk import (
    HANGUP_LINE,
    REPLY_510,
    REPLY_511,
    REPLY_520,
    REPLY_OK,
    REPLY_UNSET,
    FakeAsterisk,
    env_bytes,
)

S = ConnectionState
# Short, so that timeouts and idle cuts happen within a few steps.
READ_TIMEOUT = 0.03
IDLE_TIMEOUT = 0.05
# Teardown ends within ~3 s (cut sleepers, drain, unwind): past this a future
# nobody resolves fails the example quickly (hypothesis then shrinks it).
TEARDOWN_SECONDS = 10.0
ENV = env_bytes()

# Commands twice over: most handlers talk.
handler_actions = st.sampled_from(
    [
        *("command", "tolerant_command") * 2,
        *("pipelined", "sleep", "long_sleep", "raise", "stray"),
    ]
)
asterisk_bytes = st.sampled_from(
    [
        REPLY_OK,
        REPLY_UNSET,
        REPLY_510,
        REPLY_511,
        REPLY_520,
        REPLY_520[:30],  # a 520 block cut short
        HANGUP_LINE,
        HANGUP_LINE + REPLY_OK,
        b"not agi at all\n",
        REPLY_OK * 80,  # more replies than anyone asked for
    ]
)


class Script:
    """The handler: runs the actions it was given, for the one session."""

    def __init__(self, actions: list[str]) -> None:
        self.actions = actions
        self.strays: list[asyncio.Task[Any]] = []

    async def handle(self, session: AgiSession, channel: AgiChannel) -> None:
        for action in self.actions:
            await self._run(action, channel)

    async def _run(self, action: str, channel: AgiChannel) -> None:
        if action == "command":
            await channel.set_variable("A", "1")
        elif action == "tolerant_command":
            with contextlib.suppress(AgiError):
                await channel.get_variable("B")
        elif action == "pipelined":
            await channel.set_variables({"C": "1", "D": "2"}, final=True)
        elif action == "sleep":
            await asyncio.sleep(READ_TIMEOUT / 3)
        elif action == "long_sleep":
            await asyncio.sleep(30)  # only the idle watchdog ends this in time
        elif action == "raise":
            raise RuntimeError("handler bug")
        else:  # a command left in flight by a task of its own
            self.strays.append(asyncio.create_task(channel.get_variable("E")))
            await asyncio.sleep(0)


class ConnectionMachine(RuleBasedStateMachine):
    new_loop: ClassVar[Callable[[], asyncio.AbstractEventLoop]]

    def __init__(self) -> None:
        super().__init__()
        self.loop = self.new_loop()
        self.loop_errors: list[dict[str, Any]] = []
        self.interrupted: BaseException | None = None
        self.loop.set_exception_handler(self._loop_error)
        self.moves = Moves()
        self._patch = self.moves.installed()
        self._patch.__enter__()
        self.counts = Counts()
        self.releases: list[_AgiConnection] = []
        self.server: FastAgiServer | None = None
        self.peer: FakeAsterisk | None = None
        self.script = Script([])
        self.env_sent = 0
        self.others: list[FakeAsterisk] = []  # peers beyond the first, which only connect
        self.can_send = True  # false after our half-close, a reset or a close
        self.open = True
        self.stopped = False  # the server was shut down: no more peers

    def run(self, coroutine: Coroutine[Any, Any, Any]) -> Any:
        try:
            return self.loop.run_until_complete(coroutine)
        except RuntimeError:
            if self.interrupted is not None:  # stopped by _loop_error
                raise self.interrupted from None
            raise

    def _loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if exc is not None and not isinstance(exc, Exception):
            # pytest-timeout's Failed, raised by its SIGALRM handler: uvloop runs
            # Python signal handlers inside a callback of its own and hands what
            # they raise to this handler, so the loop would go on as if nothing
            # happened (the run then hung past the timeout). Stop and raise it.
            self.interrupted = exc
            loop.stop()
            return
        self.loop_errors.append(context)

    async def _settle(self, seconds: float = 0.0) -> None:
        """Let the loop deliver what was sent (a few iterations, or `seconds`)."""
        await asyncio.sleep(seconds)
        for _ in range(3):
            await asyncio.sleep(0)

    @initialize(
        actions=st.lists(handler_actions, max_size=5),
        sent_first=st.sampled_from([len(ENV), len(ENV), len(ENV) // 2, 0]),
    )
    def start(self, actions: list[str], sent_first: int) -> None:
        self.script = Script(actions)
        self.run(self._start())
        if sent_first:
            self.send_environment(sent_first)

    async def _start(self) -> None:
        server = self.server = FastAgiServer(
            {"route": self.script},
            host="127.0.0.1",
            port=0,
            max_sessions=1,  # a second peer is refused while the first is in
            read_timeout=READ_TIMEOUT,
            idle_timeout=IDLE_TIMEOUT,
        )
        release = server.release

        def counting_release(connection: _AgiConnection) -> None:
            self.releases.append(connection)
            release(connection)

        server.release = counting_release  # type: ignore[method-assign]
        await server.start()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        self.peer = FakeAsterisk(reader, writer)
        FakeAsterisk.opened.remove(self.peer)  # closed here, on this machine's loop
        await self._settle()

    def _peer_closed(self) -> bool:
        """Whether the server's close has reached the peer (uvloop then refuses any write)."""
        assert self.peer is not None
        return self.peer.writer.transport.is_closing()

    async def _send(self, data: bytes) -> None:
        assert self.peer is not None
        if not self._peer_closed():
            with contextlib.suppress(ConnectionError):
                await self.peer.send(data)
        await self._settle()

    # -- the Asterisk side

    @precondition(lambda self: self.can_send and self.env_sent < len(ENV))
    @rule(size=st.sampled_from([len(ENV), 1, 100, 700]))
    def send_environment(self, size: int) -> None:
        piece = ENV[self.env_sent : self.env_sent + size]
        self.env_sent += len(piece)
        self.run(self._send(piece))

    @precondition(lambda self: self.can_send)
    @rule(data=asterisk_bytes)
    def send_bytes(self, data: bytes) -> None:
        self.run(self._send(data))

    @precondition(lambda self: self.can_send)
    @rule(reply=st.sampled_from([REPLY_OK, REPLY_UNSET, REPLY_511, REPLY_520, HANGUP_LINE]))
    def answer(self, reply: bytes) -> None:
        """What Asterisk does: wait for the next command (briefly), then reply."""
        self.run(self._answer(reply))

    async def _answer(self, reply: bytes) -> None:
        assert self.peer is not None
        with contextlib.suppress(TimeoutError, ConnectionError):
            await asyncio.wait_for(self.peer.reader.readline(), READ_TIMEOUT / 2)
        await self._send(reply)

    @precondition(lambda self: self.can_send)
    @rule()
    def half_close(self) -> None:
        assert self.peer is not None
        self.can_send = False
        if not self._peer_closed():
            with contextlib.suppress(OSError):  # reset by the server, not yet noticed here
                self.peer.writer.write_eof()
        self.run(self._settle())

    @precondition(lambda self: self.open)
    @rule()
    def reset(self) -> None:
        assert self.peer is not None
        self.can_send = self.open = False
        if self._peer_closed():
            self.run(self._close_peer())  # too late for a reset: the server closed first
        else:
            self.peer.reset()
            self.run(self._settle())

    @precondition(lambda self: self.open)
    @rule()
    def close(self) -> None:
        self.can_send = self.open = False
        self.run(self._close_peer())

    async def _close_peer(self) -> None:
        assert self.peer is not None
        await self.peer.close()
        await self._settle()

    @precondition(lambda self: not self.stopped and not self.others)
    @rule()
    def another_peer(self) -> None:
        """A second connection: refused while the first is in, else admitted and silent."""
        self.run(self._another_peer())

    async def _another_peer(self) -> None:
        assert self.server is not None
        reader, writer = await asyncio.open_connection("127.0.0.1", self.server.port)
        self.others.append(FakeAsterisk(reader, writer))
        FakeAsterisk.opened.remove(self.others[-1])
        await self._settle()

    # -- time and the server

    @rule(seconds=st.sampled_from([READ_TIMEOUT / 2, READ_TIMEOUT * 1.5, IDLE_TIMEOUT * 1.5]))
    def wait(self, seconds: float) -> None:
        self.run(self._settle(seconds))

    @rule(drain=st.sampled_from([0.0, READ_TIMEOUT]))
    def shut_down(self, drain: float) -> None:
        assert self.server is not None
        self.stopped = True
        self.run(self.server.stop(drain_deadline=drain))

    # -- what always holds

    @invariant()
    def every_move_is_allowed(self) -> None:
        for _, before, after, allowed in self.moves.log:
            assert allowed and after in TRANSITIONS[before], f"{before.name} -> {after.name}"
        closed = [m[0] for m in self.moves.log if m[2] is S.CLOSED]
        assert len(closed) == len(set(closed))  # CLOSED at most once each

    def teardown(self) -> None:
        try:
            if self.server is not None and self.interrupted is None:
                # Bounded: a future nobody resolves fails this example, never hangs the run.
                self.run(self._bounded(self._finish()))
        finally:
            self._patch.__exit__(None, None, None)
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

    async def _bounded(self, finish: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(finish)
        done, _ = await asyncio.wait({task}, timeout=TEARDOWN_SECONDS)
        if not done:
            waiting = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            task.cancel()
            for stray in self.script.strays:
                stray.cancel()
            raise AssertionError(f"teardown still waiting after {TEARDOWN_SECONDS:g}s: {waiting}")
        task.result()

    async def _finish(self) -> None:
        assert self.server is not None and self.peer is not None
        if self.open:
            await self.peer.close()
        for other in self.others:
            await other.close()
        for _ in range(150):  # a sleeping handler is cut within IDLE_TIMEOUT
            connections = self.moves.connections()
            if connections and all(c.state is S.CLOSED for c in connections):
                break
            await asyncio.sleep(0.01)
        await self.server.stop(drain_deadline=0.0)
        for stray in self.script.strays:
            with contextlib.suppress(Exception):
                await stray
        self.every_move_is_allowed()
        connections = self.moves.connections()
        assert len(connections) == 1 + len(self.others)
        for connection in connections:
            assert connection.state is S.CLOSED
            assert connection._timer is None
        closed = [m[0] for m in self.moves.log if m[2] is S.CLOSED]
        assert sorted(map(id, closed)) == sorted(map(id, connections))  # once each
        assert sorted(map(id, self.releases)) == sorted(map(id, connections))  # one cleanup each
        assert self.server.active_sessions == 0
        # One result per connection: served, refused, or ended before its request.
        assert sum(self.counts.delta().values()) == len(connections), self.counts.delta()
        assert self.loop_errors == []


@pytest.mark.parametrize(
    "new_loop", [asyncio.new_event_loop, uvloop.new_event_loop], ids=["asyncio", "uvloop"]
)
def test_any_event_sequence_ends_closed_exactly_once(
    new_loop: Callable[[], asyncio.AbstractEventLoop],
) -> None:
    machine = type("Machine", (ConnectionMachine,), {"new_loop": staticmethod(new_loop)})
    run_state_machine_as_test(
        machine,
        settings=settings(
            max_examples=50,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )


@pytest.mark.parametrize(
    "new_loop", [asyncio.new_event_loop, uvloop.new_event_loop], ids=["asyncio", "uvloop"]
)
def test_the_sequence_that_hung_teardown(new_loop: Callable[[], asyncio.AbstractEventLoop]) -> None:
    """The example behind the random hang, replayed: a command left in flight by a
    task of the handler's, the handler still running, then a flood of replies. The
    stray command was never woken, so teardown waited on it (60 s per example, then
    minutes of shrinking)."""
    machine = type("Machine", (ConnectionMachine,), {"new_loop": staticmethod(new_loop)})()
    machine.start(actions=["stray", "long_sleep"], sent_first=len(ENV))
    machine.send_bytes(REPLY_OK * 80)
    machine.teardown()
    assert all(stray.done() for stray in machine.script.strays)
