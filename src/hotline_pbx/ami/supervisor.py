"""The AMI connection, supervised.

panoramisk 1.4 parses the protocol; this module owns everything around it,
because panoramisk alone never checks that a Ping was answered, reconnects on
its own schedule, and drops the connection when a callback raises:

* one connection attempt at a time, with a login timeout and backoff;
* a Ping watchdog: no reply within ``ping_timeout`` → close and reconnect;
* every event is handed, as it is read, to the one ``deliver`` callable the
  supervisor was made with (the dispatcher), by a wrapper that cannot raise.
  No queue in between: while the subscribers work on one read, the loop reads
  no more, so the socket's buffer and Asterisk's own event list hold the rest
  (manager.conf's ``writetimeout`` gives Asterisk's writes time to wait).
  The queue this replaced held up to 10,000 parsed events: 20 MB at a burst,
  and dropped events when full. After each read the rest of a burst is
  left to gather in that buffer for ``ami.gather_window`` (5 ms) and read at
  once (:mod:`.read_gathering`): fewer wake-ups;
* ``hotline_ami_connected`` shows every gap.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast
from urllib.parse import unquote

from panoramisk import Manager
from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.message import Message

from hotline_pbx.config import AmiSettings
from hotline_pbx.lifecycle import BackgroundTask, Readiness
from hotline_pbx.metrics import AMI_CONNECTED, AMI_EVENTS

from .read_gathering import ReadGathering

log = logging.getLogger(__name__)

AmiEvent = dict[str, str]
OnConnected = Callable[["AmiSupervisor"], Awaitable[None]]

BACKOFF_FIRST = 0.5


def event_fields(message: Message) -> AmiEvent:
    """A panoramisk message as a plain dict of strings (a header given twice: its
    values' list as text, as ``str`` shows it).

    Read from the message's own store of (name, value) pairs: its mapping
    interface lower-cases and looks up every name again (with the dispatcher's
    drain, bench/ami_events_bench.py went from 37,800 to 48,800 events/s from
    bytes). panoramisk is pinned, so is this attribute; without it, the mapping.
    """
    store = getattr(message, "_store", None)
    pairs = store.values() if isinstance(store, dict) else message.items()
    return {str(k): v if isinstance(v, str) else str(v) for k, v in pairs}


def plain_event(block: str) -> AmiEvent:
    """One AMI event block (its ``\\r\\n``-separated lines) as the same dict
    :func:`event_fields` makes of panoramisk's message for it, without the
    message: header names as Asterisk wrote them (it never writes one name in
    two cases), a header given twice as its values' list in text, ``Result``
    unquoted, and panoramisk's empty ``content``.

    Every event of the stream passes here (19 a call): one pass, no copy, and
    a name is lower-cased only when it is as long as a quoted one."""
    event: AmiEvent = {}
    repeated: dict[str, list[str]] | None = None
    for line in block.split("\r\n"):
        name, separator, value = line.partition(": ")
        if not separator:
            continue
        if len(name) in _QUOTED_LENGTHS and name.lower() in _QUOTED_KEYS:
            value = unquote(value).strip()
        if name in event:
            if repeated is None:
                repeated = {}
            repeated.setdefault(name, [event[name]]).append(value)
        event[name] = value
    if repeated is not None:
        event.update((name, str(values)) for name, values in repeated.items())
    event["content"] = ""
    return event


_QUOTED_KEYS = frozenset(Message.quoted_keys)
_QUOTED_LENGTHS = frozenset(len(key) for key in _QUOTED_KEYS)


def _is_plain_event(block: str) -> bool:
    """An event no action waits for (no ActionID/CommandID), and not Shutdown
    (panoramisk treats that as the connection's end)."""
    return (block.startswith("Event: ") and "ActionID: " not in block
            and "CommandID: " not in block and not block.startswith("Event: Shutdown"))


class _Protocol(AMIProtocol):  # type: ignore[misc]
    """panoramisk's AMI protocol with a fast lane for the event stream.

    Responses, and the events that belong to an action (they carry its
    ActionID), go through panoramisk as before. Every other event is read
    straight into a dict (:func:`plain_event`) and handed to the manager's
    ``deliver_event``: no message object, no response lookup, no pattern match
    (``bench/ami_events_bench.py``, from bytes: see docs/performance.md).
    """

    def data_received(self, data: bytes) -> None:
        deliver = getattr(self.factory, "deliver_event", None)
        if self.version is None or deliver is None:
            super().data_received(data)  # the banner, and whatever shares its read
            return
        text = self._decoder().decode(data)
        if self.queue:
            text = self.queue.popleft() + text
        blocks = text.split("\r\n\r\n")
        self.queue.append(blocks.pop())
        for raw in blocks:
            block = raw.strip()
            if _is_plain_event(block):
                deliver(plain_event(block))
                continue
            message = Message.from_line(block)
            if message is not None:
                self.handle_message(message)
        self._gathering().after_read()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._gather is not None:
            self._gather.stop()
        super().connection_lost(exc)

    _gather: ReadGathering | None = None

    def _gathering(self) -> ReadGathering:
        """Made at the first event read, like the decoder: the window is the Manager's."""
        if self._gather is None:
            window = float(getattr(self.factory, "gather_window", 0.0))
            self._gather = ReadGathering(self.transport, window)
        return self._gather

    _incremental: codecs.IncrementalDecoder | None = None

    def _decoder(self) -> codecs.IncrementalDecoder:
        """One decoder for the connection: a character whose bytes two reads
        split (a caller's name in Chinese, in a burst) is decoded whole, where
        decoding each read alone dropped it. Made at the first event read: the
        Manager sets the encoding after the protocol is made."""
        if self._incremental is None:
            encoding = getattr(self, "encoding", "ascii")
            self._incremental = codecs.getincrementaldecoder(encoding)("ignore")
        return self._incremental


#: The responses by which Asterisk refuses an action (panoramisk's own set).
_REFUSED = ("Error", "Fail", "Failure")


class AmiError(RuntimeError):
    """Asterisk refused an action (``Response: Error``)."""


class _Listing(Action):  # type: ignore[misc]
    """An event-list action for :meth:`AmiSupervisor.listing`: panoramisk hands
    it each message of its reply (``add_message``); the first is the response,
    the events go on to `on_event` one by one, and the ``…Complete`` event
    resolves the future with their count."""

    def __init__(self, action: dict[str, str], on_event: Callable[[AmiEvent], None]) -> None:
        super().__init__(action, as_list=True)
        self._on_event = on_event
        self._answered = False
        self.count = 0
        self.closed = False

    def add_message(self, message: Message) -> bool:
        """True once the listing is over (panoramisk then forgets the action).
        Once the caller stopped waiting (a timeout), the rest is taken and dropped
        up to its end: forgotten sooner, it would reach the event stream."""
        response = not self._answered and "Event" not in message
        self._answered = self._answered or response
        refused = response and str(message.get("Response", "")) in _REFUSED
        ended = refused or str(message.get("Event", "")).endswith("Complete")
        if self.future.done() or self.closed:
            return ended
        if refused:
            self.future.set_exception(AmiError(str(message.get("Message", "refused"))))
            return True
        if response:
            return False  # "… will follow"
        if ended:
            self.future.set_result(self.count)
            return True
        self.count += 1
        try:
            self._on_event(event_fields(message))
        except Exception as exc:
            # The consumer's error is its caller's, not the connection's: raised
            # here, inside the protocol's read, it would close the connection.
            self.closed = True
            self.future.set_exception(exc)
        return False


def describe(exc: BaseException) -> str:
    """An exception as a log reason: its text, or its type when it has none
    (``TimeoutError()`` prints as nothing)."""
    return str(exc) or type(exc).__name__


class AmiUnavailable(RuntimeError):
    """No logged-in AMI connection right now."""


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk's Manager minus its own reconnect and ping timers: we own both.

    One instance is one connection attempt. panoramisk reconnects by itself
    from `connection_lost` and, when the TCP connect fails, from
    `connection_made` (`call_later(reconnect_timeout, self.connect)`, a timer
    its `close()` does not cancel): every attempt the supervisor gave up on
    would go on connecting every 2 s and log in once AMI is back, each a live
    session dispatching every event again. Here neither reconnects, and once
    closed a Manager never connects or logs in.
    """

    def __init__(self, on_lost: Callable[[Any], None],
                 deliver_event: Callable[[AmiEvent], None] | None = None,
                 gather_window: float = 0.0, **config: Any) -> None:
        super().__init__(protocol_factory=_Protocol, **config)
        self._on_lost = on_lost
        self._closed = False
        self.deliver_event = deliver_event  # _Protocol's fast lane for plain events
        self.gather_window = gather_window  # _Protocol's read gathering (read_gathering.py)

    def ping(self) -> None:  # our watchdog pings; panoramisk's timer must not
        self.pinger = None

    def dispatch(self, event: Message) -> list[str]:
        """Every event goes to the supervisor's one ``*`` callback: call it without
        panoramisk's pattern match of each event's name (a regex per event)."""
        if [pattern for pattern, _ in self.patterns] != ["*"]:
            return cast("list[str]", super().dispatch(event))
        event.manager = self
        for callback in self.callbacks["*"]:
            callback(self, event)
        return ["*"]

    def connect(self, *args: Any, **kwargs: Any) -> asyncio.Task[Any]:
        if self._closed:
            raise AmiUnavailable("this AMI connection attempt was abandoned")
        return cast("asyncio.Task[Any]", super().connect(*args, **kwargs))

    def connection_made(self, f: asyncio.Future[Any]) -> None:
        if f.cancelled() or f.exception() is not None:
            return  # the supervisor sees it through `connect()` and retries on its own backoff
        if self._closed:  # connected after the supervisor gave up on this attempt
            _transport, protocol = f.result()
            protocol.close()  # marked closed first: its connection_lost reports to nobody
            return
        super().connection_made(f)
        if self.pinger is not None:
            self.pinger.cancel()
            self.pinger = None

    def login(self, future: asyncio.Future[Any]) -> bool:
        result = bool(super().login(future))
        if self.pinger is not None:
            self.pinger.cancel()
            self.pinger = None
        return result

    def connection_lost(self, exc: Any) -> None:
        self._connected = False
        self._on_lost(exc)

    def close(self) -> None:
        self._closed = True
        super().close()


class AmiSupervisor:
    def __init__(self, settings: AmiSettings, deliver: Callable[[AmiEvent], None], *,
                 on_connected: OnConnected | None = None) -> None:
        self.name = "AMI supervisor"
        self.settings = settings
        self._deliver = deliver
        self.connected = asyncio.Event()
        self._on_connected = on_connected
        self._manager: _Manager | None = None
        self._lost: asyncio.Event = asyncio.Event()
        self._task = BackgroundTask("ami-supervisor", self._run)
        AMI_CONNECTED.set(0)

    # -- lifecycle ------------------------------------------------------------

    async def start(self) -> None:
        """Connect in the background: Asterisk may be down, the daemon runs anyway."""
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()
        self._close()

    def readiness(self) -> Readiness:
        task = self._task.readiness()
        if not task.ok:
            return task
        if self.connected.is_set():
            return Readiness(True, f"connected to {self.settings.host}:{self.settings.port}")
        return Readiness(False, "not connected")

    async def _run(self) -> None:
        backoff = BACKOFF_FIRST
        while True:
            try:
                await self._connect_and_login()
                backoff = BACKOFF_FIRST
                await self._watch()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # every failure ends in a reconnect, never a crash
                log.warning("AMI connection to %s:%s failed: %s", self.settings.host,
                            self.settings.port, describe(exc))
            self._close()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self.settings.reconnect_backoff_max)

    async def _connect_and_login(self) -> None:
        s = self.settings
        self._lost = asyncio.Event()
        manager = _Manager(
            on_lost=self._connection_lost, deliver_event=self._received,
            gather_window=s.gather_window,
            loop=asyncio.get_running_loop(), host=s.host, port=s.port,
            username=s.username, secret=str(s.secret), events="on",
            ping_delay=s.ping_interval, ping_interval=s.ping_interval,
            on_connect=lambda _m: None, on_login=lambda _m: None,
            on_disconnect=lambda _m, _e: None,
        )
        manager.register_event("*", self._on_event)
        self._manager = manager
        try:
            async with asyncio.timeout(s.connect_timeout):
                await manager.connect()
                if manager.authenticated_future is None:
                    raise AmiUnavailable("connection refused")
                reply = await manager.authenticated_future
        except TimeoutError:
            raise AmiUnavailable(f"TimeoutError after {s.connect_timeout:g}s "
                                 "(no AMI banner or login reply)") from None
        if not getattr(reply, "success", False):
            message = reply.get("Message", "login refused") if reply else "login refused"
            raise AmiUnavailable(f"login as {s.username!r} refused: {message}")
        log.info("AMI connected to %s:%s as %s", s.host, s.port, s.username)
        AMI_CONNECTED.set(1)
        self.connected.set()
        if self._on_connected is not None:
            try:
                await self._on_connected(self)
            except Exception:
                log.exception("AMI on-connect hook failed")

    async def _watch(self) -> None:
        """Ping every interval; a missing reply or a lost connection ends the session."""
        s = self.settings
        while not self._lost.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(s.ping_interval):
                    await self._lost.wait()
            if self._lost.is_set():
                break
            try:
                await self.action({"Action": "Ping"}, timeout=s.ping_timeout)
            except TimeoutError:
                raise AmiUnavailable(f"no Ping reply within {s.ping_timeout}s") from None
        raise AmiUnavailable("connection lost")

    def _connection_lost(self, exc: Any) -> None:
        self._lost.set()

    def _close(self) -> None:
        if self.connected.is_set():
            log.warning("AMI disconnected")
        self.connected.clear()
        AMI_CONNECTED.set(0)
        manager, self._manager = self._manager, None
        if manager is not None:
            with contextlib.suppress(Exception):
                manager.close()

    # -- traffic ----------------------------------------------------------------

    def _on_event(self, _manager: Any, message: Message) -> None:
        """panoramisk's callback (events of actions; the rest take _Protocol's
        fast lane to :meth:`_received`)."""
        self._received(event_fields(message))

    def _received(self, event: AmiEvent) -> None:
        AMI_EVENTS.inc()  # what Asterisk sent; the reconcile's own events are not counted
        self.deliver(event)

    def deliver(self, event: AmiEvent) -> None:
        """Hand an event on; never raises (it runs inside the protocol's read,
        and an exception there would drop the connection)."""
        try:
            self._deliver(event)
        except Exception:
            log.exception("could not deliver AMI event %s", event.get("Event"))

    async def action(self, action: Mapping[str, str], *, timeout: float = 5.0,
                     as_list: bool | None = None) -> Any:
        """Send one action and wait for its response (a list for event-list actions)."""
        manager = self._connected_manager()
        async with asyncio.timeout(timeout):
            return await manager.send_action(dict(action), as_list=as_list)

    async def listing(self, action: Mapping[str, str], on_event: Callable[[AmiEvent], None],
                      *, timeout: float = 5.0) -> int:
        """Send an event-list action (``CoreShowChannels``…) and hand each of its
        events to `on_event` as it is read, keeping none; returns how many.

        :meth:`action` keeps the whole list: with 2,000 calls up, the 6,000
        channels of a ``CoreShowChannels`` were 16 MB of messages at once,
        every minute (the outbound guard's sweep), most of the daemon's peak.
        """
        manager = self._connected_manager()
        streamed = _Listing(dict(action), on_event)
        try:
            async with asyncio.timeout(timeout):
                return cast(int, await manager.send_action(streamed))
        finally:
            streamed.closed = True  # a late event of a timed-out listing goes nowhere

    def _connected_manager(self) -> _Manager:
        manager = self._manager
        if manager is None or not self.connected.is_set():
            raise AmiUnavailable("AMI is not connected")
        return manager
