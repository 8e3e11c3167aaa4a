"""The events websocket of our Stasis app, supervised, and the fan-out of its events.

:class:`AriEvents` is a service (:mod:`hotline_pbx.lifecycle`): ``start``
returns at once and a background task keeps one websocket open to
``/ari/events?app=<ari.app>&subscribeAll=false``. While it is open, Asterisk
knows our app: channels originated to it (``AriClient.originate``) send their
events here.

* **Reconnects** after any failure, waiting ``backoff_first`` seconds, doubling
  up to ``backoff_max``; the wait drops back to ``backoff_first`` once a
  connection has stayed up for ``backoff_max`` seconds (a peer that accepts and
  drops at once is not hammered).
* **State** is in :attr:`AriEvents.connected`, the gauge ``hotline_ari_connected``
  and :meth:`AriEvents.readiness` (``not connected: <why>``, where a refused
  user name or password reads differently from an unreachable Asterisk;
  :attr:`AriEvents.last_error` holds the typed error). One log line per change
  of state or of reason; the same failure again is summarised at most once a
  minute.
* **Heartbeat**: after ``heartbeat`` seconds without a frame we ping; no frame
  (pong or event) within ``heartbeat / 2`` more seconds closes the connection
  and reconnects, so a dead peer is noticed within 1.5 × ``heartbeat``. The
  timer runs only while the reader is waiting on the socket, never while it is
  held up by a full queue (aiohttp's own heartbeat would count a full queue as
  a dead peer and drop the connection — and the events queued in the kernel
  with it).
* **Dispatch**: the reader puts each event on a bounded ``asyncio.Queue``
  (``queue_size``); one consumer task hands it to every matching handler in
  turn, in order of subscription, each event after the previous one. A handler
  is sync or async; one that raises is logged (the first time per handler and
  event type with its traceback, then at most a summary a minute) and the
  others still get the event.
* **Full queue: back-pressure, nothing dropped.** When the queue is full the
  reader awaits ``put``: it stops reading the socket, aiohttp pauses the
  transport once its own small buffer is full, the kernel's buffers fill, and
  Asterisk's writes to us stall. No event is dropped or reordered; slow
  handlers delay events instead. Handlers must therefore be quick: update
  state, or await only bounded work (an ARI call has its timeout).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import logging
import time
from collections.abc import Awaitable, Callable, Hashable
from typing import Any

import aiohttp

from hotline_pbx.ari.endpoint import AriEndpoint
from hotline_pbx.ari.errors import AriError, AriUnavailable, for_status
from hotline_pbx.config import AriSettings
from hotline_pbx.lifecycle import BackgroundTask, Readiness
from hotline_pbx.metrics import ARI_CONNECTED

log = logging.getLogger(__name__)

AriEvent = dict[str, Any]
Handler = Callable[[AriEvent], Awaitable[None] | None]
ALL = "*"  # subscribe to every event type

REPEAT_LOG_INTERVAL = 60.0  # seconds between summaries of the same failure
_WHAT = "ARI events websocket"


class _Repeats:
    """The first occurrence of each kind is logged at once; repeats are counted
    and summarised at most once per interval."""

    def __init__(self, interval: float = REPEAT_LOG_INTERVAL, kinds: int = 1000) -> None:
        self._interval = interval
        self._kinds = kinds  # remembered kinds, at most (a summary may be lost beyond)
        self._seen: dict[Hashable, tuple[float, int]] = {}

    def first(self, kind: Hashable) -> bool:
        """Is this the first occurrence of ``kind`` (log it in full)?"""
        if kind in self._seen:
            return False
        if len(self._seen) >= self._kinds:
            self._seen.clear()
        self._seen[kind] = (time.monotonic(), 0)
        return True

    def repeated(self, kind: Hashable) -> int:
        """Count a repeat; returns how many to summarise now (0: stay quiet)."""
        logged_at, count = self._seen.get(kind, (time.monotonic(), 0))
        now = time.monotonic()
        if now - logged_at >= self._interval:
            self._seen[kind] = (now, 0)
            return count + 1
        self._seen[kind] = (logged_at, count + 1)
        return 0


class AriEvents:
    def __init__(self, settings: AriSettings, *, queue_size: int = 1000,
                 heartbeat: float = 10.0, connect_timeout: float = 5.0,
                 backoff_first: float = 0.5, backoff_max: float = 15.0,
                 exports_connected: bool = True) -> None:
        for key, value in (("queue_size", queue_size), ("heartbeat", heartbeat),
                           ("connect_timeout", connect_timeout),
                           ("backoff_first", backoff_first), ("backoff_max", backoff_max)):
            if not value > 0:
                raise ValueError(f"{key} must be positive")
        self.name = "ARI events"
        self.settings = settings
        self.endpoint = AriEndpoint(settings)
        self.heartbeat = heartbeat
        self.connect_timeout = connect_timeout
        self.backoff_first = backoff_first
        self.backoff_max = max(backoff_max, backoff_first)
        self.queue: asyncio.Queue[AriEvent] = asyncio.Queue(maxsize=queue_size)
        self.connected = asyncio.Event()
        self.last_error: AriError | None = None  # why we are not connected, typed
        self.attempts = 0  # connection attempts since start
        self._failed_attempts = 0  # since the last connection
        self.failures = 0  # handler calls that raised
        self._handlers: list[tuple[str, Handler]] = []
        self._session: aiohttp.ClientSession | None = None
        self._reader = BackgroundTask("ari-events", self._run)
        self._dispatcher = BackgroundTask("ari-dispatch", self._dispatch_forever)
        self._state_log = _Repeats()
        self._handler_log = _Repeats()
        self._frame_log = _Repeats()
        # hotline_ari_connected is the main app's (the line monitor's): another
        # app of ours (the dialer's) reports in /readyz only.
        self._exports_connected = exports_connected
        self._set_gauge(0)

    def _set_gauge(self, value: int) -> None:
        if self._exports_connected:
            ARI_CONNECTED.set(value)

    # -- subscribers ------------------------------------------------------------

    def subscribe(self, event_type: str, handler: Handler) -> Callable[[], None]:
        """Call ``handler(event)`` for every event of ``event_type`` (``"*"``: all).
        Returns a function that unsubscribes it."""
        entry = (event_type, handler)
        self._handlers.append(entry)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._handlers.remove(entry)

        return unsubscribe

    async def dispatch(self, event: AriEvent) -> None:
        """Hand one event to every matching handler, in order; never raises."""
        event_type = event.get("type")
        for wanted, handler in list(self._handlers):
            if wanted != ALL and wanted != event_type:
                continue
            try:
                result = handler(event)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                self.failures += 1
                self._handler_failed(handler, str(event_type))

    def _handler_failed(self, handler: Handler, event_type: str) -> None:
        name = getattr(handler, "__qualname__", None) or repr(handler)
        kind = (name, event_type)
        if self._handler_log.first(kind):
            log.exception("ARI event handler %s failed on %s", name, event_type)
        elif count := self._handler_log.repeated(kind):
            log.error("ARI event handler %s failed %d more times on %s", name, count,
                      event_type)

    async def _dispatch_forever(self) -> None:
        while True:
            event = await self.queue.get()
            await self.dispatch(event)

    # -- lifecycle ----------------------------------------------------------------

    async def start(self) -> None:
        """Connect in the background: Asterisk may be down, the daemon runs anyway."""
        if self._session is not None:
            raise RuntimeError(f"{self.name} already started")
        self._session = aiohttp.ClientSession(
            headers=self.endpoint.headers,
            # The handshake is bounded by connect_timeout below; an open
            # websocket has no deadline (the heartbeat watches it).
            timeout=aiohttp.ClientTimeout(total=None, connect=self.connect_timeout),
        )
        self._dispatcher.start()
        self._reader.start()

    async def stop(self) -> None:
        await self._reader.stop()
        await self._dispatcher.stop()
        session, self._session = self._session, None
        if session is not None:
            await session.close()
        if self.connected.is_set():
            log.info("ARI events disconnected (stopping)")
        self.connected.clear()
        self._set_gauge(0)

    def readiness(self) -> Readiness:
        for task in (self._reader, self._dispatcher):
            state = task.readiness()
            if not state.ok:
                return state
        if self.connected.is_set():
            return Readiness(True, f"connected to {self.endpoint.shown} "
                                   f"(app {self.settings.app})")
        return Readiness(False, f"not connected: {self.reason}")

    @property
    def reason(self) -> str:
        """Why there is no connection (``connecting`` before the first result)."""
        return "connecting" if self.last_error is None else str(self.last_error)

    # -- the connection -------------------------------------------------------------

    async def _run(self) -> None:
        backoff = self.backoff_first
        while True:
            self.attempts += 1
            up_since: float | None = None
            try:
                ws = await self._connect()
                up_since = time.monotonic()
                try:
                    self._now_connected()
                    await self._read(ws)
                finally:
                    with contextlib.suppress(Exception):
                        await ws.close()
            except asyncio.CancelledError:
                raise
            except AriError as exc:
                self._now_disconnected(exc)
            except Exception as exc:  # every failure ends in a reconnect, never a crash
                self._now_disconnected(AriUnavailable(f"{_WHAT}: {type(exc).__name__}: {exc}"))
            if up_since is not None and time.monotonic() - up_since >= self.backoff_max:
                backoff = self.backoff_first  # it was a working connection: retry soon
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.backoff_max)

    async def _connect(self) -> aiohttp.ClientWebSocketResponse:
        session = self._session
        assert session is not None  # started
        try:
            async with asyncio.timeout(self.connect_timeout):
                return await session.ws_connect(
                    self.endpoint.url("events"),
                    params={"app": self.settings.app, "subscribeAll": "false"},
                    autoping=False,  # we answer pings and watch pongs ourselves (_read)
                    timeout=aiohttp.ClientWSTimeout(ws_close=min(self.connect_timeout, 2.0)),
                )
        except aiohttp.WSServerHandshakeError as exc:
            raise for_status(exc.status, _WHAT, exc.message,
                             username=self.settings.username) from None
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise self.endpoint.unavailable(_WHAT, exc, self.connect_timeout) from None

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Read frames until the connection ends (always by raising AriUnavailable)."""
        pong_wait = self.heartbeat / 2
        pinged = False
        while True:
            try:
                message = await ws.receive(timeout=pong_wait if pinged else self.heartbeat)
            except TimeoutError:
                if pinged:
                    raise AriUnavailable(
                        f"{_WHAT}: no reply to a ping from {self.endpoint.shown} within "
                        f"{pong_wait:g}s (peer gone?)") from None
                await self._bounded(ws.ping(), "ping")
                pinged = True
                continue
            pinged = False
            kind = message.type
            if kind is aiohttp.WSMsgType.TEXT:
                await self._queue(message.data)
            elif kind is aiohttp.WSMsgType.PING:
                await self._bounded(ws.pong(message.data), "pong")
            elif kind in (aiohttp.WSMsgType.PONG, aiohttp.WSMsgType.BINARY):
                continue
            else:  # CLOSE, CLOSING, CLOSED, ERROR
                error = ws.exception()
                why = f": {type(error).__name__}: {error}" if error is not None else ""
                raise AriUnavailable(f"{_WHAT}: closed by {self.endpoint.shown} "
                                     f"(code {ws.close_code}){why}")

    async def _bounded(self, send: Awaitable[None], what: str) -> None:
        try:
            async with asyncio.timeout(self.heartbeat):
                await send
        except TimeoutError:
            raise AriUnavailable(f"{_WHAT}: could not send a {what} within "
                                 f"{self.heartbeat:g}s") from None

    async def _queue(self, text: str) -> None:
        try:
            event = json.loads(text)
        except ValueError:
            event = None
        if not isinstance(event, dict) or not isinstance(event.get("type"), str):
            if self._frame_log.first("bad frame"):
                log.warning("ARI sent a frame that is not an event object; skipped: %.200r",
                            text)
            elif count := self._frame_log.repeated("bad frame"):
                log.warning("ARI sent %d more frames that are not event objects", count)
            return
        await self.queue.put(event)  # full: wait (back-pressure), never drop

    # -- state ------------------------------------------------------------------------

    def _now_connected(self) -> None:
        failed, self._failed_attempts = self._failed_attempts, 0
        self.last_error = None
        self._state_log = _Repeats()
        self.connected.set()
        self._set_gauge(1)
        log.info("ARI events connected to %s (app %s)%s", self.endpoint.shown,
                 self.settings.app, _after(failed))

    def _now_disconnected(self, error: AriError) -> None:
        was_connected = self.connected.is_set()
        self.connected.clear()
        self._set_gauge(0)
        self.last_error = error
        self._failed_attempts += 1
        reason = str(error)
        if was_connected or self._state_log.first(reason):
            log.warning("ARI events not connected: %s; retrying, at most %gs apart",
                        reason, self.backoff_max)
        elif count := self._state_log.repeated(reason):
            log.warning("ARI events still not connected (%d more attempts): %s", count, reason)


def _after(failed: int) -> str:
    if not failed:
        return ""
    return f" after {failed} failed attempt" + ("s" if failed > 1 else "")
