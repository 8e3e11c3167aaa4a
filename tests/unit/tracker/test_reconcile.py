"""AMI gaps and daemon restarts: calls in progress are neither lost nor counted twice.

After a (re)connect, ``hotline_pbx.ami.reconcile`` puts a marker, the
``QueueStatus`` entries and the ``CoreShowChannels`` list into the event stream;
these tests feed the tracker the same shapes around real captures.
"""

from __future__ import annotations

from typing import Any

import pytest

from hotline_pbx.ami.normalise import VARIABLE_PREFIX, Normaliser
from hotline_pbx.domain.call_events import RECONNECTED
from hotline_pbx.domain.call_record import HangupSide
from hotline_pbx.domain.call_tracker import CallTracker
from hotline_pbx.domain.contract import Outcome, Period
from tests.unit.tracker.replay import Collector, load, replay


def feed(tracker: CallTracker, events: list[dict[str, Any]]) -> None:
    normalise = Normaliser()
    for raw in events:
        event = normalise(raw)
        assert event is not None or raw.get("Event") not in (RECONNECTED, "CoreShowChannel")
        if event is not None:
            tracker.feed(event)


def index_of(events: list[dict[str, str]], name: str, nth: int = 0) -> int:
    return [i for i, e in enumerate(events) if e["Event"] == name][nth]


def snapshot(ts: float, channels: list[dict[str, str]],
             queued: list[dict[str, str]] = ()) -> list[dict[str, str]]:  # type: ignore[assignment]
    stamp = f"{ts:.6f}"
    return ([{"Event": RECONNECTED, "Timestamp": stamp}]
            + [{**q, "Event": "QueueEntry", "Timestamp": stamp} for q in queued]
            + [{**c, "Event": "CoreShowChannel", "Timestamp": stamp} for c in channels]
            + [{"Event": "CoreShowChannelsComplete", "Timestamp": stamp}])


def root_line(events: list[dict[str, str]], *, duration: str, state: str = "6",
              bridge: str = "b-1", **variables: str) -> dict[str, str]:
    first = events[0]
    return {"Channel": first["Channel"], "Uniqueid": first["Uniqueid"],
            "Linkedid": first["Linkedid"], "Context": "hotline-route-queue", "Exten": "s",
            "CallerIDNum": first["CallerIDNum"], "CallerIDName": "Caller",
            "ChannelState": state, "Application": "Queue", "BridgeId": bridge,
            "Duration": duration,
            **{f"{VARIABLE_PREFIX}{k}": v for k, v in variables.items()}}


def partner_line(events: list[dict[str, str]], *, duration: str,
                 bridge: str = "b-1") -> dict[str, str]:
    """The answering person's leg (the first channel after the root), in the root's bridge."""
    first = events[0]
    leg = next(e for e in events if e["Event"] == "Newchannel"
               and e["Uniqueid"] != first["Uniqueid"])
    return {"Channel": leg["Channel"], "Uniqueid": leg["Uniqueid"],
            "Linkedid": first["Linkedid"], "Context": leg["Context"], "Exten": leg["Exten"],
            "ChannelState": "6", "Application": "AppQueue", "BridgeId": bridge,
            "Duration": duration}


def seconds(text: str) -> str:
    whole = int(float(text))
    return f"{whole // 3600:02d}:{whole // 60 % 60:02d}:{whole % 60:02d}"


ANSWERED = load("queue/answered_after_ringing")
FULL = replay(ANSWERED, with_routes=False)[1].records[0]


def test_a_gap_during_the_call_changes_nothing() -> None:
    collector = Collector()
    tracker = CallTracker(observer=collector)
    cut = index_of(ANSWERED, "BridgeEnter", 1) + 1
    now = float(ANSWERED[cut]["Timestamp"])
    feed(tracker, ANSWERED[:cut])
    feed(tracker, snapshot(now, [root_line(ANSWERED, duration="00:00:02")]))
    feed(tracker, ANSWERED[cut:])
    assert collector.records == [FULL]
    assert collector.offered == ["override"]


