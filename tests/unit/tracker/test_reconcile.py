"""AMI gaps and daemon restarts: calls in progress are neither lost nor counted twice.

After a (re)connect, ``hotline_pbx.ami.reconcile`` puts a marker, the
``QueueStatus`` entries and the ``CoreShowChannels`` list into the event stream;
these tests feed the tracker the same shapes around real captures.
"""

from __future__ import annotations

from typing import Any

from hotline_pbx.ami.normalise import RECONNECTED, VARIABLE_PREFIX, Normaliser
from hotline_pbx.domain.call_record import CallPeriod, HangupSide, Outcome
from hotline_pbx.domain.call_tracker import CallTracker
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
    feed(tracker, snapshot(now, [line]))
    feed(tracker, snapshot(now + 1, [line]))  # a second reconnect: still one call
    assert tracker.active == 1
    feed(tracker, ANSWERED[cut:])
    (record,) = collector.records
    assert (record.period, record.route, record.outcome) == (CallPeriod.OPEN, "queue",
                                                             Outcome.ANSWERED)
    assert record.started_at.timestamp() == now - 2
    assert record.details["joined"] == "reconcile"
    assert record.details["answer_time_unknown"] is True
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
    assert record.period is CallPeriod.OVERRIDE
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
