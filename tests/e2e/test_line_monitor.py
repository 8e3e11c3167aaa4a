"""The line monitor through the PBX (issue 11, "E2E"): the real daemon places
test calls over ARI on the general trunk; the sandbox's public network
(:mod:`hotline_pbx.sandbox.network`) brings them back in on the 400 trunk to
``/route``, or breaks the path the ways a real one breaks.

A PBX of this module's own (its carrier qualified every few seconds) with a
:class:`PublicNetwork` on its peer ports, and daemons on the run's PostgreSQL
with ``line.*`` timings of seconds. Times are printed, never asserted beyond
what the contract says (a fault within one test).
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hotline_pbx.config import DatabaseSettings, Secret
from hotline_pbx.sandbox.daemon import DaemonProcess
from hotline_pbx.sandbox.network import NetworkFault, PublicNetwork
from hotline_pbx.sandbox.pbx import AsteriskSandbox
from hotline_pbx.sandbox.sipp import CallScript, place_call
from hotline_pbx.store import config_repo, models
from hotline_pbx.store.database import open_database
from tests.conftest import truncate_all
from tests.e2e.api_client import admin_token as _token
from tests.e2e.api_client import request as _request
from tests.e2e.conftest import LOOP_QUALIFY
from tests.e2e.waiting import wait_until

QUALIFY = LOOP_QUALIFY  # seconds between the PBX's OPTIONS to the carrier
TEST_CALLER = "01088886666"
HOTLINE = "4008001234"
LINE = {"test_after": "2", "test_timeout": "6", "retest_every": "8"}


def _store(pg_dsn: str, tmp: Path, step: Any, *args: Any) -> None:
    async def go() -> None:
        db = await open_database(DatabaseSettings(dsn=Secret(pg_dsn)), tmp)
        try:
            async with db.engine.begin() as conn:
                await step(conn, *args)
        finally:
            await db.close()
    asyncio.run(go())


def _rows(pg_dsn: str, tmp: Path, table: Any) -> list[Any]:
    async def go() -> list[Any]:
        db = await open_database(DatabaseSettings(dsn=Secret(pg_dsn)), tmp)
        try:
            async with db.engine.connect() as conn:
                return list((await conn.execute(select(table).order_by(table.c.id))).all())
        finally:
            await db.close()
    return asyncio.run(go())


class Line:
    """Daemons with the line monitor on, against the module's PBX and network."""

    def __init__(self, pbx: AsteriskSandbox, network: PublicNetwork, pg_dsn: str,
                 tmp: Path) -> None:
        self.pbx, self.network, self.dsn, self.tmp = pbx, network, pg_dsn, tmp
        self.daemons: list[DaemonProcess] = []

    def start(self, *, serves_agi: bool = True, ari_password: str | None = None,
              **line: str) -> DaemonProcess:
        """A daemon; with ``serves_agi`` false it listens for FastAGI on a port
        the dialplan does not use (one PBX asks one /route)."""
        p = self.pbx
        env = {"HOTLINE_ARI_ENABLED": "true",
               "HOTLINE_ARI_URL": f"http://127.0.0.1:{p.ports.http}",
               "HOTLINE_ARI_USERNAME": p.ari_user,
               "HOTLINE_ARI_PASSWORD": ari_password or p.ari_password,
               "HOTLINE_LINE_ENABLED": "true", "HOTLINE_LINE_TEST_NUMBER": HOTLINE,
               "HOTLINE_LINE_TEST_CALLER": TEST_CALLER,
               **{f"HOTLINE_LINE_{k.upper()}": v for k, v in {**LINE, **line}.items()}}
        if not serves_agi:
            env["HOTLINE_AGI_PORT"] = "0"
        work = self.tmp / f"daemon-{len(self.daemons)}"
        work.mkdir()
        daemon = DaemonProcess.for_sandbox(p, self.dsn, work, env)
        daemon.start()
        self.daemons.append(daemon)
        return daemon

    def tests(self) -> list[Any]:
        return _rows(self.dsn, self.tmp, models.line_tests)

    def faults(self) -> list[Any]:
        return _rows(self.dsn, self.tmp, models.line_faults)

    def calls(self) -> list[Any]:
        return _rows(self.dsn, self.tmp, models.calls)


