"""Every call on record, through the real PBX: SIPp → Asterisk 22 → the daemon's
tracker → PostgreSQL, ``hotline-pbx report``, the REST stats, ``/metrics`` and a
real Prometheus evaluating the answer-rate recording rule.

Then the two failures the records must survive: PostgreSQL stopping mid-run
(a server of our own: the machine's is shared) and Asterisk restarting mid-run
(a sandbox of our own), with a daemon restart mid-call on top.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from hotline_pbx.config import DatabaseSettings, Secret
from hotline_pbx.sandbox.daemon import DaemonProcess
from hotline_pbx.sandbox.pbx import AsteriskSandbox, PbxPorts, free_port, running_sandbox
from hotline_pbx.sandbox.sipp import CallScript, SippResult, place_call
from hotline_pbx.store.database import open_database
from tests.conftest import truncate_all
from tests.e2e.conftest import ConfigWriter
from tests.e2e.waiting import wait_until
from tests.private_postgres import PrivatePostgres

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "docker" / "prometheus" / "rules.yml"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Open every minute of every day, so the calls are period "open" whenever the suite runs.
ALWAYS_OPEN = {"timezone": "Asia/Shanghai",
               "weekly": [{"day": d, "start": "00:00", "end": "24:00"} for d in DAYS]}
SUPERVISOR = {"id": "li.na", "name": "Li Na", "mobile": "13810200000"}  # rings 1 s, talks 2 s
DEPUTY = {"id": "wang.wei", "name": "Wang Wei", "mobile": "13810200001"}
DAEMON_ENV = {"HOTLINE_ROUTING_USE_STATUTORY_CALENDAR": "false",
              "HOTLINE_ROUTING_RING_TIMEOUT": "5"}
AGENTS = [f"agent{n}" for n in range(2, 7)]  # agent1 is in queues.conf


# -- helpers --------------------------------------------------------------------------


def sample(metrics: Mapping[str, float], name: str, **labels: str) -> float:
    """The value of one series of a /metrics scrape, whatever the label order."""
    for key, value in metrics.items():
        family, _, rest = key.partition("{")
        found = dict(re.findall(r'(\w+)="([^"]*)"', rest))
        if family == name and found == labels:
            return value
    return 0.0


def calls(pbx: AsteriskSandbox, scripts: list[CallScript], timeout: float = 60) -> list[SippResult]:
    with ThreadPoolExecutor(max_workers=len(scripts)) as pool:
        return list(pool.map(lambda s: place_call(s, pbx.ports.sip, timeout=timeout), scripts))


def start_calls(pool: ThreadPoolExecutor, pbx: AsteriskSandbox,
                scripts: list[CallScript]) -> list[Future[SippResult]]:
    return [pool.submit(place_call, s, pbx.ports.sip, timeout=60) for s in scripts]


def db_rows(dsn: str, sql: str) -> list[tuple[Any, ...]]:
    async def go() -> list[tuple[Any, ...]]:
        db = await open_database(DatabaseSettings(dsn=Secret(dsn), connect_timeout=2),
                                 Path(tempfile.gettempdir()))
        try:
            async with db.engine.connect() as conn:
                return [tuple(r) for r in await conn.execute(text(sql))]
        finally:
            await db.close()

    return asyncio.run(go())


def cli(daemon: DaemonProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hotline_pbx.cli", *args], env=daemon.env,
                          capture_output=True, text=True, timeout=60, check=False)


@contextlib.contextmanager
def prometheus(target_port: int) -> Iterator[str]:
    """The Debian Prometheus scraping the daemon every second with our rules."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus (Debian package prometheus) is not installed")
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="hotline-prom-") as tmp:
        config = Path(tmp) / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            f"rule_files:\n  - {RULES}\n"
            "scrape_configs:\n  - job_name: hotline-pbx\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{target_port}']\n")
        with (Path(tmp) / "log").open("wb") as log:
            process = subprocess.Popen(
                [binary, f"--config.file={config}", f"--storage.tsdb.path={tmp}/data",
                 f"--web.listen-address=127.0.0.1:{port}"],
                stdout=log, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until(lambda: _ready(url), 30, "Prometheus to start")
            yield url
        finally:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def promql(url: str, query: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/api/v1/query?" + urllib.parse.urlencode(
            {"query": query}), timeout=5) as response:
        body = json.loads(response.read())
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