def test_a_call_that_ended_in_the_gap_is_closed_when_we_lost_sight_of_it() -> None:
    collector = Collector()
    tracker = CallTracker(observer=collector)
    cut = index_of(ANSWERED, "BridgeEnter", 1) + 1
    feed(tracker, ANSWERED[:cut])
    last_seen = float(ANSWERED[cut - 1]["Timestamp"])
    feed(tracker, snapshot(last_seen + 30, []))  # Asterisk no longer has it
    (record,) = collector.records
    assert record.outcome is Outcome.ANSWERED
    assert record.ended_at.timestamp() == last_seen
    assert record.hangup_side is None
    assert record.details["ended_during_ami_gap"] is True
    # Its late events (a replayed buffer, say) cannot open it again.
    feed(tracker, ANSWERED[cut:])
    assert len(collector.records) == 1 and tracker.active == 0


def test_a_restarted_daemon_adopts_a_call_in_progress_once() -> None:
    collector = Collector()
    tracker = CallTracker(observer=collector)
    cut = index_of(ANSWERED, "BridgeEnter", 1) + 1
    now = float(ANSWERED[cut]["Timestamp"])
    line = root_line(ANSWERED, duration="00:00:02", HOTLINE_PERIOD="open",
                     HOTLINE_ROUTE="queue", HOTLINE_DNID="4008001234")
    agent = partner_line(ANSWERED, duration="00:00:02")
    feed(tracker, snapshot(now, [line, agent]))
    feed(tracker, snapshot(now + 1, [line, agent]))  # a second reconnect: still one call
    assert tracker.active == 1
    feed(tracker, ANSWERED[cut:])
    (record,) = collector.records
    assert (record.period, record.route, record.outcome) == (Period.OPEN, "queue",
                                                             Outcome.ANSWERED)
    assert record.started_at.timestamp() == now - 2
    assert record.details["joined"] == "reconcile"
    # Bridged to the agent's leg, which began 2 s before: answered at the earliest then.
    assert record.details["answer_time"] == "approximate"
    assert record.answered_at is not None and record.answered_at.timestamp() == now - 2
    assert (record.answered_by, record.answered_role) == ("Local/agent1@hotline-agents",
                                                          "agent")
    assert record.hangup_side is HangupSide.CALLEE  # AgentComplete says the agent hung up
    assert collector.offered == ["open"]


def test_a_caller_waiting_in_the_queue_keeps_the_queue_wait() -> None:
    events = load("queue/abandoned_while_queued")
    collector = Collector()
    tracker = CallTracker(observer=collector)
    cut = index_of(events, "DialState") + 1
    now = float(events[0]["Timestamp"]) + 1.0  # one second into the call
    line = root_line(events, duration="00:00:01", state="4", bridge="",
                     HOTLINE_PERIOD="open", HOTLINE_ROUTE="queue")
    queued = {"Queue": "hotline", "Uniqueid": events[0]["Uniqueid"], "Wait": "1"}
    feed(tracker, snapshot(now, [line], [queued]))
    feed(tracker, events[cut:])
    (record,) = collector.records
    assert record.outcome is Outcome.ABANDONED
    assert record.details["queue"] == "hotline"
    assert record.answered_at is None


def test_channels_of_other_traffic_are_not_adopted() -> None:
    tracker = CallTracker()
    line = {"Channel": "PJSIP/1001-1", "Uniqueid": "9.9", "Linkedid": "9.9",
            "Context": "internal-outbound", "ChannelState": "6", "Duration": "00:01:00"}
    feed(tracker, snapshot(100.0, [line]))
    assert tracker.active == 0