@pytest.fixture
def line(looped_pbx: AsteriskSandbox, network: PublicNetwork, pg_dsn: str,
         tmp_path: Path) -> Iterator[Line]:
    truncate_all(pg_dsn)
    # Open hours whatever the clock says: the monitor only tests a quiet line then.
    until = (datetime.now(UTC) + timedelta(hours=2)).isoformat()
    _store(pg_dsn, tmp_path, config_repo.save_override,
           {"mode": "open", "until": until, "note": "e2e"}, "e2e")
    network.set_fault(NetworkFault.NORMAL)
    looped_pbx.wait_idle(30)
    harness = Line(looped_pbx, network, pg_dsn, tmp_path)
    try:
        yield harness
    finally:
        for daemon in harness.daemons:
            daemon.stop()
        network.set_fault(NetworkFault.NORMAL)


def _open_fault(line: Line, cause: str | None = None) -> Callable[[], Any]:
    def found() -> Any:
        return next((f for f in line.faults() if f.ended_at is None
                     and (cause is None or f.cause == cause)), None)
    return found


def _line_up(daemon: DaemonProcess) -> float | None:
    return daemon.metrics().get("hotline_line_up")


def test_a_quiet_line_is_test_dialled_and_the_test_call_counts_nowhere(line: Line) -> None:
    daemon = line.start()
    delivered = line.network.calls_delivered
    wait_until(lambda: any(t.passed for t in line.tests()), 30,
               "a passing test call in line_tests")
    test = next(t for t in line.tests() if t.passed)
    assert test.cause is None and 0 < test.round_trip_seconds < 6
    assert line.network.calls_delivered > delivered  # it really went round the network
    # The call that arrived is on record as a test, routed `test`, offered nowhere.
    wait_until(lambda: line.calls(), 15, "the test call's record")
    calls = line.calls()
    assert calls and all(c.is_test for c in calls), calls
    assert {c.route for c in calls} == {"test"}
    assert {c.caller for c in calls} == {TEST_CALLER}
    assert not any(c.needs_callback for c in calls)
    metrics = daemon.metrics()
    assert sum(v for k, v in metrics.items() if k.startswith("hotline_calls_offered_total")) == 0
    assert sum(v for k, v in metrics.items() if k.startswith("hotline_calls_total")) == 0
    assert metrics["hotline_line_up"] == 1.0 and metrics["hotline_ari_connected"] == 1.0
    token = _token(daemon, "viewer")
    status, body = _request(daemon, "GET", "/api/v1/line", token)
    assert status == 200 and body["up"] is True and body["last_result"]["passed"] is True
    day = datetime.now(UTC).date()
    status, stats = _request(daemon, "GET", f"/api/v1/stats?from={day}&to="
                             f"{day + timedelta(days=1)}", token)
    assert status == 200 and stats["offered"] == 0 and stats["test_calls"] >= 1
    readiness = daemon.get("/readyz")[1]["components"]["line"]
    assert readiness["ok"] and "monitoring" in readiness["detail"]


@pytest.mark.parametrize(("fault", "cause"), [
    (NetworkFault.BUSY, "busy"),
    (NetworkFault.CONGESTION, "congestion"),
    (NetworkFault.LOST, "not_arrived"),
])
def test_a_broken_path_opens_a_fault_with_its_cause_and_a_passing_test_closes_it(
        line: Line, fault: NetworkFault, cause: str) -> None:
    daemon = line.start()
    wait_until(lambda: any(t.passed for t in line.tests()), 30, "a first passing test")
    broken = time.monotonic()
    line.network.set_fault(fault)
    wait_until(_open_fault(line, cause), 30, f"a {cause} fault")
    detected = time.monotonic() - broken
    assert _line_up(daemon) == 0.0
    assert daemon.metrics()[f'hotline_line_faults_total{{cause="{cause}"}}'] == 1.0
    token = _token(daemon, "viewer")
    body = _request(daemon, "GET", "/api/v1/line", token)[1]
    assert body["up"] is False and body["open_fault"]["cause"] == cause
    line.network.set_fault(NetworkFault.NORMAL)
    wait_until(lambda: not _open_fault(line)(), 30, "the fault to close")
    [closed] = [f for f in line.faults() if f.cause == cause]
    assert closed.ended_at > closed.started_at
    assert _line_up(daemon) == 1.0
    print(f"\n{cause}: fault opened {detected:.1f}s after the path broke "
          f"(test_after {LINE['test_after']}s, retest_every {LINE['retest_every']}s)")


