"""Call tracking, assembled: AMI events → normaliser → tracker → metrics and records.

:class:`CallTracking` is what ``app.py`` wires in: an ``EventDispatcher``
subscriber (raw AMI events), a ``RouteHandler`` observer (what ``/route``
decided, with names and roles), the AMI on-connect hook (reconcile) and the
tracker's observer (offered and ended calls → Prometheus and the writer).
Everything here is synchronous and quick except the reconcile and the sweep,
which run as their own coroutines.

**Several daemons** (``cluster.enabled``, docs/operations.md): every daemon
follows every call of its Asterisk node, but only the holder of the node's
tracking lock (:func:`~hotline_pbx.store.models.tracking_lock_key`) writes
the records, counts them in its metrics and tells the observers of ended
calls. A standby keeps the records of the last ``cluster.takeover_window``
seconds; when it takes the lock over (its holder died or lost PostgreSQL) it
writes those first: the calls its predecessor ended but never wrote, and the
ones that ended while nobody held the lock. A record leaving the window is
forgotten only while PostgreSQL says another instance holds the lock; when
nobody is known to (PostgreSQL unreachable for all), the standby writes it
itself (its writer spools it): a record is never dropped. The store keeps one
row per node and Linkedid, so a record written by both is stored once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable

from hotline_pbx.agi.route_handler import RoutedCall
from hotline_pbx.ami.normalise import Normaliser
from hotline_pbx.ami.reconcile import mark_reconnected, reconcile
from hotline_pbx.ami.supervisor import AmiEvent, AmiSupervisor
from hotline_pbx.config import Settings
from hotline_pbx.domain.call_record import CallRecord, record_of
from hotline_pbx.domain.call_tracker import Call, CallTracker, RouteInfo, RouteTarget
from hotline_pbx.domain.contract import Outcome
from hotline_pbx.lifecycle import BackgroundTask, Readiness
from hotline_pbx.logs import Identifier
from hotline_pbx.metrics import CALL_TALK, CALL_WAIT, CALLS, CALLS_ACTIVE, CALLS_OFFERED
from hotline_pbx.store.batch_writer import BatchWriter
from hotline_pbx.store.leader_lock import LeaderLock
from hotline_pbx.store.models import tracking_lock_key

log = logging.getLogger(__name__)

SWEEP_INTERVAL = 60.0
#: A standby's records kept for a takeover, at most (the window's calls at 300
#: calls/s); beyond, the oldest leave the window early (see _leave_window).
MAX_RECENT = 20_000


def route_info(routed: RoutedCall) -> RouteInfo:
    decision = routed.decision
    return RouteInfo(
        call_id=routed.call_id,
        period=decision.period.value,
        route=decision.route.value,
        decided_at=routed.decided_at.timestamp(),
        targets=tuple(RouteTarget(t.role.value, t.person_id, t.name, t.dial_string)
                      for t in decision.targets),
        caller=routed.caller,
        caller_name=routed.caller_name,
        dnid=routed.dnid,
    )


class CallTracking:
    def __init__(self, settings: Settings, writer: BatchWriter[CallRecord], *,
                 dsn: str | None = None) -> None:
        self.writer = writer
        self.kpi = settings.kpi
        self.node = settings.cluster.node
        self.normaliser = Normaliser()
        self.tracker = CallTracker(observer=self)
        # Read when Prometheus scrapes, not set on each of a call's 19 events.
        CALLS_ACTIVE.set_function(lambda: self.tracker.active)
        self._lost_logged = 0
        self._reconcile: asyncio.Task[bool] | None = None
        self.name = "call tracking"
        self._sweep = BackgroundTask("call-sweep", self.sweep_forever)
        self._ended_observers: list[Callable[[CallRecord], None]] = []
        self._standby_observers: list[Callable[[CallRecord], None]] = []
        # Cluster: the lock decides who writes; a standby keeps the recent records.
        self.lock: LeaderLock | None = None
        self._holding = True
        self._window = settings.cluster.takeover_window
        self._recent: deque[tuple[float, CallRecord]] = deque()
        self._share: Callable[[RouteInfo], None] | None = None
        self.taken_over = 0  # records written at takeovers (including ones stored already)
        self.written_on_standby = 0  # records past the window with no holder known
        if settings.cluster.enabled:
            if dsn is None:
                raise ValueError("cluster tracking needs the database's DSN for its lock")
            self.lock = LeaderLock(dsn, tracking_lock_key(self.node),
                                   what=f"call tracking ({self.node or 'the node'})",
                                   retry_seconds=settings.cluster.lock_retry,
                                   check_seconds=settings.cluster.lock_retry)
            self._holding = False
            self._takeover = BackgroundTask("call-takeover", self._follow_lock)

    def observe_ended(self, observer: Callable[[CallRecord], None], *,
                      on_standby: bool = False) -> None:
        """Call ``observer`` with each ended call's record (synchronous and quick;
        an observer that raises is logged and never stops the record being written).

        In a cluster only the tracking instance calls it, once per record it writes
        (a takeover's records included); ``on_standby``: every instance calls it,
        at the call's end (a display of the calls, which writes nothing).
        """
        (self._standby_observers if on_standby else self._ended_observers).append(observer)

    # -- inputs -------------------------------------------------------------------

    def on_ami_event(self, raw: AmiEvent) -> None:
        """EventDispatcher subscriber."""
        event = self.normaliser(raw, time.time())
        if event is not None:
            self.tracker.feed(event)

    def on_route(self, routed: RoutedCall) -> None:
        """RouteHandler observer."""
        info = route_info(routed)
        self.tracker.route_decided(info)
        if self._share is not None:
            self._share(info)

    def share_routes(self, publish: Callable[[RouteInfo], None]) -> None:
        """A cluster: each decision of this instance's /route goes to ``publish`` too
        (never blocking; the other instances apply it to their trackers)."""
        self._share = publish

    async def on_ami_connected(self, supervisor: AmiSupervisor) -> None:
        """AmiSupervisor on_connected hook: reconcile the calls in progress.

        The marker goes into the event stream at once, ahead of anything the new
        connection delivers; the snapshot follows from a task of its own (it
        retries while a restarted Asterisk is still booting).
        """
        mark_reconnected(supervisor)
        if self._reconcile is not None:
            self._reconcile.cancel()
        self._reconcile = asyncio.create_task(
            reconcile(supervisor, timeout=supervisor.settings.connect_timeout),
            name="ami-reconcile")

    # -- the service: the sweep runs while AMI feeds the tracker ---------------------

    async def start(self) -> None:
        self._sweep.start()
        if self.lock is not None:
            await self.lock.start()
            self._takeover.start()

    async def stop(self) -> None:
        if self.lock is not None:
            await self._takeover.stop()
            if not self._holding and not self.lock.another_holds:
                # A standby stopping while no holder is known: its records go to
                # its writer (spooled if PostgreSQL is down), not with the process.
                self._forget_before(float("inf"))
            await self.lock.stop()
        await self._sweep.stop()
        if self._reconcile is not None:
            self._reconcile.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconcile

    def readiness(self) -> Readiness:
        failed = self._sweep.readiness()
        if not failed.ok or self.lock is None:
            return failed
        for task in (self._takeover, self.lock):
            failed = task.readiness()
            if not failed.ok:
                return failed
        role = "writing the calls" if self._holding else "standby"
        return Readiness(True, f"{role} of node {self.node or '(unnamed)'}")

    @property
    def holding(self) -> bool:
        """Does this instance write the node's call records (always, outside a cluster)?"""
        return self._holding

    async def _follow_lock(self) -> None:
        assert self.lock is not None
        while True:
            await self.lock.held.wait()
            self._take_over()
            await self.lock.released.wait()
            self._holding = False
            log.warning("call tracking of node %s: standby (the lock was lost); another "
                        "instance writes the calls", self.node or "(unnamed)")

    def _take_over(self) -> None:
        """Now the writer: first the records of the window, in the order they ended."""
        self._holding = True
        self._forget_before(time.monotonic() - self._window)
        replayed = [record for _, record in self._recent]
        self._recent.clear()
        for record in replayed:
            self._write(record)
        self.taken_over += len(replayed)
        log.warning("call tracking of node %s: this instance writes the calls now (%d "
                    "records of the last %.0f s written too; those stored already are "
                    "skipped)", self.node or "(unnamed)", len(replayed), self._window)

    def _forget_before(self, cutoff: float) -> None:
        while self._recent and (self._recent[0][0] < cutoff or len(self._recent) > MAX_RECENT):
            self._leave_window(self._recent.popleft()[1])

    def _leave_window(self, record: CallRecord) -> None:
        """A standby's record past the window: the holder has written it, if
        PostgreSQL says there is one; otherwise nobody may have: ours to write."""
        if self.lock is not None and self.lock.another_holds:
            return
        self.written_on_standby += 1
        self._write(record)

    async def sweep_forever(self) -> None:
        """Close calls whose hang-up was never seen (events lost in a gap)."""
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            self.tracker.sweep(time.time())
            if not self._holding:  # records past the window even when no call ends
                self._forget_before(time.monotonic() - self._window)
            if self.tracker.lost_calls > self._lost_logged:
                log.warning("%d calls closed without their hang-up so far (AMI gap or "
                            "lost events); their records say so in details",
                            self.tracker.lost_calls)
                self._lost_logged = self.tracker.lost_calls

    # -- TrackerObserver -----------------------------------------------------------

    def call_offered(self, call: Call) -> None:
        if self._holding:
            CALLS_OFFERED.labels(call.period.value).inc()

    def call_ended(self, call: Call) -> None:
        record = record_of(call, self.kpi, node=self.node)
        log.info("call %s ended: %s/%s, wait %.1fs%s%s%s", Identifier(record.call_key),
                 record.period.value, record.outcome.value, record.wait_seconds,
                 f", talk {record.talk_seconds:.1f}s" if record.talk_seconds is not None else "",
                 " (line-monitor test call: counted nowhere)" if record.is_test else "",
                 "" if self._holding else " (standby: kept for a takeover)")
        self._notify(self._standby_observers, record)
        if not self._holding:
            now = time.monotonic()
            self._recent.append((now, record))
            self._forget_before(now - self._window)
            return
        if record.offered:
            period, outcome = record.period.value, record.outcome.value
            CALLS.labels(period, outcome).inc()
            CALL_WAIT.labels(period, outcome).observe(record.wait_seconds)
            if record.outcome is Outcome.ANSWERED and record.talk_seconds is not None:
                CALL_TALK.labels(period).observe(record.talk_seconds)
        self._write(record)

    def _write(self, record: CallRecord) -> None:
        self.writer.submit(record)
        self._notify(self._ended_observers, record)

    @staticmethod
    def _notify(observers: list[Callable[[CallRecord], None]], record: CallRecord) -> None:
        for observer in observers:
            try:
                observer(record)
            except Exception:
                log.exception("an observer of ended calls failed on call %s",
                              Identifier(record.call_key))
