"""The path every later feature stands on: SIP INVITE → dialplan → FastAGI
/route → the daemon's answer → the call reaches a person → AMI events at the daemon."""

from __future__ import annotations

from typing import Any

import pytest

from hotline_pbx.sandbox.daemon import DaemonProcess
from hotline_pbx.sandbox.pbx import AsteriskSandbox
from hotline_pbx.sandbox.sipp import CallScript, place_call
from tests.e2e.waiting import wait_until


# uvloop is the default (daemon.event_loop); every other e2e test runs on it.
@pytest.mark.parametrize("event_loop", ["uvloop", "asyncio"])
def test_sip_call_goes_through_route_and_ami_reaches_daemon(
    pbx_clean: AsteriskSandbox, daemon_factory: Any, event_loop: str
) -> None:
    daemon: DaemonProcess = daemon_factory({"HOTLINE_DAEMON_EVENT_LOOP": event_loop}
                                           if event_loop == "asyncio" else None)
    running = f"hotline-pbx running (event loop: {event_loop})"
    wait_until(lambda: any(running in r.get("message", "") for r in daemon.log_records()),
               10, f"the daemon to log {running!r}")
    before = daemon.metrics()
    assert before["hotline_ami_connected"] == 1.0

    result = place_call(CallScript(hold_after_answer=1.0), pbx_clean.ports.sip, timeout=30)
    assert result.ok, result.output[-2000:]

    def route_counted() -> bool:
        return daemon.metrics().get('hotline_agi_requests_total{result="ok",script="route"}',
                                    0.0) == 1.0

    def calls_counted() -> float:
        return sum(v for k, v in daemon.metrics().items() if k.startswith("hotline_calls_total"))

    wait_until(route_counted, 10, "the /route session to be counted as ok")
    # AMI delivered the call's events (Newchannel … Hangup) to the daemon: it ended there.
    wait_until(lambda: calls_counted() == 1, 10, "the call to be tracked to its end")
    after = daemon.metrics()
    # The closed path's channel: Newchannel, HOTLINE_PERIOD, HOTLINE_CLOSED, the hang-up
    # requests and the Hangup (the VarSets of /route's own decision are filtered out).
    assert after["hotline_ami_events_total"] - before["hotline_ami_events_total"] >= 5
    # The dialplan took the daemon's route, not the fail-safe one.
    log = pbx_clean.log_path.read_text(errors="replace")
    assert "fail-safe" not in log


def test_readyz_reports_each_component(daemon: DaemonProcess) -> None:
    status, body = daemon.get("/readyz")
    assert status == 200
    assert set(body["components"]) == {"database", "routing", "ami", "agi", "line",
                                       "long_calls", "dialer"}
    assert all(component["ok"] for component in body["components"].values())
    status, body = daemon.get("/healthz")
    assert (status, body) == (200, {"status": "ok"})


def test_sigterm_drains_and_exits_cleanly(daemon: DaemonProcess) -> None:
    assert daemon.stop() == 0
    records = daemon.log_records()
    assert any("stopped in" in r.get("message", "") for r in records)
