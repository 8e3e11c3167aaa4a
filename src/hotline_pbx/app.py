"""Wiring and lifecycle: the one place that knows every part.

Start order: PostgreSQL (fail fast) → schema check → routing snapshot →
config listener → record writers (and their spools) → callback tasks (an
observer of ended calls, the overdue gauge) → FastAGI listener → HTTP
(API, health, metrics) → AMI (call tracker, outbound guard) → trunk check →
the line monitor (ARI, its lock; when ``line.enabled``).
Each component is a service (:mod:`hotline_pbx.lifecycle`) started on one
exit stack: if any step fails, exactly what was started is stopped again, in
reverse, and :class:`StartupError` says which step and why: nothing is left
half-started. Before any of it, the open-files limit is checked against what
the settings may open (`fdlimit`).

Stop (SIGTERM/SIGINT): stop accepting AGI sessions and let in-flight ones
finish within ``daemon.drain_seconds``, stop AMI (supervisor, dispatcher, the
call sweep, the outbound guard), close HTTP, flush pending records (what does
not make it within ``daemon.drain_seconds`` is spooled), stop the config
listener and close the database.

``/readyz`` reads :attr:`Daemon.readiness`: each component reports there as
it starts (a background task that died makes its component not ready).
"""

from __future__ import annotations

import asyncio
import dataclasses
import errno
import gc
import logging
import signal
import time
import uuid
from dataclasses import dataclass
from typing import TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline_pbx.agi.route_handler import RouteHandler
from hotline_pbx.agi.server import FastAgiServer
from hotline_pbx.ami.dispatch import EventDispatcher
from hotline_pbx.ami.outbound_guard import OutboundGuard, RecordSink, TrunkCheck
from hotline_pbx.ami.queue_watch import QueueWatch
from hotline_pbx.ami.supervisor import AmiSupervisor, AmiUnavailable
from hotline_pbx.api.context import ApiContext
from hotline_pbx.api.server import HttpServer
from hotline_pbx.ari.client import AriClient
from hotline_pbx.ari.events import AriEvents
from hotline_pbx.call_tracking import CallTracking
from hotline_pbx.callbacks import CallbackService
from hotline_pbx.complaints import ComplaintClock
from hotline_pbx.config import ConfigError, Settings, changed_settings, load_settings
from hotline_pbx.console.wallboard import BlockedTee, Wallboard
from hotline_pbx.dialer.service import Dialer, dialer_ari_settings
from hotline_pbx.domain import contract
from hotline_pbx.domain.call_record import CallRecord
from hotline_pbx.domain.dialer import FinishedTarget, JobType
from hotline_pbx.domain.errors import ValidationError
from hotline_pbx.domain.line_health import TestWindow, check_roster_spares
from hotline_pbx.fdlimit import ensure_open_file_limit
from hotline_pbx.lifecycle import Components, Fixed, Readiness, ReadinessBoard
from hotline_pbx.line_monitor import LineMonitor
from hotline_pbx.logs import held_until_started, install_accept_error_log
from hotline_pbx.long_calls import LongCallFeature, LongCallService
from hotline_pbx.metrics import initialise_series
from hotline_pbx.open_hours import OpenHoursGauge, is_open_at
from hotline_pbx.store import callback_repo
from hotline_pbx.store.batch_writer import BatchWriter, RecordKind
from hotline_pbx.store.blocked_repo import BLOCKED_ATTEMPTS, BlockedRecord
from hotline_pbx.store.call_writer import CALL_RECORDS
from hotline_pbx.store.callback_repo import CALLBACK_RECORDS, CallbackRecord
from hotline_pbx.store.complaint_visit_repo import (  # complaint visits (issue 13)
    record_visit_result as record_complaint_visit,
)
from hotline_pbx.store.config_repo import RoutingState
from hotline_pbx.store.database import Database, DatabaseUnavailable, open_database
from hotline_pbx.store.line_repo import LINE_FAULTS, LINE_TESTS, FaultRecord, TestRecord
from hotline_pbx.store.migrate import (
    SchemaFromNewerVersion,
    check_known,
    current_revision,
    head_revision,
    migrate,
)
from hotline_pbx.store.models import ROUTES_CHANNEL
from hotline_pbx.store.notify import ConfigListener
from hotline_pbx.store.route_share import RoutePublisher, route_receiver

log = logging.getLogger(__name__)

T = TypeVar("T")