def test_a_route_decision_before_the_events_is_applied_when_the_call_appears() -> None:
    from hotline_pbx.domain.call_tracker import RouteInfo, RouteTarget

    events = load("forward/supervisor_answers")
    call_id = events[0]["Uniqueid"]
    collector = Collector()
    tracker = CallTracker(observer=collector)
    target = next(e["Value"] for e in events if e.get("Variable") == "HOTLINE_TARGET_1")
    tracker.route_decided(RouteInfo(call_id, "closed", "forward", float(events[0]["Timestamp"]),
                                    (RouteTarget("supervisor", "li.na", "Li Na", target),)))
    feed(tracker, events)
    (record,) = collector.records
    assert (record.answered_by, record.answered_role) == ("Li Na", "supervisor")
    # /route said closed; the PBX's variable said override (it was recorded under an
    # override): the later word wins, and the call is offered exactly once.
    assert record.period is Period.OVERRIDE
    assert collector.offered == ["closed"]


def test_the_sweep_closes_unconfirmed_calls_soon_and_long_calls_only_after_half_a_day() -> None:
    collector = Collector()
    tracker = CallTracker(observer=collector)
    cut = index_of(ANSWERED, "BridgeEnter", 1) + 1
    feed(tracker, ANSWERED[:cut])
    last = float(ANSWERED[cut - 1]["Timestamp"])
    tracker.sweep(last + 3 * 3600)  # a three-hour call is still a call
    assert tracker.active == 1
    feed(tracker, [{"Event": RECONNECTED, "Timestamp": f"{last + 5:.6f}"}])  # no snapshot follows
    tracker.sweep(last + 5 + 60)
    assert tracker.active == 1
    tracker.sweep(last + 5 + 601)
    (record,) = collector.records
    assert record.details["lost_track"] is True and record.ended_at.timestamp() == last
    assert tracker.lost_calls == 1


# -- issue #9 item 6: answered while the daemon's AMI link was down ------------------------

CONNECT = index_of(ANSWERED, "AgentConnect")
TALKING = index_of(ANSWERED, "BridgeEnter", 1) + 1  # both sides bridged, nobody hung up


def through_gap(tracker: CallTracker, events: list[dict[str, str]], cut: int, restore: int,
                lines: list[dict[str, str]]) -> None:
    """Events ``[cut, restore)`` never reach the daemon; then the reconcile, then the rest."""
    feed(tracker, events[:cut])
    feed(tracker, snapshot(float(events[restore]["Timestamp"]), lines))
    feed(tracker, events[restore:])


def queue_gap_lines(*, answered_mark: str | None) -> list[dict[str, str]]:
    """CoreShowChannels when the link is back: the caller bridged to agent1's Local leg."""
    restore = float(ANSWERED[TALKING]["Timestamp"])
    variables = {"HOTLINE_PERIOD": "override", "HOTLINE_ROUTE": "queue",
                 "MEMBERNAME": "Agent One"}
    if answered_mark is not None:
        variables["HOTLINE_ANSWERED_AT"] = answered_mark
    root = root_line(ANSWERED, duration=seconds(f"{restore - float(ANSWERED[0]['Timestamp'])}"),
                     **variables)
    agent_started = float(ANSWERED[index_of(ANSWERED, "Newchannel", 1)]["Timestamp"])
    agent = partner_line(ANSWERED, duration=seconds(f"{restore - agent_started}"))
    return [root, agent]


@pytest.mark.parametrize("cut", range(index_of(ANSWERED, "VarSet", 4), CONNECT + 1))
def test_a_known_call_answered_during_the_gap_is_answered_at_the_dialplan_time(cut: int) -> None:
    """Cut anywhere from routed through queued and ringing to the answer itself; the
    link comes back while caller and agent talk. The record is the uncut one's."""
    collector = Collector()
    tracker = CallTracker(observer=collector)
    mark = ANSWERED[CONNECT]["Timestamp"]  # what the dialplan's subroutine wrote
    through_gap(tracker, ANSWERED, cut, TALKING, queue_gap_lines(answered_mark=mark))
    (record,) = collector.records
    assert (record.outcome, record.answered_by, record.answered_role, record.hangup_side) == \
        (FULL.outcome, FULL.answered_by, FULL.answered_role, FULL.hangup_side)
    assert (record.answered_at, record.wait_seconds, record.talk_seconds) == \
        (FULL.answered_at, FULL.wait_seconds, FULL.talk_seconds)
    assert not record.needs_callback
    assert record.details["answer_time"] == "dialplan"


