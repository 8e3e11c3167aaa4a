"""The normaliser on hostile input: it never raises, counts what it refuses, and the
calls around a bad event keep their records."""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hotline_pbx.ami.normalise import PARSERS, Normaliser, snapshot_from
from hotline_pbx.domain.call_events import Hangup, HangupRequest, NewChannel, VarSet
from hotline_pbx.domain.call_tracker import CallTracker
from tests.unit.tracker.replay import Collector, fixture_names, load

KNOWN_KEYS = sorted({key for name in fixture_names() for event in load(name) for key in event})
TEXT = st.text(max_size=40) | st.sampled_from(["", "<unknown>", "none", "-1", "1e309", "nan",
                                              "1795748321.37", "16", "\x00", "ANSWER"])
EVENT_NAMES = st.sampled_from([*PARSERS, "Unknown", "", "Newstate", "RTCPSent"])


def raw_events() -> st.SearchStrategy[dict[str, Any]]:
    return st.builds(
        lambda name, fields: {"Event": name, **fields},
        EVENT_NAMES,
        st.dictionaries(st.sampled_from(KNOWN_KEYS) | st.text(max_size=10), TEXT, max_size=12),
    )


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(raw_events())
def test_never_raises_and_accounts_for_every_event(raw: dict[str, Any]) -> None:
    normalise = Normaliser()
    event = normalise(raw)
    assert normalise.passed + normalise.ignored + normalise.malformed == 1
    if event is not None:
        assert dataclasses.is_dataclass(event)
        # Whatever passes is safe for the tracker.
        CallTracker().feed(event)


@given(st.one_of(st.none(), st.integers(), st.text(), st.lists(st.text()),
                 st.dictionaries(st.integers(), st.integers())))
def test_not_even_a_dict_raises(raw: Any) -> None:
    normalise = Normaliser()
    assert normalise(raw) is None
    assert normalise.malformed + normalise.ignored == 1


def test_a_known_event_without_its_ids_is_malformed_and_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    normalise = Normaliser()
    with caplog.at_level(logging.WARNING):
        assert normalise({"Event": "Hangup", "Timestamp": "1.5", "Channel": "PJSIP/x"}) is None
        assert normalise({"Event": "Hangup", "Timestamp": "1.5", "Uniqueid": "1"}) is None
    assert normalise.malformed == 2
    assert "malformed AMI event Hangup skipped (no Uniqueid)" in caplog.text
    assert len(caplog.records) == 1  # rate-limited: one message, with the count


def test_timestamp_falls_back_to_arrival_time_only_when_given() -> None:
    raw = {"Event": "Hangup", "Uniqueid": "1.1", "Linkedid": "1.1", "Cause": "16"}
    assert Normaliser()(raw) is None
    event = Normaliser()(raw, received_at=42.0)
    assert event == Hangup(42.0, "1.1", "1.1", "", 16)
    garbled = {**raw, "Timestamp": "yesterday"}
    assert Normaliser()(garbled, received_at=7.0) == Hangup(7.0, "1.1", "1.1", "", 16)


def test_fields_are_typed() -> None:
    n = Normaliser()
    assert n({"Event": "Newchannel", "Timestamp": "10.25", "Uniqueid": "1.0",
              "Linkedid": "1.0", "Channel": "PJSIP/carrier-1", "Context": "hotline-inbound",
              "Exten": "4008001234", "CallerIDNum": "<unknown>", "CallerIDName": "Li"}) == \
        NewChannel(10.25, "1.0", "1.0", "PJSIP/carrier-1", "hotline-inbound", "4008001234",
                   "", "Li")
    assert n({"Event": "SoftHangupRequest", "Timestamp": "1", "Uniqueid": "2",
              "Linkedid": "1", "Cause": "x16"}) == HangupRequest(1.0, "2", "1", "", None, True)
    # Only HOTLINE_* variables of a channel; a global variable is no call's business.
    assert n({"Event": "VarSet", "Timestamp": "1", "Uniqueid": "1", "Linkedid": "1",
              "Variable": "HOTLINE_PERIOD", "Value": "open"}) == \
        VarSet(1.0, "1", "1", "", "HOTLINE_PERIOD", "open")
    assert n({"Event": "VarSet", "Timestamp": "1", "Channel": "none",
              "Variable": "HOTLINE_AGI_HOST", "Value": "x"}) is None
    assert n({"Event": "VarSet", "Timestamp": "1", "Uniqueid": "1", "Linkedid": "1",
              "Variable": "DIALSTATUS", "Value": "ANSWER"}) is None


def test_channel_snapshot_durations() -> None:
    raw = {"Uniqueid": "1.0", "Linkedid": "1.0", "Channel": "PJSIP/carrier-1",
           "ChannelState": "6", "BridgeId": "b1", "Duration": "01:02:03"}
    snap = snapshot_from(raw, 100.0, {"HOTLINE_PERIOD": "open"})
    assert (snap.duration, snap.up, snap.bridged) == (3723.0, True, True)
    assert snap.variables == (("HOTLINE_PERIOD", "open"),)


# -- the calls around garbage -------------------------------------------------------------


