"""A complaint's way through the PBX (issue 13, "E2E"): a real SIPp call answered
by a stand-in agent -> a complaint from that call -> assigned, verified, resolved
-> the dialer places the automated satisfaction visit over ARI to the customer
(a stand-in of the sandbox's public network: ``186 D…`` answers and presses D,
here 4) -> the score is on the complaint and in the monthly statistics.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from hotline_pbx.sandbox.daemon import DaemonProcess
from hotline_pbx.sandbox.sipp import CallScript, place_call
from hotline_pbx.store import models
from tests.e2e.api_client import admin_token, request
from tests.e2e.test_dialer import Harness, _open_hours, _rows, harness
from tests.e2e.waiting import wait_until

__all__ = ["harness"]

SHANGHAI = ZoneInfo("Asia/Shanghai")
TRANSITIONS = ({"to": "assigned", "department": "engineering"},
               {"to": "verified", "found_true": True,
                "verification": "the repair visit was two days late"},
               {"to": "resolved", "solution": "apologised, repair done, fee waived"})


def _register_through_the_api(daemon: DaemonProcess, token: str, call_id: int,
                              phone: str) -> int:
    status, complaint = request(daemon, "POST", f"/api/v1/calls/{call_id}/complaint", token, {
        "customer_name": "张三", "content": "the repair came two days late",
        "severity": "general", "category": "complaint", "department": "customer_service",
        "phone": phone})
    assert status == 201, complaint
    for body in TRANSITIONS:
        status, answer = request(daemon, "POST",
                                 f"/api/v1/complaints/{complaint['id']}/transitions", token,
                                 body)
        assert status == 200, (body, answer)
    return int(complaint["id"])




def _complaint(harness: Harness, complaint_id: int) -> Any:
    c = models.complaints
    [row] = _rows(harness.dsn, harness.tmp, select(c).where(c.c.id == complaint_id))
    return row


def test_a_resolved_complaint_from_a_real_call_is_visited_by_the_dialer(
        harness: Harness) -> None:
    _open_hours(harness)  # forced open: the call is answered, the visit placed now
    daemon = harness.start(RING_TIMEOUT="10")
    token = admin_token(daemon, "supervisor")
    phone = f"1864{int(time.time()) % 1000:03d}4444"  # the stand-in presses 4
    answered = place_call(CallScript(caller=phone, hold_after_answer=2),
                          harness.pbx.ports.sip, timeout=40)
    assert answered.ok, answered.output[-800:]
    k = models.calls

    def the_call() -> list[Any]:
        return _rows(harness.dsn, harness.tmp, select(k.c.id, k.c.outcome, k.c.answered_role)
                     .where(k.c.caller == phone))

    wait_until(the_call, 20, "the call's record")
    [(call_id, outcome, role)] = the_call()
    assert (outcome, role) == ("answered", "agent")
    status, note = request(daemon, "POST", f"/api/v1/calls/{call_id}/notes", token,
                           {"body": "customer complains: late repair", "purpose": "complaint"})
    assert status == 201 and note["purpose"] == "complaint", note
    complaint_id = _register_through_the_api(daemon, token, call_id, phone)
    status, complaint = request(daemon, "GET", f"/api/v1/complaints/{complaint_id}", token)
    assert (status, complaint["state"], complaint["visit_state"]) == (200, "resolved", "queued")
    wait_until(lambda: _complaint(harness, complaint_id).visit_state != "queued", 40,
               "the dialer's visit of the customer")
    row = _complaint(harness, complaint_id)
    assert (row.visit_state, row.visit_by, row.visit_score, row.visit_scale,
            row.visit_attempts) == ("done", "dialer", 4, 5, 1), row
    visits = [a for a in harness.attempts() if a.phone == phone]
    assert [(a.result, a.dtmf) for a in visits] == [("scored", "4")]
    assert harness.network_calls().get(phone) == 1
    # a person cannot overwrite it
    status, problem = request(daemon, "POST", f"/api/v1/complaints/{complaint_id}/visit",
                              token, {"score": 1})
    assert status == 409, problem
    month = datetime.now(SHANGHAI).strftime("%Y-%m")
    status, pack = request(daemon, "GET", f"/api/v1/reports/monthly?month={month}", token)
    assert status == 200, pack
    assert (pack["visits"]["count"], pack["visits"]["by_dialer"]) == (1, 1)
    [scale] = pack["visits"]["per_scale"]
    assert (scale["scale"], scale["count"], scale["mean"]) == (5, 1, 4.0)
    assert scale["distribution"]["4"] == 1
    purposes = {p["purpose"]: p for p in pack["purposes"]}
    assert purposes["complaint"]["calls"] == 1
    assert pack["complaints"]["received"] == 1 and pack["complaints"]["resolved"] == 1
    assert not harness.blocked()