def test_without_the_dialplan_time_the_answer_is_the_earliest_the_evidence_allows() -> None:
    collector = Collector()
    tracker = CallTracker(observer=collector)
    cut = index_of(ANSWERED, "DialState") + 1  # the agent is ringing
    lines = queue_gap_lines(answered_mark=None)
    through_gap(tracker, ANSWERED, cut, TALKING, lines)
    (record,) = collector.records
    assert (record.outcome, record.answered_by, record.answered_role) == (
        Outcome.ANSWERED, "Agent One", "agent")
    assert record.details["answer_time"] == "approximate"
    lost_at = float(ANSWERED[cut - 1]["Timestamp"])
    restore = float(ANSWERED[TALKING]["Timestamp"])
    assert record.answered_at is not None
    assert lost_at <= record.answered_at.timestamp() < restore
    assert record.talk_seconds is not None and record.talk_seconds > FULL.talk_seconds


def test_when_no_snapshot_comes_agent_complete_still_proves_the_answer() -> None:
    """The reconcile failed (Asterisk too slow to answer it): the queue's AgentComplete
    at the end says the agent talked TalkTime seconds."""
    collector = Collector()
    tracker = CallTracker(observer=collector)
    cut = index_of(ANSWERED, "DialState") + 1
    feed(tracker, ANSWERED[:cut])
    feed(tracker, [{"Event": RECONNECTED, "Timestamp": ANSWERED[TALKING]["Timestamp"]}])
    feed(tracker, ANSWERED[TALKING:])
    (record,) = collector.records
    assert (record.outcome, record.answered_by, record.answered_role) == (
        Outcome.ANSWERED, "Agent One", "agent")
    assert record.details["answer_time"] == "approximate"
    assert record.talk_seconds == pytest.approx(2.0, abs=0.01)  # AgentComplete TalkTime: 2


FORWARD = load("forward/supervisor_answers")


def forward_tracker(collector: Collector) -> CallTracker:
    from hotline_pbx.domain.call_tracker import RouteInfo, RouteTarget

    tracker = CallTracker(observer=collector)
    targets = {e["Variable"]: e["Value"] for e in FORWARD
               if e.get("Variable", "").startswith("HOTLINE_TARGET_")}
    tracker.route_decided(RouteInfo(
        FORWARD[0]["Uniqueid"], "override", "forward", float(FORWARD[4]["Timestamp"]),
        (RouteTarget("supervisor", "li.na", "Li Na", targets["HOTLINE_TARGET_1"]),
         RouteTarget("deputy", "wang.wei", "Wang Wei", targets["HOTLINE_TARGET_2"]))))
    return tracker


def forward_lines(restore: int, *, attempt: int, mobile_channel: str,
                  mark: str) -> list[dict[str, str]]:
    ts = float(FORWARD[restore]["Timestamp"])
    root = {**root_line(FORWARD, duration=seconds(f"{ts - float(FORWARD[0]['Timestamp'])}"),
                        HOTLINE_PERIOD="override", HOTLINE_ROUTE="forward",
                        HOTLINE_TRY=str(attempt), HOTLINE_ANSWERED_AT=mark),
            "Context": "hotline-route-forward", "Application": "Dial"}
    mobile = {"Channel": mobile_channel, "Uniqueid": "9.1", "Linkedid": FORWARD[0]["Linkedid"],
              "Context": "sandbox-mobiles", "ChannelState": "6", "Application": "AppDial",
              "BridgeId": "b-1", "Duration": "00:00:01"}
    return [root, mobile]


