"""`systemctl reload` (SIGHUP) on the real daemon: routing is reloaded from the
database at once; the config file is re-read and what changed in it is named
(it applies at the next restart); a file that no longer loads is named and the
daemon runs on, unharmed."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from hotline_pbx.sandbox.daemon import DaemonProcess
from hotline_pbx.sandbox.pbx import free_port
from tests.conftest import truncate_all
from tests.integration.test_schemathesis import daemon_env


@pytest.fixture
def daemon(pg_dsn: str, tmp_path: Path) -> Iterator[DaemonProcess]:
    truncate_all(pg_dsn)
    env = daemon_env(pg_dsn, tmp_path)
    process = DaemonProcess(env={**env, "HOTLINE_HTTP_PORT": str(free_port())},
                            log_path=tmp_path / "daemon.log", http_port=0)
    process.http_port = int(process.env["HOTLINE_HTTP_PORT"])
    config = process.data_dir / "hotline.toml"
    config.write_text("[kpi]\nservice_level_seconds = 20\n")
    config.chmod(0o644)
    process.env["HOTLINE_CONFIG"] = str(config)
    process.start(timeout=60)
    try:
        yield process
    finally:
        process.stop()


def logged_after(daemon: DaemonProcess, mark: int, text: str, within: float = 10) -> str:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        tail = daemon.log_path.read_text()[mark:]
        if text in tail:
            return tail
        time.sleep(0.05)
    raise AssertionError(f"{text!r} not logged within {within}s:\n{daemon.log_tail()}")


def settled_reloads(daemon: DaemonProcess, within: float = 10) -> float:
    """The start's loads of the routing snapshot: its own, then the config
    listener's once it has connected (store/notify.py reloads on each connect,
    a moment after the daemon is up: read before it, a SIGHUP counted two)."""
    deadline = time.monotonic() + within
    while (reloads := daemon.config_reloads()) < 2:
        if time.monotonic() > deadline:
            raise AssertionError(f"{reloads} routing loads at start, not 2")
        time.sleep(0.05)
    return reloads


def test_sighup_reloads_routing_and_names_what_changed_in_the_file(
        daemon: DaemonProcess) -> None:
    assert daemon.process is not None
    reloads = settled_reloads(daemon)
    mark = len(daemon.log_path.read_text())
    daemon.process.send_signal(signal.SIGHUP)
    logged_after(daemon, mark, "the settings are unchanged")
    assert daemon.config_reloads() == reloads + 1  # routing read again from the database

    config = Path(daemon.env["HOTLINE_CONFIG"])
    config.write_text("[kpi]\nservice_level_seconds = 30\n[agi]\nmax_sessions = 100\n")
    mark = len(daemon.log_path.read_text())
    daemon.process.send_signal(signal.SIGHUP)
    tail = logged_after(daemon, mark, "restart the daemon to apply them")
    assert "agi.max_sessions, kpi.service_level_seconds" in tail

    config.write_text("[kpi]\nservice_level_seconds = -1\n")
    mark = len(daemon.log_path.read_text())
    daemon.process.send_signal(signal.SIGHUP)
    tail = logged_after(daemon, mark, "does not load")
    assert "kpi.service_level_seconds" in tail and "the running settings stay" in tail
    status, _ = daemon.get("/readyz")
    assert status == 200 and daemon.running
