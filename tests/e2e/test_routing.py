"""Inbound routing through the real PBX: every path of issue 3, seen from AMI.

Who answered is read from the PBX's own AMI stream (an independent recorder,
not the daemon): ``AgentConnect`` for a queue agent, ``DialEnd`` with
``DialStatus: ANSWER`` for a mobile, the ``HOTLINE_CLOSED`` variable for the
closed announcement.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from hotline_pbx.sandbox.ami_recorder import AmiEvent, AmiRecorder
from hotline_pbx.sandbox.daemon import DaemonProcess
from hotline_pbx.sandbox.pbx import OBSERVER_USER, AsteriskSandbox
from hotline_pbx.sandbox.sipp import CallScript, place_call
from tests.e2e.conftest import ROUTING_FOLLOWS_WITHIN, ConfigWriter

# Stand-in mobiles (sandbox/extensions_site.conf): 138 R TT … rings R s, talks TT s.
ANSWERS = "13810300001"  # answers after 1 s
ANSWERS_TOO = "13810300002"
NEVER_ANSWERS = "13900000003"
BUSY = "13700000004"
NO_SIGNAL = "13600000005"

SUPERVISOR = {"id": "li.na", "name": "Li Na", "mobile": ANSWERS}
DEPUTY = {"id": "wang.wei", "name": "Wang Wei", "mobile": ANSWERS_TOO}

# Short ring timeouts keep the failover tests quick.
FAST_FAILOVER = {"HOTLINE_ROUTING_RING_TIMEOUT": "5"}


@pytest.fixture
def ami(pbx_clean: AsteriskSandbox) -> Iterator[AmiRecorder]:
    recorder = AmiRecorder(pbx_clean.ports.ami, OBSERVER_USER, pbx_clean.ami_secret)
    with recorder:
        yield recorder


def hours(n: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=n)).isoformat()


def force(config: ConfigWriter, mode: str) -> None:
    config.override({"mode": mode, "until": hours(1)})


def call(pbx: AsteriskSandbox, caller: str, hold: float = 1.0) -> None:
    result = place_call(CallScript(caller=caller, hold_after_answer=hold), pbx.ports.sip,
                        timeout=60)
    assert result.ok, result.output[-1500:]


def linkedid_of(ami: AmiRecorder, caller: str) -> str:
    event = ami.wait_for(lambda e: e.get("Event") == "Newchannel"
                         and e.get("CallerIDNum") == caller, timeout=5)
    return event["Linkedid"]


def events_of(ami: AmiRecorder, linkedid: str, name: str) -> list[AmiEvent]:
    return [e for e in ami.events(name) if e.get("Linkedid") == linkedid]


def route_vars(ami: AmiRecorder, linkedid: str) -> dict[str, str]:
    return {e["Variable"]: e["Value"] for e in events_of(ami, linkedid, "VarSet")
            if e.get("Variable", "").startswith("HOTLINE_")}


def answered_dials(ami: AmiRecorder, linkedid: str) -> list[str]:
    return [e["DestChannel"] for e in events_of(ami, linkedid, "DialEnd")
            if e.get("DialStatus") == "ANSWER"]


def dial_statuses(ami: AmiRecorder, linkedid: str) -> list[tuple[str, str]]:
    return [(e["DestChannel"].split("@")[0], e["DialStatus"])
            for e in events_of(ami, linkedid, "DialEnd")]


def test_open_hours_call_is_answered_by_a_queue_agent(
    pbx_clean: AsteriskSandbox, ami: AmiRecorder, config: ConfigWriter, daemon: DaemonProcess
) -> None:
    force(config, "open")
    call(pbx_clean, "13900000101")
    linkedid = linkedid_of(ami, "13900000101")
    variables = route_vars(ami, linkedid)
    assert variables["HOTLINE_ROUTE"] == "queue"
    assert variables["HOTLINE_PERIOD"] == "override"
    assert variables["HOTLINE_CALL_ID"] == linkedid
    agents = [e["MemberName"] for e in events_of(ami, linkedid, "AgentConnect")]
    assert agents == ["Agent One"]


def test_after_hours_failover_paths(
    pbx_clean: AsteriskSandbox, ami: AmiRecorder, config: ConfigWriter, daemon_factory: Any
) -> None:
    """(b) supervisor answers, (c) supervisor absent → deputy, (d) supervisor does not
    answer → deputy, (e) every target fails → the closed path. One daemon, one roster
    change before each call."""
    daemon_factory(FAST_FAILOVER)
    force(config, "closed")

    # (b) the supervisor's mobile answers.
    config.roster({"supervisor": SUPERVISOR, "deputies": [DEPUTY]})
    call(pbx_clean, "13900000201")
    linkedid = linkedid_of(ami, "13900000201")
    assert route_vars(ami, linkedid)["HOTLINE_ROUTE"] == "forward"
    assert route_vars(ami, linkedid)["HOTLINE_TARGET_COUNT"] == "2"
    assert [d.split("@")[0] for d in answered_dials(ami, linkedid)] == [f"Local/{ANSWERS}"]

    # (c) the supervisor is on leave: the first deputy answers.
    config.roster({"supervisor": SUPERVISOR, "deputies": [DEPUTY], "absences": [
        {"person_id": "li.na", "from": hours(-1), "to": hours(8), "reason": "leave"}]})
    call(pbx_clean, "13900000202")
    linkedid = linkedid_of(ami, "13900000202")
    assert route_vars(ami, linkedid)["HOTLINE_TARGET_COUNT"] == "1"
    assert [d.split("@")[0] for d in answered_dials(ami, linkedid)] == [f"Local/{ANSWERS_TOO}"]

    # (d) the supervisor's mobile rings out: the deputy answers.
    config.roster({"supervisor": {**SUPERVISOR, "mobile": NEVER_ANSWERS}, "deputies": [DEPUTY]})
    call(pbx_clean, "13900000203")
    linkedid = linkedid_of(ami, "13900000203")
    assert dial_statuses(ami, linkedid) == [(f"Local/{NEVER_ANSWERS}", "NOANSWER"),
                                            (f"Local/{ANSWERS_TOO}", "ANSWER")]

    # (e) busy, no signal, no answer: the closed announcement, flagged for a callback.
    config.roster({"supervisor": {**SUPERVISOR, "mobile": BUSY}, "deputies": [
        {**DEPUTY, "mobile": NO_SIGNAL},
        {"id": "zhao.min", "name": "Zhao Min", "mobile": NEVER_ANSWERS}]})
    call(pbx_clean, "13900000204")
    linkedid = linkedid_of(ami, "13900000204")
    statuses = dial_statuses(ami, linkedid)
    assert [s for _, s in statuses] == ["BUSY", "CONGESTION", "NOANSWER"]
    assert route_vars(ami, linkedid).get("HOTLINE_CLOSED") == "1"


def test_nobody_on_the_roster_takes_the_closed_path(
    pbx_clean: AsteriskSandbox, ami: AmiRecorder, config: ConfigWriter, daemon: DaemonProcess
) -> None:
    force(config, "closed")
    call(pbx_clean, "13900000301")
    linkedid = linkedid_of(ami, "13900000301")
    variables = route_vars(ami, linkedid)
    assert (variables["HOTLINE_ROUTE"], variables["HOTLINE_TARGET_COUNT"]) == ("closed", "0")
    assert variables.get("HOTLINE_CLOSED") == "1"
    assert events_of(ami, linkedid, "DialBegin") == []


def test_daemon_down_call_still_reaches_a_person(
    pbx_clean: AsteriskSandbox, ami: AmiRecorder, daemon: DaemonProcess
) -> None:
    """(f) With the daemon stopped the dialplan's fail-safe route takes over: the
    queue inside the coarse business-hours window, the fail-safe mobile outside it."""
    assert daemon.stop() == 0
    call(pbx_clean, "13900000401")
    linkedid = linkedid_of(ami, "13900000401")
    assert route_vars(ami, linkedid).get("HOTLINE_PERIOD") == "failsafe"
    agent = events_of(ami, linkedid, "AgentConnect")
    mobile = answered_dials(ami, linkedid)
    assert agent or mobile, "nobody answered the fail-safe call"


def test_schedule_change_reaches_routing_within_a_second(
    pbx_clean: AsteriskSandbox, ami: AmiRecorder, config: ConfigWriter, daemon: DaemonProcess
) -> None:
    """(g) A schedule written to the database (with NOTIFY) is applied within a
    second and decides the next call, without a restart."""
    always = [{"day": d, "start": "00:00", "end": "24:00"}
              for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]
    config.roster({"supervisor": SUPERVISOR})
    config.schedule({"timezone": "Asia/Shanghai", "weekly": always},
                    within=ROUTING_FOLLOWS_WITHIN)
    call(pbx_clean, "13900000501")
    first = route_vars(ami, linkedid_of(ami, "13900000501"))
    config.schedule({"timezone": "Asia/Shanghai", "weekly": []}, within=ROUTING_FOLLOWS_WITHIN)
    call(pbx_clean, "13900000502")
    second = route_vars(ami, linkedid_of(ami, "13900000502"))
    assert (first["HOTLINE_PERIOD"], first["HOTLINE_ROUTE"]) == ("open", "queue")
    assert (second["HOTLINE_PERIOD"], second["HOTLINE_ROUTE"]) == ("closed", "forward")


def test_concurrent_calls_each_get_their_own_route(
    pbx_clean: AsteriskSandbox, ami: AmiRecorder, config: ConfigWriter, daemon: DaemonProcess
) -> None:
    force(config, "open")
    callers = [f"1390000060{i}" for i in range(5)]
    with ThreadPoolExecutor(len(callers)) as pool:
        list(pool.map(lambda c: call(pbx_clean, c, hold=0.5), callers))
    ids = {route_vars(ami, linkedid_of(ami, c))["HOTLINE_CALL_ID"] for c in callers}
    assert len(ids) == len(callers)