#: What /readyz reports, in this order; each is the sum of the services reporting as it.
READINESS_COMPONENTS = ("database", "routing", "ami", "agi", "line", "long_calls", "dialer")
#: Reported in /readyz but never what makes it 503: a broken line, ARI, dialer or
#: long-call whisper must not take call routing out of service.
ADVISORY_COMPONENTS = ("line", "long_calls", "dialer")


@dataclass(frozen=True)
class Writers:
    """One batched writer per record kind (:mod:`hotline_pbx.store.batch_writer`)."""

    calls: BatchWriter[CallRecord]
    blocked: BatchWriter[BlockedRecord]
    faults: BatchWriter[FaultRecord]
    tests: BatchWriter[TestRecord]
    callbacks: BatchWriter[CallbackRecord]  # callback tasks (issue 12)


class StartupError(RuntimeError):
    """The daemon could not start; the message names the component and the cause."""


class Daemon:
    """The daemon's components, started in the documented order (module doc) by
    :class:`Components`: a failure at any step stops exactly what started."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.readiness = ReadinessBoard(READINESS_COMPONENTS, advisory=ADVISORY_COMPONENTS)
        self._components = Components(self.readiness)
        self._ari: AriClient | None = None
        self.callbacks: CallbackService | None = None  # callback tasks (issue 12)
        # The hotline queues as AMI shows them (issue 12): the long-call service
        # and the dialer read it; set in _start_ami.
        self.queue_watch: QueueWatch | None = None
        self._api: ApiContext | None = None
        self._ami_link: AmiSupervisor | None = None
        self.dialer: Dialer | None = None
        self._complaint_clock: ComplaintClock | None = None
        self._routing: RoutingState | None = None  # for reload (SIGHUP)

    async def start(self) -> None:
        initialise_series()
        try:
            db = await self._start_database()
            routing = await self._start_routing(db)
            writers = await self._start_writers(db)
            tracking = CallTracking(self.settings, writers.calls,  # fed by AGI and AMI, below
                                    dsn=db.dsn)
            await self._share_routes(db, tracking)  # several daemons: their /route decisions
            board = self._wallboard(routing, tracking)  # the console's; started further down
            callbacks = await self._start_callbacks(db, routing, writers, tracking)
            await self._start_complaints(db, routing)
            monitor = self._line_monitor(db, routing, writers)  # started last
            agi = await self._start_agi(routing, tracking, monitor)
            await self._start_http(db)
            trunks = await self._start_ami(tracking, BlockedTee(writers.blocked, board),
                                           monitor)
            await self._start_long_calls(db, tracking, callbacks)
            await self._start_wallboard(db, board, monitor, callbacks)
            # Stopping begins here: AGI stops accepting and drains while AMI still
            # tracks the calls in flight (its own stop, further down, is then a no-op).
            self._components.on_stop(agi.name, agi.stop)
            if trunks is not None:
                await self._check_trunks_at_start(trunks)
            await self._start_line(monitor)
            await self._start_dialer(db, routing)
        except BaseException:
            await self.stop()
            raise

    async def _start_database(self) -> Database:
        s = self.settings
        try:
            db = await open_database(s.database, s.data_dir)
        except DatabaseUnavailable as exc:
            raise StartupError(str(exc)) from None
        await self._components.start(db, reports_as="database")
        log.info("database: %s", db.description)
        try:
            if db.embedded is not None:
                before, after = await migrate(db)
                if before != after:
                    log.info("embedded database migrated %s → %s", before or "empty", after)
                return db
            current, head = await current_revision(db), head_revision()
            check_known(current, db.description)
        except SchemaFromNewerVersion as exc:
            raise StartupError(str(exc)) from None
        if current != head:
            raise StartupError(f"the schema of {db.description} is at revision "
                               f"{current or 'none'}, this version needs {head}; "
                               "run `hotline-pbx migrate` first")
        return db

    async def reload(self) -> None:
        """SIGHUP (systemd's ``ExecReload``): reload the routing documents from the
        database at once (they also follow every change by NOTIFY), and re-read the
        config file: one that no longer loads is named and ignored; settings that
        differ from the running ones are named — they apply at the next restart
        (the daemon never swaps its sockets, pools or limits under live calls)."""
        if self._routing is not None:
            await self._routing.reload()
        path = None if self.settings.source == "defaults" else self.settings.source
        try:
            fresh = await asyncio.to_thread(load_settings, path)
        except ConfigError as exc:
            log.error("reload: %s does not load (%s); the running settings stay", path, exc)
            return
        changed = changed_settings(self.settings, fresh)
        if changed:
            log.warning("reload: routing reloaded; in %s, %s changed: restart the daemon "
                        "to apply %s", path or "the environment", ", ".join(changed),
                        "it" if len(changed) == 1 else "them")
        else:
            log.info("reload: routing reloaded; the settings are unchanged")

    async def _start_routing(self, db: Database) -> RoutingState:
        routing = RoutingState(db.engine, self.settings)
        await routing.reload()
        self._routing = routing
        self.readiness.add("routing", routing)
        listener = ConfigListener(db.dsn, routing.reload,
                                  connect_timeout=self.settings.database.connect_timeout)
        await self._components.start(listener, reports_as="routing")
        await self._components.start(OpenHoursGauge(routing), reports_as="routing")
        self._check_test_number(routing)
        return routing

    async def _share_routes(self, db: Database, tracking: CallTracking) -> None:
        """A cluster (``cluster.enabled``): publish this instance's /route decisions
        and apply the others' to the tracker (store/route_share.py)."""
        if not self.settings.cluster.enabled:
            return
        sender = uuid.uuid4().hex
        publisher = RoutePublisher(db.dsn, sender,
                                   connect_timeout=self.settings.database.connect_timeout)
        await self._components.start(publisher, reports_as="routing")
        tracking.share_routes(publisher.publish)
        listener = ConfigListener(db.dsn, _nothing_to_reload, channel=ROUTES_CHANNEL,
                                  connect_timeout=self.settings.database.connect_timeout,
                                  on_payload=route_receiver(sender,
                                                            tracking.tracker.route_decided))
        listener.name = "route listener"
        await self._components.start(listener, reports_as="routing")
        log.info("cluster: node %s; /route decisions shared with the other instances",
                 self.settings.cluster.node or "(unnamed)")

    def _check_test_number(self, routing: RoutingState) -> None:
        """The line monitor must never dial a person: refuse a test number that is
        a mobile of the roster (the roster is stored, so this is checked here)."""
        line = self.settings.line
        if not line.enabled:
            return
        try:
            check_roster_spares(routing.snapshot.roster, line.test_number)
        except ValidationError as error:
            raise ConfigError("line.test_number", f"is the roster's {error.field}: test calls "
                              "must dial the hotline's own number, never a person") from None

    async def _start_writers(self, db: Database) -> Writers:
        """One batched writer per record kind, each with its spool; started before
        anything that produces records, so a spool left by an earlier run is
        replayed even when AMI or the line monitor is disabled, and stopped after them."""
        return Writers(calls=await self._start_writer(db, CALL_RECORDS),
                       blocked=await self._start_writer(db, BLOCKED_ATTEMPTS),
                       faults=await self._start_writer(db, LINE_FAULTS),
                       tests=await self._start_writer(db, LINE_TESTS),
                       callbacks=await self._start_writer(db, CALLBACK_RECORDS))

    async def _start_writer(self, db: Database, kind: RecordKind[T]) -> BatchWriter[T]:
        s = self.settings
        writer = BatchWriter(db.engine, kind, s.data_dir / "spool",
                             write_timeout=s.database.command_timeout,
                             stop_timeout=s.daemon.drain_seconds)
        return await self._components.start(writer, reports_as="database")

    # -- callbacks (issue 12) ---------------------------------------------------------
    async def _start_callbacks(self, db: Database, routing: RoutingState, writers: Writers,
                               tracking: CallTracking) -> CallbackService:
        """Callback tasks from ended calls, and the overdue gauge. ``self.callbacks``
        is the service the long-call handling opens its tasks with; the dialer's
        finish handler for callback jobs is ``callback_repo.record_dialer_result``."""
        service = CallbackService(self.settings.callbacks, writers.callbacks, engine=db.engine,
                                  calendar=lambda: routing.snapshot.calendar,
                                  timeout=self.settings.database.command_timeout)
        tracking.observe_ended(service.on_call_ended)
        self.callbacks = service
        return await self._components.start(service, reports_as="database")

    # -- complaints (issue 13) ---------------------------------------------------------
    async def _start_complaints(self, db: Database, routing: RoutingState) -> None:
        """The overdue gauge per stage and the daily digest (the register itself
        is the API's: ``api/routes_complaints.py``)."""
        clock = ComplaintClock(self.settings.complaints, engine=db.engine,
                               calendar=lambda: routing.snapshot.calendar,
                               timeout=self.settings.database.command_timeout)
        await self._components.start(clock, reports_as="database")
        self._complaint_clock = clock
    # -- end complaints ----------------------------------------------------------------

    async def _start_agi(self, routing: RoutingState, tracking: CallTracking,
                         monitor: LineMonitor | None) -> FastAgiServer:
        s = self.settings.agi
        route = RouteHandler(routing, test_calls=None if monitor is None else monitor.window)
        route.observe(tracking.on_route)  # names and roles of the targets
        if monitor is not None:
            route.observe(monitor.on_routed)  # test calls arriving, real calls
        # issue 12: the agent's *9 (features.conf); the service starts after FastAGI.
        long_call = LongCallFeature(lambda: self._api.long_calls if self._api else None)
        agi = FastAgiServer(
            {"route": route, "long_call": long_call},
            host=s.host, port=s.port, max_sessions=s.max_sessions,
            read_timeout=s.read_timeout, idle_timeout=s.idle_timeout,
            drain_seconds=self.settings.daemon.drain_seconds,
        )
        try:
            await self._components.start(agi, reports_as="agi")
        except OSError as exc:
            raise StartupError(_bind_failure("agi", s.host, s.port, exc)) from None
        log.info("FastAGI listening on %s:%s", s.host, agi.port)
        return agi

    async def _start_http(self, db: Database) -> None:
        s = self.settings.http
        self._api = ApiContext(db.engine, self.settings)
        http = HttpServer(self._api, self.readiness, s)
        try:
            await self._components.start(http)
        except OSError as exc:
            raise StartupError(_bind_failure("http", s.host, s.port, exc)) from None
        log.info("HTTP (API, /healthz, /metrics) on http://%s:%s", s.host, http.port)

    async def _start_ami(self, tracking: CallTracking, blocked: RecordSink,
                         monitor: LineMonitor | None) -> TrunkCheck | None:
        """AMI: the supervisor, the dispatcher of its events, and what they feed (the
        call tracker's sweep, the outbound guard). All stop before the writers'
        final flush."""
        if not self.settings.ami.enabled:
            log.warning("AMI disabled (ami.enabled = false): no call tracking")
            self.readiness.add("ami", Fixed(Readiness(True, "disabled")))
            return None
        trunks = TrunkCheck(self.settings.trunks)

        async def after_login(ami: AmiSupervisor) -> None:
            await self._after_ami_login(ami, tracking, trunks, guard)
            await queues.reconcile(ami)  # issue 12: a gap loses queue events
            if monitor is not None:
                await monitor.after_ami_login(ami)

        dispatcher = EventDispatcher()
        ami = AmiSupervisor(self.settings.ami, dispatcher.dispatch, on_connected=after_login)
        # The 400 trunk's watchdog: hang up outbound channels, record them (issue 4).
        guard = OutboundGuard(self.settings.trunks.hotline, ami, blocked)
        dispatcher.subscribe("outbound-guard", guard)
        dispatcher.subscribe("call-tracker", tracking.on_ami_event)
        # -- issue 12: the queue watch (long calls, the dialer's reserve) --
        queues = QueueWatch({self.settings.routing.queue, contract.DEFAULT_QUEUE})
        dispatcher.subscribe("queue-watch", queues)
        self.queue_watch = queues
        # -- staffing advisor (issue 15): agents logged in, next to the advice --
        if self._api is not None:
            self._api.queues = queues
        # -- end staffing advisor --
        self._ami_link = ami
        if monitor is not None:
            dispatcher.subscribe("line-monitor", monitor.on_ami_event)
            monitor.use_ami(ami)
        for service in (guard, tracking, ami):
            await self._components.start(service, reports_as="ami")
        self.readiness.add("ami", trunks)
        return trunks

    # -- long calls (issue 12) ----------------------------------------------------------

    async def _start_long_calls(self, db: Database, tracking: CallTracking,
                                callbacks: CallbackService) -> None:
        """The long-call service, over the queue watch (AMI) and its own ARI app."""
        lc = self.settings.long_call
        if not lc.enabled or self.queue_watch is None or self._ami_link is None:
            why = "long_call.enabled = false" if not lc.enabled else "AMI disabled"
            log.info("long calls not flagged (%s)", why)
            self.readiness.add("long_calls", Fixed(Readiness(True, f"disabled ({why})")))
            return
        ari, events = None, None
        if self.settings.ari.enabled:
            ari = await self._components.start(AriClient(self.settings.ari))
            snoop_settings = dataclasses.replace(self.settings.ari,
                                                 app=f"{self.settings.ari.app}-snoop")
            events = lambda: AriEvents(snoop_settings, exports_connected=False)  # noqa: E731
        else:
            log.warning("ari.enabled = false: long calls are flagged, but no whisper "
                        "reaches the agent")
        service = LongCallService(
            lc, watch=self.queue_watch, mark_in_tracker=tracking.tracker.mark_long_call,
            engine=db.engine, dsn=db.dsn, open_callback=callbacks.open_for_long_call,
            ami=self._ami_link, ari=ari, ari_events=events,
            connect_timeout=self.settings.database.connect_timeout,
            ami_connected=self._ami_link.connected.is_set)
        await self._components.start(service, reports_as="long_calls")  # advisory
        if self._api is not None:
            self._api.long_calls = service

    # -- end long calls --------------------------------------------------------------------

    def _wallboard(self, routing: RoutingState, tracking: CallTracking) -> Wallboard:
        """The console's live board (console/wallboard.py), from this process's memory."""
        c = self.settings.console
        board = Wallboard(calls=tracking.tracker, routing=routing,
                          zone=ZoneInfo(self.settings.routing.timezone),
                          service_level_seconds=self.settings.kpi.service_level_seconds,
                          interval=c.wallboard_interval, buffer=c.wallboard_buffer,
                          max_viewers=c.max_wallboards)
        tracking.observe_ended(board.call_ended, on_standby=True)
        return board

    async def _start_wallboard(self, db: Database, board: Wallboard,
                               monitor: LineMonitor | None, callbacks: CallbackService) -> None:
        """Seed today's figures once from the database (a failure only starts them
        at zero) and start pushing boards; the line, complaint and callback figures
        are what their services last knew."""
        board.line = monitor
        clock = self._complaint_clock
        if clock is not None:
            board.complaints_overdue = lambda: (sum(clock.last_counts.values())
                                                if clock.last_counts is not None else None)
        board.callbacks_overdue = lambda: callbacks.last_count
        try:
            await board.seed(db.engine, self.settings.database.command_timeout)
        except (OSError, TimeoutError, SQLAlchemyError) as exc:
            log.warning("wallboard: today's calls so far could not be read (%s); the "
                        "day's figures start from now", exc)
        await self._components.start(board)
        if self._api is not None:
            self._api.wallboard = board

    def _line_monitor(self, db: Database, routing: RoutingState,
                      writers: Writers) -> LineMonitor | None:
        """The line monitor and its ARI link, not started yet (see :meth:`_start_line`)."""
        if not self.settings.line.enabled:
            self.readiness.add("line", Fixed(Readiness(True, "disabled (line.enabled = false)")))
            return None
        ari = AriClient(self.settings.ari)
        self._ari = ari
        return LineMonitor(self.settings, engine=db.engine, dsn=db.dsn, ari=ari,
                           ari_events=lambda: AriEvents(self.settings.ari),
                           faults=writers.faults, tests=writers.tests,
                           window=TestWindow(self.settings.line.test_caller),
                           is_open=lambda epoch: is_open_at(routing, epoch))

    async def _start_line(self, monitor: LineMonitor | None) -> None:
        """ARI's REST client and the monitor (which holds ARI's events websocket
        while it holds its lock). ARI being unreachable does not stop the start:
        the monitor reports it and its tests fail with their own cause."""
        if monitor is None or self._ari is None:
            return
        for service in (self._ari, monitor):
            await self._components.start(service, reports_as="line")

    # -- the dialer (issue 12) ----------------------------------------------------------

    async def _start_dialer(self, db: Database, routing: RoutingState) -> None:
        """The dialer, after the line monitor, with its own Stasis app; advisory in
        /readyz (a broken dialer must never stop routing). It pauses while callers
        wait and rings free agents as the queue watch sees them; callbacks and
        visits are placed while the hotline is open (the override included: a day
        forced open is staffed, one forced closed is not)."""
        s = self.settings
        if not s.dialer.enabled or not s.ari.enabled:
            why = "dialer.enabled = false" if not s.dialer.enabled else \
                "ari.enabled = false: no outbound calls are placed, jobs wait"
            self.readiness.add("dialer", Fixed(Readiness(True, f"disabled ({why})")))
            return
        ari = self._ari
        if ari is None:
            ari = AriClient(s.ari)
            self._ari = ari
            await self._components.start(ari, reports_as="dialer")
        queues = self.queue_watch  # None without AMI: nobody known waiting, no agent free
        dialer = Dialer(s, engine=db.engine, dsn=db.dsn, ari=ari,
                        ari_events=lambda: AriEvents(dialer_ari_settings(s),
                                                     exports_connected=False),
                        in_working_time=lambda epoch: is_open_at(routing, epoch),
                        callers_waiting=queues.callers_waiting if queues else lambda: 0,
                        free_agents=queues.free_agents if queues else tuple)
        self.dialer = dialer
        # Before start: no callback's end is stored without its task being told.
        cb = s.callbacks
        scale = cb.satisfaction_scale if cb.satisfaction_visit else None

        async def callback_finished(conn: AsyncConnection, target: FinishedTarget) -> None:
            await callback_repo.record_dialer_result(conn, target, visit_scale=scale)

        dialer.on_target_finished(JobType.CALLBACK, callback_finished)
        dialer.on_target_finished(JobType.VISIT, callback_repo.record_visit_result)
        # -- complaint visits (issue 13) --
        dialer.on_target_finished(JobType.VISIT, record_complaint_visit)
        # -- end complaint visits --
        await self._components.start(dialer, reports_as="dialer")

    async def _after_ami_login(self, ami: AmiSupervisor, tracking: CallTracking,
                               trunks: TrunkCheck, guard: OutboundGuard) -> None:
        """After every AMI login: reconcile calls in progress, check the trunks exist,
        sweep what the gap let through."""
        try:  # each step on its own: one failing must not skip the others
            await tracking.on_ami_connected(ami)
        except Exception:
            log.exception("call reconciliation after the AMI login failed")
        await trunks.run(ami)
        try:
            found = await guard.sweep()
        except (TimeoutError, AmiUnavailable) as exc:
            log.warning("outbound sweep after the AMI login failed: %s", exc or "timeout")
            return
        if found:
            log.error("%d outbound channel(s) on the 400 trunk found after connecting "
                      "to AMI: hanging up", found)

    async def _check_trunks_at_start(self, trunks: TrunkCheck) -> None:
        """Refuse to run if a configured trunk is not a PJSIP endpoint of the PBX.

        Asterisk may be down at start-up: the daemon then starts anyway (the
        dialplan needs /route) and checks at the first login; a problem found
        then is logged and keeps /readyz at 503.
        """
        wait = self.settings.ami.connect_timeout + 1
        try:
            async with asyncio.timeout(wait):
                await trunks.checked.wait()
        except TimeoutError:
            log.warning("AMI not reachable within %.0fs: trunks.hotline and trunks.general "
                        "will be checked at the first connection", wait)
            return
        if trunks.problems:
            key, problem = trunks.problems[0]
            raise ConfigError(key, problem)

    async def stop(self) -> None:
        """AGI drains (``daemon.drain_seconds``), AMI stops, the writers flush, HTTP
        and the database close: the reverse of the start, AGI's drain first."""
        started = time.monotonic()
        await self._components.stop()
        log.info("stopped in %.1fs", time.monotonic() - started)


async def _nothing_to_reload() -> None:
    """The route listener's (re)connect: decisions missed meanwhile are not
    asked again; their calls are recorded without the targets' names."""


def _bind_failure(section: str, host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (f"{host}:{port} is already in use ({section}.port); stop the other process "
                f"or choose another port")
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine ({section}.host)"
    return f"cannot listen on {host}:{port} ({section}): {exc.strerror}"


def event_loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """``uvloop`` or ``asyncio``: the loop the daemon runs on (``daemon.event_loop``)."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


async def run_daemon(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT, then drain and stop."""
    ensure_open_file_limit(settings)
    daemon = Daemon(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    install_accept_error_log(loop)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    reloads: set[asyncio.Task[None]] = set()

    def reload() -> None:
        if reloads:  # one at a time: a burst of SIGHUPs is one reload
            return
        task = asyncio.create_task(daemon.reload(), name="reload")
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop.add_signal_handler(signal.SIGHUP, reload)
    with held_until_started():  # a failed start shows its one line, not what it undid
        await daemon.start()
    # Everything built at start-up lives as long as the process: move it out of
    # the collector's sight so a full collection does not stall live calls.
    gc.collect()
    gc.freeze()
    log.info("hotline-pbx running (event loop: %s)", event_loop_name(loop))
    await stop.wait()
    log.info("stopping: draining AGI sessions (up to %ss)", settings.daemon.drain_seconds)
    await daemon.stop()