def test_a_real_call_during_a_fault_closes_it(line: Line) -> None:
    line.network.set_fault(NetworkFault.LOST)  # every test call is lost from the start
    daemon = line.start(retest_every="60")  # no retest gets in the way
    wait_until(_open_fault(line, "not_arrived"), 30, "a not_arrived fault")
    result = place_call(CallScript(caller="13912345678", hold_after_answer=0.5),
                        line.pbx.ports.sip)
    assert result.ok, result.output[-2000:]
    wait_until(lambda: not _open_fault(line)(), 15, "the real call to close the fault")
    [fault] = line.faults()
    assert fault.ended_at is not None
    assert _line_up(daemon) == 1.0
    wait_until(lambda: [c for c in line.calls() if not c.is_test], 15, "the real call's record")
    real = [c for c in line.calls() if not c.is_test]
    assert [c.caller for c in real] == ["13912345678"]


def test_an_unreachable_carrier_opens_its_own_fault_until_qualify_passes(line: Line) -> None:
    daemon = line.start(test_after="600")  # only the trunk's state speaks here
    line.network.set_fault(NetworkFault.UNREACHABLE)
    wait_until(_open_fault(line, "carrier_unreachable"), 3 * QUALIFY + 10,
               "a carrier_unreachable fault from PJSIP's qualify")
    assert _line_up(daemon) == 0.0
    line.network.set_fault(NetworkFault.NORMAL)
    wait_until(lambda: not _open_fault(line)(), 3 * QUALIFY + 10, "qualify to close it")
    [fault] = line.faults()
    assert fault.source == "trunk" and fault.ended_at is not None


def test_post_line_test_runs_one_now_and_answers_its_result(line: Line) -> None:
    daemon = line.start(test_after="600")
    token = _token(daemon)
    status, body = _request(daemon, "POST", "/api/v1/line/test", token)
    assert status == 200, body
    assert body["passed"] is True and body["requested_by"].startswith("token:e2e-admin-")
    line.network.set_fault(NetworkFault.BUSY)
    status, body = _request(daemon, "POST", "/api/v1/line/test", token)
    assert status == 200 and body["passed"] is False and body["cause"] == "busy"


def test_two_instances_test_the_line_once_per_interval_and_one_takes_over(line: Line) -> None:
    """The first instance takes the monitor's lock; the second answers the PBX's
    /route: a test call placed by one is recognised by the other (NOTIFY) and
    its arrival seen by the placer over AMI. Then the placer is killed."""
    def holder() -> DaemonProcess | None:
        for daemon in line.daemons:
            if daemon.running:
                detail = daemon.get("/readyz")[1]["components"]["line"]["detail"]
                if detail.startswith("monitoring"):
                    return daemon
        return None

    first = line.start(serves_agi=False)
    wait_until(lambda: holder() is first, 20, "the first instance to take the lock")
    second = line.start()
    wait_until(lambda: len(line.tests()) >= 5, 60, "five test calls")
    tests = line.tests()
    spans = sorted((t.started_at, t.ended_at) for t in tests)
    overlaps = [(a, b) for a, b in itertools.pairwise(spans) if b[0] < a[1]]
    assert overlaps == [], "two test calls at once: the line was test-dialled twice"
    assert all(t.passed for t in tests), [(t.cause, t.details) for t in tests]
    assert holder() is first
    assert "standby" in second.get("/readyz")[1]["components"]["line"]["detail"]
    first.kill()  # SIGKILL: its PostgreSQL session dies with it
    killed_at = datetime.now(UTC)
    wait_until(lambda: holder() is second, 30, "the other instance to take over")
    wait_until(lambda: any(t.started_at > killed_at for t in line.tests()), 30,
               "a test call by the instance that took over")
    taken = min(t.started_at for t in line.tests() if t.started_at > killed_at)
    print(f"\ntook over: first test {(taken - killed_at).total_seconds():.1f}s after the kill")


def test_ari_with_bad_credentials_leaves_routing_alone_and_is_a_fault_of_its_own(
        line: Line) -> None:
    delivered = line.network.calls_delivered
    daemon = line.start(ari_password="wrong")
    ready = daemon.get("/readyz")
    assert ready[0] == 200, ready  # routing stays in service
    wait_until(_open_fault(line, "monitor_unavailable"), 30, "a monitor_unavailable fault")
    detail = daemon.get("/readyz")[1]["components"]["line"]["detail"]
    assert "ARI" in detail and "credentials" in detail, detail
    assert daemon.metrics()["hotline_ari_connected"] == 0.0
    assert line.network.calls_delivered == delivered  # nothing was dialled
    result = place_call(CallScript(caller="13912345679", hold_after_answer=0.5),
                        line.pbx.ports.sip)
    assert result.ok, result.output[-2000:]
    wait_until(lambda: [c for c in line.calls() if not c.is_test], 15, "the real call's record")
    [call] = line.calls()
    assert call.route == "queue" and call.outcome == "answered"