@contextlib.contextmanager
def extra_agents(pbx: AsteriskSandbox) -> Iterator[None]:
    """Five more stand-in agents in the hotline queue, for calls answered side by side."""
    for agent in AGENTS:
        pbx.rx(f"queue add member Local/{agent}@hotline-agents to hotline penalty 0 "
               f"as Agent{agent[-1]}")
    try:
        members = pbx.rx("queue show hotline")
        assert all(f"Local/{agent}@hotline-agents" in members for agent in AGENTS), members
        yield
    finally:
        for agent in AGENTS:
            with contextlib.suppress(Exception):
                pbx.rx(f"queue remove member Local/{agent}@hotline-agents from hotline")


# -- the mix --------------------------------------------------------------------------------


def test_a_known_mix_is_recorded_counted_and_scraped_exactly(
        pbx_clean: AsteriskSandbox, daemon_factory: Any, config: ConfigWriter,
        pg_dsn: str) -> None:
    config.schedule(ALWAYS_OPEN)
    config.roster({"supervisor": SUPERVISOR, "deputies": [DEPUTY]})
    daemon: DaemonProcess = daemon_factory(DAEMON_ENV)
    since = datetime.now(UTC) - timedelta(seconds=5)
    pbx = pbx_clean
    with prometheus(daemon.http_port) as prom, extra_agents(pbx), \
            ThreadPoolExecutor(max_workers=8) as pool:
        # Prometheus must see every counter at 0 before the first call, or the first
        # calls are in no increase().
        wait_until(lambda: promql(prom, 'hotline_calls_total{period="open",outcome="answered"}'),
                   30, "the first scrape")
        # Open hours: 6 callers at once, answered by agents who ring 1 s and talk 2 s.
        pbx.set_global("SANDBOX_AGENT_RING", "1")
        pbx.set_global("SANDBOX_AGENT_TALK", "2")
        answered = calls(pbx, [CallScript(caller=f"1390000010{n}", hold_after_answer=20)
                               for n in range(6)])
        assert all(r.ok for r in answered), [r.output[-800:] for r in answered if not r.ok]
        pbx.wait_idle(30)
        # Nobody answers: 3 give up after 8 s, 2 after 2 s (short abandons)...
        pbx.set_global("SANDBOX_AGENT_ANSWER", "no")
        waiting = start_calls(pool, pbx, [
            *(CallScript(caller=f"1390000020{n}", abandon_after=8) for n in range(3)),
            *(CallScript(caller=f"1390000030{n}", abandon_after=2) for n in range(2))])
        wait_until(lambda: sample(daemon.metrics(), "hotline_calls_offered_total",
                                  period="open") == 11, 10, "the waiting callers routed")
        # ...while after hours begin (override closed): 2 callers, the supervisor answers.
        config.override({"mode": "closed",
                         "until": (datetime.now(UTC) + timedelta(hours=1)).isoformat()})
        after_hours = calls(pbx, [CallScript(caller=f"1390000040{n}", hold_after_answer=20)
                                  for n in range(2)])
        assert all(r.ok for r in after_hours), [r.output[-800:] for r in after_hours]
        assert all(f.result().ok for f in waiting), [f.result().output[-800:] for f in waiting]
        pbx.wait_idle(30)

        # /metrics counted exactly the mix.
        expected = {("open", "answered"): 6, ("open", "abandoned"): 3,
                    ("open", "short_abandoned"): 2, ("open", "missed"): 0,
                    ("override", "answered"): 2, ("override", "missed"): 0,
                    ("closed", "answered"): 0}
        wait_until(lambda: sample(daemon.metrics(), "hotline_calls_total", period="override",
                                  outcome="answered") == 2, 10, "the last calls to end")
        metrics = daemon.metrics()
        for (period, outcome), count in expected.items():
            assert sample(metrics, "hotline_calls_total", period=period,
                          outcome=outcome) == count, (period, outcome)
            assert sample(metrics, "hotline_call_wait_seconds_count", period=period,
                          outcome=outcome) == count, (period, outcome)
        assert sample(metrics, "hotline_calls_offered_total", period="open") == 11
        assert sample(metrics, "hotline_calls_offered_total", period="override") == 2
        assert sample(metrics, "hotline_call_talk_seconds_count", period="open") == 6
        assert sample(metrics, "hotline_calls_active") == 0
        abandon_wait = sample(metrics, "hotline_call_wait_seconds_sum", period="open",
                              outcome="abandoned")
        assert 3 * 7.5 < abandon_wait < 3 * 9.5

        # PostgreSQL has one row per call, each with what happened.
        wait_until(lambda: db_rows(pg_dsn, "SELECT count(*) FROM calls")[0][0] == 13, 10,
                   "13 rows")
        rows = db_rows(pg_dsn, "SELECT caller, period, outcome, answered_role, answered_by, "
                               "wait_seconds, hangup_side FROM calls ORDER BY caller")
        assert len({r[0] for r in rows}) == 13, rows
        by_caller = {r[0]: r for r in rows}
        for n in range(6):
            _, period, outcome, role, who, wait, _side = by_caller[f"1390000010{n}"]
            assert (period, outcome, role) == ("open", "answered", "agent")
            # Agents ring 1 s; six callers at once compete for them (one agent rings
            # per caller, a member ringing for one caller is busy for the others),
            # so some wait longer.
            assert who.startswith("Agent") and 0.5 < wait < 20, rows
        # Answered side by side by several agents.
        assert len({by_caller[f"1390000010{n}"][4] for n in range(6)}) >= 3
        for n in range(3):
            assert by_caller[f"1390000020{n}"][1:3] == ("open", "abandoned")
            assert by_caller[f"1390000020{n}"][6] == "caller"
        for n in range(2):
            assert by_caller[f"1390000030{n}"][1:3] == ("open", "short_abandoned")
            assert by_caller[f"1390000040{n}"][1:5] == ("override", "answered", "supervisor",
                                                         "Li Na")

        # hotline-pbx report and GET /api/v1/stats: the same numbers.
        window = ["--from", since.isoformat(), "--to",
                  (datetime.now(UTC) + timedelta(minutes=1)).isoformat()]
        report = cli(daemon, "report", *window, "--period", "open", "--json")
        assert report.returncode == 0, report.stderr
        stats = json.loads(report.stdout)
        assert (stats["offered"], stats["answered"], stats["abandoned"],
                stats["short_abandoned"], stats["missed"]) == (11, 6, 3, 2, 0)
        assert stats["answer_rate"] == pytest.approx(6 / 9)
        assert stats["service_level"] == pytest.approx(6 / 9)
        everything = json.loads(cli(daemon, "report", *window, "--json").stdout)
        assert (everything["offered"], everything["answered"]) == (13, 8)
        token = cli(daemon, "token", "create", "--name", "e2e-stats", "--role", "viewer")
        assert token.returncode == 0, token.stderr
        status, body = daemon.get("/api/v1/stats?" + urllib.parse.urlencode(
            {"from": window[1], "to": window[3], "period": "open"}), token.stdout.strip())
        assert status == 200, body
        assert (body["offered"], body["answered"], body["answer_rate"]) == \
            (11, 6, pytest.approx(6 / 9))

        # A real Prometheus scraped the daemon; the recording rule says 6 / 9.
        def rule_value() -> float | None:
            result = promql(prom, 'hotline:answer_rate:ratio_rate15m{period="open"}')
            return float(result[0]["value"][1]) if result else None

        def settled() -> bool:
            value = rule_value()
            return value is not None and abs(value - 6 / 9) < 1e-9

        wait_until(settled, 30, f"the answer-rate rule to reach 6/9 (last {rule_value()})")
        countable = promql(prom, 'hotline:calls_countable:increase15m{period="open"}')
        assert float(countable[0]["value"][1]) > 0
        override = promql(prom, 'hotline:answer_rate:ratio_rate15m{period="override"}')
        assert float(override[0]["value"][1]) == pytest.approx(1.0)


