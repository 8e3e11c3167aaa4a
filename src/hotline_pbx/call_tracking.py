"""Call tracking, assembled: AMI events → normaliser → tracker → metrics and records.

:class:`CallTracking` is what ``app.py`` wires in: an ``EventDispatcher``
subscriber (raw AMI events), a ``RouteHandler`` observer (what ``/route``
decided, with names and roles), the AMI on-connect hook (reconcile) and the
tracker's observer (offered and ended calls → Prometheus and the writer).
Everything here is synchronous and quick except the reconcile and the sweep,
which run as their own coroutines.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
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

log = logging.getLogger(__name__)

SWEEP_INTERVAL = 60.0


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
    def __init__(self, settings: Settings, writer: BatchWriter[CallRecord]) -> None:
        self.writer = writer
        self.kpi = settings.kpi
        self.normaliser = Normaliser()
        self.tracker = CallTracker(observer=self)
        self._lost_logged = 0
        self._reconcile: asyncio.Task[bool] | None = None
        self.name = "call tracking"
        self._sweep = BackgroundTask("call-sweep", self.sweep_forever)
        self._ended_observers: list[Callable[[CallRecord], None]] = []

    def observe_ended(self, observer: Callable[[CallRecord], None]) -> None:
        """Call ``observer`` with each ended call's record (synchronous and quick;
        an observer that raises is logged and never stops the record being written)."""
        self._ended_observers.append(observer)

    # -- inputs -------------------------------------------------------------------

    def on_ami_event(self, raw: AmiEvent) -> None:
        """EventDispatcher subscriber."""
        event = self.normaliser(raw, time.time())
        if event is not None:
            self.tracker.feed(event)
            CALLS_ACTIVE.set(self.tracker.active)

    def on_route(self, routed: RoutedCall) -> None:
        """RouteHandler observer."""
        self.tracker.route_decided(route_info(routed))

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

    async def stop(self) -> None:
        await self._sweep.stop()
        if self._reconcile is not None:
            self._reconcile.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconcile

    def readiness(self) -> Readiness:
        return self._sweep.readiness()

    async def sweep_forever(self) -> None:
        """Close calls whose hang-up was never seen (events lost in a gap)."""
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            self.tracker.sweep(time.time())
            CALLS_ACTIVE.set(self.tracker.active)
            if self.tracker.lost_calls > self._lost_logged:
                log.warning("%d calls closed without their hang-up so far (AMI gap or "
                            "lost events); their records say so in details",
                            self.tracker.lost_calls)
                self._lost_logged = self.tracker.lost_calls

    # -- TrackerObserver -----------------------------------------------------------

    def call_offered(self, call: Call) -> None:
        CALLS_OFFERED.labels(call.period.value).inc()

    def call_ended(self, call: Call) -> None:
        record = record_of(call, self.kpi)
        if record.offered:
            period, outcome = record.period.value, record.outcome.value
            CALLS.labels(period, outcome).inc()
            CALL_WAIT.labels(period, outcome).observe(record.wait_seconds)
            if record.outcome is Outcome.ANSWERED and record.talk_seconds is not None:
                CALL_TALK.labels(period).observe(record.talk_seconds)
        log.info("call %s ended: %s/%s, wait %.1fs%s%s", Identifier(record.call_key),
                 record.period.value, record.outcome.value, record.wait_seconds,
                 f", talk {record.talk_seconds:.1f}s" if record.talk_seconds is not None else "",
                 " (line-monitor test call: counted nowhere)" if record.is_test else "")
        self.writer.submit(record)
        for observer in self._ended_observers:
            try:
                observer(record)
            except Exception:
                log.exception("an observer of ended calls failed on call %s",
                              Identifier(record.call_key))
