"""schemathesis against the live daemon (``hotline-pbx run``, AMI off) on the
run's PostgreSQL, with an admin token made by ``hotline-pbx token create``.

Every operation of /api/v1/openapi.json is fuzzed (examples, coverage,
fuzzing and stateful phases; valid and invalid input). It must find no 5xx
and no response that breaks the document: status codes, content types and
bodies all as declared. Seeded, so a failure reproduces; set
HOTLINE_SCHEMATHESIS_SEED to explore other inputs.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert

from hotline_pbx.config import DatabaseSettings, Secret
from hotline_pbx.sandbox.daemon import DaemonProcess
from hotline_pbx.sandbox.pbx import free_port
from hotline_pbx.store import models
from hotline_pbx.store.database import open_database
from tests.conftest import truncate_all

CHECKS = ("not_a_server_error,status_code_conformance,content_type_conformance,"
          "response_schema_conformance")
ST = Path(sys.executable).with_name("st")


def daemon_env(dsn: str, tmp: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("HOTLINE_")}
    env.update({"HOTLINE_DATABASE_DSN": dsn, "HOTLINE_AMI_ENABLED": "false",
                "HOTLINE_AGI_PORT": "0", "HOTLINE_DAEMON_DATA_DIR": str(tmp / "data"),
                "HOTLINE_DAEMON_LOG_FORMAT": "json"})
    return env


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hotline_pbx.cli", *args], env=env,
                          capture_output=True, text=True, timeout=60, check=False)


def seed_records(dsn: str) -> None:
    """A few rows so the list endpoints return items, not only empty pages."""
    async def insert_rows() -> None:
        db = await open_database(DatabaseSettings(dsn=Secret(dsn)), Path.cwd())
        now = datetime.now(UTC)
        try:
            async with db.engine.begin() as conn:
                await conn.execute(insert(models.calls), [
                    {"call_key": f"st-{i}", "caller": "13800138000", "started_at":
                     now - timedelta(hours=i), "period": "open", "outcome": outcome,
                     "wait_seconds": 3.0 * i, "talk_seconds": 30.0 if outcome == "answered"
                     else None, "details": {"timeline": [{"at": None, "event": "started"}]}}
                    for i, outcome in enumerate(("answered", "abandoned", "missed"), 1)])
                await conn.execute(insert(models.line_faults), [
                    {"cause": "no_answer", "started_at": now - timedelta(hours=2),
                     "ended_at": now - timedelta(hours=1)}])
                await conn.execute(insert(models.blocked_outbound), [
                    {"event_key": "st-1", "occurred_at": now, "method": "dial",
                     "action": "hung_up", "dialled_number": "13800138000"}])
        finally:
            await db.close()

    asyncio.run(insert_rows())


@pytest.fixture
def live_daemon(pg_dsn: str, tmp_path: Path) -> Iterator[tuple[DaemonProcess, str, str]]:
    truncate_all(pg_dsn)
    env = daemon_env(pg_dsn, tmp_path)
    made = cli(env, "token", "create", "--name", "schemathesis", "--role", "admin")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    viewer = cli(env, "token", "create", "--name", "schemathesis-viewer", "--role", "viewer")
    assert viewer.returncode == 0, viewer.stderr
    seed_records(pg_dsn)
    daemon = DaemonProcess(env={**env, "HOTLINE_HTTP_PORT": str(free_port())},
                           log_path=tmp_path / "daemon.log", http_port=0)
    daemon.http_port = int(daemon.env["HOTLINE_HTTP_PORT"])
    daemon.start(timeout=60)
    try:
        yield daemon, token, viewer.stdout.strip()
    finally:
        daemon.stop()


def schemathesis(daemon: DaemonProcess, token: str, cwd: Path, examples: int) -> str:
    seed = os.environ.get("HOTLINE_SCHEMATHESIS_SEED", "20261127")
    # One worker: with two, schemathesis itself was seen to fail at random inside
    # its coverage phase ("SystemError: AST constructor recursion depth mismatch",
    # a CPython 3.11 fault of threads sharing the AST state), not on our server.
    command = [str(ST), "run", f"{daemon.url}/api/v1/openapi.json",
               "-H", f"Authorization: Bearer {token}", "--checks", CHECKS,
               "--max-examples", str(examples), "--seed", seed, "--workers", "1",
               "--request-timeout", "10", "--warnings", "off"]
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True,
                            timeout=280, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-8000:] + "\n--- daemon log ---\n" + daemon.log_tail()
    # The run really reached the handlers: every operation was tested (update the
    # count with the API).
    operations = 35
    # -- purposes, complaint visits, monthly statistics (issues 13, 15) --
    operations += 5  # GET|PUT purposes, PUT calls/{id}/purpose, POST visit, GET monthly
    # -- end purposes, complaint visits, monthly statistics --
    operations += 1  # -- staffing advisor (issue 15): GET /api/v1/staffing --
    operations += 9  # -- the complaint register (issue 13): POST|GET complaints, digest,
    # GET|PATCH complaints/{id}, transitions, replies, extensions, POST calls/{id}/complaint --
    operations += 1  # GET /api/v1/reports/daily (the daily pack, issue 15)
    assert f"{operations} selected / {operations} total" in output and "passed" in output, \
        output[-3000:]
    return output


@pytest.mark.timeout(300)
def test_schemathesis_finds_no_server_error_and_no_schema_violation(
        live_daemon: tuple[DaemonProcess, str, str], tmp_path: Path) -> None:
    daemon, admin, viewer = live_daemon
    schemathesis(daemon, admin, tmp_path, examples=30)
    # A viewer gets 403 for writes and masked numbers in reads: also as declared.
    schemathesis(daemon, viewer, tmp_path, examples=10)
    # aiohttp's own parser logs malformed HTTP (schemathesis probes a NUL in a
    # header) at error level before any handler runs; it answered 400. Anything
    # else logged as an error is ours.
    errors = [r for r in daemon.log_records() if r.get("level") == "error"
              and "BadHttpMessage" not in r.get("exception", "")]
    assert errors == [], errors[:3]
