"""The admin REST API driving the real PBX: real daemon, real Asterisk, SIPp calls.

One daemon and one sequence, so the schedule changes happen between real
calls: a schedule PUT makes the next call route by the new schedule; a
rejected PUT (and a viewer's PUT) leaves routing exactly as it was; a viewer
sees the recorded calls and the roster with numbers masked. The routing
decision of each call is read from the PBX's own AMI stream (the
``HOTLINE_PERIOD``/``HOTLINE_ROUTE`` variables the dialplan received).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from hotline_pbx.sandbox.ami_recorder import AmiRecorder
from hotline_pbx.sandbox.daemon import DaemonProcess
from hotline_pbx.sandbox.pbx import OBSERVER_USER, AsteriskSandbox
from hotline_pbx.sandbox.sipp import CallScript, place_call
from tests.e2e.conftest import ROUTING_FOLLOWS_WITHIN
from tests.e2e.waiting import wait_until
from tests.integration.test_schemathesis import cli

MOBILE = "13810300001"  # sandbox stand-in: rings 1 s, then answers
ROSTER = {"supervisor": {"id": "li.na", "name": "Li Na", "mobile": MOBILE}}
ALWAYS_CLOSED: dict[str, Any] = {"timezone": "Asia/Shanghai", "weekly": []}
ALWAYS_OPEN = {"timezone": "Asia/Shanghai", "weekly": [
    {"day": day, "start": "00:00", "end": "24:00"}
    for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]}
# Statutory holidays would close an "always open" schedule on a public holiday.
NO_STATUTORY = {"HOTLINE_ROUTING_USE_STATUTORY_CALENDAR": "false"}


@pytest.fixture
def ami(pbx_clean: AsteriskSandbox) -> Iterator[AmiRecorder]:
    recorder = AmiRecorder(pbx_clean.ports.ami, OBSERVER_USER, pbx_clean.ami_secret)
    with recorder:
        yield recorder


def api(daemon: DaemonProcess, method: str, path: str, token: str,
        body: Any = None) -> tuple[int, Any]:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(daemon.url + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def token(daemon: DaemonProcess, name: str, role: str) -> str:
    made = cli(daemon.env, "token", "create", "--name", name, "--role", role)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def route_of(pbx: AsteriskSandbox, ami: AmiRecorder, caller: str) -> tuple[str, str]:
    """Place a real call; (HOTLINE_PERIOD, HOTLINE_ROUTE) as the dialplan got them."""
    result = place_call(CallScript(caller=caller, hold_after_answer=0.5), pbx.ports.sip,
                        timeout=60)
    assert result.ok, result.output[-1500:]
    linkedid = ami.wait_for(lambda e: e.get("Event") == "Newchannel"
                            and e.get("CallerIDNum") == caller, timeout=5)["Linkedid"]
    variables = {e["Variable"]: e["Value"] for e in ami.events("VarSet")
                 if e.get("Linkedid") == linkedid
                 and e.get("Variable") in ("HOTLINE_PERIOD", "HOTLINE_ROUTE")}
    return variables["HOTLINE_PERIOD"], variables["HOTLINE_ROUTE"]


def put_and_follow(daemon: DaemonProcess, path: str, token: str, body: Any) -> None:
    """PUT a routing document; return once the daemon's routing follows it, which
    the contract says takes at most a second."""
    reloads = daemon.config_reloads()
    assert api(daemon, "PUT", path, token, body)[0] == 200
    wait_until(lambda: daemon.config_reloads() > reloads, ROUTING_FOLLOWS_WITHIN,
               f"routing to follow the PUT {path} within a second")


def test_api_changes_route_real_calls_and_viewers_see_masked_numbers(
        pbx_clean: AsteriskSandbox, ami: AmiRecorder, daemon_factory: Any) -> None:
    daemon: DaemonProcess = daemon_factory(NO_STATUTORY)
    admin = token(daemon, "e2e-admin", "admin")
    viewer = token(daemon, "e2e-viewer", "viewer")
    put_and_follow(daemon, "/api/v1/roster", admin, ROSTER)

    # A schedule that is never open: the call goes to the supervisor's mobile.
    put_and_follow(daemon, "/api/v1/schedule", admin, ALWAYS_CLOSED)
    assert route_of(pbx_clean, ami, "13900000601") == ("closed", "forward")

    # PUT a schedule that is always open: the next call goes to the queue.
    put_and_follow(daemon, "/api/v1/schedule", admin, ALWAYS_OPEN)
    assert route_of(pbx_clean, ami, "13900000602") == ("open", "queue")

    # A rejected PUT (25:00) and a viewer's PUT change nothing: still open.
    reloads = daemon.config_reloads()
    status, problem = api(daemon, "PUT", "/api/v1/schedule", admin, {
        "weekly": [{"day": "mon", "start": "09:00", "end": "25:00"}]})
    assert (status, problem["field"]) == (422, "weekly[0].end")
    status, problem = api(daemon, "PUT", "/api/v1/schedule", viewer, ALWAYS_CLOSED)
    assert status == 403
    assert api(daemon, "GET", "/api/v1/schedule", viewer) == (200, {
        **ALWAYS_OPEN, "workday_periods": None})
    # Nothing to wait for: give a wrongly applied change the second the contract
    # allows, then check that none was (no reload) and that routing did not move.
    time.sleep(ROUTING_FOLLOWS_WITHIN)
    assert daemon.config_reloads() == reloads
    assert route_of(pbx_clean, ami, "13900000603") == ("open", "queue")

    # The viewer reads the roster and the tracked calls with numbers masked.
    status, roster = api(daemon, "GET", "/api/v1/roster", viewer)
    assert status == 200 and roster["supervisor"]["mobile"] == "*******0001"

    def three_calls() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = api(daemon, "GET", "/api/v1/calls", admin)[1]["items"]
        return items if len(items) >= 3 else []

    calls = wait_until(three_calls, 15, "the three calls in the register")
    assert {c["caller"] for c in calls} >= {"13900000601", "13900000602", "13900000603"}
    masked = api(daemon, "GET", "/api/v1/calls", viewer)[1]["items"]
    assert {c["caller"] for c in masked} >= {"*******0601", "*******0602", "*******0603"}
    assert "13900000601" not in json.dumps(masked)
    periods = {c["caller"]: c["period"] for c in calls}
    assert periods["13900000601"] == "closed" and periods["13900000603"] == "open"

    # Every change and every read above is in the audit log, by token name.
    entries = api(daemon, "GET", "/api/v1/audit?limit=100", admin)[1]["items"]
    actions = [(e["actor"], e["action"]) for e in reversed(entries)]
    assert actions[:2] == [("cli", "token.create")] * 2
    assert actions[2:5] == [("token:e2e-admin", "roster.update"),
                           ("token:e2e-admin", "schedule.update"),
                           ("token:e2e-admin", "schedule.update")]
    assert ("token:e2e-viewer", "calls.list") in actions
