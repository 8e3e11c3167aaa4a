"""What a slow or hostile HTTP client may hold: a deadline per connection and a cap.

aiohttp (3.14) bounds the size of a request head, but not how long it may take
to arrive: 1,100 clients trickling one header line every 20 s were never
dropped, exhausted the daemon's file descriptors and stopped /healthz and
FastAGI (issue 9, item 7). Its only clock, `keepalive_timeout`, is an idle
timer that is not documented to cover an unfinished head. So each accepted
connection is wrapped here, in front of aiohttp's own protocol:

* **Header deadline.** A connection must deliver a complete request head within
  `header_timeout` of connecting, or of the end of its previous request (an
  idle keep-alive connection is closed after as long). Otherwise it is aborted.
* **Body deadline.** The middleware reads a request's body before the handler
  runs (aiohttp keeps it for `request.read()`/`json()`), within
  `body_timeout`; a body that is late gets a 408 and no handler ever holds a
  database connection while waiting for a slow client.
* **A cap.** At most `max_connections` at once. When full, a new connection
  evicts the connection that has been waiting longest without a request in
  progress (trickling clients are the first to go), so /healthz still answers
  under attack; when every connection is busy with a request, the new one is
  closed at once instead of waiting in the kernel's backlog.

A connection is "busy" from the moment its request reaches the middleware
until the handler returns; only then does it count as waiting again.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable
from typing import Final, cast

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from hotline_pbx.api.problems import Problem, read_body
from hotline_pbx.logs import RateLimitedLog

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
# How often the warnings of an attack (cap reached, deadlines missed) may be logged.
_WARNING_INTERVAL: Final = 10.0


class HttpConnectionGuard:
    """The deadlines and the cap of one HTTP listener (see the module doc)."""

    def __init__(self, *, max_connections: int, header_timeout: float,
                 body_timeout: float) -> None:
        if max_connections < 1 or header_timeout <= 0 or body_timeout <= 0:
            raise ValueError("max_connections and the timeouts must be positive")
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.body_timeout = body_timeout
        # Connections without a request in progress, longest-waiting first: the eviction order.
        self._waiting: collections.OrderedDict[_GuardedConnection, None] = (
            collections.OrderedDict())
        self._busy: set[_GuardedConnection] = set()
        self._by_transport: dict[asyncio.BaseTransport, _GuardedConnection] = {}
        self._cap_log = RateLimitedLog(_WARNING_INTERVAL)
        self._deadline_log = RateLimitedLog(_WARNING_INTERVAL)

    @property
    def open_connections(self) -> int:
        return len(self._waiting) + len(self._busy)

    def site(self, runner: web.BaseRunner, host: str, port: int, *,
             backlog: int) -> web.BaseSite:
        """A TCP site of `runner` whose every connection goes through this guard."""
        return _GuardedSite(runner, self, host, port, backlog=backlog)

    def wrap(self, protocol_factory: Callable[[], asyncio.Protocol]
             ) -> Callable[[], asyncio.Protocol]:
        return lambda: _GuardedConnection(self, protocol_factory())

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """Mark the connection busy, read the body within its deadline, run the handler."""
        connection = self._by_transport.get(request.transport) if request.transport else None
        if connection is not None:
            connection.request_started()
        try:
            if request.body_exists:
                await self._read_body(request)
            return await handler(request)
        finally:
            if connection is not None:
                connection.request_finished()

    async def _read_body(self, request: web.Request) -> None:
        try:
            async with asyncio.timeout(self.body_timeout):
                await read_body(request)
        except TimeoutError:
            raise Problem(408, "request-timeout", "Request timeout",
                          f"the request body did not arrive within http.body_timeout "
                          f"({self.body_timeout:g}s); send it at once") from None

    # -- called by connections

    def admit(self, connection: _GuardedConnection) -> bool:
        if self.open_connections >= self.max_connections:
            if not self._waiting:
                self._cap_log.warning(
                    log, "HTTP: %d connections, every one with a request in progress "
                    "(http.max_connections); closed a new one", self.open_connections)
                return False
            oldest = next(iter(self._waiting))
            self._cap_log.warning(
                log, "HTTP: %d connections (http.max_connections); closed the one waiting "
                "longest without a request, from %s", self.open_connections, oldest.peer)
            oldest.close_now()
        self._waiting[connection] = None
        self._by_transport[connection.transport] = connection
        return True

    def forget(self, connection: _GuardedConnection) -> None:
        self._waiting.pop(connection, None)
        self._busy.discard(connection)
        self._by_transport.pop(connection.transport, None)

    def mark_busy(self, connection: _GuardedConnection, busy: bool) -> None:
        if busy:
            self._waiting.pop(connection, None)
            self._busy.add(connection)
        elif connection in self._busy:
            self._busy.discard(connection)
            self._waiting[connection] = None  # now the most recent to wait

    def missed_deadline(self, connection: _GuardedConnection) -> None:
        self._deadline_log.warning(
            log, "HTTP: closed a connection from %s that sent no complete request within "
            "%gs (http.header_timeout)", connection.peer, self.header_timeout)


class _NotConnected(asyncio.Transport):
    """The transport of a connection before `connection_made`: closing it does nothing."""

    def abort(self) -> None:
        pass


_NOT_CONNECTED: Final = _NotConnected()


class _GuardedConnection(asyncio.Protocol):
    """One accepted connection, passed on to aiohttp's protocol once admitted."""

    def __init__(self, guard: HttpConnectionGuard, inner: asyncio.Protocol) -> None:
        self._guard = guard
        self._inner = inner
        self.transport: asyncio.Transport = _NOT_CONNECTED
        self.peer = "?"
        self._admitted = False
        self._closed = False
        self._busy = 0
        self._deadline: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol, delegated

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses: no isinstance check.
        self.transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername")
        if isinstance(peer, tuple) and len(peer) >= 2:
            self.peer = f"{peer[0]}:{peer[1]}"
        if not self._guard.admit(self):
            self._closed = True
            transport.close()
            return
        self._admitted = True
        self._inner.connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        if self._admitted and not self._closed:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._admitted else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._closed = True
        self._disarm()
        self._guard.forget(self)
        if self._admitted:
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()

    # -- the guard's view

    def request_started(self) -> None:
        self._busy += 1
        self._disarm()
        self._guard.mark_busy(self, True)

    def request_finished(self) -> None:
        self._busy -= 1
        if self._busy == 0 and not self._closed:
            self._guard.mark_busy(self, False)
            self._arm()  # the next request's head, or an idle keep-alive, gets as long

    def close_now(self) -> None:
        """Abort the connection and stop counting it (its connection_lost comes later)."""
        self._closed = True
        self._disarm()
        self._guard.forget(self)
        self.transport.abort()

    def _arm(self) -> None:
        self._disarm()
        loop = asyncio.get_running_loop()
        self._deadline = loop.call_later(self._guard.header_timeout, self._on_deadline)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _on_deadline(self) -> None:
        self._deadline = None
        if self._busy == 0 and not self._closed:
            self._guard.missed_deadline(self)
            self.close_now()


