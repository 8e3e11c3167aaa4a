"""Joining mid-stream never crashes (cacofonisk's test_partial idea): every capture
is replayed with its first N events cut off, for every N."""

from __future__ import annotations

import pytest

from hotline_pbx.domain.contract import DialplanVar, Outcome
from tests.unit.tracker.replay import fixture_names, load, replay
from tests.unit.tracker.shipped_filter import admits


@pytest.mark.parametrize("name", fixture_names())
def test_every_cut_replays_without_a_crash(name: str) -> None:
    events = load(name)
    full = replay(events)[1].records
    (call_key,) = {r.call_key for r in full}
    for n in range(len(events) + 1):
        tracker, collector, _ = replay(events[n:])
        assert tracker.active == 0, f"cut {n}: a call stays open"
        assert len(collector.records) <= 1, f"cut {n}: more records than calls"
        for record in collector.records:
            assert record.call_key == call_key
            assert record.wait_seconds >= 0
            assert record.ended_at >= record.started_at
            if record.outcome is Outcome.ANSWERED:
                assert record.talk_seconds is not None and record.talk_seconds >= 0


@pytest.mark.parametrize("filtered", [False, True], ids=["all events", "shipped filter"])
@pytest.mark.parametrize("name", fixture_names())
def test_a_cut_before_routing_ends_loses_nothing(name: str, filtered: bool) -> None:
    # Joined after the Newchannel but before /route's variables: the routing
    # variables still open the call (through the shipped filter: HOTLINE_PERIOD,
    # the decision heard in-process), and its outcome is the full replay's.
    events = load(name)
    full = replay(events)[1].records
    first_route = next((i for i, e in enumerate(events)
                        if e.get("Variable") == "HOTLINE_CALL_ID"), None)
    if first_route is None:
        pytest.skip("no /route in this capture")
    _, collector, _ = replay(events[first_route:], admit=admits if filtered else None)
    assert [r.outcome for r in collector.records] == [r.outcome for r in full]
    assert [r.route for r in collector.records] == [r.route for r in full]
    assert collector.records[0].details["joined"] == "routing"


def test_a_test_call_joined_late_is_never_offered() -> None:
    """A line-monitor test call whose Newchannel was lost, its decision heard only
    after its variables: HOTLINE_TEST_CALL (set before HOTLINE_PERIOD) opens it."""
    events = load("forward/supervisor_answers")
    at = next(i for i, e in enumerate(events) if e.get("Variable") == "HOTLINE_CALL_ID")
    mark = {**events[at], "Variable": DialplanVar.TEST_CALL, "Value": "1"}
    stream = [*events[at:at + 1], mark, *events[at + 1:]]
    _, collector, _ = replay(stream, with_routes=False, admit=admits)
    (record,) = collector.records
    assert record.is_test
    assert collector.offered == []
