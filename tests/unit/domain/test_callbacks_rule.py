"""Which ended calls open a callback task, which close one, how callers are matched,
and the callback record's spool line."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline_pbx.config import ConfigError, load_settings
from hotline_pbx.domain.call_record import CallRecord, HangupSide
from hotline_pbx.domain.callbacks import (
    CallbackReason,
    CloseTasks,
    OpenTask,
    action_for,
    is_callable,
    normalise_caller,
    task_key_for,
)
from hotline_pbx.domain.contract import Outcome, Period
from hotline_pbx.store.callback_repo import CLOSE, OPEN, CallbackRecord

T = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)


def record(outcome: Outcome, **changes: object) -> CallRecord:
    base = CallRecord(
        call_key="1.0", linkedid="1.0", uniqueid="1.0", caller="+86 139 0000 0001",
        caller_name="", dnid="4008001234", started_at=T, routed_at=T, answered_at=None,
        ended_at=T, period=Period.OPEN, route="queue", outcome=outcome, wait_seconds=10.0,
        talk_seconds=None, answered_by=None, answered_role=None, failover_attempts=0,
        hangup_side=HangupSide.CALLER, hangup_cause=16)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize(("outcome", "period", "expected"), [
    (Outcome.MISSED, Period.CLOSED, OpenTask(CallbackReason.MISSED)),
    (Outcome.MISSED, Period.OPEN, OpenTask(CallbackReason.MISSED)),
    (Outcome.ABANDONED, Period.OPEN, OpenTask(CallbackReason.ABANDONED)),
    (Outcome.ABANDONED, Period.OVERRIDE, OpenTask(CallbackReason.ABANDONED)),
    (Outcome.SHORT_ABANDONED, Period.OPEN, None),
    (Outcome.ANSWERED, Period.CLOSED, CloseTasks("13900000001")),
    (Outcome.MISSED, Period.UNROUTED, None),  # never reached routing
    (Outcome.ANSWERED, Period.UNROUTED, None),
])
def test_which_calls_open_or_close_tasks(outcome: Outcome, period: Period,
                                         expected: object) -> None:
    assert action_for(record(outcome, period=period)) == expected


@pytest.mark.parametrize("caller", ["", "anonymous", "*", "+86", "12"])
def test_a_caller_without_a_number_opens_nothing(caller: str) -> None:
    assert action_for(record(Outcome.MISSED, caller=caller)) is None
    assert action_for(record(Outcome.ANSWERED, caller=caller)) is None


def test_test_calls_open_nothing() -> None:
    assert action_for(record(Outcome.MISSED, is_test=True)) is None
    assert action_for(record(Outcome.ANSWERED, is_test=True)) is None


@pytest.mark.parametrize("shown", ["13800138000", "+8613800138000", "008613800138000",
                                   "+86 138-0013-8000", "0086 (138) 0013.8000"])
def test_one_caller_however_written(shown: str) -> None:
    assert normalise_caller(shown) == "13800138000"


def test_other_countries_keep_their_code() -> None:
    assert normalise_caller("+44 20 7946 0000") == "+442079460000"
    assert normalise_caller("010 6552 9988") == "01065529988"  # a Beijing landline
    # Found by the property below: digits beginning 0086 are China's international prefix.
    assert normalise_caller("00860123") == "0123"


# A national number never starts with 0086 (that is the international prefix:
# "0086 0…" has no area code 086), so such digits are not national numbers.
NATIONAL = st.text(alphabet="0123456789", min_size=5, max_size=15).filter(
    lambda digits: not digits.startswith("0086"))


@given(NATIONAL, st.sampled_from(["", "+86", "0086", "+86 ", "0086-"]))
def test_normalising_is_idempotent_and_drops_the_country_code(digits: str, prefix: str
                                                               ) -> None:
    key = normalise_caller(prefix + digits)
    assert key == digits
    assert normalise_caller(key) == key
    assert is_callable(key)


def test_task_keys() -> None:
    assert task_key_for("1.0", CallbackReason.MISSED) == "1.0"
    assert task_key_for("1.0", CallbackReason.LONG_CALL) == "1.0:long_call"


@pytest.mark.parametrize("kept", [
    CallbackRecord(action=OPEN, key="1.0", call_key="1.0", caller="139", caller_key="139",
                   at=1.5, reason=CallbackReason.ABANDONED, due_at=7201.5, auto_dial=True),
    CallbackRecord(action=CLOSE, key="close:2.0", call_key="2.0", caller="0086139",
                   caller_key="139", at=3.25),
])
def test_the_record_survives_its_spool_line(kept: CallbackRecord) -> None:
    assert CallbackRecord.from_dict(kept.to_dict()) == kept


@pytest.mark.parametrize("change", [{"action": "delete"}, {"reason": None},
                                    {"due_at": None}, {"reason": "lost"}])
def test_a_damaged_spool_line_is_refused(change: dict[str, object]) -> None:
    line = CallbackRecord(action=OPEN, key="1.0", call_key="1.0", caller="139",
                          caller_key="139", at=1.5, reason=CallbackReason.MISSED,
                          due_at=2.0).to_dict()
    with pytest.raises(ValueError):
        CallbackRecord.from_dict({**line, **change})


@pytest.mark.parametrize("value", ["0", "-5", "59", "604801", "1e12", "nan"])
def test_absurd_due_times_are_refused_at_load(value: str) -> None:
    with pytest.raises(ConfigError, match=r"callbacks\.due_within"):
        load_settings(None, {"HOTLINE_AMI_SECRET": "x", "HOTLINE_CALLBACKS_DUE_WITHIN": value})


def test_callback_settings_defaults() -> None:
    loaded = load_settings(None, {"HOTLINE_AMI_SECRET": "x"}).callbacks
    assert (loaded.enabled, loaded.due_within, loaded.auto_dial) == (True, 7200.0, True)


@pytest.mark.parametrize("value", ["0", "3", "10", "-5", "five"])
def test_a_satisfaction_scale_other_than_5_or_2_is_refused_at_load(value: str) -> None:
    with pytest.raises(ConfigError, match=r"callbacks\.satisfaction_scale"):
        load_settings(None, {"HOTLINE_AMI_SECRET": "x",
                             "HOTLINE_CALLBACKS_SATISFACTION_SCALE": value})


def test_the_satisfaction_visit_is_off_by_default_and_can_be_asked_for() -> None:
    default = load_settings(None, {"HOTLINE_AMI_SECRET": "x"}).callbacks
    assert (default.satisfaction_visit, default.satisfaction_scale) == (False, 5)
    asked = load_settings(None, {"HOTLINE_AMI_SECRET": "x",
                                 "HOTLINE_CALLBACKS_SATISFACTION_VISIT": "true",
                                 "HOTLINE_CALLBACKS_SATISFACTION_SCALE": "2"}).callbacks
    assert (asked.satisfaction_visit, asked.satisfaction_scale) == (True, 2)
