"""The dialer service: jobs from PostgreSQL, placed over ARI on the general trunk.

- **One instance dials**: the holder of a PostgreSQL advisory lock
  (``DIALER_LOCK``); the others stand by and take over when it dies.
- **Its own Stasis app** (``<ari.app>-dialer``): one app has one websocket, and
  the line monitor holds the main one. Held only while the lock is.
- **Work** is read from ``dialer_targets`` (pending, due, of an active job whose
  window is open) when woken by ``NOTIFY hotline_dialer`` and every
  :data:`TICK_SECONDS`. Each attempt's row is written *before* its originate
  (``attempt_key`` = the channel id) with its target set ``dialling`` in the same
  transaction; a target that is no longer pending (cancelled, done) is never dialled.
- **Restart**: attempts left ``in_flight`` are reconciled once the events
  websocket is up: a channel still in Asterisk is hung up, and the attempt is
  closed as ``lost`` (retried, not counted against the customer).
- **Pacing** (:func:`hotline_pbx.domain.dialer.pace`): never more than
  ``dialer.max_channels`` channels (an agent-first call reserves two), never
  faster than ``dialer.max_cps``, nothing new while callers wait in the queue.
- **Window**: callbacks and visits only while ``in_working_time(now)``;
  emergencies at any time.
- **Finish handlers** (:meth:`Dialer.on_target_finished`) run in the transaction
  that stores a target's final state.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import dataclasses
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline_pbx.ari.client import AriClient
from hotline_pbx.ari.errors import AriError, AriNotFound
from hotline_pbx.ari.events import AriEvents
from hotline_pbx.config import Settings
from hotline_pbx.dialer.calls import CallContext, OriginateGate
from hotline_pbx.dialer.dialogs import agent_bridge, keyed_dialog
from hotline_pbx.dialer.legs import CHANNEL_PREFIX, LegBook, agent_channel_id
from hotline_pbx.dialer.sound import SoundError, SoundStore
from hotline_pbx.domain.dialer import (
    AttemptResult,
    DialogType,
    FinishedTarget,
    JobType,
    Pacing,
    RetryDelays,
    channels_per_attempt,
    may_dial_now,
    pace,
    phone_problem,
)
from hotline_pbx.lifecycle import BackgroundTask, Readiness, describe
from hotline_pbx.metrics import DIALER_ACTIVE, DIALER_ATTEMPTS
from hotline_pbx.store import dialer_repo
from hotline_pbx.store.dialer_repo import DIALER_CHANNEL, AttemptEnd, DueTarget
from hotline_pbx.store.leader_lock import LeaderLock
from hotline_pbx.store.models import DIALER_LOCK
from hotline_pbx.store.notify import ConfigListener

log = logging.getLogger(__name__)

#: Seconds between looks at the database when nothing wakes the dialer.
TICK_SECONDS = 1.0
#: Seconds one database step may take.
DB_TIMEOUT = 5.0
#: Seconds between tries to store an attempt's end while PostgreSQL fails.
STORE_RETRY = 2.0

FinishHandler = Callable[[AsyncConnection, FinishedTarget], Awaitable[None]]

CONFIRM_PROMPT = "Press 1 to confirm that you have heard this message."
SATISFACTION_PROMPTS = {5: "Please rate our service. Press a key from 1, not satisfied, "
                           "to 5, very satisfied.",
                        2: "If you are satisfied with our service, press 1. If not, press 2."}
#: Played when a job's message cannot be made (no espeak-ng): a beep, so the
#: confirm prompt still makes sense; logged.
FALLBACK_MEDIA = "sound:beep"


class Dialer:
    """The service; see the module doc."""

    def __init__(self, settings: Settings, *, engine: AsyncEngine, dsn: str,
                 ari: AriClient, ari_events: Callable[[], AriEvents],
                 in_working_time: Callable[[float], bool],
                 callers_waiting: Callable[[], int],
                 free_agents: Callable[[], Sequence[str]],
                 clock: Callable[[], float] = time.time) -> None:
        d = settings.dialer
        self.name = "dialer"
        self.app = f"{settings.ari.app}-dialer"
        self._settings = settings
        self._engine = engine
        self._ari = ari
        self._make_events = ari_events
        self._events: AriEvents | None = None
        self._in_working_time = in_working_time
        self._callers_waiting = callers_waiting
        self._free_agents = free_agents
        self._clock = clock
        self._trunk = settings.trunks.general
        self._hotline_trunk = settings.trunks.hotline
        self._own_numbers = tuple(n for n in (settings.line.test_number,) if n)
        self._pacing = Pacing(d.max_channels, d.max_cps, d.reserve_when_waiting)
        self._delays = RetryDelays(d.retry_no_answer, d.retry_busy, d.retry_congestion,
                                   d.retry_short_answer, d.retry_agent)
        self._max_attempts = d.max_attempts
        self._sounds = SoundStore(Path(d.sounds_dir).expanduser(), d.sounds_media_dir)
        self._legs = LegBook(clock)
        self._ctx = CallContext(ari, self._legs, self.app, d.ring_timeout, d.dtmf_timeout,
                                d.short_answer_seconds, d.caller_id or None, clock,
                                OriginateGate(d.max_cps, clock))
        self.lock = LeaderLock(dsn, DIALER_LOCK, what="dialer", retry_seconds=5.0,
                               connect_timeout=settings.database.connect_timeout)
        self._listener = ConfigListener(dsn, self._woken, channel=DIALER_CHANNEL,
                                        on_payload=lambda _payload: self._wakeup.set(),
                                        connect_timeout=settings.database.connect_timeout)
        self._task = BackgroundTask("dialer", self._run)
        self._wakeup = asyncio.Event()
        self._handlers: dict[JobType, list[FinishHandler]] = {}
        self._running: dict[int, asyncio.Task[None]] = {}  # target id → its attempt
        self._storing: set[asyncio.Future[None]] = set()  # ends being stored
        self._reserved: dict[int, int] = {}  # target id → channels it may use
        self._agents_busy: set[str] = set()
        self._media: dict[int, list[str]] = {}  # job id → its prompts' media
        self._last_originate: float | None = None
        self._state = "not started"
        self.attempts_started = 0

    # -- the service ------------------------------------------------------------------

    def on_target_finished(self, job_type: JobType, handler: FinishHandler) -> None:
        """``handler`` runs inside the transaction that stores the target's final state."""
        self._handlers.setdefault(job_type, []).append(handler)

    async def start(self) -> None:
        # Read at each scrape: the channels of ours that have not ended, exactly.
        DIALER_ACTIVE.set_function(lambda: self._legs.up)
        await self._listener.start()
        await self.lock.start()
        self._task.start()

    async def stop(self) -> None:
        """Stop placing calls. Attempts in flight are left as they are (their rows
        stay ``in_flight``): whichever dialer runs next reconciles them."""
        await self._task.stop()
        await self._drop_attempts()
        await self._stop_events()
        await self.lock.stop()
        await self._listener.stop()

    def readiness(self) -> Readiness:
        """Always ready (advisory): a broken dialer must never stop routing."""
        task = self._task.readiness()
        if not task.ok:
            return task
        if not self.lock.is_held:
            return Readiness(True, f"standby: {self.lock.readiness().detail}")
        return Readiness(True, self._state)

    @property
    def channels_reserved(self) -> int:
        return sum(self._reserved.values())

    async def _woken(self) -> None:
        """The listener (re)connected: a NOTIFY may have been missed; look now."""
        self._wakeup.set()

    # -- the loop ---------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await self.lock.held.wait()
            await self._start_events()
            if await self._events_up():
                await self._reconcile()
                while self.lock.is_held and self._events_connected():
                    wait = await self._fill()
                    await self._sleep(wait)
            await self._drop_attempts()
            await self._stop_events()

    def _events_connected(self) -> bool:
        return self._events is not None and self._events.connected.is_set()

    async def _events_up(self) -> bool:
        """Until the websocket is up (Asterisk takes an originate into an app nobody
        listens to, and its events would reach nobody) or the lock is lost."""
        while self.lock.is_held:
            if self._events_connected():
                return True
            events = self._events
            self._state = f"waiting for ARI ({events.reason if events else 'not started'})"
            await asyncio.sleep(0.2)
        return False

    async def _start_events(self) -> None:
        events = self._make_events()
        self._legs.attach(events)
        await events.start()
        self._events = events

    async def _stop_events(self) -> None:
        events, self._events = self._events, None
        if events is not None:
            await events.stop()

    async def _sleep(self, wait: float | None) -> None:
        self._wakeup.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(TICK_SECONDS if wait is None
                                       else min(TICK_SECONDS, max(wait, 0.001))):
                await self._wakeup.wait()

    async def _fill(self) -> float | None:
        """Start what pacing and the window allow; the seconds until pacing allows
        the next one (None: wait to be woken or for the tick)."""
        now = self._clock()
        working = self._in_working_time(now)
        kinds = [kind for kind in JobType if may_dial_now(kind, in_working_time=working)]
        try:
            async with asyncio.timeout(DB_TIMEOUT), self._engine.connect() as conn:
                due = await dialer_repo.due_targets(
                    conn, now=now, job_types=kinds,
                    limit=self._pacing.max_channels * 4 + len(self._running))
        except Exception as exc:
            self._state = f"cannot read the work from PostgreSQL: {describe(exc)}"
            log.warning("dialer: %s", self._state)
            return None
        due = [t for t in due if t.target_id not in self._running]
        self._state = (f"dialling: {len(self._running)} attempt(s), "
                       f"{self.channels_reserved}/{self._pacing.max_channels} channels"
                       if self._running else "idle: nothing due")
        for target in due:
            agent: str | None = None
            if target.dialog is DialogType.AGENT_BRIDGE:
                agent = self._pick_agent()
                if agent is None:
                    continue  # no free agent now: try again later, nothing counted
            decision = pace(self._pacing, now=self._clock(), last_originate=self._last_originate,
                            channels_up=self.channels_reserved,
                            channels_needed=channels_per_attempt(target.dialog),
                            callers_waiting=self._callers_waiting())
            if not decision.go:
                if decision.reason != "max_cps":
                    self._state = f"paused: {decision.reason}"
                return decision.wait
            self._launch(target, agent)
        return None

    def _pick_agent(self) -> str | None:
        for agent in self._free_agents():
            if agent not in self._agents_busy:
                return agent
        return None

    def _launch(self, target: DueTarget, agent: str | None) -> None:
        self._last_originate = self._clock()
        self._reserved[target.target_id] = channels_per_attempt(target.dialog)
        if agent is not None:
            self._agents_busy.add(agent)
        task = asyncio.create_task(self._attempt(target, agent),  # supervised: _running
                                   name=f"dialer-attempt-{target.target_id}")
        self._running[target.target_id] = task

        def done(finished: asyncio.Task[None]) -> None:
            self._running.pop(target.target_id, None)
            self._reserved.pop(target.target_id, None)
            if agent is not None:
                self._agents_busy.discard(agent)
            self._wakeup.set()
            if not finished.cancelled() and finished.exception() is not None:
                log.error("dialer: attempt for target %d failed", target.target_id,
                          exc_info=finished.exception())

        task.add_done_callback(done)

    async def _drop_attempts(self) -> None:
        """Stop watching the attempts in flight (their rows stay in_flight)."""
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(BaseException):
                await task
        if self._storing:
            _done, pending = await asyncio.wait(set(self._storing), timeout=2 * DB_TIMEOUT)
            for store in pending:
                store.cancel()
        self._legs.legs.clear()

    # -- one attempt ------------------------------------------------------------------

    async def _attempt(self, target: DueTarget, agent: str | None) -> None:
        key = f"{CHANNEL_PREFIX}{uuid.uuid4().hex}"
        endpoint = self._endpoint(target.phone)
        started = self._clock()
        if endpoint is None:  # refused before any call: never dialled
            await self._store_end(target.job_type, AttemptEnd(
                key, AttemptResult.FAILED, started, details={"refused": "hotline range"}),
                begin=(target, started))
            return
        media = await self._prompts(target)
        details = {"dialog": target.dialog.value, "job_id": target.job_id,
                   "job_type": target.job_type.value}
        if not await self._begin(target, key, started, details):
            return
        self.attempts_started += 1
        if target.dialog is DialogType.AGENT_BRIDGE and agent is not None:
            end = await agent_bridge(self._ctx, key, endpoint, agent, target.phone)
        else:
            valid = "1" if target.dialog is DialogType.CONFIRM \
                else ("12" if _scale(target.options) == 2 else "12345")
            end = await keyed_dialog(self._ctx, target.dialog, key, endpoint, media, valid)
        # Stored apart from the attempt: its channels are free now (pacing may go
        # on) while PostgreSQL is retried; its target stays `dialling` until then,
        # so it is not dialled again. A confirmation must never be lost: stopping
        # waits for these (_drop_attempts).
        store = asyncio.ensure_future(self._store_end(target.job_type, end))
        self._storing.add(store)
        store.add_done_callback(self._storing.discard)

    async def _hang_up_left(self, channel_id: str) -> bool:
        """Hang up a channel an earlier dialer left; True when it still existed."""
        return await _hang_up_left_impl(self._ari, channel_id)

    def _endpoint(self, phone: str) -> str | None:
        """``PJSIP/<phone>@<trunks.general>``; None for a number the dialer must
        never call (the hotline's own range) or a trunk that is the hotline's."""
        if self._trunk == self._hotline_trunk:
            log.error("dialer: refused to dial on the hotline's own trunk %s", self._trunk)
            return None
        problem = phone_problem(phone, own_numbers=self._own_numbers)
        if problem is not None:  # the reason, not always "the own range"
            log.error("dialer: refused to dial %s: it %s", phone, problem)
            return None
        return f"PJSIP/{phone}@{self._trunk}"

    async def _begin(self, target: DueTarget, key: str, started: float,
                     details: Mapping[str, Any]) -> bool:
        try:
            async with asyncio.timeout(DB_TIMEOUT), self._engine.begin() as conn:
                return await dialer_repo.begin_attempt(conn, target_id=target.target_id,
                                                       attempt_key=key, started_at=started,
                                                       details=details)
        except Exception as exc:  # nothing dialled: the target stays pending
            log.warning("dialer: cannot record an attempt, not dialling: %s", describe(exc))
            return False

    async def _store_end(self, job_type: JobType, end: AttemptEnd, *,
                         begin: tuple[DueTarget, float] | None = None) -> None:
        """Store the attempt's end (and run the finish handlers) until it is stored:
        an end is never dropped; if the dialer stops first, the attempt stays
        in_flight and is reconciled at the next start."""
        while True:
            try:
                async with asyncio.timeout(DB_TIMEOUT), self._engine.begin() as conn:
                    if begin is not None and not await dialer_repo.begin_attempt(
                            conn, target_id=begin[0].target_id, attempt_key=end.attempt_key,
                            started_at=begin[1], details=dict(end.details)):
                        return
                    finished = await dialer_repo.finish_attempt(
                        conn, end, max_attempts=self._max_attempts, delays=self._delays)
                    if finished is not None:
                        for handler in self._handlers.get(finished.job_type, ()):
                            await handler(conn, finished)
                break
            except Exception as exc:
                log.warning("dialer: cannot store an attempt's end (%s); retrying in %.0fs",
                            describe(exc), STORE_RETRY)
                await asyncio.sleep(STORE_RETRY)
        DIALER_ATTEMPTS.labels(job_type.value, end.result.value).inc()

    async def _prompts(self, target: DueTarget) -> list[str]:
        cached = self._media.get(target.job_id)
        if cached is not None:
            return cached
        options = target.options
        try:
            if target.dialog is DialogType.CONFIRM:
                media = [await self._message(options), await self._sounds.media_for_text(
                    str(options.get("confirm_text") or CONFIRM_PROMPT))]
            elif target.dialog is DialogType.SATISFACTION:
                media = [await self._sounds.media_for_text(str(
                    options.get("prompt_text") or SATISFACTION_PROMPTS[_scale(options)]))]
            else:
                media = []
        except (SoundError, OSError) as exc:
            log.error("dialer: job %d: its message cannot be made (%s); playing a beep",
                      target.job_id, exc)
            media = [FALLBACK_MEDIA]
        if len(self._media) > 1000:
            self._media.clear()
        self._media[target.job_id] = media
        return media

    async def _message(self, options: Mapping[str, Any]) -> str:
        wav = options.get("message_wav")
        if isinstance(wav, str) and wav:
            try:
                return await self._sounds.media_for_wav(base64.b64decode(wav))
            except binascii.Error:
                raise SoundError("the stored WAV is not base64") from None
        return await self._sounds.media_for_text(str(options.get("message_text") or ""))

    # -- restart --------------------------------------------------------------------------

    async def _reconcile(self) -> None:
        """Attempts an earlier dialer left in flight: hang up a channel that still
        exists, close the attempt as lost (its target is tried again)."""
        try:
            async with asyncio.timeout(DB_TIMEOUT), self._engine.connect() as conn:
                left = await dialer_repo.in_flight(conn)
        except Exception as exc:
            log.warning("dialer: cannot read attempts in flight: %s", describe(exc))
            return
        for attempt in left:
            still_up = False
            for channel_id in (attempt.attempt_key, agent_channel_id(attempt.attempt_key)):
                still_up = await self._hang_up_left(channel_id) or still_up
            kind = attempt.details.get("job_type")
            job_type = JobType(kind) if kind in {k.value for k in JobType} else JobType.EMERGENCY
            await self._store_end(job_type, AttemptEnd(
                attempt.attempt_key, AttemptResult.LOST, self._clock(),
                details={"reconciled": "hung up" if still_up else "channel gone"}))
        if left:
            log.warning("dialer: reconciled %d attempt(s) left in flight", len(left))


async def _hang_up_left_impl(ari: AriClient, channel_id: str) -> bool:
    try:
        await ari.get_channel(channel_id)
    except AriNotFound:
        return False
    except AriError as exc:
        log.warning("dialer: reconciling %s: %s", channel_id, describe(exc))
        return False
    with contextlib.suppress(AriError):
        await ari.hangup(channel_id)
    return True


def _scale(options: Mapping[str, Any]) -> int:
    return 2 if options.get("scale") == 2 else 5


def dialer_ari_settings(settings: Settings) -> Any:
    """The ARI settings of the dialer's own Stasis app."""
    return dataclasses.replace(settings.ari, app=f"{settings.ari.app}-dialer")