class _GuardedSite(web.BaseSite):
    """`web.TCPSite`, with the guard between the listening socket and aiohttp."""

    def __init__(self, runner: web.BaseRunner, guard: HttpConnectionGuard, host: str,
                 port: int, *, backlog: int) -> None:
        super().__init__(runner, backlog=backlog)
        self._guarded_runner = runner
        self._guard = guard
        self._host = host
        self._port = port

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()  # registers the site with its runner
        server = self._guarded_runner.server
        assert server is not None  # BaseSite() refuses a runner that is not set up
        loop = asyncio.get_running_loop()
        # BaseSite keeps the listening server in `_server`: the runner's
        # `addresses` and the site's `stop()` read it (pinned by a test).
        self._server = await loop.create_server(
            self._guard.wrap(server), self._host, self._port, backlog=self._backlog)


class MalformedRequestLog(logging.Filter):
    """aiohttp's parser refuses a malformed request (a request line over 8 KB, a
    bad header) with a 400 before any handler runs, and logs it at ERROR with a
    full traceback. A client's bad input is not our error: this turns that record
    into one line naming the client and the reason (issue 9, item 9)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, HttpProcessingError) and 400 <= exc.code < 500:
            reason = exc.message.splitlines()[0] if exc.message else type(exc).__name__
            record.msg, record.args = "refused a malformed HTTP request from %s: %s", (
                record.args[0] if isinstance(record.args, tuple) and record.args else "?",
                reason)
            record.levelno, record.levelname = logging.WARNING, "WARNING"
            record.exc_info = record.exc_text = None
        return True


def quiet_malformed_requests() -> None:
    """Install :class:`MalformedRequestLog` on aiohttp's server logger, once."""
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, MalformedRequestLog) for f in server_log.filters):
        server_log.addFilter(MalformedRequestLog())
