"""The dialer's pure rules (hotline_pbx.domain.dialer): classification of an
attempt, the retry policy, pacing, the window, the numbers it refuses."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline_pbx.domain.dialer import (
    FINISHED_RESULTS,
    AttemptResult,
    DialogType,
    JobType,
    Pacing,
    RetryDelays,
    TargetState,
    after_attempt,
    channels_per_attempt,
    classify_answered,
    classify_unanswered,
    may_dial_now,
    normalise_phone,
    pace,
    phone_problem,
)

DELAYS = RetryDelays(no_answer=900, busy=300, congestion=120, short_answer=1800,
                     agent_unavailable=60)
PACING = Pacing(max_channels=4, max_cps=2.0, reserve_when_waiting=True)


@pytest.mark.parametrize(("cause", "result"), [
    (17, AttemptResult.BUSY), (21, AttemptResult.BUSY),
    (19, AttemptResult.NO_ANSWER), (18, AttemptResult.NO_ANSWER), (16, AttemptResult.NO_ANSWER),
    (34, AttemptResult.CONGESTION), (38, AttemptResult.CONGESTION),
    (None, AttemptResult.CONGESTION), (127, AttemptResult.CONGESTION),
    (1, AttemptResult.FAILED), (28, AttemptResult.FAILED),
])
def test_an_unanswered_leg_is_classified_by_its_cause(cause: int | None,
                                                       result: AttemptResult) -> None:
    assert classify_unanswered(cause) is result


@pytest.mark.parametrize(("dialog", "result"), [
    (DialogType.CONFIRM, AttemptResult.CONFIRMED),
    (DialogType.SATISFACTION, AttemptResult.SCORED),
    (DialogType.AGENT_BRIDGE, AttemptResult.ANSWERED),
])
def test_a_dialog_that_succeeded_reached_the_target(dialog: DialogType,
                                                    result: AttemptResult) -> None:
    got = classify_answered(dialog, succeeded=True, answered_seconds=0.5, dtmf="",
                            short_answer_seconds=4)
    assert got is result and got.reached


def test_a_quick_hang_up_without_a_key_is_a_short_answer_else_no_input() -> None:
    def answered(seconds: float, dtmf: str) -> AttemptResult:
        return classify_answered(DialogType.CONFIRM, succeeded=False, answered_seconds=seconds,
                                 dtmf=dtmf, short_answer_seconds=4)
    assert answered(3.9, "") is AttemptResult.SHORT_ANSWER
    assert answered(4.0, "") is AttemptResult.NO_INPUT
    assert answered(1.0, "9") is AttemptResult.NO_INPUT  # a key: a person listened


@given(st.sampled_from(FINISHED_RESULTS), st.integers(0, 19), st.integers(1, 20))
def test_the_retry_policy_never_exceeds_max_attempts(result: AttemptResult, before: int,
                                                     limit: int) -> None:
    step = after_attempt(result, attempts_before=before, max_attempts=limit, delays=DELAYS)
    assert step.attempts == before + (1 if result.counts_as_attempt else 0)
    if result.reached:
        assert step.state is TargetState.DONE and step.retry_in is None
    elif step.state is TargetState.PENDING:
        assert step.attempts < limit and step.retry_in is not None and step.retry_in > 0
    else:
        assert step.state.is_final and step.retry_in is None


def test_retries_wait_by_result_and_stop_after_the_last_attempt() -> None:
    def retry(result: AttemptResult, before: int = 0) -> tuple[TargetState, float | None]:
        step = after_attempt(result, attempts_before=before, max_attempts=3, delays=DELAYS)
        return step.state, step.retry_in
    assert retry(AttemptResult.NO_ANSWER) == (TargetState.PENDING, 900)
    assert retry(AttemptResult.NO_INPUT) == (TargetState.PENDING, 900)
    assert retry(AttemptResult.BUSY) == (TargetState.PENDING, 300)
    assert retry(AttemptResult.CONGESTION) == (TargetState.PENDING, 120)
    assert retry(AttemptResult.SHORT_ANSWER) == (TargetState.PENDING, 1800)
    assert retry(AttemptResult.BUSY, before=2) == (TargetState.UNREACHED, None)
    assert retry(AttemptResult.FAILED) == (TargetState.UNREACHED, None)  # no such number
    assert retry(AttemptResult.CANCELLED) == (TargetState.CANCELLED, None)
    # Not the customer's fault: never uses up an attempt, even at the limit.
    for result in (AttemptResult.AGENT_UNAVAILABLE, AttemptResult.LOST):
        step = after_attempt(result, attempts_before=2, max_attempts=3, delays=DELAYS)
        assert (step.state, step.attempts) == (TargetState.PENDING, 2)


def test_pacing_puts_waiting_callers_first_then_the_channel_cap_then_max_cps() -> None:
    def decide(**kw: float) -> tuple[bool, float | None]:
        args = {"now": 100.0, "last_originate": None, "channels_up": 0, "channels_needed": 1,
                "callers_waiting": 0, **kw}
        d = pace(PACING, **args)  # type: ignore[arg-type]
        return d.go, d.wait
    assert decide() == (True, 0.0)
    assert decide(callers_waiting=1) == (False, None)
    assert pace(Pacing(4, 2.0, False), now=1.0, last_originate=None, channels_up=0,
                channels_needed=1, callers_waiting=3).go
    assert decide(channels_up=4) == (False, None)
    assert decide(channels_up=3, channels_needed=2) == (False, None)  # agent + customer
    assert decide(channels_up=2, channels_needed=2) == (True, 0.0)
    go, wait = decide(last_originate=99.8)
    assert not go and wait == pytest.approx(0.3)
    assert decide(last_originate=99.5) == (True, 0.0)


@given(st.lists(st.floats(0, 0.2), min_size=1, max_size=200),
       st.floats(0.1, 20), st.integers(1, 8))
def test_a_loop_that_obeys_pace_never_exceeds_max_cps_or_max_channels(
        gaps: list[float], cps: float, channels: int) -> None:
    pacing = Pacing(channels, cps, True)
    now, last, up, starts = 0.0, None, 0, []
    for gap in gaps:
        now += gap
        decision = pace(pacing, now=now, last_originate=last, channels_up=up,
                        channels_needed=1, callers_waiting=0)
        if decision.go:
            starts.append(now)
            last, up = now, up + 1
        assert up <= channels
        if up == channels:
            up = 0  # every call ends at once
    for earlier, later in itertools.pairwise(starts):
        assert later - earlier >= 1 / cps - 1e-9


def test_callbacks_and_visits_only_in_working_time_emergencies_always() -> None:
    assert may_dial_now(JobType.EMERGENCY, in_working_time=False)
    assert not may_dial_now(JobType.CALLBACK, in_working_time=False)
    assert not may_dial_now(JobType.VISIT, in_working_time=False)
    assert may_dial_now(JobType.VISIT, in_working_time=True)
    assert channels_per_attempt(DialogType.AGENT_BRIDGE) == 2
    assert channels_per_attempt(DialogType.CONFIRM) == 1


@pytest.mark.parametrize(("raw", "normal"), [
    ("138-0013 8000", "13800138000"), (" (010) 8888.6666 ", "01088886666"),
    ("+86 138 0013 8000", "+8613800138000"),
])
def test_phones_are_normalised(raw: str, normal: str) -> None:
    assert normalise_phone(raw) == normal
    assert phone_problem(normal) is None


@pytest.mark.parametrize("phone", [
    "4008001234", "4001234567", "8008101234", "+864008001234", "00864008001234",
    "12345", "1" * 16, "138oo138000", "１３８００１３８０００",
])
def test_the_hotline_range_and_implausible_numbers_are_refused(phone: str) -> None:
    assert phone_problem(phone) is not None


def test_the_hotlines_own_test_number_is_refused() -> None:
    assert phone_problem("01088880000") is None
    assert phone_problem("01088880000", own_numbers=("01088880000",)) is not None