def merged_stream() -> list[dict[str, str]]:
    """Every capture at once, interleaved by time as one busy PBX would send them."""
    events = [e for name in fixture_names() for e in load(name)]
    offsets: dict[str, float] = {}
    shifted = []
    for name in fixture_names():
        capture = load(name)
        offsets[name] = float(capture[0]["Timestamp"])
        for event in capture:
            moved = dict(event)
            moved["Timestamp"] = f"{float(event['Timestamp']) - offsets[name] + 1000:.6f}"
            shifted.append(moved)
    assert len(shifted) == len(events)
    return sorted(shifted, key=lambda e: float(e["Timestamp"]))


MERGED = merged_stream()


def records_of(stream: list[Any], damaged: str | None = None) -> dict[str, str]:
    collector = Collector()
    tracker = CallTracker(observer=collector)
    normalise = Normaliser()
    for raw in stream:
        event = normalise(raw)
        if event is not None:
            tracker.feed(event)
    # Only a call whose own Hangup was cut may stay open (the sweep closes it later).
    assert set(tracker.calls) <= {damaged}
    keys = [r.call_key for r in collector.records]
    assert len(keys) == len(set(keys)), "a call recorded twice"
    return {r.call_key: json.dumps(r.to_dict(), sort_keys=True) for r in collector.records}


CLEAN = records_of(MERGED)


def test_the_merged_stream_gives_one_record_per_call() -> None:
    assert len(CLEAN) == len(fixture_names())


JUNK = st.one_of(
    raw_events(),
    st.none(), st.text(max_size=20), st.integers(),
    st.builds(lambda: {"Event": "Hangup"}),
    st.builds(lambda: {"Event": "DialEnd", "Uniqueid": "1.0"}),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, len(MERGED)), JUNK), max_size=25),
       st.integers(0, len(MERGED) - 1), st.integers(0, 30))
def test_garbage_and_a_truncated_event_cost_no_other_call_its_record(
        junk: list[tuple[int, Any]], cut_at: int, keep_fields: int) -> None:
    stream: list[Any] = list(MERGED)
    # One event truncated on the wire: its first keep_fields fields survive.
    victim = stream[cut_at]
    stream[cut_at] = dict(list(victim.items())[:keep_fields])
    for position, item in sorted(junk, key=lambda j: j[0], reverse=True):
        stream.insert(position, item)
    damaged = victim.get("Linkedid") or victim.get("LocalOneLinkedid") \
        or victim.get("TransfereeLinkedid")
    records = records_of(stream, damaged)
    for key, clean in CLEAN.items():
        if key == damaged:
            continue  # the call whose own event was cut may lose or change its record
        assert records.get(key) == clean, f"call {key} changed by garbage around it"


@pytest.mark.parametrize("name", ["DialBegin", "DialState", "DialEnd"])
def test_an_originated_dial_is_ignored_not_malformed(name: str,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    """An originate (the dialer's calls, the line monitor's tests) has no calling
    channel: Asterisk reports its dial with the destination's fields only. One
    warning per outbound call would bury the real ones."""
    normalise = Normaliser()
    with caplog.at_level(logging.WARNING):
        assert normalise({"Event": name, "Timestamp": "1.5", "DestUniqueid": "9.1",
                          "DestChannel": "PJSIP/general-trunk-00000001",
                          "DialStatus": "ANSWER"}) is None
    assert (normalise.ignored, normalise.malformed) == (1, 0)
    assert caplog.text == ""
    # With neither id it is still malformed.
    assert normalise({"Event": name, "Timestamp": "1.5"}) is None
    assert normalise.malformed == 1


def test_an_agent_complete_without_the_callers_channel_finds_its_call() -> None:
    """Asterisk drops the caller's fields from AgentComplete once that channel is
    gone (asterisk/asterisk#393's log); the member's DestLinkedid is the call's."""
    from hotline_pbx.domain.call_events import AgentComplete

    raw = {"Event": "AgentComplete", "DestChannel": "PJSIP/agent1-00000027",
           "DestUniqueid": "1698408952.124", "DestLinkedid": "1698408952.123",
           "Queue": "hotline", "MemberName": "Agent One", "Interface": "PJSIP/agent1",
           "HoldTime": "3", "TalkTime": "11", "Reason": "caller", "Timestamp": "1698408963.5"}
    normalise = Normaliser()
    event = normalise(raw)
    assert isinstance(event, AgentComplete) and normalise.malformed == 0
    assert (event.linkedid, event.uniqueid, event.dest_uniqueid, event.reason,
            event.talk_time) == ("1698408952.123", "", "1698408952.124", "caller", 11.0)
    tracker = CallTracker()
    tracker.feed(NewChannel(1698408952.0, "1698408952.123", "1698408952.123",
                            "PJSIP/carrier-1", "hotline-inbound", "4008001234", "138", ""))
    tracker.feed(event)
    assert tracker.calls["1698408952.123"].complete_reason == "caller"
    without_either = {k: v for k, v in raw.items() if k != "DestLinkedid"}
    assert normalise(without_either) is None and normalise.malformed == 1  # still refused
