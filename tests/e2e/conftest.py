"""The real PBX: Asterisk 22 in the cached Debian root, SIPp, and the real daemon.

The sandbox starts once per test session and is always stopped (and its /proc
released) at the end, even when a test fails or the run is interrupted. The
README test command sets HOTLINE_E2E=required, so a missing root or missing
privileges fail the run instead of skipping it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from hotline_pbx.config import DatabaseSettings, Secret
from hotline_pbx.sandbox.daemon import DaemonProcess
from hotline_pbx.sandbox.network import PublicNetwork
from hotline_pbx.sandbox.pbx import SANDBOX_GLOBALS, AsteriskSandbox, PbxPorts
from hotline_pbx.store import config_repo
from hotline_pbx.store.database import open_database
from tests.conftest import truncate_all
from tests.e2e.waiting import wait_until

E2E_REQUIRED = os.environ.get("HOTLINE_E2E") == "required"


def _why_not_runnable() -> str | None:
    if os.geteuid() != 0:
        return "the Asterisk sandbox needs root (chroot, mount)"
    if shutil.which("sipp") is None:
        return "sipp (Debian package sip-tester) is not installed"
    return None


def require_sandbox() -> None:
    """Skip the test when the sandbox cannot run here (fail it under HOTLINE_E2E=required)."""
    reason = _why_not_runnable()
    if reason:
        if E2E_REQUIRED:
            pytest.fail(f"e2e required but {reason}")
        pytest.skip(reason)


#: Seconds between a looped PBX's OPTIONS to the carrier (the shared ``pbx`` has
#: qualify off: with nobody at its carrier_peer PJSIP would refuse carrier channels).
LOOP_QUALIFY = 4


@pytest.fixture(scope="module")
def looped_pbx(request: pytest.FixtureRequest) -> Iterator[AsteriskSandbox]:
    """A PBX of the test module's own, its carrier qualified every LOOP_QUALIFY s,
    for use with the public network (``network``)."""
    require_sandbox()
    module = request.module.__name__.rpartition(".")[2].removeprefix("test_")
    # A module may shorten PJSIP's 32 s INVITE timeout for its PBX (INVITE_TIMEOUT_MS).
    sandbox = AsteriskSandbox(name=f"{module}-{os.getpid()}", ports=PbxPorts.allocate(),
                              carrier_qualify_seconds=LOOP_QUALIFY,
                              invite_timeout_ms=getattr(request.module, "INVITE_TIMEOUT_MS", 0))
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture(scope="module")
def network(looped_pbx: AsteriskSandbox) -> Iterator[PublicNetwork]:
    """The sandbox's public network on ``looped_pbx``'s peer ports: the general
    trunk reaches the hotline's own number, and the path can be broken."""
    with PublicNetwork(looped_pbx) as net:
        yield net


@pytest.fixture(scope="session")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsteriskSandbox]:
    require_sandbox()
    sandbox = AsteriskSandbox(name=f"e2e-{os.getpid()}", ports=PbxPorts.allocate())
    sandbox.start()
    try:
        yield sandbox
    finally:
        sandbox.stop()


@pytest.fixture
def pbx_clean(pbx: AsteriskSandbox) -> Iterator[AsteriskSandbox]:
    """The sandbox with no call up and the stand-in agents at their defaults."""
    pbx.wait_idle(30)
    for name, value in SANDBOX_GLOBALS.items():
        pbx.set_global(name, value)
    yield pbx
    pbx.wait_idle(60)


# How long a followed daemon may take to apply a write. The contract is a
# second (DESIGN.md); tests of that contract pass ``within=ROUTING_FOLLOWS_WITHIN``,
# the others allow for a busy machine.
ROUTING_FOLLOWS_WITHIN = 1.0
APPLIED_WITHIN = 10.0


class ConfigWriter:
    """Writes routing configuration the way the API does (transaction + NOTIFY).

    Each write returns once every daemon it follows (:meth:`follow`) applied it:
    its ``hotline_config_reloads_total`` passed the value it had before the
    write. A daemon's config listener reloads once when it (re)connects, so
    :meth:`follow` first waits for that: a reload already under way when a
    write commits could otherwise be taken for the write's own.
    """

    def __init__(self, dsn: str, tmp: Path) -> None:
        self.dsn = dsn
        self.tmp = tmp
        self.followed: list[DaemonProcess] = []

    def follow(self, daemon: DaemonProcess) -> None:
        # Start-up loads once, the listener once more when it is LISTENing.
        wait_until(lambda: daemon.config_reloads() >= 2, APPLIED_WITHIN,
                   "the daemon's config listener to load the configuration")
        self.followed.append(daemon)

    def _run(self, step: Any, *args: Any, within: float) -> None:
        async def go() -> None:
            db = await open_database(DatabaseSettings(dsn=Secret(self.dsn)), self.tmp)
            try:
                async with db.engine.begin() as conn:
                    await step(conn, *args)
            finally:
                await db.close()

        running = [d for d in self.followed if d.running]
        before = [d.config_reloads() for d in running]
        asyncio.run(go())
        for daemon, reloads in zip(running, before, strict=True):
            wait_until(_reloaded_past(daemon, reloads), within,
                       f"the daemon to apply {step.__name__} (within {within}s)")

    def schedule(self, document: Mapping[str, Any], *, within: float = APPLIED_WITHIN) -> None:
        self._run(config_repo.save_schedule, document, "e2e", within=within)

    def roster(self, document: Mapping[str, Any], *, within: float = APPLIED_WITHIN) -> None:
        self._run(config_repo.save_roster, document, "e2e", within=within)

    def override(self, document: Mapping[str, Any] | None, *,
                 within: float = APPLIED_WITHIN) -> None:
        self._run(config_repo.save_override, document, "e2e", within=within)


def _reloaded_past(daemon: DaemonProcess, reloads: float) -> Callable[[], bool]:
    return lambda: daemon.config_reloads() > reloads


@pytest.fixture
def config(pg_dsn: str, tmp_path: Path) -> ConfigWriter:
    return ConfigWriter(pg_dsn, tmp_path)


@pytest.fixture
def daemon_factory(pbx_clean: AsteriskSandbox, pg_dsn: str, tmp_path: Path,
                   config: ConfigWriter) -> Iterator[Any]:
    """Start the real daemon (fresh database) against the sandbox; stopped after the
    test. The test's ``config`` writes wait until each daemon started here applied them."""
    started: list[DaemonProcess] = []
    truncate_all(pg_dsn)

    def start(extra: Mapping[str, str] | None = None, *, wait_ready: bool = True) -> DaemonProcess:
        daemon = DaemonProcess.for_sandbox(pbx_clean, pg_dsn, tmp_path, extra)
        daemon.start(wait_ready=wait_ready)
        started.append(daemon)
        if wait_ready:
            config.follow(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.stop()


@pytest.fixture
def daemon(daemon_factory: Any) -> DaemonProcess:
    result: DaemonProcess = daemon_factory()
    return result
