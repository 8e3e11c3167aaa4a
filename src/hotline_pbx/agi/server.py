"""The FastAGI server: accepts Asterisk's connections and runs one handler per session.

Each connection is an `asyncio.Protocol` (`_AgiConnection`) feeding a sans-IO
`AgiStreamParser`; once the environment block is in, a task runs the handler
registered for the script, inside an exception boundary. One watchdog timer
per connection enforces the read timeout (a reply or the environment is
overdue) and the idle timeout (the handler sends nothing for too long).

Results counted in `hotline_agi_requests_total{script,result}`:
ok, hangup, error, timeout, refused, unknown_script, protocol_error.

A connection's life is a `ConnectionState`; `TRANSITIONS` lists every move it
may make, and `_AgiConnection._move_to` checks each one (an illegal move is a
bug: logged once at error, the session closed, nothing raised into the loop).
Before the environment block is in, the result is counted on the way out:

    NEW ──admitted──▶ CONNECTED ──first bytes──▶ READING_ENV ──environment──▶ RUNNING
     │                    │                          │
     │ refused            ├─ EOF, reset: hangup ─────┼─ EOF, reset: protocol_error ──▶ CLOSED
     ▼                    └─ timeout, cut ───────────┴─ timeout, bad bytes, cut ─────▶ CLOSING
   CLOSED

Then the handler runs; `FastAgiServer.serve` counts its result:

    RUNNING ◀──command sent, waits / reply in──▶ AWAITING_REPLY
       │ from either of the two:
       ├── timeout, bad bytes, cut ──▶ FAILED ──socket closed──▶ UNWINDING ──handler ends──▶ CLOSED
       │                                 └──handler ends──▶ CLOSING ──socket closed──▶ CLOSED
       ├── EOF, reset ─────────────────────────────────────▶ UNWINDING
       └── handler ends ────────────────────────────────────▶ CLOSING

CLOSED is entered exactly once, when both the socket is closed and no handler
runs: that releases the session (watchdog cancelled, slot freed). The
`HANGUP` line is not a state: after it the dialogue goes on (each command
still gets one reply), so it stays a flag the channel reads.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import enum
import inspect
import logging
import math
import time
from collections.abc import Mapping
from typing import Final, Protocol, cast

from prometheus_client import Counter, Histogram

from hotline_pbx.agi.errors import (
    AgiConnectionLost,
    AgiError,
    AgiHangup,
    AgiProtocolError,
    AgiStateError,
    AgiTimeout,
)
from hotline_pbx.agi.protocol import (
    DEFAULT_LINE_LIMIT,
    AgiEnvironment,
    AgiReply,
    AgiStreamParser,
)
from hotline_pbx.agi.session import AgiChannel, AgiSession
from hotline_pbx.lifecycle import Readiness
from hotline_pbx.logs import Identifier, RateLimitedLog
from hotline_pbx.metrics import AGI_REQUEST_SECONDS, AGI_REQUESTS

log = logging.getLogger(__name__)

OK: Final = "ok"
HANGUP_RESULT: Final = "hangup"
ERROR: Final = "error"
TIMEOUT: Final = "timeout"
REFUSED: Final = "refused"
UNKNOWN_SCRIPT: Final = "unknown_script"
PROTOCOL_ERROR: Final = "protocol_error"
#: The `script` label of sessions with no handler: label values must stay bounded.
UNKNOWN_LABEL: Final = "unknown"

_MIN_BACKLOG: Final = 512
# More queued replies than this means the peer talks without being asked.
_MAX_QUEUED_REPLIES: Final = 64
# Bytes of queued replies: pipelined `SET VARIABLE` replies are ~15 bytes each, a
# `520` block at most MAX_REPLY_BLOCK_BYTES. Bounds what a session holds beyond
# its environment, together with the parser's own bounds.
_MAX_QUEUED_REPLY_BYTES: Final = 16 * 1024
# How often a repeated warning (refusals, unknown scripts, bad peers) may be logged.
_WARNING_INTERVAL: Final = 10.0
# Bytes read from the socket at a time. An environment block is ~1 KiB, a reply a few bytes.
_RECV_BUFFER: Final = 4096
_SHUTDOWN: Final = "server shutting down"
# The cut reason of a session closed because its connection made an illegal move.
_INTERNAL_ERROR: Final = "internal error"
# After the drain deadline, how long cancelled handlers get to unwind.
_UNWIND_SECONDS: Final = 1.0


class AgiHandler(Protocol):
    """Handles the sessions of one script. Returning normally ends the session."""

    async def handle(self, session: AgiSession, channel: AgiChannel) -> None: ...


class FastAgiServer:
    """A FastAGI server dispatching scripts to handler objects.

    `handlers` maps script names (`route` for `agi://host/route?x=1`) to
    handlers; it is read once, here. Beyond `max_sessions` concurrent sessions
    new connections are closed at once. `read_timeout` bounds every wait for
    Asterisk (environment block, each reply); `idle_timeout` bounds how long a
    handler may go without sending a command. `line_limit` bounds one line.
    `drain_seconds` is what `stop()` gives sessions in flight by default.
    """

    name = "FastAGI server"

    def __init__(
        self,
        handlers: Mapping[str, AgiHandler],
        *,
        host: str,
        port: int,
        max_sessions: int,
        read_timeout: float,
        idle_timeout: float,
        backlog: int = 1024,
        line_limit: int = DEFAULT_LINE_LIMIT,
        drain_seconds: float = 10.0,
    ) -> None:
        for script, handler in handlers.items():
            if not inspect.iscoroutinefunction(getattr(handler, "handle", None)):
                raise TypeError(f"handler for script {script!r} needs an `async def handle()`")
        if max_sessions < 1 or read_timeout <= 0 or idle_timeout <= 0:
            raise ValueError("max_sessions and the timeouts must be positive")
        if backlog < _MIN_BACKLOG:
            # A burst of calls (a carrier failover) must queue in the kernel, not be reset.
            raise ValueError(f"backlog must be at least {_MIN_BACKLOG}")
        AgiStreamParser(line_limit=line_limit)  # validates line_limit now, not per connection
        self._handlers: dict[str, AgiHandler] = dict(handlers)
        self._host = host
        self._requested_port = port
        self._max_sessions = max_sessions
        self.read_timeout = read_timeout
        self.idle_timeout = idle_timeout
        self._backlog = backlog
        self.line_limit = line_limit
        self.drain_seconds = drain_seconds
        self._server: asyncio.Server | None = None
        self._connections: set[_AgiConnection] = set()
        self._closing = False
        self._drained: asyncio.Future[None] | None = None
        self._metrics = _Metrics(AGI_REQUESTS, AGI_REQUEST_SECONDS)
        self._refusal_log = RateLimitedLog(_WARNING_INTERVAL)
        self._unknown_log = RateLimitedLog(_WARNING_INTERVAL)
        self.protocol_log = RateLimitedLog(_WARNING_INTERVAL)

    # -- lifecycle

    async def start(self) -> None:
        if self._server is not None:
            raise RuntimeError("FastAgiServer already started")
        loop = asyncio.get_running_loop()
        self._closing = False
        connection = (
            _BufferedAgiConnection if isinstance(loop, asyncio.BaseEventLoop) else _AgiConnection
        )
        self._server = await loop.create_server(
            lambda: connection(self, loop),
            self._host,
            self._requested_port,
            backlog=self._backlog,
            reuse_address=True,
        )
        log.info("FastAGI server listening on %s:%d", self._host, self.port)

    @property
    def port(self) -> int:
        """The bound port (useful with `port=0`)."""
        if self._server is None or not self._server.sockets:
            raise RuntimeError("FastAgiServer is not listening")
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def active_sessions(self) -> int:
        return len(self._connections)

    def readiness(self) -> Readiness:
        if self._server is None:
            return Readiness(False, "not listening")
        return Readiness(True, f"listening on port {self.port}, {self.active_sessions} sessions")

    async def stop(self, drain_deadline: float | None = None) -> None:
        """Stop accepting, give sessions in flight `drain_deadline` seconds (default
        `drain_seconds`), close the rest. Stopping a stopped server does nothing."""
        if drain_deadline is None:
            drain_deadline = self.drain_seconds
        server, self._server = self._server, None
        if server is None:
            return
        self._closing = True
        server.close()
        if self._connections and not await self._wait_drained(drain_deadline):
            log.warning(
                "FastAGI: %d session(s) still open after %.1fs drain; closing them",
                len(self._connections),
                drain_deadline,
            )
            for connection in list(self._connections):
                connection.cut(_SHUTDOWN)
            await self._wait_drained(_UNWIND_SECONDS)
        await server.wait_closed()
        log.info("FastAGI server stopped")

    async def _wait_drained(self, seconds: float) -> bool:
        if not self._connections:
            return True
        drained = self._drained = asyncio.get_running_loop().create_future()
        await asyncio.wait({drained}, timeout=max(seconds, 0.0))
        self._drained = None
        return not self._connections

    # -- called by connections

    def admit(self, connection: _AgiConnection) -> bool:
        if self._closing or len(self._connections) >= self._max_sessions:
            self._metrics.count(UNKNOWN_LABEL, REFUSED)
            self._refusal_log.warning(
                log,
                "FastAGI: refused a connection (%d/%d sessions%s)",
                len(self._connections),
                self._max_sessions,
                ", shutting down" if self._closing else "",
            )
            return False
        self._connections.add(connection)
        return True

    def release(self, connection: _AgiConnection) -> None:
        self._connections.discard(connection)
        if not self._connections and self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def record(self, script: str, result: str, seconds: float | None = None) -> None:
        self._metrics.count(script, result)
        if seconds is not None:
            self._metrics.observe(script, seconds)

    async def serve(self, connection: _AgiConnection, environment: AgiEnvironment) -> None:
        """Run one session: the exception boundary around a handler."""
        # Not loop.time(): uvloop's counts whole milliseconds, and /route takes less.
        started = time.perf_counter()
        session = AgiSession.from_environment(environment, peer=connection.peer)
        handler = self._handlers.get(session.script)
        label = session.script if handler is not None else UNKNOWN_LABEL
        channel = AgiChannel(connection, read_timeout=self.read_timeout)
        result = ERROR
        caught: BaseException | None = None
        try:
            if handler is None:
                result = await self._reject_unknown(session, channel)
            else:
                await handler.handle(session, channel)
                result = connection.result_after_return()
        except AgiHangup as exc:
            result, caught = HANGUP_RESULT, exc
            log.info("FastAGI %s %s: caller gone (%s)", label, _who(session), exc)
        except AgiTimeout as exc:
            result, caught = TIMEOUT, exc
            log.warning("FastAGI %s %s: %s", label, _who(session), exc)
        except AgiProtocolError as exc:
            result, caught = PROTOCOL_ERROR, exc
            self.protocol_log.warning(log, "FastAGI %s %s: %s", label, _who(session), exc)
        except asyncio.CancelledError as exc:
            if connection.cut_reason is None:
                raise  # not ours: the loop is shutting down
            # Cut by the watchdog or the shutdown, or closed after a bug of ours (an illegal move).
            result = ERROR if connection.cut_reason == _INTERNAL_ERROR else TIMEOUT
            caught = exc
            level = logging.INFO if connection.cut_reason == _SHUTDOWN else logging.WARNING
            log.log(level, "FastAGI %s %s: cut (%s)", label, _who(session), connection.cut_reason)
        except Exception as exc:
            caught = exc
            log.exception("FastAGI %s %s: handler failed", label, _who(session))
        finally:
            connection.end_session(graceful=result in (OK, HANGUP_RESULT, ERROR, UNKNOWN_SCRIPT))
            self.record(label, result, time.perf_counter() - started)
            _drop_tracebacks(caught)
        if result == OK and log.isEnabledFor(logging.DEBUG):
            log.debug("FastAGI %s %s: done", label, _who(session))

    async def _reject_unknown(self, session: AgiSession, channel: AgiChannel) -> str:
        self._unknown_log.warning(
            log, "FastAGI: no handler for script %r %s", session.script, _who(session)
        )
        # Leave a trace in the Asterisk log too; the dialplan goes on when we close.
        message = f"hotline-pbx: no FastAGI handler for script {session.script[:80]!r}"
        with contextlib.suppress(AgiError):
            await channel.verbose(message, level=1)
        return UNKNOWN_SCRIPT


def _drop_tracebacks(exc: BaseException | None) -> None:
    """Free the frames an exception's traceback holds, now.

    Those frames hold the exception or the connection (a waiter future, a
    local): a reference cycle that only a full garbage collection frees, and
    with thousands of sessions ending that way a full collection blocks the
    loop for 100+ ms (measured). Without the traceback, reference counting
    frees the session as soon as it ends.
    """
    seen = 0
    while exc is not None and seen < 8:
        exc.__traceback__ = None
        exc = exc.__cause__ or exc.__context__
        seen += 1


def _who(session: AgiSession) -> str:
    return f"[{session.uniqueid or '?'} {session.channel or '?'} from {session.peer}]"


class ConnectionState(enum.Enum):
    """Where one FastAGI connection is in its life (see the module docstring)."""

    NEW = enum.auto()  # built by the listener; no socket yet
    CONNECTED = enum.auto()  # admitted; nothing received yet
    READING_ENV = enum.auto()  # part of the environment block is in
    RUNNING = enum.auto()  # the handler runs; no reply awaited
    AWAITING_REPLY = enum.auto()  # the handler waits for the reply to its command
    FAILED = enum.auto()  # unusable (timeout, bad bytes, cut): socket aborted, handler unwinding
    UNWINDING = enum.auto()  # the socket is closed; the handler is still running
    CLOSING = enum.auto()  # no handler runs (it ended, or never started); the socket is closing
    CLOSED = enum.auto()  # socket closed and handler ended: released, exactly once

    # Members are singletons compared by identity, so the identity hash is right,
    # and it is C: Enum's own `__hash__` is a Python function, making each
    # `TRANSITIONS` check ~3× slower (measured: ~290 ns against ~85 ns).
    __hash__ = object.__hash__


# Read on the hot path: a module global costs ~10 ns, an Enum member
# (`ConnectionState.RUNNING`, a descriptor on Python 3.11) ~100 ns.
_NEW: Final = ConnectionState.NEW
_CONNECTED: Final = ConnectionState.CONNECTED
_READING_ENV: Final = ConnectionState.READING_ENV
_RUNNING: Final = ConnectionState.RUNNING
_AWAITING_REPLY: Final = ConnectionState.AWAITING_REPLY
_FAILED: Final = ConnectionState.FAILED
_UNWINDING: Final = ConnectionState.UNWINDING
_CLOSING: Final = ConnectionState.CLOSING
_CLOSED: Final = ConnectionState.CLOSED

#: Every move a connection may make; anything else is a bug (logged, the session closed).
TRANSITIONS: Final[Mapping[ConnectionState, frozenset[ConnectionState]]] = {
    _NEW: frozenset({_CONNECTED, _CLOSED}),
    _CONNECTED: frozenset({_READING_ENV, _CLOSING, _CLOSED}),
    _READING_ENV: frozenset({_RUNNING, _CLOSING, _CLOSED}),
    _RUNNING: frozenset({_AWAITING_REPLY, _FAILED, _UNWINDING, _CLOSING}),
    _AWAITING_REPLY: frozenset({_RUNNING, _FAILED, _UNWINDING, _CLOSING}),
    _FAILED: frozenset({_UNWINDING, _CLOSING}),
    _UNWINDING: frozenset({_CLOSED}),
    _CLOSING: frozenset({_CLOSED}),
    _CLOSED: frozenset(),
}
# Before the environment block is complete: no handler yet, the result is counted here.
_BEFORE_SESSION: Final = frozenset({_CONNECTED, _READING_ENV})
# A handler task exists and has not ended.
_HANDLER_RUNS: Final = frozenset({_RUNNING, _AWAITING_REPLY, _FAILED, _UNWINDING})
_MAY_AWAIT_REPLY: Final = frozenset(
    state for state, after in TRANSITIONS.items() if _AWAITING_REPLY in after)
# The socket is closed: no more replies will come.
_SOCKET_CLOSED: Final = frozenset({_UNWINDING, _CLOSED})


class _AgiConnection(asyncio.Protocol):
    """One Asterisk connection: bytes in, events out, and the `ReplyStream` of its channel.

    Its life is a `ConnectionState`, moved only by `_move_to` along
    `TRANSITIONS`. Every way a connection can end (EOF, reset, timeout, our
    own close) goes through `connection_lost`; the session is released on
    entering CLOSED, once both the socket is closed and the handler task (if
    any) has finished.
    """

    # Per-connection state starts from these class-level defaults: an instance
    # attribute is created only when a value changes (cheaper per connection).
    _state = _NEW
    _transport: asyncio.Transport | None = None
    _waiter: asyncio.Future[None] | None = None
    _task: asyncio.Task[None] | None = None
    # Not a lifecycle state: after `HANGUP` the dialogue goes on (every command
    # still gets its one reply); the channel refuses to send new commands.
    _hung_up = False
    _failure: AgiError | None = None  # why the connection can no longer be used
    cut_reason: str | None = None  # set when we cancel the handler ourselves
    _lost_reason: Exception | None = None  # what `connection_lost` was given
    _bug_logged = False  # an illegal transition was logged for this connection
    _env_deadline = 0.0
    _read_deadline: float | None = None
    _read_timeout: float | None = None  # of the reply awaited
    _last_activity = 0.0
    _queued_bytes = 0  # text of the replies in `_replies`
    _timer: asyncio.TimerHandle | None = None
    _timer_at = math.inf
    peer = "?"

    def __init__(self, server: FastAgiServer, loop: asyncio.AbstractEventLoop) -> None:
        self._server = server
        self.loop = loop
        self._parser = AgiStreamParser(line_limit=server.line_limit)
        self._replies: collections.deque[tuple[AgiReply, bool]] = collections.deque()

    @property
    def state(self) -> ConnectionState:
        return self._state

    # -- asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: no isinstance check.
        self._transport = cast(asyncio.Transport, transport)
        if not self._server.admit(self):
            self._move_to(_CLOSED)
            transport.close()
            return
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            # The PBX's address, not a caller's number: readable in the logs.
            self.peer = Identifier(f"{peer[0]}:{peer[1]}")
        self._move_to(_CONNECTED)
        now = self.loop.time()
        self._last_activity = now
        self._env_deadline = now + self._server.read_timeout
        self._arm(self._env_deadline)

    def data_received(self, data: bytes) -> None:
        state = self._state
        if state is not _RUNNING and state is not _AWAITING_REPLY:
            if state is _CONNECTED:
                self._move_to(_READING_ENV)
            elif state is not _READING_ENV:
                return  # failed or closing: nothing more is read
        self._last_activity = self.loop.time()
        try:
            events = self._parser.feed(data)
            for event in events:
                if isinstance(event, AgiReply):
                    self._queue_reply(event)
                elif isinstance(event, AgiEnvironment):
                    self._start_session(event)
                else:
                    self._hung_up = True  # the unsolicited HANGUP line
        except AgiProtocolError as exc:
            self._fail(exc)
            return
        waiter = self._waiter
        if self._replies and waiter is not None and not waiter.done():
            waiter.set_result(None)

    def eof_received(self) -> bool | None:
        return None  # let the transport close; connection_lost does the rest

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost_reason = exc
        state = self._state
        if state is _CLOSING:
            self._move_to(_CLOSED)
        elif state in _HANDLER_RUNS:
            self._move_to(_UNWINDING)
        elif state is _CONNECTED:
            log.debug("FastAGI: %s closed without a request", self.peer)
            self._end_before_session(HANGUP_RESULT, _CLOSED)
        elif state is _READING_ENV:
            log.info("FastAGI: %s closed before the end of the request (%s)", self.peer, exc)
            self._end_before_session(PROTOCOL_ERROR, _CLOSED)
        # CLOSED already: a refused connection, whose release came first.
        self._wake_with_failure()

    # -- ReplyStream (used by AgiChannel)

    @property
    def hung_up(self) -> bool:
        return self._hung_up

    def send(self, data: bytes) -> None:
        state = self._state
        transport = self._transport
        if (
            state is _RUNNING
            and self._failure is None
            and transport is not None
            and not transport.is_closing()
        ):
            transport.write(data)
            self._last_activity = self.loop.time()
            return
        if state is _AWAITING_REPLY and self._failure is None:
            # Another task of the handler's: refused before anything is sent, or
            # its reply would be taken for the awaited command's (or that one's
            # reply, already queued, for this one's).
            raise AgiStateError("one command at a time: a reply is already awaited")
        raise self._unusable() or AgiConnectionLost("connection already closed")

    def finish_sending(self) -> None:
        transport = self._transport
        if transport is not None and not transport.is_closing() and transport.can_write_eof():
            try:
                transport.write_eof()
            except OSError as exc:
                # asyncio's shutdown(SHUT_WR) on a socket the peer has already
                # closed or reset (ENOTCONN): the caller hung up, as when a reply is lost.
                raise AgiConnectionLost(f"Asterisk closed the connection: {exc}") from None

    async def next_reply(self, timeout: float | None) -> tuple[AgiReply, bool]:
        replies = self._replies
        if not replies:
            failure = self._unusable()
            if failure is not None:
                raise failure
            if self._waiter is not None:
                raise AgiStateError("one command at a time: a reply is already awaited")
            if self._state not in _MAY_AWAIT_REPLY:
                # The handler has returned (CLOSING): a command a stray task of
                # it sends now can get no reply. Waiting would be an illegal
                # move and a future nobody ever resolves.
                raise AgiConnectionLost("the session has ended")
            waiter = self._waiter = self.loop.create_future()
            self._move_to(_AWAITING_REPLY)
            self._read_timeout = timeout
            if timeout is None:
                self._read_deadline = None
            else:
                deadline = self._read_deadline = self.loop.time() + timeout
                if deadline < self._timer_at:
                    self._arm(deadline)
            try:
                await waiter
            finally:
                self._waiter = None
                if self._state is _AWAITING_REPLY:  # not failed, closed or ended meanwhile
                    self._move_to(_RUNNING)
                idle_deadline = self._last_activity + self._server.idle_timeout
                if idle_deadline < self._timer_at:
                    self._arm(idle_deadline)
        queued = replies.popleft()
        self._queued_bytes -= len(queued[0].text)
        return queued

    # -- session lifecycle

    def _move_to(self, state: ConnectionState) -> bool:
        """Take one step along `TRANSITIONS`; an illegal one closes the session instead."""
        if state in TRANSITIONS[self._state]:
            self._state = state
            if state is _CLOSED:
                self._release()
            return True
        self._illegal_move(state)
        return False

    def _start_session(self, environment: AgiEnvironment) -> None:
        if self._move_to(_RUNNING):
            self._arm(self._last_activity + self._server.idle_timeout)
            self._task = self.loop.create_task(self._server.serve(self, environment))

    def result_after_return(self) -> str:
        """The result of a session whose handler returned normally.

        A `HANGUP` line is not looked at: Asterisk writes one at the end of
        every FastAGI session (after reading our end-of-stream), and a handler
        that returns has finished its work. Hang-ups count when they interrupt
        the handler (`AgiHangup` escaping it).
        """
        if isinstance(self._failure, AgiTimeout):
            return TIMEOUT
        if isinstance(self._failure, AgiProtocolError):
            return PROTOCOL_ERROR
        return OK

    def end_session(self, *, graceful: bool) -> None:
        """The handler task has ended: close our side; released once the socket is closed too."""
        _drop_tracebacks(self._failure)
        transport = self._transport
        if transport is not None and not transport.is_closing():
            if graceful:
                transport.close()
            else:
                transport.abort()
        self._move_to(_CLOSED if self._state is _UNWINDING else _CLOSING)

    def cut(self, reason: str) -> None:
        """Close now, whatever the session is doing (idle timeout, shutdown)."""
        self.cut_reason = reason
        if self._failure is None:
            self._failure = AgiTimeout(f"session closed: {reason}")
        state = self._state
        if state is _RUNNING or state is _AWAITING_REPLY:
            self._move_to(_FAILED)
        elif state in _BEFORE_SESSION:
            self._end_before_session(TIMEOUT, _CLOSING)
        if state in _HANDLER_RUNS and self._task is not None:
            self._task.cancel()
        if self._transport is not None:
            self._transport.abort()

    def _end_before_session(self, result: str, state: ConnectionState) -> None:
        """The connection ends before the environment block was complete: count it here."""
        self._server.record(UNKNOWN_LABEL, result)
        self._move_to(state)

    def _release(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._server.release(self)

    def _illegal_move(self, state: ConnectionState) -> None:
        """A move `TRANSITIONS` does not allow: a bug. Log it once and close the session."""
        if not self._bug_logged:
            self._bug_logged = True
            log.error(
                "FastAGI %s: illegal state transition %s -> %s; closing the session",
                self.peer,
                self._state.name,
                state.name,
            )
        if self._failure is None:
            self._failure = AgiStateError(f"internal error: {self._state.name} -> {state.name}")
        if self.cut_reason is None:
            self.cut_reason = _INTERNAL_ERROR
        # Stay where we are: the abort and the cancel below reach CLOSED by legal moves.
        self._wake_with_failure()
        if self._state in _HANDLER_RUNS and self._task is not None:
            self._task.cancel()
        if self._transport is not None:
            self._transport.abort()

    # -- failures and timeouts

    def _queue_reply(self, reply: AgiReply) -> None:
        queued_bytes = self._queued_bytes + len(reply.text)
        if len(self._replies) >= _MAX_QUEUED_REPLIES or queued_bytes > _MAX_QUEUED_REPLY_BYTES:
            raise AgiProtocolError("Asterisk sent replies nobody asked for")
        self._queued_bytes = queued_bytes
        self._replies.append((reply, self._hung_up))

    def _fail(self, exc: AgiError) -> None:
        """The connection is unusable: wake the handler with `exc` and close."""
        if self._failure is None:
            self._failure = exc
        state = self._state
        if state is _RUNNING or state is _AWAITING_REPLY:
            self._move_to(_FAILED)
        elif state in _BEFORE_SESSION:
            if isinstance(exc, AgiProtocolError):
                self._server.protocol_log.warning(log, "FastAGI: %s: %s", self.peer, exc)
                self._end_before_session(PROTOCOL_ERROR, _CLOSING)
            else:
                log.info("FastAGI: %s: %s", self.peer, exc)
                self._end_before_session(TIMEOUT, _CLOSING)
        self._wake_with_failure()
        if self._transport is not None:
            self._transport.abort()

    def _unusable(self) -> AgiError | None:
        """Why no more replies will come, or None while the connection is fine."""
        if self._failure is None and self._state in _SOCKET_CLOSED:
            # Built only when someone asks: most sessions end with nobody waiting.
            reason = f": {self._lost_reason}" if self._lost_reason else ""
            self._failure = AgiConnectionLost(f"Asterisk closed the connection{reason}")
        return self._failure

    def _wake_with_failure(self) -> None:
        """Wake a waiting handler: with a reply queued before the failure, else the failure.

        Never leave it waiting: replies can be queued with nobody woken when the
        chunk that brought them failed further on (a flood of replies), and no
        more bytes will come to wake it.
        """
        waiter = self._waiter
        if waiter is None or waiter.done():
            return
        if self._replies:
            waiter.set_result(None)
            return
        failure = self._unusable()
        if failure is not None:
            waiter.set_exception(failure)

    def _arm(self, deadline: float) -> None:
        """Make sure the watchdog fires no later than `deadline` (it re-checks when it does)."""
        if deadline < self._timer_at and self._state is not _CLOSED:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = self.loop.call_at(deadline, self._on_timer)
            self._timer_at = deadline

    def _on_timer(self) -> None:
        self._timer, self._timer_at = None, math.inf
        deadline, what = self._current_deadline()
        if deadline is None:
            return
        if self.loop.time() < deadline:
            self._arm(deadline)
        elif what == "idle":
            self.cut(f"no command for {self._server.idle_timeout:g}s")
        elif what == "read":
            self._fail(AgiTimeout(f"no reply within {self._read_timeout:g}s"))
        else:
            self._fail(AgiTimeout(f"no request within {self._server.read_timeout:g}s"))

    def _current_deadline(self) -> tuple[float | None, str]:
        """The watchdog's next deadline in this state, and what it guards."""
        state = self._state
        if state in _BEFORE_SESSION:
            return self._env_deadline, "request"
        if state is _AWAITING_REPLY:
            return self._read_deadline, "read"
        if state in _HANDLER_RUNS:
            # Also after a failure: a handler that ignores it is cut like an idle one.
            return self._last_activity + self._server.idle_timeout, "idle"
        return None, ""


