"""Wiring and lifecycle: the one place that knows every part.

Start order: PostgreSQL (fail fast) → schema check → routing snapshot →
config listener → record writers (and their spools) → FastAGI listener → HTTP
(API, health, metrics) → AMI (call tracker, outbound guard).
If any step fails, what was started is stopped again and :class:`StartupError`
says which step and why: nothing is left half-started. Before any of it, the
open-files limit is checked against what the settings may open (`fdlimit`).

Stop (SIGTERM/SIGINT): stop accepting AGI sessions and let in-flight ones
finish within ``daemon.drain_seconds``, stop AMI, flush pending records,
close HTTP and the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import logging
import signal
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from aiohttp import web

from hotline_pbx.agi.route_handler import RouteHandler
from hotline_pbx.agi.server import FastAgiServer
from hotline_pbx.ami.dispatch import EventDispatcher
from hotline_pbx.ami.outbound_guard import OutboundGuard, check_trunks
from hotline_pbx.ami.supervisor import AmiSupervisor, AmiUnavailable
from hotline_pbx.api.app_factory import build_app
from hotline_pbx.api.connections import HttpConnectionGuard
from hotline_pbx.api.context import ApiContext
from hotline_pbx.call_tracking import CallTracking
from hotline_pbx.config import ConfigError, Settings
from hotline_pbx.domain.call_record import CallRecord
from hotline_pbx.fdlimit import ensure_open_file_limit
from hotline_pbx.logs import install_accept_error_log
from hotline_pbx.metrics import initialise_series
from hotline_pbx.store.batch_writer import BatchWriter, RecordKind
from hotline_pbx.store.blocked_repo import BLOCKED_ATTEMPTS, BlockedRecord
from hotline_pbx.store.call_writer import CALL_RECORDS
from hotline_pbx.store.config_repo import RoutingState
from hotline_pbx.store.database import Database, DatabaseUnavailable, open_database
from hotline_pbx.store.migrate import current_revision, head_revision, migrate
from hotline_pbx.store.notify import ConfigListener

log = logging.getLogger(__name__)

T = TypeVar("T")


class StartupError(RuntimeError):
    """The daemon could not start; the message names the component and the cause."""


@dataclass
class Daemon:
    settings: Settings
    db: Database | None = None
    routing: RoutingState | None = None
    listener: ConfigListener | None = None
    agi: FastAgiServer | None = None
    http: web.AppRunner | None = None
    http_port: int | None = None
    ami: AmiSupervisor | None = None
    dispatcher: EventDispatcher | None = None
    guard: OutboundGuard | None = None
    tracking: CallTracking | None = None
    call_writer: BatchWriter[CallRecord] | None = None
    blocked_writer: BatchWriter[BlockedRecord] | None = None
    # None until the first AMI login has checked trunks.hotline / trunks.general.
    trunk_problems: list[tuple[str, str]] | None = None
    _trunks_checked: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _cleanups: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def start(self) -> None:
        initialise_series()
        try:
            await self._start_database()
            await self._start_routing()
            await self._start_writers()
            self._start_call_tracking()
            await self._start_agi()
            await self._start_http()
            self._start_ami()
            await self._check_trunks_at_start()
        except BaseException:
            await self.stop()
            raise

    async def _start_database(self) -> None:
        s = self.settings
        try:
            self.db = await open_database(s.database, s.data_dir)
        except DatabaseUnavailable as exc:
            raise StartupError(str(exc)) from None
        self._cleanups.append(self.db.close)
        log.info("database: %s", self.db.description)
        if self.db.embedded is not None:
            before, after = await migrate(self.db)
            if before != after:
                log.info("embedded database migrated %s → %s", before or "empty", after)
        elif await current_revision(self.db) != head_revision():
            raise StartupError(f"the schema of {self.db.description} is not current; "
                               "run `hotline-pbx migrate` first")

    async def _start_routing(self) -> None:
        assert self.db is not None
        self.routing = RoutingState(self.db.engine, self.settings)
        await self.routing.reload()
        self.listener = ConfigListener(self.db.dsn, self.routing.reload,
                                       connect_timeout=self.settings.database.connect_timeout)
        self.listener.start()
        self._cleanups.append(self.listener.stop)

    async def _start_writers(self) -> None:
        """One batched writer per record kind, each with its spool; started before
        anything that produces records, so a spool left by an earlier run is
        replayed even when AMI is disabled, and stopped after them."""
        self.call_writer = await self._start_writer(CALL_RECORDS)
        self.blocked_writer = await self._start_writer(BLOCKED_ATTEMPTS)

    async def _start_writer(self, kind: RecordKind[T]) -> BatchWriter[T]:
        assert self.db is not None
        writer = BatchWriter(self.db.engine, kind, self.settings.data_dir / "spool",
                             write_timeout=self.settings.database.command_timeout)
        await writer.start()
        self._cleanups.append(lambda: writer.stop(self.settings.daemon.drain_seconds))
        return writer

    def _start_call_tracking(self) -> None:
        """Call records (issue 5): the tracker, feeding the call writer."""
        assert self.call_writer is not None
        self.tracking = CallTracking(self.settings, self.call_writer)
        self._cleanups.append(self.tracking.stop)  # before the writer's final flush

    async def _start_agi(self) -> None:
        assert self.routing is not None
        s = self.settings.agi
        route = RouteHandler(self.routing)
        if self.tracking is not None:
            route.observe(self.tracking.on_route)  # names and roles of the targets
        self.agi = FastAgiServer(
            {"route": route},
            host=s.host, port=s.port, max_sessions=s.max_sessions,
            read_timeout=s.read_timeout, idle_timeout=s.idle_timeout,
        )
        try:
            await self.agi.start()
        except OSError as exc:
            self.agi = None
            raise StartupError(_bind_failure("agi", s.host, s.port, exc)) from None
        log.info("FastAGI listening on %s:%s", s.host, self.agi.port)

    async def _start_http(self) -> None:
        assert self.db is not None
        s = self.settings.http
        guard = HttpConnectionGuard(max_connections=s.max_connections,
                                    header_timeout=s.header_timeout,
                                    body_timeout=s.body_timeout)
        app = build_app(ApiContext(self.db.engine, self.settings),
                        {"database": self._db_ready, "routing": self._routing_ready,
                         "ami": self._ami_ready, "agi": self._agi_ready},
                        middlewares=[guard.middleware])
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = guard.site(runner, s.host, s.port, backlog=512)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise StartupError(_bind_failure("http", s.host, s.port, exc)) from None
        self.http = runner
        self.http_port = runner.addresses[0][1]
        self._cleanups.append(runner.cleanup)
        log.info("HTTP (API, /healthz, /metrics) on http://%s:%s", s.host, self.http_port)

    def _start_ami(self) -> None:
        if not self.settings.ami.enabled:
            log.warning("AMI disabled (ami.enabled = false): no call tracking")
            return
        self.ami = AmiSupervisor(self.settings.ami, on_connected=self._on_ami_connected)
        self.dispatcher = EventDispatcher(self.ami.events)
        self._start_outbound_guard(self.ami, self.dispatcher)
        if self.tracking is not None:
            self.dispatcher.subscribe("call-tracker", self.tracking.on_ami_event)
            self._tasks.append(asyncio.create_task(self.tracking.sweep_forever(),
                                                   name="call-sweep"))
        self.ami.start()
        self._tasks.append(asyncio.create_task(self.dispatcher.run(), name="ami-events"))

    def _start_outbound_guard(self, ami: AmiSupervisor, dispatcher: EventDispatcher) -> None:
        """The 400 trunk's watchdog: hang up outbound channels, record them (issue 4)."""
        assert self.blocked_writer is not None
        self.guard = OutboundGuard(self.settings.trunks.hotline, ami, self.blocked_writer)
        self.guard.start()
        self._cleanups.append(self.guard.stop)  # runs before the writer's final flush
        dispatcher.subscribe("outbound-guard", self.guard)

    async def _on_ami_connected(self, ami: AmiSupervisor) -> None:
        """After every AMI login: reconcile calls in progress, check the trunks exist,
        sweep what the gap let through."""
        if self.tracking is not None:
            try:  # each step on its own: one failing must not skip the others
                await self.tracking.on_ami_connected(ami)
            except Exception:
                log.exception("call reconciliation after the AMI login failed")
        try:
            self.trunk_problems = await check_trunks(ami, self.settings.trunks)
        except (TimeoutError, AmiUnavailable) as exc:
            log.warning("could not check the trunks in Asterisk: %s", exc or "timeout")
        finally:
            self._trunks_checked.set()
        for key, problem in self.trunk_problems or ():
            log.error("%s: %s", key, problem)
        if self.guard is not None:
            try:
                found = await self.guard.sweep()
            except (TimeoutError, AmiUnavailable) as exc:
                log.warning("outbound sweep after the AMI login failed: %s", exc or "timeout")
                return
            if found:
                log.error("%d outbound channel(s) on the 400 trunk found after connecting "
                          "to AMI: hanging up", found)

    async def _check_trunks_at_start(self) -> None:
        """Refuse to run if a configured trunk is not a PJSIP endpoint of the PBX.

        Asterisk may be down at start-up: the daemon then starts anyway (the
        dialplan needs /route) and checks at the first login; a problem found
        then is logged and keeps /readyz at 503.
        """
        if self.ami is None:
            return
        wait = self.settings.ami.connect_timeout + 1
        try:
            async with asyncio.timeout(wait):
                await self._trunks_checked.wait()
        except TimeoutError:
            log.warning("AMI not reachable within %.0fs: trunks.hotline and trunks.general "
                        "will be checked at the first connection", wait)
            return
        if self.trunk_problems:
            key, problem = self.trunk_problems[0]
            raise ConfigError(key, problem)

    async def stop(self) -> None:
        deadline = self.settings.daemon.drain_seconds
        started = time.monotonic()
        if self.agi is not None:
            await self.agi.stop(drain_deadline=deadline)
            self.agi = None
        if self.ami is not None:
            await self.ami.stop()
            self.ami = None
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        while self._cleanups:
            cleanup = self._cleanups.pop()
            try:
                await cleanup()
            except Exception:
                log.exception("error while stopping")
        log.info("stopped in %.1fs", time.monotonic() - started)

    # -- readiness --------------------------------------------------------------

    async def _db_ready(self) -> tuple[bool, str]:
        if self.db is None:
            return False, "not started"
        async with asyncio.timeout(self.settings.database.connect_timeout):
            async with self.db.engine.connect() as conn:
                await conn.exec_driver_sql("SELECT 1")
        return True, self.db.description

    async def _routing_ready(self) -> tuple[bool, str]:
        if self.routing is None:
            return False, "not started"
        return self.routing.readiness()

    async def _ami_ready(self) -> tuple[bool, str]:
        if not self.settings.ami.enabled:
            return True, "disabled"
        if self.trunk_problems:
            return False, "; ".join(f"{key}: {problem}" for key, problem in self.trunk_problems)
        if self.ami is not None and self.ami.connected.is_set():
            return True, f"connected to {self.settings.ami.host}:{self.settings.ami.port}"
        return False, "not connected"

    async def _agi_ready(self) -> tuple[bool, str]:
        if self.agi is None:
            return False, "not listening"
        return True, f"listening on port {self.agi.port}, {self.agi.active_sessions} sessions"


def _bind_failure(section: str, host: str, port: int, exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return (f"{host}:{port} is already in use ({section}.port); stop the other process "
                f"or choose another port")
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine ({section}.host)"
    return f"cannot listen on {host}:{port} ({section}): {exc.strerror}"


async def run_daemon(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT, then drain and stop."""
    ensure_open_file_limit(settings)
    daemon = Daemon(settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    install_accept_error_log(loop)
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await daemon.start()
    # Everything built at start-up lives as long as the process: move it out of
    # the collector's sight so a full collection does not stall live calls.
    gc.collect()
    gc.freeze()
    log.info("hotline-pbx running")
    await stop.wait()
    log.info("stopping: draining AGI sessions (up to %ss)", settings.daemon.drain_seconds)
    await daemon.stop()
