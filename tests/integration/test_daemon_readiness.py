"""The daemon in-process against real PostgreSQL: /readyz reads the readiness board,
a background task that dies shows there, and a failed start leaves no task behind."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hotline_pbx.app import Daemon, StartupError
from hotline_pbx.config import Settings, load_settings
from hotline_pbx.sandbox.pbx import free_port
from tests.conftest import truncate_all

# The daemon's own long-running tasks (AMI is disabled here: no AMI ones).
DAEMON_TASKS = {"config-listener", "calls-writer", "blocked_outbound-writer", "line_faults-writer",
                "line_tests-writer", "open-hours-gauge"}


def settings_for(pg_dsn: str, tmp_path: Path, **values: str) -> Settings:
    env = {"HOTLINE_AMI_ENABLED": "false", "HOTLINE_AMI_SECRET": "x",
           "HOTLINE_DATABASE_DSN": pg_dsn, "HOTLINE_DAEMON_DATA_DIR": str(tmp_path / "data"),
           "HOTLINE_AGI_PORT": str(free_port()), "HOTLINE_HTTP_PORT": str(free_port())}
    env.update(values)
    return load_settings(None, env)


def running_daemon_tasks() -> set[str]:
    return {t.get_name() for t in asyncio.all_tasks() if not t.done()} & DAEMON_TASKS


@pytest.fixture
async def daemon(pg_dsn: str, tmp_path: Path) -> AsyncIterator[Daemon]:
    await asyncio.to_thread(truncate_all, pg_dsn)
    started = Daemon(settings_for(pg_dsn, tmp_path))
    await started.start()
    try:
        yield started
    finally:
        await started.stop()


async def readyz(daemon: Daemon) -> tuple[int, dict[str, Any]]:
    url = f"http://127.0.0.1:{daemon.settings.http.port}/readyz"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.json()


def accepts(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


async def test_readyz_reports_the_components_and_a_task_that_died(
        daemon: Daemon, caplog: pytest.LogCaptureFixture) -> None:
    status, body = await readyz(daemon)
    assert status == 200 and body["ready"] is True
    assert list(body["components"]) == ["database", "routing", "ami", "agi", "line",
                                        "long_calls", "dialer"]
    assert body["components"]["ami"] == {"ok": True, "detail": "disabled"}
    assert body["components"]["database"]["detail"].startswith("PostgreSQL at ")
    assert running_daemon_tasks() == DAEMON_TASKS

    caplog.set_level(logging.ERROR, logger="hotline_pbx.lifecycle")
    [listener] = [t for t in asyncio.all_tasks() if t.get_name() == "config-listener"]
    listener.cancel()  # nobody asked it to stop: it must not be silently gone
    await asyncio.wait({listener})

    status, body = await readyz(daemon)
    assert status == 503 and body["ready"] is False
    assert body["components"]["routing"] == {"ok": False,
                                             "detail": "config-listener was cancelled"}
    assert all(body["components"][name]["ok"] for name in ("database", "ami", "agi"))
    assert [r.getMessage() for r in caplog.records if r.name == "hotline_pbx.lifecycle"] == [
        "background task config-listener was cancelled"]


async def test_stop_closes_every_listener_and_ends_every_task(pg_dsn: str,
                                                              tmp_path: Path) -> None:
    await asyncio.to_thread(truncate_all, pg_dsn)
    daemon = Daemon(settings_for(pg_dsn, tmp_path))
    await daemon.start()
    agi, http = daemon.settings.agi.port, daemon.settings.http.port
    assert accepts(agi) and accepts(http)
    await daemon.stop()
    assert not accepts(agi) and not accepts(http)
    assert running_daemon_tasks() == set()


async def test_a_start_that_fails_late_stops_what_had_started(pg_dsn: str,
                                                              tmp_path: Path) -> None:
    """HTTP comes after the database, the listener, the writers and AGI: all of them
    are stopped again, and the error is the one-line StartupError."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]
        daemon = Daemon(settings_for(pg_dsn, tmp_path, HOTLINE_HTTP_PORT=str(taken)))
        with pytest.raises(StartupError, match=rf"127.0.0.1:{taken} is already in use "
                                               r"\(http.port\)"):
            await daemon.start()
    assert running_daemon_tasks() == set()
    assert not accepts(daemon.settings.agi.port)
    await daemon.stop()  # nothing left to stop: a no-op
