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
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from hotline_pbx.config import DatabaseSettings, Secret
from hotline_pbx.sandbox.daemon import DaemonProcess
from hotline_pbx.sandbox.pbx import SANDBOX_GLOBALS, AsteriskSandbox, PbxPorts
from hotline_pbx.store import config_repo
from hotline_pbx.store.database import open_database
from tests.conftest import truncate_all

E2E_REQUIRED = os.environ.get("HOTLINE_E2E") == "required"


def _why_not_runnable() -> str | None:
    if os.geteuid() != 0:
        return "the Asterisk sandbox needs root (chroot, mount)"
    if shutil.which("sipp") is None:
        return "sipp (Debian package sip-tester) is not installed"
    return None


@pytest.fixture(scope="session")
def pbx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AsteriskSandbox]:
    reason = _why_not_runnable()
    if reason:
        if E2E_REQUIRED:
            pytest.fail(f"e2e required but {reason}")
        pytest.skip(reason)
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


class ConfigWriter:
    """Writes routing configuration the way the API does (transaction + NOTIFY)."""

    def __init__(self, dsn: str, tmp: Path) -> None:
        self.dsn = dsn
        self.tmp = tmp

    def _run(self, step: Any, *args: Any) -> None:
        async def go() -> None:
            db = await open_database(DatabaseSettings(dsn=Secret(self.dsn)), self.tmp)
            try:
                async with db.engine.begin() as conn:
                    await step(conn, *args)
            finally:
                await db.close()

        asyncio.run(go())

    def schedule(self, document: Mapping[str, Any]) -> None:
        self._run(config_repo.save_schedule, document, "e2e")

    def roster(self, document: Mapping[str, Any]) -> None:
        self._run(config_repo.save_roster, document, "e2e")

    def override(self, document: Mapping[str, Any] | None) -> None:
        self._run(config_repo.save_override, document, "e2e")


@pytest.fixture
def config(pg_dsn: str, tmp_path: Path) -> ConfigWriter:
    return ConfigWriter(pg_dsn, tmp_path)


@pytest.fixture
def daemon_factory(pbx_clean: AsteriskSandbox, pg_dsn: str,
                   tmp_path: Path) -> Iterator[Any]:
    """Start the real daemon (fresh database) against the sandbox; stopped after the test."""
    started: list[DaemonProcess] = []
    truncate_all(pg_dsn)

    def start(extra: Mapping[str, str] | None = None, *, wait_ready: bool = True) -> DaemonProcess:
        daemon = DaemonProcess.for_sandbox(pbx_clean, pg_dsn, tmp_path, extra)
        daemon.start(wait_ready=wait_ready)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.stop()


@pytest.fixture
def daemon(daemon_factory: Any) -> DaemonProcess:
    result: DaemonProcess = daemon_factory()
    return result