def test_a_mobile_answering_during_the_gap_is_answered_by_that_person() -> None:
    collector = Collector()
    tracker = forward_tracker(collector)
    ringing = index_of(FORWARD, "DialState") + 1
    talking = index_of(FORWARD, "BridgeEnter", 1) + 1
    answer = index_of(FORWARD, "DialEnd")
    lines = forward_lines(talking, attempt=1, mark=FORWARD[answer]["Timestamp"],
                          mobile_channel="Local/13820200000@sandbox-mobiles-00000006;1")
    through_gap(tracker, FORWARD, ringing, talking, lines)
    (record,) = collector.records
    assert (record.outcome, record.answered_by, record.answered_role) == (
        Outcome.ANSWERED, "Li Na", "supervisor")
    assert record.answered_at is not None
    assert record.answered_at.timestamp() == float(FORWARD[answer]["Timestamp"])
    assert record.details["answer_time"] == "dialplan"


def test_a_failover_during_the_gap_names_the_deputy_who_answered() -> None:
    """The supervisor's mobile rang out and the deputy answered, all while AMI was away:
    HOTLINE_TRY read from the root says which target it was."""
    collector = Collector()
    tracker = forward_tracker(collector)
    ringing = index_of(FORWARD, "DialState") + 1
    talking = index_of(FORWARD, "BridgeEnter", 1) + 1
    lines = forward_lines(talking, attempt=2, mark=FORWARD[talking - 1]["Timestamp"],
                          mobile_channel="Local/13910000000@sandbox-mobiles-0000000a;1")
    through_gap(tracker, FORWARD, ringing, talking, lines)
    (record,) = collector.records
    assert (record.outcome, record.answered_by, record.answered_role) == (
        Outcome.ANSWERED, "Wang Wei", "deputy")


def test_a_caller_alone_in_a_bridge_is_not_answered() -> None:
    """A bridge with no other channel of the call is no person (a holding bridge)."""
    collector = Collector()
    tracker = CallTracker(observer=collector)
    cut = index_of(ANSWERED, "DialState") + 1
    root, _agent = queue_gap_lines(answered_mark=None)
    stranger = {**_agent, "Linkedid": "7.7", "Uniqueid": "7.8"}  # another call's channel
    feed(tracker, ANSWERED[:cut])
    feed(tracker, snapshot(float(ANSWERED[TALKING]["Timestamp"]), [root, stranger]))
    assert tracker.calls[ANSWERED[0]["Linkedid"]].answered_at is None


def test_a_closed_message_that_started_during_the_gap_makes_the_call_missed() -> None:
    """The queue timed out while AMI was away; the caller hangs up during the closed
    message: missed (nobody could take it), not abandoned."""
    events = load("queue/timeout_to_closed_message")
    collector = Collector()
    tracker = CallTracker(observer=collector)
    cut = index_of(events, "DialState") + 1
    feed(tracker, events[:cut])
    now = float(events[cut]["Timestamp"]) + 12
    line = root_line(events, duration="00:00:12", bridge="", HOTLINE_PERIOD="open",
                     HOTLINE_ROUTE="queue", HOTLINE_CLOSED="1")
    feed(tracker, snapshot(now, [line]))
    root = {k: events[0][k] for k in ("Channel", "Uniqueid", "Linkedid")}
    feed(tracker, [{**root, "Event": "HangupRequest", "Timestamp": f"{now + 1:.6f}"},
                   {**root, "Event": "Hangup", "Cause": "16", "Timestamp": f"{now + 1:.6f}"}])
    (record,) = collector.records
    assert record.outcome is Outcome.MISSED
    assert record.needs_callback and record.details["closed_message"] is True