class _BufferedAgiConnection(_AgiConnection, asyncio.BufferedProtocol):
    """The connection for asyncio's own event loops.

    With a plain `Protocol`, asyncio's selector transport allocates a 256 KiB
    bytes object per read, which glibc often serves with mmap + mremap +
    munmap: three syscalls per read, measured at ~50 µs of kernel time per
    session. AGI messages are small: read into a buffer kept for the
    connection's life instead. (uvloop reads into one loop-wide buffer and
    gains nothing from this, so it gets the plain protocol.)
    """

    def __init__(self, server: FastAgiServer, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(server, loop)
        self._recv = memoryview(bytearray(_RECV_BUFFER))

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._recv

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(bytes(self._recv[:nbytes]))


class _Metrics:
    """Label children looked up once: `labels()` takes a lock and builds a tuple."""

    def __init__(self, requests: Counter, seconds: Histogram) -> None:
        self._requests = requests
        self._seconds = seconds
        self._counters: dict[tuple[str, str], Counter] = {}
        self._histograms: dict[str, Histogram] = {}

    def count(self, script: str, result: str) -> None:
        child = self._counters.get((script, result))
        if child is None:
            child = self._counters[(script, result)] = self._requests.labels(script, result)
        child.inc()

    def observe(self, script: str, seconds: float) -> None:
        child = self._histograms.get(script)
        if child is None:
            child = self._histograms[script] = self._seconds.labels(script)
        child.observe(seconds)
