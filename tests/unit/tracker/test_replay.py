"""The call tracker on AMI captures of the real sandbox (Asterisk 22, PJSIP, SIPp).

Each capture in ``fixtures/<family>/<scenario>.json`` was recorded by
``record_fixtures.py`` with the shipped manager.conf event filter and
``timestampevents = yes``. The expected records are exact: every field, times
as seconds after the capture's first event (hand-checked against the event
timelines; re-recording changes them, so update both together).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pytest

from hotline_pbx.domain.contract import DECIDED_VARIABLES, TRACKED_TARGET_PATTERN, Outcome, Period
from tests.unit.tracker.replay import fixture_names, load, replay, summary
from tests.unit.tracker.shipped_filter import admits, event_filters

EXPECTED: dict[str, list[dict[str, Any]]] = {
    "agi/caller_hangs_up_during_agi": [
        {'call_key': '1795748462.43',
         'linkedid': '1795748462.43',
         'uniqueid': '1795748462.43',
         'caller': '13900000031',
         'caller_name': 'Caller',
         'dnid': '4008001234',
         'started_at': 0.114,
         'routed_at': None,
         'answered_at': None,
         'ended_at': 2.321,
         'period': 'unrouted',
         'route': None,
         'outcome': 'short_abandoned',
         'wait_seconds': 2.002,
         'talk_seconds': None,
         'answered_by': None,
         'answered_role': None,
         'failover_attempts': 0,
         'hangup_side': 'caller',
         'hangup_cause': 127,
         'is_test': False,
         'needs_callback': False,
         'details': {}},
    ],
    "agi/daemon_down_failsafe": [
        {'call_key': '1795748467.44',
         'linkedid': '1795748467.44',
         'uniqueid': '1795748467.44',
         'caller': '13900000032',
         'caller_name': 'Caller',
         'dnid': '4008001234',
         'started_at': 0.106,
         'routed_at': 0.107,
         'answered_at': 1.11,
         'ended_at': 4.616,
         'period': 'failsafe',
         'route': 'failsafe',
         'outcome': 'answered',
         'wait_seconds': 1.003,
         'talk_seconds': 3.506,
         'answered_by': 'Agent One',
         'answered_role': 'agent',
         'failover_attempts': 0,
         'hangup_side': 'callee',
         'hangup_cause': 16,
         'is_test': False,
         'needs_callback': False,
         'details': {'queue': 'hotline', 'queued_after': 0.108}},
    ],
    "early_media/answered_after_183_only": [
        {'call_key': '1795748446.33',
         'linkedid': '1795748446.33',
         'uniqueid': '1795748446.33',
         'caller': '13900000021',
         'caller_name': 'Caller',
         'dnid': '4008001234',
         'started_at': 0.0,
         'routed_at': 0.002,
         'answered_at': 2.014,
         'ended_at': 5.025,
         'period': 'override',
         'route': 'forward',
         'outcome': 'answered',
         'wait_seconds': 2.012,
         'talk_seconds': 3.011,
         'answered_by': 'Li Na',
         'answered_role': 'supervisor',
         'failover_attempts': 0,
         'hangup_side': 'caller',
         'hangup_cause': 16,
         'is_test': False,
         'needs_callback': False,
         'details': {'attempts': [{'target': 'Local/13510000000@sandbox-mobiles',
                                   'status': 'ANSWER',
                                   'early_media': True}]}},
    ],
    "forward/abandoned_while_ringing": [
        {'call_key': '1795748437.30',
         'linkedid': '1795748437.30',
         'uniqueid': '1795748437.30',
         'caller': '13900000014',
         'caller_name': 'Caller',
         'dnid': '4008001234',
         'started_at': 0.0,
         'routed_at': 0.002,
         'answered_at': None,
         'ended_at': 3.009,
         'period': 'override',
         'route': 'forward',
         'outcome': 'short_abandoned',
         'wait_seconds': 3.006,
         'talk_seconds': None,
         'answered_by': None,
         'answered_role': None,
         'failover_attempts': 0,
         'hangup_side': 'caller',
         'hangup_cause': 127,
         'is_test': False,
         'needs_callback': False,
         'details': {'attempts': [{'target': 'Local/13910000000@sandbox-mobiles',
                                   'status': 'CANCEL'}]}},
    ],
    "forward/all_targets_failed": [
        {'call_key': '1795748426.25',
         'linkedid': '1795748426.25',
         'uniqueid': '1795748426.25',
         'caller': '13900000013',
         'caller_name': 'Caller',
         'dnid': '4008001234',
         'started_at': 0.0,
         'routed_at': 0.001,
         'answered_at': None,
         'ended_at': 6.449,
         'period': 'override',
         'route': 'forward',
         'outcome': 'missed',
         'wait_seconds': 0.003,
         'talk_seconds': None,
         'answered_by': None,
         'answered_role': None,
         'failover_attempts': 2,
         'hangup_side': 'system',
         'hangup_cause': 16,
         'is_test': False,
         'needs_callback': True,
         'details': {'attempts': [{'target': 'Local/13710000000@sandbox-mobiles',
                                   'status': 'BUSY'},
                                  {'target': 'Local/13610000000@sandbox-mobiles',
                                   'status': 'CONGESTION'}],
                     'closed_message': True}},
    ],
    "forward/failover_to_deputy": [
        {'call_key': '1795748413.20',
         'linkedid': '1795748413.20',
         'uniqueid': '1795748413.20',
         'caller': '13900000012',
         'caller_name': 'Caller',
         'dnid': '4008001234',
         'started_at': 0.0,
         'routed_at': 0.002,
         'answered_at': 6.008,
         'ended_at': 8.512,
         'period': 'override',
         'route': 'forward',
         'outcome': 'answered',
         'wait_seconds': 6.005,
         'talk_seconds': 2.504,
         'answered_by': 'Wang Wei',
         'answered_role': 'deputy',
         'failover_attempts': 1,
         'hangup_side': 'callee',
         'hangup_cause': 16,
         'is_test': False,
         'needs_callback': False,
         'details': {'attempts': [{'target': 'Local/13910000000@sandbox-mobiles',
                                   'status': 'NOANSWER'},
                                  {'target': 'Local/13810200000@sandbox-mobiles',
                                   'status': 'ANSWER'}]}},
    ],
    "forward/supervisor_answers": [
        {'call_key': '1795748404.17',
         'linkedid': '1795748404.17',
         'uniqueid': '1795748404.17',
         'caller': '13900000011',
         'caller_name': 'Caller',
         'dnid': '4008001234',
         'started_at': 0.0,
         'routed_at': 0.002,
         'answered_at': 2.005,
         'ended_at': 4.508,
         'period': 'override',
         'route': 'forward',
         'outcome': 'answered',
         'wait_seconds': 2.003,
         'talk_seconds': 2.503,
         'answered_by': 'Li Na',
         'answered_role': 'supervisor',
         'failover_attempts': 0,
         'hangup_side': 'callee',
         'hangup_cause': 16,
         'is_test': False,
         'needs_callback': False,
         'details': {'attempts': [{'target': 'Local/13820200000@sandbox-mobiles',
                                   'status': 'ANSWER'}]}},
    ],
    "queue/abandoned_while_queued": [
        {'call_key': '1795748359.3',
         'linkedid': '1795748359.3',
         'uniqueid': '1795748359.3',
         'caller': '13900000002',
         'caller_name': 'Caller',
         'dnid': '4008001234',
         'started_at': 0.0,
         'routed_at': 0.001,
         'answered_at': None,
         'ended_at': 8.005,
         'period': 'override',
         'route': 'queue',
         'outcome': 'abandoned',
         'wait_seconds': 8.002,
         'talk_seconds': None,
         'answered_by': None,
         'answered_role': None,
         'failover_attempts': 0,
         'hangup_side': 'caller',
         'hangup_cause': 127,
         'is_test': False,
         'needs_callback': True,
         'details': {'left_queue_unanswered': True, 'queue': 'hotline', 'queued_after': 0.002}},
    ],
    "queue/answered_after_ringing": [
        {'call_key': '1795748351.0',
         'linkedid': '1795748351.0',
         'uniqueid': '1795748351.0',
         'caller': '13900000001',
         'caller_name': 'Caller',
         'dnid': '4008001234',
         'started_at': 0.0,
         'routed_at': 0.002,
         'answered_at': 2.004,
         'ended_at': 4.507,
         'period': 'override',
         'route': 'queue',
         'outcome': 'answered',
         'wait_seconds': 2.002,
         'talk_seconds': 2.503,
         'answered_by': 'Agent One',
         'answered_role': 'agent',
         'failover_attempts': 0,
         'hangup_side': 'callee',
         'hangup_cause': 16,
         'is_test': False,
         'needs_callback': False,
         'details': {'queue': 'hotline', 'queued_after': 0.003}},
    ],
    "queue/short_abandon": [
        {'call_key': '1795748371.6',
         'linkedid': '1795748371.6',
         'uniqueid': '1795748371.6',
         'caller': '13900000003',
         'caller_name': 'Caller',
         'dnid': '4008001234',
         'started_at': 0.0,
         'routed_at': 0.002,
         'answered_at': None,
         'ended_at': 2.007,
         'period': 'override',
         'route': 'queue',
         'outcome': 'short_abandoned',
         'wait_seconds': 2.004,
         'talk_seconds': None,
         'answered_by': None,
         'answered_role': None,
         'failover_attempts': 0,
         'hangup_side': 'caller',
         'hangup_cause': 127,
         'is_test': False,
         'needs_callback': False,
         'details': {'left_queue_unanswered': True, 'queue': 'hotline', 'queued_after': 0.003}},
    ],
    "queue/timeout_to_closed_message": [
        {'call_key': '1795748377.9',
         'linkedid': '1795748377.9',
         'uniqueid': '1795748377.9',
         'caller': '13900000004',
         'caller_name': 'Caller',
         'dnid': '4008001234',
         'started_at': 0.0,
         'routed_at': 0.002,
         'answered_at': None,
         'ended_at': 11.016,
         'period': 'override',
         'route': 'queue',
         'outcome': 'missed',
         'wait_seconds': 10.014,
         'talk_seconds': None,
         'answered_by': None,
         'answered_role': None,
         'failover_attempts': 0,
         'hangup_side': 'caller',
         'hangup_cause': 0,
         'is_test': False,
         'needs_callback': True,
         'details': {'left_queue_unanswered': True,
                     'queue': 'hotline',
                     'agent_no_answer': 1,
                     'closed_message': True,
                     'queued_after': 0.003}},
    ],
    "sip_errors/busy_486_before_ringing": [
        {'call_key': '1795748456.37',
         'linkedid': '1795748456.37',
         'uniqueid': '1795748456.37',
         'caller': '13900000022',
         'caller_name': 'Caller',
         'dnid': '4008001234',
         'started_at': 0.0,
         'routed_at': 0.002,
         'answered_at': 1.01,
         'ended_at': 3.514,
         'period': 'override',
         'route': 'forward',
         'outcome': 'answered',
         'wait_seconds': 1.008,
         'talk_seconds': 2.505,
         'answered_by': 'Wang Wei',
         'answered_role': 'deputy',
         'failover_attempts': 1,
         'hangup_side': 'callee',
         'hangup_cause': 16,
         'is_test': False,
         'needs_callback': False,
         'details': {'attempts': [{'target': 'Local/13510000000@sandbox-mobiles',
                                   'status': 'BUSY'},
                                  {'target': 'Local/13810200000@sandbox-mobiles',
                                   'status': 'ANSWER'}]}},
    ],
    "transfer/agent_blind_transfers_to_mobile": [
        {'call_key': '1795748391.12',
         'linkedid': '1795748391.12',
         'uniqueid': '1795748391.12',
         'caller': '13900000005',
         'caller_name': 'Caller',
         'dnid': '4008001234',
         'started_at': 0.0,
         'routed_at': 0.001,
         'answered_at': 1.004,
         'ended_at': 7.513,
         'period': 'override',
         'route': 'queue',
         'outcome': 'answered',
         'wait_seconds': 1.003,
         'talk_seconds': 6.509,
         'answered_by': 'Agent One',
         'answered_role': 'agent',
         'failover_attempts': 0,
         'hangup_side': 'callee',
         'hangup_cause': 16,
         'is_test': False,
         'needs_callback': False,
         'details': {'dialled_after_answer': ['13810300000@sandbox-mobiles'],
                     'transfer_answered': True,
                     'queue': 'hotline',
                     'transfers': ['13810300000@sandbox-transfer'],
                     'queued_after': 0.002}},
    ],
}


def test_every_capture_has_expectations() -> None:
    assert sorted(EXPECTED) == fixture_names()


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_capture_gives_exactly_the_expected_records(name: str) -> None:
    events = load(name)
    tracker, collector, normalise = replay(events)
    t0 = float(events[0]["Timestamp"])
    assert [summary(r, t0) for r in collector.records] == EXPECTED[name]
    assert tracker.active == 0, "a call is still open after its hang-up"
    assert normalise.malformed <= 2  # only the two global VarSets of the agi captures


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_offered_once_per_routed_call(name: str) -> None:
    _, collector, _ = replay(load(name))
    routed = [r.period.value for r in collector.records if r.period is not Period.UNROUTED]
    assert collector.offered == routed


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_through_the_shipped_filter_the_records_are_the_same(name: str) -> None:
    """The shipped manager.conf keeps the VarSets of /route's own decision out of the
    stream: with the decision heard in-process, every record is the same."""
    events = load(name)
    _, collector, normalise = replay(events, admit=admits)
    t0 = float(events[0]["Timestamp"])
    assert [summary(r, t0) for r in collector.records] == EXPECTED[name]
    decided = [e for e in events if e.get("Event") == "VarSet" and (
        e.get("Variable") in DECIDED_VARIABLES
        or re.search(TRACKED_TARGET_PATTERN, e.get("Variable", "")))]
    assert decided, "the capture has the decision's VarSets"
    assert not any(admits(e) for e in decided)
    _, _, unfiltered = replay(events)
    assert normalise.passed == unfiltered.passed - len(decided)  # only those are gone


def test_the_shipped_filter_has_no_exclude_rule() -> None:
    # admits() reads the include rules only.
    assert all(rule.get("action") == "include" for rule in event_filters())


@pytest.mark.parametrize("after", ["DialBegin", "DialEnd"])
@pytest.mark.parametrize("name", ["forward/failover_to_deputy", "forward/supervisor_answers"])
def test_a_decision_heard_late_still_names_who_answered(name: str, after: str) -> None:
    """/route's decision reaches the tracker when its last reply is read; under load the
    AMI events of the Dial that followed may be read first, in the same turn. In a
    cluster it comes by NOTIFY, maybe after the answer (the last DialEnd)."""

    def the_moment(raw: Mapping[str, Any]) -> bool:
        return raw.get("Event") == after and (
            after == "DialBegin" or raw.get("DialStatus") == "ANSWER")

    _, collector, _ = replay(load(name), admit=admits, decided_after=the_moment)
    (record,) = collector.records
    (expected,) = EXPECTED[name]
    assert record.answered_by == expected["answered_by"]
    assert record.answered_role == expected["answered_role"]
    assert record.details["attempts"] == expected["details"]["attempts"]
    assert record.route == expected["route"]


def test_without_route_observer_mobiles_are_named_by_their_dial_target() -> None:
    # Calls routed by an earlier daemon instance: only AMI is left to tell who answered.
    _, collector, _ = replay(load("forward/failover_to_deputy"), with_routes=False)
    (record,) = collector.records
    assert record.outcome is Outcome.ANSWERED
    assert record.answered_by == "Local/13810200000@sandbox-mobiles"
    assert record.answered_role is None
    assert record.failover_attempts == 1


def test_queue_timeout_is_missed_although_asterisk_says_abandon() -> None:
    # Asterisk 22 sends QueueCallerAbandon when the queue times out: the caller did
    # not hang up, so the call is missed (and it was the caller who ended the
    # closed message afterwards).
    events = load("queue/timeout_to_closed_message")
    assert any(e["Event"] == "QueueCallerAbandon" for e in events)
    _, collector, _ = replay(events)
    assert collector.records[0].outcome is Outcome.MISSED


def test_183_only_call_is_answered_with_pjsip_sending_no_state_change() -> None:
    events = load("early_media/answered_after_183_only")
    # The PJSIP trap: the mobile leg never reaches Newstate "Ringing" (5)...
    mobile = [e for e in events if e.get("Channel", "").startswith("PJSIP/general-trunk")]
    assert not [e for e in mobile if e["Event"] == "Newstate" and e["ChannelState"] == "5"]
    # ...yet the record has the answer time of the DialEnd ANSWER.
    _, collector, _ = replay(events)
    (record,) = collector.records
    assert record.outcome is Outcome.ANSWERED
    assert record.details["attempts"][0]["early_media"] is True


@pytest.mark.parametrize("threshold,expected", [(2.0, Outcome.ABANDONED),
                                                (2.01, Outcome.SHORT_ABANDONED),
                                                (5.0, Outcome.SHORT_ABANDONED)])
def test_short_abandon_threshold(threshold: float, expected: Outcome) -> None:
    # The caller hung up 2.004 s after routing.
    _, collector, _ = replay(load("queue/short_abandon"), short_abandon_seconds=threshold)
    assert collector.records[0].outcome is expected
