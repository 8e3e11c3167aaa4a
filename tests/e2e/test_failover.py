"""Several daemons behind ``hagi://``: one is killed under load, no call is lost.

The sandbox PBX asks ``hagi://hotline.sandbox/route``: Asterisk looks up the
SRV records of ``_agi._tcp.hotline.sandbox`` (a dnsmasq of the sandbox's,
:mod:`hotline_pbx.sandbox.srv_dns`) and tries the two daemons in turn. Both
share one PostgreSQL with ``cluster.enabled``: both follow every call on AMI,
the holder of the node's tracking lock writes them. SIPp places 20 calls a
second for 60 s; half-way the lock holder is killed (SIGKILL: no goodbye, its
unwritten records gone with it). The other takes the lock over and writes
the calls of its takeover window; the store keeps one row per node and
Linkedid.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from hotline_pbx.domain.contract import DialplanVar
from hotline_pbx.sandbox.daemon import DaemonProcess
from hotline_pbx.sandbox.pbx import AsteriskSandbox, free_port
from hotline_pbx.sandbox.sipp import CallScript, SippResult, place_load
from hotline_pbx.sandbox.srv_dns import AGI_DOMAIN, SrvDns, SrvTarget
from tests.conftest import truncate_all
from tests.e2e.conftest import ConfigWriter
from tests.e2e.test_api_routing import ALWAYS_CLOSED
from tests.e2e.test_call_records import DAEMON_ENV, DEPUTY, SUPERVISOR, db_rows
from tests.e2e.waiting import wait_until

RATE = 20  # calls a second
SECONDS = 60
CALLS = RATE * SECONDS
KILL_AFTER = SECONDS / 2
NODE = "pbx1"


def cluster_daemon(pbx: AsteriskSandbox, dsn: str, work: Path, agi_port: int) -> DaemonProcess:
    work.mkdir()
    return DaemonProcess.for_sandbox(pbx, dsn, work, {
        **DAEMON_ENV, "HOTLINE_AGI_PORT": str(agi_port),
        "HOTLINE_CLUSTER_ENABLED": "true", "HOTLINE_CLUSTER_NODE": NODE,
        "HOTLINE_LINE_ENABLED": "false", "HOTLINE_DIALER_ENABLED": "false"})


TAKEOVER = "writes the calls now"  # CallTracking's log line when it takes the lock


def writes_the_calls(daemon: DaemonProcess) -> bool:
    return bool(messages(daemon, TAKEOVER))


def tracking_role(daemon: DaemonProcess) -> str:
    """What /readyz says of its call tracking (its AMI component's detail)."""
    _, body = daemon.get("/readyz")
    return str(body["components"]["ami"]["detail"])


def messages(daemon: DaemonProcess, fragment: str) -> list[str]:
    return [str(r.get("message", "")) for r in daemon.log_records()
            if fragment in str(r.get("message", ""))]


@pytest.fixture
def hagi_pbx(pbx_clean: AsteriskSandbox) -> Any:
    """The sandbox PBX asking the daemons by SRV (put back to agi:// after)."""
    yield pbx_clean
    pbx_clean.set_global(DialplanVar.AGI_SCHEME, "agi")
    pbx_clean.set_global(DialplanVar.AGI_HOST, f"127.0.0.1:{pbx_clean.ports.agi}")


def test_a_daemon_killed_under_load_loses_and_doubles_no_call(
        hagi_pbx: AsteriskSandbox, pg_dsn: str, tmp_path: Path, config: ConfigWriter) -> None:
    truncate_all(pg_dsn)
    pbx = hagi_pbx
    ports = (free_port(), free_port())
    first, second = (cluster_daemon(pbx, pg_dsn, tmp_path / name, port)
                     for name, port in zip(("first", "second"), ports, strict=True))
    started: list[DaemonProcess] = []
    try:
        for daemon in (first, second):
            daemon.start()
            started.append(daemon)
            config.follow(daemon)
        # Closed: every call goes to the supervisor's stand-in mobile (rings 1 s,
        # talks 2 s), which takes any number of calls at once.
        config.schedule(ALWAYS_CLOSED)
        config.roster({"supervisor": SUPERVISOR, "deputies": [DEPUTY]})
        wait_until(lambda: writes_the_calls(first), 15, "the first daemon to take the lock")
        assert not writes_the_calls(second)
        assert "standby of node pbx1" in tracking_role(second)
        assert "writing the calls of node pbx1" in tracking_role(first)

        with SrvDns([SrvTarget(port) for port in ports]) as dns:
            pbx.set_global(DialplanVar.AGI_SCHEME, "hagi")
            pbx.set_global(DialplanVar.AGI_HOST, AGI_DOMAIN)
            outcome: dict[str, SippResult] = {}
            load = threading.Thread(target=lambda: outcome.update(result=place_load(
                CallScript(caller="13912300000", hold_after_answer=30), pbx.ports.sip,
                rate=RATE, calls=CALLS)))
            load.start()
            time.sleep(KILL_AFTER)
            first.kill()
            killed_at = time.monotonic()
            wait_until(lambda: writes_the_calls(second), 15, "the second daemon to take over")
            took_over = time.monotonic() - killed_at
            assert "writing the calls of node pbx1" in tracking_role(second)
            load.join(SECONDS + 120)
            assert not load.is_alive(), "SIPp did not finish"
            assert dns.queries() >= CALLS  # every call looked the daemons up

        result = outcome["result"]
        # None hung up: every call answered (by the daemon's route or the fail-safe).
        assert (result.successful, result.failed) == (CALLS, 0), result.output[-3000:]
        pbx.wait_idle(60)

        def stored() -> int:
            return int(db_rows(pg_dsn, "SELECT count(*) FROM calls")[0][0])

        wait_until(lambda: stored() >= CALLS, 30, f"{CALLS} call rows")
        time.sleep(2)  # anything still to come would be a second row
        rows = db_rows(pg_dsn, "SELECT node, count(*), count(DISTINCT linkedid), "
                               "count(*) FILTER (WHERE period = 'failsafe'), "
                               "count(*) FILTER (WHERE answered_role = 'supervisor'), "
                               "count(*) FILTER (WHERE outcome = 'answered') "
                               "FROM calls GROUP BY node")
        assert len(rows) == 1, rows
        node, count, distinct, failsafe, by_supervisor, answered = rows[0]
        assert (node, count, distinct) == (NODE, CALLS, CALLS)  # each call stored once
        assert answered == CALLS
        # At least 99.9 % routed by a daemon; the rest (AGI sessions cut by the kill)
        # took the fail-safe route, and were still answered.
        assert failsafe <= CALLS // 1000, rows
        # The targets' names and roles reached the writer whichever daemon routed.
        assert by_supervisor >= CALLS - failsafe, rows
        takeover = messages(second, TAKEOVER)
        assert len(takeover) == 1, takeover
        print(f"\nfailover: took over in {took_over:.2f} s; {failsafe} fail-safe of {CALLS}; "
              f"{takeover[0]}")
    finally:
        for daemon in started:
            if daemon.running:
                daemon.stop()
