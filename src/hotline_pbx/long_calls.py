"""Long calls: flag a call that blocks the hotline, whisper to its agent, let the
agent continue it from another line (issue 12, item 3).

The rule is :mod:`hotline_pbx.domain.long_calls` (a call connected longer than
``long_call.threshold`` while ``long_call.min_waiting`` callers wait); the
connected calls and callers waiting come from
:class:`~hotline_pbx.ami.queue_watch.QueueWatch`. Every ``check_every``
seconds the service looks; a call that has just become long is flagged once:

- **the record**: every instance marks the call in its own tracker (the record
  it writes when the call ends carries ``long_call``), and the lock holder
  also sets ``calls.long_call`` with an idempotent update once the call has
  ended, retried until the row is there: the flag is stored whatever the
  order of events, and whichever instance's record got in first;
- **the whisper** (lock holder, ARI configured): an ARI snoop channel on the
  agent's channel with ``whisper=out`` (audio played on it goes to the agent
  only; ``in`` would reach the caller), ``long_call.whisper_media`` played on
  it, then the snoop channel hung up;
- ``hotline_long_calls_total`` (lock holder).

One instance whispers and counts: the holder of ``LONG_CALL_LOCK`` (a second
whisper would be heard twice, and the snoop app's websocket can only be open
once). The others keep the same book from the same AMI events, so any
instance's API lists the same calls as long.

**Continue from another line** (:meth:`LongCallService.continue_elsewhere`,
``POST /api/v1/long-calls/{linkedid}/callback``): opens a callback task
(reason ``long_call``) through ``open_callback``, plays
``long_call.apology_media`` to the caller (the same snoop, whisper on the
caller's channel; lock holder only, otherwise a plain hang-up) and hangs the
caller's leg up over AMI.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from hotline_pbx.agi.session import AgiChannel, AgiSession
from hotline_pbx.ami.outbound_guard import AmiActions, _get
from hotline_pbx.ami.queue_watch import QueueWatch
from hotline_pbx.ami.supervisor import AmiUnavailable
from hotline_pbx.ari.client import AriClient
from hotline_pbx.ari.errors import AriError
from hotline_pbx.ari.events import AriEvents
from hotline_pbx.config import LongCallSettings
from hotline_pbx.domain.long_calls import LongCallBook, LongCallRule, duration
from hotline_pbx.domain.queue_state import ConnectedCall
from hotline_pbx.lifecycle import BackgroundTask, Readiness, describe
from hotline_pbx.metrics import LONG_CALLS
from hotline_pbx.store.leader_lock import LeaderLock
from hotline_pbx.store.long_call_repo import mark_long_call
from hotline_pbx.store.models import LONG_CALL_LOCK

log = logging.getLogger(__name__)

#: ``(call_key, caller, at) → task id`` (None: a task of that key exists already).
OpenCallback = Callable[[str, str, float], Awaitable[int | None]]
#: Prefix of our snoop channels' ids (ARI ``snoopId``).
SNOOP_PREFIX = "hotline-long-"
#: Seconds for a snoop channel to enter our app before the whisper is given up.
STASIS_TIMEOUT = 3.0
#: Longest the apology may play before the caller is hung up anyway.
APOLOGY_TIMEOUT = 15.0
#: Flags waiting for their call's row (the database down for long): kept, never
#: dropped, but a log line says when this many wait.
PENDING_WARN = 1000
#: Seconds between two tries of a flag whose row is not stored yet.
RETRY_SECONDS = 2.0


class NoSuchCall(LookupError):
    """No call of that linkedid is connected to an agent now."""


class NotLong(ValueError):
    """The call is connected but not flagged long (and ``force`` was not given)."""


@dataclass(frozen=True, slots=True)
class Continued:
    """What ``continue_elsewhere`` did."""

    linkedid: str
    task_id: int | None  # None: a task for this call existed already
    apology_played: bool
    hung_up: bool


class _Waiters:
    """One ``asyncio.Event`` per ARI object id, made by whichever side comes first
    (the event may arrive before the REST reply that names its id)."""

    def __init__(self, limit: int = 1000) -> None:
        self._events: dict[str, asyncio.Event] = {}
        self._limit = limit

    def get(self, key: str) -> asyncio.Event:
        if key not in self._events and len(self._events) >= self._limit:
            self._events.pop(next(iter(self._events)))  # ids nobody waited for
        return self._events.setdefault(key, asyncio.Event())

    def set(self, key: str) -> None:
        self.get(key).set()

    def forget(self, key: str) -> None:
        self._events.pop(key, None)

    async def wait(self, key: str, timeout: float) -> bool:
        try:
            async with asyncio.timeout(timeout):
                await self.get(key).wait()
            return True
        except TimeoutError:
            return False
        finally:
            self.forget(key)


class LongCallService:
    def __init__(self, settings: LongCallSettings, *, watch: QueueWatch,
                 mark_in_tracker: Callable[[str], bool], engine: AsyncEngine, dsn: str,
                 open_callback: OpenCallback, ami: AmiActions,
                 ari: AriClient | None, ari_events: Callable[[], AriEvents] | None,
                 connect_timeout: float = 5.0, clock: Callable[[], float] = time.time,
                 ami_connected: Callable[[], bool] = lambda: True) -> None:
        self.name = "long calls"
        self.settings = settings
        self.watch = watch
        self.book = LongCallBook(LongCallRule(settings.threshold, settings.min_waiting,
                                              settings.only_while_waiting))
        self._mark_in_tracker = mark_in_tracker
        self._engine = engine
        self._open_callback = open_callback
        self._ami = ami
        self._ari = ari
        self._make_events = ari_events
        self._events: AriEvents | None = None
        self._clock = clock
        self._ami_connected = ami_connected
        self.lock = LeaderLock(dsn, LONG_CALL_LOCK, what="long-call service",
                               retry_seconds=5.0, connect_timeout=connect_timeout)
        self._task = BackgroundTask("long-calls", self._run)
        self._lock_task = BackgroundTask("long-calls-lock", self._follow_lock)
        self._started = _Waiters()  # snoop channel id → StasisStart seen
        self._finished = _Waiters()  # playback id → PlaybackFinished seen
        self._pending_rows: dict[str, float] = {}  # linkedid → flagged at (row to update)
        self._whispers: set[asyncio.Task[None]] = set()
        self.whispered = 0  # whispers that played to their end (logs, tests)

    # -- the service ----------------------------------------------------------------------

    async def start(self) -> None:
        await self.lock.start()
        self._lock_task.start()
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()
        await self._lock_task.stop()
        for task in list(self._whispers):
            task.cancel()
        for task in list(self._whispers):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self._stop_events()
        await self.lock.stop()

    def readiness(self) -> Readiness:
        """Always ready (a whisper that cannot play must not stop routing)."""
        for task in (self._task, self._lock_task):
            state = task.readiness()
            if not state.ok:
                return state
        if not self.lock.is_held:
            return Readiness(True, f"standby: {self.lock.readiness().detail}")
        if self._ari is None:
            return Readiness(True, "flagging long calls; no whisper (ari.enabled = false)")
        events = self._events
        if events is None or not events.connected.is_set():
            return Readiness(True, "flagging long calls; whisper unavailable: ARI events "
                             "not connected")
        return Readiness(True, "flagging long calls")

    @property
    def snoop_app(self) -> str:
        """Our Stasis app for snoop channels: its own, so it never takes the line
        monitor's websocket (one app, one websocket)."""
        return self._events.settings.app if self._events is not None else ""

    # -- the loop ----------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.settings.check_every)
            self.check()
            if self.lock.is_held and self._pending_rows:
                await self._store_flags()

    def check(self) -> list[ConnectedCall]:
        """Flag the calls that have just become long (synchronous: the book and the
        tracker; the whisper runs in a task of its own). Not while AMI is away:
        the queue state is stale until the reconcile after the next login."""
        if not self._ami_connected():
            return []
        calls = self.watch.connected_calls()
        found = self.book.newly_long(calls, self._clock(), self.watch.callers_waiting())
        holder = self.lock.is_held
        for call in found:
            self._mark_in_tracker(call.linkedid)
            log.warning("long call %s: %.0fs with agent %s while %d caller(s) wait%s",
                        call.linkedid, duration(call, self._clock()), call.member_interface,
                        self.watch.callers_waiting(), "" if holder else " (standby: noted)")
            if holder:
                LONG_CALLS.inc()
                self._pending_rows[call.linkedid] = self._clock()
                self._whisper_soon(call)
        return found

    async def _store_flags(self) -> None:
        """``calls.long_call`` for flagged calls that have ended (their row written
        by whichever instance); a row not there yet is tried again next time."""
        live = {c.linkedid for c in self.watch.connected_calls()}
        due = [k for k in self._pending_rows if k not in live]
        if not due:
            return
        try:
            async with asyncio.timeout(5), self._engine.begin() as conn:
                for linkedid in due:
                    if await mark_long_call(conn, linkedid):
                        del self._pending_rows[linkedid]
        except Exception as exc:  # the database away: every flag is kept for later
            log.warning("long calls: cannot store %d flag(s) yet: %s", len(due), describe(exc))
        if len(self._pending_rows) >= PENDING_WARN:
            log.error("long calls: %d flags wait for their call's row",
                      len(self._pending_rows))

    # -- the lock and ARI events ---------------------------------------------------------

    async def _follow_lock(self) -> None:
        """The snoop app's websocket while this instance holds the lock."""
        while True:
            await self.lock.held.wait()
            await self._start_events()
            await self.lock.released.wait()
            await self._stop_events()

    async def _start_events(self) -> None:
        if self._make_events is None:
            return
        events = self._make_events()
        events.subscribe("StasisStart", self._on_stasis_start)
        events.subscribe("PlaybackFinished", self._on_playback_finished)
        await events.start()
        self._events = events

    async def _stop_events(self) -> None:
        events, self._events = self._events, None
        if events is not None:
            await events.stop()

    def _on_stasis_start(self, event: Mapping[str, Any]) -> None:
        channel = event.get("channel") or {}
        channel_id = str(channel.get("id", ""))
        if channel_id.startswith(SNOOP_PREFIX):
            self._started.set(channel_id)

    def _on_playback_finished(self, event: Mapping[str, Any]) -> None:
        playback = event.get("playback") or {}
        self._finished.set(str(playback.get("id", "")))

    def _ari_ready(self) -> bool:
        return (self._ari is not None and self._events is not None
                and self._events.connected.is_set())

    # -- the whisper ----------------------------------------------------------------------

    def _whisper_soon(self, call: ConnectedCall) -> None:
        if not self._ari_ready():
            log.warning("long call %s: no whisper to the agent (ARI events not connected)",
                        call.linkedid)
            return
        task = asyncio.create_task(self._whisper(call), name=f"long-call-{call.linkedid}")
        self._whispers.add(task)
        task.add_done_callback(self._whispers.discard)

    async def _whisper(self, call: ConnectedCall) -> None:
        target = call.agent_uniqueid or call.agent_channel
        played = await self.play_to(target, self.settings.whisper_media,
                                    self.settings.whisper_seconds)
        if played:
            self.whispered += 1
            log.info("long call %s: whisper played to agent %s", call.linkedid,
                     call.agent_channel)

    async def play_to(self, channel_id: str, media: str, timeout: float) -> bool:
        """Play ``media`` to ``channel_id``'s own party only (snoop, whisper out), then
        end the snoop channel; True when it played to its end within ``timeout``."""
        ari = self._ari
        if ari is None or not self._ari_ready():
            return False
        snoop_id = f"{SNOOP_PREFIX}{uuid.uuid4().hex}"
        self._started.get(snoop_id)  # ready before Asterisk can answer
        try:
            # No spy: nobody listens. (A snoop channel hung up ends only once its
            # audiohook sees a frame on the snooped channel: at once in a call with
            # media, with the call in the sandbox's silent SIPp calls.)
            await ari.snoop(channel_id, app=self.snoop_app, whisper="out", snoop_id=snoop_id)
            if not await self._started.wait(snoop_id, STASIS_TIMEOUT):
                log.warning("snoop channel %s never entered our app", snoop_id)
                return False
            playback = await ari.play(snoop_id, media)
            return await self._finished.wait(str(playback.get("id", "")), timeout)
        except AriError as exc:
            log.warning("could not play %s to channel %s: %s", media, channel_id, exc)
            return False
        finally:
            self._started.forget(snoop_id)
            with contextlib.suppress(AriError):
                await ari.hangup(snoop_id)

    # -- for the API ------------------------------------------------------------------------

    def listing(self) -> dict[str, Any]:
        """The queues now and every connected call, flagged or not."""
        watch, now = self.watch, self._clock()
        return {
            "callers_waiting": watch.callers_waiting(),
            "longest_wait_seconds": round(watch.longest_wait(now), 3),
            "free_agents": list(watch.free_agents()),
            "threshold_seconds": self.settings.threshold,
            "calls": [self._entry(call, now) for call in watch.connected_calls()],
        }

    def _entry(self, call: ConnectedCall, now: float) -> dict[str, Any]:
        return {
            "linkedid": call.linkedid, "queue": call.queue, "agent": call.member_interface,
            "agent_channel": call.agent_channel, "caller_channel": call.caller_channel,
            "caller": call.caller_number, "connected_at": call.connected_at,
            "duration_seconds": round(duration(call, now), 3),
            "long": self.book.is_flagged(call.linkedid),
        }

    def find(self, linkedid: str) -> ConnectedCall | None:
        return next((c for c in self.watch.connected_calls() if c.linkedid == linkedid), None)

    def find_by_agent(self, agent_uniqueid: str) -> ConnectedCall | None:
        return next((c for c in self.watch.connected_calls()
                     if agent_uniqueid and c.agent_uniqueid == agent_uniqueid), None)

    async def continue_elsewhere(self, linkedid: str, *, force: bool = False) -> Continued:
        """Open the callback task, apologise to the caller, hang the caller up.

        Raises :class:`NoSuchCall` (not connected now) or :class:`NotLong` (not
        flagged, ``force`` not given). The task is opened first: if the hang-up
        then fails, the customer still gets the call back."""
        call = self.find(linkedid)
        if call is None:
            raise NoSuchCall(linkedid)
        if not force and not self.book.is_flagged(linkedid):
            raise NotLong(linkedid)
        task_id = await self._open_callback(linkedid, call.caller_number, self._clock())
        apologised = await self.play_to(call.uniqueid or call.caller_channel,
                                        self.settings.apology_media, APOLOGY_TIMEOUT)
        hung_up = await self._hang_up(call)
        log.warning("long call %s continued from another line: callback task %s, caller %s",
                    linkedid, task_id if task_id is not None else "(existed)",
                    "hung up" if hung_up else "NOT hung up")
        return Continued(linkedid, task_id, apologised, hung_up)

    async def _hang_up(self, call: ConnectedCall) -> bool:
        action = {"Action": "Hangup", "Channel": call.caller_channel, "Cause": "16"}
        try:
            reply = await self._ami.action(action, timeout=5.0)
        except (AmiUnavailable, TimeoutError) as exc:
            log.warning("could not hang up %s: %s", call.caller_channel, exc or "timeout")
            return False
        return _get(reply, "Response") == "Success" or \
            "no such channel" in _get(reply, "Message").lower()


class LongCallFeature:
    """FastAGI script ``long_call``: the agent pressed ``*9`` (features.conf's
    ``hotline-long-callback``, run on the agent's channel). The agent decides: the
    call is continued from another line whether or not it is flagged long yet."""

    def __init__(self, service: Callable[[], LongCallService | None]) -> None:
        self._service = service  # started after FastAGI: looked up per session

    async def handle(self, session: AgiSession, channel: AgiChannel) -> None:
        service = self._service()
        if service is None:
            log.warning("feature code long_call from %s: long calls are not watched here",
                        session.channel)
            return
        call = service.find_by_agent(session.uniqueid) or (
            service.find(session.linkedid) if session.linkedid else None)
        if call is None:
            log.warning("feature code long_call from %s: no connected queue call of that "
                        "agent", session.channel)
            return
        await service.continue_elsewhere(call.linkedid, force=True)


__all__ = [
    "Continued",
    "LongCallFeature",
    "LongCallService",
    "NoSuchCall",
    "NotLong",
    "OpenCallback",
]
