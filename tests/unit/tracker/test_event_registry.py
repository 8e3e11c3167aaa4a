"""One registry of the AMI events the tracker reads (``call_events.AMI_EVENTS``): the
normaliser accepts exactly its names, the tracker has a step for each of its types,
and the shipped manager.conf lets every one of them through."""

from __future__ import annotations

import re
import typing

import pytest

from hotline_pbx.ami.normalise import PARSERS, Normaliser
from hotline_pbx.domain.call_events import AMI_EVENTS, RECONNECTED, HangupRequest
from hotline_pbx.domain.call_tracker import CallTracker
from hotline_pbx.domain.contract import (
    DECIDED_VARIABLES,
    TRACKED_TARGET_PATTERN,
    TRACKED_VARIABLES,
    is_tracked_variable,
)
from tests.unit.tracker.shipped_filter import event_filters

# Every field any of the tracker's events needs, so each name gives its typed event.
FULL_EVENT = {
    "Timestamp": "1795748462.5", "Uniqueid": "1.2", "Linkedid": "1.1",
    "Channel": "PJSIP/carrier-00000001", "DialStatus": "ANSWER", "BridgeUniqueid": "b-1",
    "LocalOneLinkedid": "1.1", "LocalOneUniqueid": "1.3", "LocalTwoUniqueid": "1.4",
    "TransfereeLinkedid": "1.1", "TransfereeUniqueid": "1.1", "Result": "Success",
    "Variable": "HOTLINE_PERIOD", "Value": "open", "Queue": "hotline", "Wait": "3",
    "Duration": "00:00:05", "Cause": "16",
}


def test_the_normaliser_accepts_exactly_the_registry() -> None:
    assert set(PARSERS) == set(AMI_EVENTS)
    normalise = Normaliser()
    assert normalise({**FULL_EVENT, "Event": "Newstate"}) is None
    assert normalise.ignored == 1


@pytest.mark.parametrize("name", sorted(AMI_EVENTS))
def test_each_name_becomes_its_registered_type(name: str) -> None:
    kind = AMI_EVENTS[name]
    event = Normaliser()({**FULL_EVENT, "Event": name})
    assert type(event) is kind.type
    if isinstance(event, HangupRequest):
        assert event.soft is kind.soft
    else:
        assert not kind.soft, "soft is a HangupRequest's property only"


@pytest.mark.parametrize("name", sorted(AMI_EVENTS))
def test_the_tracker_step_of_each_name_takes_its_type(name: str) -> None:
    kind = AMI_EVENTS[name]
    step = getattr(CallTracker, f"_{kind.handler}")
    hints = typing.get_type_hints(step)
    (parameter,) = (k for k in hints if k != "return")
    assert hints[parameter] is kind.type


def test_one_step_per_type() -> None:
    steps: dict[type, set[str]] = {}
    for kind in AMI_EVENTS.values():
        steps.setdefault(kind.type, set()).add(kind.handler)
    assert all(len(handlers) == 1 for handlers in steps.values()), steps


def test_every_registered_event_reaches_the_tracker() -> None:
    """Fed through the normaliser, each name runs its step (an orphan for no call)."""
    tracker = CallTracker()
    normalise = Normaliser()
    for name in sorted(AMI_EVENTS):
        event = normalise({**FULL_EVENT, "Event": name})
        assert event is not None
        tracker.feed(event)
    assert tracker.last_event_at == float(FULL_EVENT["Timestamp"])


# -- manager.conf ----------------------------------------------------------------------------

def test_manager_conf_admits_every_event_the_registry_needs() -> None:
    filters = event_filters()
    included = {f["name"] for f in filters if f.get("action") == "include" and "name" in f}
    excluded = {f["name"] for f in filters if f.get("action") == "exclude" and "name" in f}
    # The reconnect marker is the daemon's own; everything else comes from Asterisk.
    needed = set(AMI_EVENTS) - {RECONNECTED}
    assert included, "no include filters parsed from manager.conf"
    assert needed <= included, f"filtered out at the source: {sorted(needed - included)}"
    assert not needed & excluded


def test_the_variables_manager_conf_lets_through_are_those_the_tracker_reads() -> None:
    varsets = [f for f in event_filters() if f.get("name") == "VarSet"]
    assert all(f["header"] == "Variable" and f["method"] == "exact" for f in varsets)
    assert {f["value"] for f in varsets} == TRACKED_VARIABLES
    assert len(varsets) == len(TRACKED_VARIABLES)  # nothing else lets a VarSet in
    assert not TRACKED_VARIABLES & DECIDED_VARIABLES


def test_the_normaliser_reads_the_tracked_and_the_decided_variables_only() -> None:
    normalise = Normaliser()
    for name in (*TRACKED_VARIABLES, *DECIDED_VARIABLES, "HOTLINE_TARGET_1",
                 "HOTLINE_TARGET_12"):
        assert normalise({**FULL_EVENT, "Event": "VarSet", "Variable": name}) is not None
        assert is_tracked_variable(name)
    assert re.search(TRACKED_TARGET_PATTERN, "HOTLINE_TARGET_12")
    for name in ("DIALSTATUS", "HOTLINE_TARGET_COUNT", "HOTLINE_TARGET_TIMEOUT_1",
                 "HOTLINE_TARGET", "HOTLINE_QUEUE_NAME", "HOTLINE_TARGET_1x"):
        assert normalise({**FULL_EVENT, "Event": "VarSet", "Variable": name}) is None
        assert not is_tracked_variable(name)
        assert re.search(TRACKED_TARGET_PATTERN, name) is None
