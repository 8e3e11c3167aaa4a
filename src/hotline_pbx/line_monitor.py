"""The line monitor: test-dial a quiet 400 line, keep the fault register.

Wiring of the rule in :mod:`hotline_pbx.domain.line_health` to the PBX:

- **Test calls** go out over ARI on the general trunk to the hotline's own
  number (``line.test_number``, dialled with ``routing.dial_template``) and
  carry ``line.test_caller`` as their caller number. Before placing one, the
  monitor announces the test on PostgreSQL (``NOTIFY hotline_line``), so
  whichever instance's ``/route`` the call reaches recognises it
  (:class:`~hotline_pbx.domain.line_health.TestWindow`): it is answered with
  ``HOTLINE_ROUTE=test`` (the dialplan hangs up at once) and
  ``HOTLINE_TEST_CALL=1`` (stored with ``is_test``, counted in no KPI). The
  monitor learns the arrival from its own ``/route`` or, when another instance
  answered, from AMI (the ``VarSet`` of ``HOTLINE_TEST_CALL``), hangs its
  channel up, and records the test (``line_tests``).
- **A failed test** (its channel ended busy, congested, unavailable; not seen at
  ``/route`` within ``line.test_timeout``; ARI not answering) opens a fault;
  the monitor retests every ``line.retest_every``; a passing test or a real
  call reaching ``/route`` closes it.
- **The 400 trunk's qualify** (AMI ``ContactStatus`` of its AOR) opens and
  closes a fault of its own (``carrier_unreachable``).
- **One monitor among many instances**: only the holder of a PostgreSQL
  advisory lock (:class:`~hotline_pbx.store.leader_lock.LeaderLock`) tests and
  writes faults; the others stand by and take over within
  ``line.retest_every`` when it dies. A test asked for through the API
  (``POST /api/v1/line/test`` on any instance) reaches the holder the same way
  (``NOTIFY``), and the API waits for its row in ``line_tests``.

``hotline_line_up`` is absent until the holder knows something (a test result,
the trunk's state or an open fault found at take-over): it never reads 0 just
because nothing has been tried yet, and only the holder exports it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline_pbx.agi.route_handler import RoutedCall
from hotline_pbx.ami.supervisor import AmiSupervisor, AmiUnavailable
from hotline_pbx.ari.client import AriClient
from hotline_pbx.ari.errors import AriAuthError, AriError, AriUnavailable
from hotline_pbx.ari.events import AriEvents
from hotline_pbx.config import Settings
from hotline_pbx.domain.contract import DialplanVar, Route
from hotline_pbx.domain.line_health import (
    CallTestResult,
    FaultBook,
    FaultCause,
    FaultChange,
    FaultSource,
    OpenFault,
    Schedule,
    TestWindow,
    cause_of_hangup,
    is_test_due,
)
from hotline_pbx.lifecycle import BackgroundTask, Readiness, describe
from hotline_pbx.metrics import LINE_FAULTS, LINE_UP
from hotline_pbx.store import line_repo
from hotline_pbx.store.batch_writer import BatchWriter
from hotline_pbx.store.leader_lock import LeaderLock
from hotline_pbx.store.line_repo import FaultRecord, TestRecord
from hotline_pbx.store.models import LINE_CHANNEL, LINE_MONITOR_LOCK
from hotline_pbx.store.notify import ConfigListener

log = logging.getLogger(__name__)

#: How often the monitor looks at the clock when nothing wakes it.
TICK_SECONDS = 1.0
#: After its channel ended, how long a test still waits for word of its arrival
#: (the AMI event from another instance's /route may come after ARI's).
ARRIVAL_GRACE = 1.0
#: Requests for a test now that may wait at once; they are all served by the next test.
MAX_PENDING_REQUESTS = 1000
#: The prefix of a test call's channel id (ARI ``channelId``).
CHANNEL_PREFIX = "hotline-line-test-"

IsOpen = Callable[[float], bool]


class LineMonitor:
    """The service; see the module doc. ``window`` is shared with ``/route``."""

    def __init__(self, settings: Settings, *, engine: AsyncEngine, dsn: str, ari: AriClient,
                 ari_events: Callable[[], AriEvents], faults: BatchWriter[FaultRecord],
                 tests: BatchWriter[TestRecord], window: TestWindow, is_open: IsOpen,
                 clock: Callable[[], float] = time.time) -> None:
        line = settings.line
        self.name = "line monitor"
        self._engine = engine
        self._ari = ari
        self._make_events = ari_events
        self._events: AriEvents | None = None  # while this instance holds the lock
        self._faults = faults
        self._tests = tests
        self.window = window
        self._is_open = is_open
        self._clock = clock
        self._schedule = Schedule(line.test_after, line.test_timeout, line.retest_every)
        # Out on the general trunk, the way a customer's call comes in: through
        # the public network to the hotline's own number.
        self._endpoint = f"PJSIP/{line.test_number}@{settings.trunks.general}"
        self._caller = line.test_caller
        self._hotline_trunk = settings.trunks.hotline
        self.lock = LeaderLock(dsn, LINE_MONITOR_LOCK, what="line monitor",
                               retry_seconds=min(line.retest_every / 2, 10.0),
                               connect_timeout=settings.database.connect_timeout)
        self._listener = ConfigListener(dsn, self._on_listener_connected, channel=LINE_CHANNEL,
                                        on_payload=self._on_message,
                                        connect_timeout=settings.database.connect_timeout)
        self._task = BackgroundTask("line-monitor", self._run)
        self._wakeup = asyncio.Event()
        self._book = FaultBook()
        self._keys: dict[int, str] = {}  # open fault id → fault_key
        self._next_fault_id = -1  # faults opened here get ids < 0 until listed from the DB
        self._known = False  # anything known about the line: hotline_line_up exported
        self._started_at = clock()
        self._last_activity = self._started_at
        self._last_test: float | None = None
        self._requests: dict[str, str] = {}  # request key → who asked
        self._current: _InFlight | None = None
        self._test_channels: dict[str, float] = {}  # uniqueids /route flagged as test calls
        self._ami: AmiSupervisor | None = None
        self.last_result: CallTestResult | None = None

    # -- the service ------------------------------------------------------------------

    async def start(self) -> None:
        await self._listener.start()
        await self.lock.start()
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()
        await self._stop_events()
        await self.lock.stop()
        await self._listener.stop()
        LINE_UP.forget()

    def readiness(self) -> Readiness:
        """Always ready (a broken line or ARI must not take routing out of service);
        the detail says what the monitor does and why it cannot."""
        task = self._task.readiness()
        if not task.ok:
            return task
        if not self.lock.is_held:
            return Readiness(True, f"standby: {self.lock.readiness().detail}")
        if self._events is None or not self._events.connected.is_set():
            ari = self._events.readiness() if self._events is not None else task
            return Readiness(True, f"monitoring, but ARI is not connected ({ari.detail}): "
                                   "test calls fail as monitor_unavailable")
        faults = ", ".join(f.cause.value for f in self._book.open_faults)
        return Readiness(True, f"monitoring; open faults: {faults}" if faults
                         else "monitoring; line up")

    # -- inputs -----------------------------------------------------------------------

    def on_routed(self, routed: RoutedCall) -> None:
        """RouteHandler observer: a call reached /route on this instance."""
        if routed.decision.route is Route.TEST:
            self._test_arrived(routed.uniqueid)
        else:
            self._real_call()

    def on_ami_event(self, event: Mapping[str, Any]) -> None:
        """Dispatcher subscriber: /route's variables set by any instance, and the
        400 trunk's qualify."""
        kind = event.get("Event")
        if kind == "VarSet":
            self._on_varset(event)
        elif kind == "ContactStatus":
            self._on_contact_status(event)

    def use_ami(self, ami: AmiSupervisor) -> None:
        """The AMI link to read the trunk's qualify state from at take-over."""
        self._ami = ami

    async def after_ami_login(self, ami: AmiSupervisor) -> None:
        """The trunk's state now (ContactStatus only tells of changes)."""
        if self.lock.is_held:
            await self._read_trunk_state(ami)

    async def _read_trunk_state(self, ami: AmiSupervisor) -> None:
        try:
            entries = await ami.action({"Action": "PJSIPShowContacts"}, as_list=True)
        except (TimeoutError, AmiUnavailable) as exc:
            log.warning("line monitor: cannot read the trunk's qualify state: %s",
                        exc or "timeout")
            return
        for entry in entries or ():
            if entry.get("Event") == "ContactList" and self._is_hotline_aor(entry.get("Aor")):
                reachable = str(entry.get("Status", "")).lower()
                if reachable in ("reachable", "unreachable"):
                    self._trunk_state(reachable == "reachable")

    def request_test(self, key: str, requested_by: str) -> None:
        """A test asked for now (``POST /api/v1/line/test``, through NOTIFY)."""
        if len(self._requests) < MAX_PENDING_REQUESTS:
            self._requests[key] = requested_by
        self._wakeup.set()

    # -- the loop ---------------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await self.lock.held.wait()
            await self._take_over()
            await self._start_events()
            while self.lock.is_held:
                if self._requests or self._due():
                    await self._run_test()
                    continue
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(TICK_SECONDS):
                        await self._wakeup.wait()
            await self._step_down()

    def _due(self) -> bool:
        now = self._clock()
        return is_test_due(now, is_open=self._is_open(now), last_activity=self._last_activity,
                           last_test=self._last_test,
                           test_fault_open=self._book.open_of(FaultSource.TEST) is not None,
                           schedule=self._schedule)

    async def _take_over(self) -> None:
        """Start from the faults an earlier holder left open."""
        try:
            async with asyncio.timeout(5), self._engine.connect() as conn:
                found = await line_repo.open_faults(conn)
        except Exception as exc:
            log.warning("line monitor: cannot read the open faults (%s); starting without",
                        describe(exc))
            found = []
        self._book = FaultBook(tuple(fault for _key, fault in found))
        self._keys = {fault.id: key for key, fault in found}
        self._known = bool(found)
        self._last_activity = max(self._last_activity, self._clock())
        self._publish()
        log.info("line monitor running on this instance (%d open fault(s))", len(found))
        if self._ami is not None and self._ami.connected.is_set():
            await self._read_trunk_state(self._ami)

    async def _start_events(self) -> None:
        """The Stasis app's events websocket, only on the holder: one app has one
        websocket, and a second instance connecting would take it over."""
        events = self._make_events()
        events.subscribe("ChannelDestroyed", self._on_channel_destroyed)
        await events.start()
        self._events = events

    async def _stop_events(self) -> None:
        events, self._events = self._events, None
        if events is not None:
            await events.stop()

    async def _step_down(self) -> None:
        await self._stop_events()
        self._known = False
        LINE_UP.forget()
        log.warning("line monitor: standing by (the lock went to another instance or "
                    "PostgreSQL is unreachable)")

    # -- one test ---------------------------------------------------------------------

    async def _run_test(self) -> None:
        requests, self._requests = self._requests, {}
        started = self._clock()
        test_key = uuid.uuid4().hex
        flight = _InFlight(f"{CHANNEL_PREFIX}{test_key}")
        self._current = flight
        until = started + self._schedule.test_timeout + ARRIVAL_GRACE
        self.window.open(until)
        await self._announce({"testing": test_key, "until": until})
        try:
            cause, detail = await self._place_and_watch(flight)
        finally:
            self._current = None
            self.window.close()
            await self._announce({"done": test_key})
        ended = self._clock()
        trip = None if cause is not None or flight.arrived_at is None \
            else flight.arrived_at - started
        result = CallTestResult(started, ended, cause, detail, trip)
        self._finish_test(test_key, result, requests)

    async def _place_and_watch(self, flight: _InFlight) -> tuple[FaultCause | None, str]:
        timeout = self._schedule.test_timeout
        if not await self._events_connected(timeout):
            # Asterisk takes an originate into an app with no websocket, and its
            # events then reach nobody: the test could not be watched.
            events = self._events
            reason = events.reason if events is not None else "not started"
            return FaultCause.MONITOR_UNAVAILABLE, f"ARI events not connected: {reason}"
        try:
            await self._ari.originate(self._endpoint, channel_id=flight.channel_id,
                                      caller_id=self._caller, timeout=math.ceil(timeout))
        except (AriUnavailable, AriAuthError) as exc:
            return FaultCause.MONITOR_UNAVAILABLE, f"ARI: {exc}"
        except AriError as exc:
            return FaultCause.GENERAL_TRUNK_UNAVAILABLE, f"ARI refused the call: {exc}"
        try:
            async with asyncio.timeout(timeout):
                await flight.settled.wait()
            if flight.arrived_at is None:  # its channel ended: word may still be on its way
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(ARRIVAL_GRACE):
                        await flight.arrival.wait()
        except TimeoutError:
            pass
        if flight.arrived_at is None:
            await self._hang_up(flight.channel_id)
            if flight.hangup_cause is not None:
                return cause_of_hangup(flight.hangup_cause), \
                    f"the test call ended with cause {flight.hangup_cause} " \
                    f"({flight.hangup_text}) before it reached /route"
            return FaultCause.NOT_ARRIVED, f"not seen at /route within {timeout:g}s"
        await self._hang_up(flight.channel_id)
        return None, ""

    async def _events_connected(self, within: float) -> bool:
        events = self._events
        if events is None:
            return False
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(within):
                await events.connected.wait()
        return events.connected.is_set()

    async def _hang_up(self, channel_id: str) -> None:
        with contextlib.suppress(AriError):  # gone already is fine
            await self._ari.hangup(channel_id)

    def _finish_test(self, test_key: str, result: CallTestResult,
                     requests: Mapping[str, str]) -> None:
        self._last_test = result.ended_at
        self.last_result = result
        self._tests.submit(TestRecord(test_key, result,
                                      ", ".join(sorted(set(requests.values()))), tuple(requests)))
        if result.passed:
            log.info("line test passed: at /route %.2fs after it was placed",
                     result.round_trip or 0.0)
        else:
            log.warning("line test failed: %s (%s)", result.cause, result.detail)
        self._apply(self._book.after_test(result), result.ended_at,
                    {"detail": result.detail} if result.detail else {})
        self._known = True
        self._publish()

    # -- faults -----------------------------------------------------------------------

    def _apply(self, changes: list[FaultChange], at: float, details: Mapping[str, Any]) -> None:
        for change in changes:
            if change.close is not None:
                self._close(change.close, at)
            if change.open is not None:
                self._open(change.open, at, details)

    def _open(self, cause: FaultCause, at: float, details: Mapping[str, Any]) -> None:
        fault = OpenFault(self._next_fault_id, cause, at)
        self._next_fault_id -= 1
        key = uuid.uuid4().hex
        self._keys[fault.id] = key
        self._book.opened(fault)
        self._faults.submit(FaultRecord(key, cause, at, None, details))
        LINE_FAULTS.labels(cause.value).inc()
        log.error("line fault opened: %s", cause.value)

    def _close(self, fault: OpenFault, at: float) -> None:
        key = self._keys.pop(fault.id, None)
        self._book.closed(fault)
        if key is not None:
            self._faults.submit(FaultRecord(key, fault.cause, fault.started_at, at, {}))
        log.warning("line fault closed: %s after %.0fs", fault.cause.value, at - fault.started_at)

    def status(self) -> tuple[bool | None, str | None]:
        """(line up, the open fault's cause) as the wallboard shows them; (None,
        None) until anything is known or on an instance that does not hold the
        monitor (the same rule as ``hotline_line_up``)."""
        if not self._known or not self.lock.is_held:
            return None, None
        faults = self._book.open_faults
        return self._book.line_up, faults[0].cause.value if faults else None

    def _publish(self) -> None:
        if self._known:
            LINE_UP.set(1.0 if self._book.line_up else 0.0)

    def _real_call(self) -> None:
        now = self._clock()
        self._last_activity = now
        if self.lock.is_held:
            changes = self._book.after_real_call()
            if changes:
                log.info("line monitor: a real call reached /route")
                self._apply(changes, now, {})
                self._publish()

    def _trunk_state(self, reachable: bool) -> None:
        if not self.lock.is_held:
            return
        self._apply(self._book.after_trunk_state(reachable), self._clock(),
                    {"detail": "PJSIP qualify of the 400 trunk's contact"})
        self._known = True
        self._publish()

    # -- events -----------------------------------------------------------------------

    def _test_arrived(self, uniqueid: str) -> None:
        if uniqueid:
            self._test_channels[uniqueid] = self._clock()
            while len(self._test_channels) > 100:
                self._test_channels.pop(next(iter(self._test_channels)))
        flight = self._current
        if flight is not None and flight.arrived_at is None:
            flight.arrived_at = self._clock()
            flight.arrival.set()
            flight.settled.set()

    def _on_varset(self, event: Mapping[str, Any]) -> None:
        channel = str(event.get("Channel", ""))
        if not channel.startswith(f"PJSIP/{self._hotline_trunk}-"):
            return
        name, uniqueid = event.get("Variable"), str(event.get("Uniqueid", ""))
        if name == DialplanVar.TEST_CALL:
            self._test_arrived(uniqueid)
        elif name == DialplanVar.PERIOD and uniqueid not in self._test_channels:
            self._real_call()

    def _is_hotline_aor(self, aor: object) -> bool:
        return str(aor or "") == self._hotline_trunk

    def _on_contact_status(self, event: Mapping[str, Any]) -> None:
        if not (self._is_hotline_aor(event.get("AOR"))
                or str(event.get("EndpointName", "")) == self._hotline_trunk):
            return
        status = str(event.get("ContactStatus", "")).lower()
        if status in ("reachable", "unreachable"):
            self._trunk_state(status == "reachable")

    def _on_channel_destroyed(self, event: Mapping[str, Any]) -> None:
        flight = self._current
        channel = event.get("channel") or {}
        if flight is None or channel.get("id") != flight.channel_id:
            return
        cause = event.get("cause")
        flight.hangup_cause = cause if isinstance(cause, int) else None
        flight.hangup_text = str(event.get("cause_txt", ""))
        flight.settled.set()

    # -- NOTIFY hotline_line ----------------------------------------------------------

    async def _announce(self, message: Mapping[str, Any]) -> None:
        """Tell every instance (their /route, the API waiting for a result)."""
        try:
            await notify_line(self._engine, message)
        except Exception as exc:  # the local window is open anyway
            log.warning("line monitor: could not announce the test to other instances: %s",
                        describe(exc))

    async def _on_listener_connected(self) -> None:
        """A NOTIFY sent while the listener was away is lost: nothing to catch up
        (a test window is short, and a waiting API request times out)."""

    def _on_message(self, payload: str) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            log.warning("line monitor: ignored a malformed message on %s", LINE_CHANNEL)
            return
        if not isinstance(message, dict):
            return
        if "testing" in message and isinstance(message.get("until"), (int, float)):
            self.window.open(float(message["until"]))
        elif "done" in message and self._current is None:
            self.window.close()
        elif isinstance(message.get("run"), str):
            self.request_test(message["run"], str(message.get("by", "")))


class _InFlight:
    """The test call being placed."""

    def __init__(self, channel_id: str) -> None:
        self.channel_id = channel_id
        self.arrived_at: float | None = None
        self.arrival = asyncio.Event()
        self.settled = asyncio.Event()  # arrived, or its channel ended
        self.hangup_cause: int | None = None
        self.hangup_text = ""


async def notify_line(engine: AsyncEngine, message: Mapping[str, Any]) -> None:
    async with asyncio.timeout(5), engine.begin() as conn:
        await conn.execute(text("SELECT pg_notify(:channel, :payload)"),
                           {"channel": LINE_CHANNEL, "payload": json.dumps(message)})
