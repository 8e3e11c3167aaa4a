"""``record_of``: a finished call's typed state → its stored record, one outcome and one
flag at a time (the replay tests cover the same function on real captures)."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline_pbx.config import KpiSettings
from hotline_pbx.domain.call_record import (
    AnswerTime,
    CallRecord,
    HangupSide,
    JoinedBy,
    UnseenEnd,
    record_of,
)
from hotline_pbx.domain.call_tracker import Attempt, Call, CallState
from hotline_pbx.domain.contract import Outcome, Period

T0 = 1_800_000_000.0  # 2027-01-15 08:00 UTC
RULES = KpiSettings(short_abandon_seconds=5.0)


def ended_call(**changes: Any) -> Call:
    """A routed call from 13800138000 that rang for 10 s and ended at +30 s unanswered."""
    values: dict[str, Any] = {
        "linkedid": "1.1", "uniqueid": "1.1", "channel": "PJSIP/carrier-00000001",
        "started_at": T0, "caller": "13800138000", "caller_name": "Caller",
        "dnid": "4008001234", "period": Period.OPEN, "route": "queue",
        "routed_at": T0 + 1.0, "ended_at": T0 + 30.0, "last_event_at": T0 + 30.0,
        "state": CallState.ENDED, "hangup_cause": 16,
    }
    values.update(changes)
    return Call(**values)


def answered(**changes: Any) -> Call:
    return ended_call(answered_at=T0 + 9.5, answered_by="Agent One", answered_role="agent",
                      **changes)


# -- outcomes ---------------------------------------------------------------------------


def test_answered_waits_from_routing_to_the_answer_and_talks_to_the_end() -> None:
    record = record_of(answered(complete_reason="agent"), RULES)
    assert record.outcome is Outcome.ANSWERED
    assert (record.wait_seconds, record.talk_seconds) == (8.5, 20.5)
    assert (record.answered_by, record.answered_role) == ("Agent One", "agent")
    assert record.answered_at is not None and record.answered_at.timestamp() == T0 + 9.5
    assert record.hangup_side is HangupSide.CALLEE
    assert not record.needs_callback and record.offered
    assert record.details == {}


def test_closed_message_is_missed_with_the_wait_until_it_started() -> None:
    record = record_of(ended_call(missed_at=T0 + 4.0, hung_up_at=T0 + 20.0), RULES)
    assert record.outcome is Outcome.MISSED
    assert record.wait_seconds == 3.0  # not the 19 s until the caller hung up on the message
    assert record.details == {"closed_message": True}
    assert record.needs_callback and record.talk_seconds is None


def test_ended_by_the_pbx_unanswered_is_missed_until_the_end() -> None:
    record = record_of(ended_call(root_request_soft=True), RULES)
    assert record.outcome is Outcome.MISSED
    assert record.wait_seconds == 29.0
    assert record.hangup_side is HangupSide.SYSTEM
    assert record.needs_callback


@pytest.mark.parametrize("hung_up_after,expected", [
    (4.999, Outcome.SHORT_ABANDONED),
    (5.0, Outcome.SHORT_ABANDONED),  # exactly the threshold is short
    (5.001, Outcome.ABANDONED),
])
def test_caller_hanging_up_first_is_abandoned_short_up_to_the_threshold(
        hung_up_after: float, expected: Outcome) -> None:
    call = ended_call(hung_up_at=T0 + 1.0 + hung_up_after, root_request_soft=False)
    record = record_of(call, RULES)
    assert record.outcome is expected
    assert record.wait_seconds == round(hung_up_after, 3)
    assert record.hangup_side is HangupSide.CALLER
    # A short abandon is no callback task (the caller changed their mind).
    assert record.needs_callback is (expected is Outcome.ABANDONED)


def test_the_threshold_comes_from_the_settings() -> None:
    call = ended_call(hung_up_at=T0 + 4.0)
    assert record_of(call, KpiSettings(short_abandon_seconds=5.0)).outcome \
        is Outcome.SHORT_ABANDONED
    assert record_of(call, KpiSettings(short_abandon_seconds=2.0)).outcome is Outcome.ABANDONED


def test_unrouted_call_waits_from_its_start_and_is_not_offered() -> None:
    call = ended_call(period=Period.UNROUTED, route=None, routed_at=None,
                      hung_up_at=T0 + 2.0)
    record = record_of(call, RULES)
    assert (record.outcome, record.wait_seconds, record.routed_at) == (
        Outcome.SHORT_ABANDONED, 2.0, None)
    assert not record.offered


def test_test_calls_and_calls_without_a_number_ask_for_no_callback() -> None:
    assert record_of(ended_call(missed_at=T0 + 4.0), RULES).needs_callback
    assert not record_of(ended_call(missed_at=T0 + 4.0, is_test=True), RULES).needs_callback
    assert not record_of(ended_call(missed_at=T0 + 4.0, caller=""), RULES).needs_callback
    assert not record_of(ended_call(missed_at=T0 + 4.0, is_test=True), RULES).offered


def test_a_call_in_progress_is_recorded_as_if_it_ended_at_its_last_event() -> None:
    call = answered(ended_at=None, state=CallState.ANSWERED, last_event_at=T0 + 12.0)
    record = record_of(call, RULES)
    assert record.ended_at.timestamp() == T0 + 12.0
    assert record.talk_seconds == 2.5


# -- who hung up ----------------------------------------------------------------------------


@pytest.mark.parametrize("changes,side", [
    ({"complete_reason": "caller"}, HangupSide.CALLER),
    ({"complete_reason": "agent"}, HangupSide.CALLEE),
    ({"end_side": HangupSide.CALLER}, HangupSide.CALLER),
    ({"end_side": HangupSide.CALLEE}, HangupSide.CALLEE),
    ({}, HangupSide.SYSTEM),
    # After a transfer the queue's reason speaks of the first agent only.
    ({"complete_reason": "agent", "transfers": ["200@hotline-agents"],
      "end_side": HangupSide.CALLER}, HangupSide.CALLER),
    ({"complete_reason": "caller", "transfers": ["200@hotline-agents"]}, HangupSide.SYSTEM),
])
def test_hangup_side_of_an_answered_call(changes: dict[str, Any], side: HangupSide) -> None:
    assert record_of(answered(**changes), RULES).hangup_side is side


# -- flags and details -----------------------------------------------------------------------


@pytest.mark.parametrize("how", list(UnseenEnd))
def test_a_call_closed_without_its_hangup_says_why_and_names_no_side(how: UnseenEnd) -> None:
    record = record_of(answered(unseen_end=how, hangup_cause=None, complete_reason="agent"),
                       RULES)
    assert record.details == {how.value: True}
    assert record.hangup_side is None and record.hangup_cause is None
    assert record.outcome is Outcome.ANSWERED


def test_the_stored_keys_of_the_unseen_ends_are_those_of_the_previous_version() -> None:
    assert {u.value for u in UnseenEnd} == {"ended_during_ami_gap", "lost_track"}
    assert {j.value for j in JoinedBy} == {"routing", "reconcile"}


@pytest.mark.parametrize("joined", list(JoinedBy))
def test_how_the_call_was_joined(joined: JoinedBy) -> None:
    assert record_of(ended_call(joined_by=joined), RULES).details == {"joined": joined.value}


@pytest.mark.parametrize("changes,details", [
    ({"left_queue_unanswered": True}, {"left_queue_unanswered": True}),
    ({"transfer_answered": True}, {"transfer_answered": True}),
    ({"dialled_after_answer": ["13810300000@sandbox-mobiles", "200@hotline-agents"]},
     {"dialled_after_answer": ["13810300000@sandbox-mobiles", "200@hotline-agents"]}),
    ({"transfers": ["200@hotline-agents"]}, {"transfers": ["200@hotline-agents"]}),
    ({"agent_no_answer": 2}, {"agent_no_answer": 2}),
    ({"queue": "hotline", "queued_at": T0 + 1.5},
     {"queue": "hotline", "queued_at": "2027-01-15T08:00:01.500000+00:00"}),
    ({"queue": "hotline"}, {"queue": "hotline"}),
    ({"answer_time": AnswerTime.DIALPLAN}, {"answer_time": "dialplan"}),
    ({"answer_time": AnswerTime.APPROXIMATE}, {"answer_time": "approximate"}),
])
def test_each_flag_has_its_details_key(changes: dict[str, Any],
                                       details: dict[str, Any]) -> None:
    assert record_of(answered(**changes), RULES).details == details


def test_answer_time_is_only_told_for_an_answered_call() -> None:
    call = ended_call(answer_time=AnswerTime.APPROXIMATE)
    assert "answer_time" not in record_of(call, RULES).details


def test_attempts_count_failovers_and_keep_early_media() -> None:
    attempts = [Attempt("Local/13510000000@sandbox-mobiles", T0 + 1, 1, "NOANSWER", True),
                Attempt("Local/13810200000@sandbox-mobiles", T0 + 6, 2, "BUSY"),
                Attempt("Local/13910000000@sandbox-mobiles", T0 + 7, 3, "ANSWER"),
                Attempt("Local/13910000001@sandbox-mobiles", T0 + 8, 4)]
    record = record_of(answered(attempts=attempts), RULES)
    assert record.failover_attempts == 2
    assert record.details == {"attempts": [
        {"target": "Local/13510000000@sandbox-mobiles", "status": "NOANSWER",
         "early_media": True},
        {"target": "Local/13810200000@sandbox-mobiles", "status": "BUSY"},
        {"target": "Local/13910000000@sandbox-mobiles", "status": "ANSWER"},
        {"target": "Local/13910000001@sandbox-mobiles", "status": "unknown"},
    ]}


def test_the_record_does_not_share_the_calls_lists() -> None:
    call = answered(dialled_after_answer=["a@b"], transfers=["c@d"])
    record = record_of(call, RULES)
    call.dialled_after_answer.append("x@y")
    call.transfers.append("x@y")
    assert record.details == {"dialled_after_answer": ["a@b"], "transfers": ["c@d"]}


# -- any call ----------------------------------------------------------------------------------

moments = st.floats(0.0, 7200.0, allow_nan=False)


@st.composite
def finished_calls(draw: st.DrawFn) -> Call:
    start = draw(st.floats(0.0, 4_102_444_800.0))  # 1970 … 2100
    end = start + draw(moments)
    within = st.floats(start, end, allow_nan=False)
    call = ended_call(started_at=start, ended_at=end, last_event_at=end,
                      routed_at=draw(st.none() | within), caller=draw(st.sampled_from(
                          ["", "13800138000", "010 6552 9988"])),
                      is_test=draw(st.booleans()),
                      period=draw(st.sampled_from(list(Period))))
    kind = draw(st.sampled_from(["answered", "missed", "hung_up", "pbx"]))
    if kind == "answered":
        call = replace(call, answered_at=draw(within), answer_time=draw(
            st.sampled_from(list(AnswerTime))))
    elif kind == "missed":
        call = replace(call, missed_at=draw(within), hung_up_at=draw(st.none() | within))
    elif kind == "hung_up":
        call = replace(call, hung_up_at=draw(within))
    return replace(call, unseen_end=draw(st.none() | st.sampled_from(list(UnseenEnd))),
                   joined_by=draw(st.none() | st.sampled_from(list(JoinedBy))),
                   left_queue_unanswered=draw(st.booleans()),
                   transfer_answered=draw(st.booleans()))


@given(finished_calls(), st.floats(0.0, 60.0))
def test_any_finished_call_gives_a_consistent_record(call: Call, short: float) -> None:
    record = record_of(call, KpiSettings(short_abandon_seconds=short))
    assert (record.outcome is Outcome.ANSWERED) is (call.answered_at is not None)
    assert record.wait_seconds >= 0
    assert (record.talk_seconds is None) is (call.answered_at is None)
    assert record.talk_seconds is None or record.talk_seconds >= 0
    assert (record.hangup_side is None) is (call.unseen_end is not None)
    assert record.needs_callback <= (record.outcome in (Outcome.ABANDONED, Outcome.MISSED))
    # What the spool writes reads back the same, details included.
    line = json.dumps(record.to_dict())
    assert CallRecord.from_dict(json.loads(line)) == record