# -- PostgreSQL stops mid-run ----------------------------------------------------------------


def test_postgres_down_calls_still_routed_rows_spooled_then_stored_once(
        pbx_clean: AsteriskSandbox, private_postgres: PrivatePostgres, tmp_path: Path) -> None:
    config = ConfigWriter(private_postgres.dsn, tmp_path)
    config.schedule(ALWAYS_OPEN)
    daemon = DaemonProcess.for_sandbox(pbx_clean, private_postgres.dsn, tmp_path, {
        **DAEMON_ENV, "HOTLINE_DATABASE_CONNECT_TIMEOUT": "1"})
    try:
        daemon.start()
        pbx_clean.set_global("SANDBOX_AGENT_TALK", "1")
        assert all(r.ok for r in calls(pbx_clean, [CallScript(caller="13900000501")]))
        wait_until(lambda: db_rows(private_postgres.dsn, "SELECT count(*) FROM calls")[0][0] == 1,
                   20, "the first call's row")

        private_postgres.stop()
        during = calls(pbx_clean, [CallScript(caller=f"1390000060{n}") for n in range(3)])
        # Routing never needed the database: every caller reached an agent.
        assert all(r.ok for r in during), [r.output[-800:] for r in during]
        # Each answered call is two records: the call's, and the callback writer's
        # "close this caller's open tasks" (issue 12).
        wait_until(lambda: daemon.metrics()["hotline_db_spooled_records"] == 6, 15,
                   "6 spooled records")
        spool = list((daemon.data_dir / "spool" / "calls").glob("calls-*.jsonl"))
        assert sum(len(p.read_text().splitlines()) for p in spool) == 3

        private_postgres.start()
        wait_until(lambda: daemon.metrics()["hotline_db_spooled_records"] == 0, 20,
                   "the spool replayed")
        rows = db_rows(private_postgres.dsn, "SELECT caller, count(*) FROM calls GROUP BY caller "
                                         "ORDER BY caller")
        assert rows == [("13900000501", 1), *((f"1390000060{n}", 1) for n in range(3))]
        assert not list((daemon.data_dir / "spool" / "calls").glob("calls-*.jsonl"))
        assert sample(daemon.metrics(), "hotline_calls_total", period="open",
                      outcome="answered") == 4
    finally:
        assert daemon.stop() == 0
        pbx_clean.wait_idle(30)


# -- Asterisk restarts mid-run, the daemon restarts mid-call ---------------------------------


class Poller:
    """Samples hotline_ami_connected every 100 ms in a thread."""

    def __init__(self, daemon: DaemonProcess) -> None:
        self.daemon = daemon
        self.values: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError, KeyError):
                self.values.append(self.daemon.metrics()["hotline_ami_connected"])
            time.sleep(0.1)

    def __enter__(self) -> Poller:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)


def test_asterisk_restart_and_daemon_restart_lose_and_double_no_call(
        pg_dsn: str, tmp_path: Path) -> None:
    truncate_all(pg_dsn)
    config = ConfigWriter(pg_dsn, tmp_path)
    config.schedule(ALWAYS_OPEN)
    with running_sandbox(f"e2e-restart-{os.getpid()}", PbxPorts.allocate()) as pbx:
        env = {**DAEMON_ENV, "HOTLINE_AMI_PING_INTERVAL": "1", "HOTLINE_AMI_PING_TIMEOUT": "1"}
        daemon = DaemonProcess.for_sandbox(pbx, pg_dsn, tmp_path, env)
        try:
            daemon.start()
            pbx.set_global("SANDBOX_AGENT_TALK", "1")
            assert calls(pbx, [CallScript(caller="13900000701")])[0].ok
            with Poller(daemon) as poll, ThreadPoolExecutor(max_workers=2) as pool:
                # A call in progress when Asterisk crashes: it dies with it, unseen.
                pbx.set_global("SANDBOX_AGENT_TALK", "30")
                doomed = pool.submit(place_call, CallScript(caller="13900000702",
                                                            hold_after_answer=40),
                                     pbx.ports.sip, timeout=15)
                wait_until(lambda: sample(daemon.metrics(), "hotline_calls_active") == 1, 10,
                           "the call in progress")
                time.sleep(1.5)  # answered by now
                pbx.kill()  # a crash: no Hangup events, the AMI socket just drops
                wait_until(lambda: daemon.metrics()["hotline_ami_connected"] == 0, 10,
                           "the daemon to notice")
                pbx.start()
                wait_until(lambda: daemon.metrics()["hotline_ami_connected"] == 1, 30,
                           "AMI to reconnect")
                doomed.result()
            assert poll.values[0] == 1 and 0 in poll.values and poll.values[-1] == 1
            gap = poll.values.index(0)
            assert 1 in poll.values[gap:]

            # After the reconnect, calls are recorded again...
            pbx.set_global("SANDBOX_AGENT_TALK", "1")
            assert calls(pbx, [CallScript(caller="13900000703")])[0].ok
            # ...and a call that outlives the daemon's own restart is recorded once,
            # by the daemon that saw it end.
            pbx.set_global("SANDBOX_AGENT_TALK", "8")
            with ThreadPoolExecutor(max_workers=1) as pool:
                long_call = pool.submit(place_call, CallScript(caller="13900000704",
                                                               hold_after_answer=30),
                                        pbx.ports.sip, timeout=40)
                wait_until(lambda: sample(daemon.metrics(), "hotline_calls_active") == 1, 10,
                           "the long call in progress")
                time.sleep(1.5)
                assert daemon.stop() == 0
                daemon.start()
                assert long_call.result().ok
            pbx.wait_idle(20)
            wait_until(lambda: db_rows(pg_dsn, "SELECT count(*) FROM calls")[0][0] == 4, 15,
                       "4 rows")
            rows = {r[0]: r[1:] for r in db_rows(
                pg_dsn, "SELECT caller, outcome, details->>'ended_during_ami_gap', "
                        "details->>'joined', period FROM calls")}
            assert rows["13900000701"] == ("answered", None, None, "open")
            assert rows["13900000702"] == ("answered", "true", None, "open")
            assert rows["13900000703"] == ("answered", None, None, "open")
            assert rows["13900000704"] == ("answered", None, "reconcile", "open")
        finally:
            daemon.stop()
