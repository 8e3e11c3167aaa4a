"""The complaint SLA clock: hand-computed deadlines on the company's calendar
(lunch, weekend, statutory holiday, make-up Sunday) and its laws on random
calendars and instants - a deadline never lies inside a closed period, the
target never passes the hard maximum, an extension never passes it either."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline_pbx.domain.calendar import BusinessCalendar, Schedule
from hotline_pbx.domain.calendar.working_time import is_working_time
from hotline_pbx.domain.complaint_sla import (
    Clock,
    check_extension,
    deadlines_for,
    overdue_stages,
    visit_due_after,
    working_days_later,
)
from hotline_pbx.domain.complaints import ComplaintState, Severity, Stage, VisitState
from hotline_pbx.domain.errors import ValidationError
from hotline_pbx.domain.statutory import chinese_statutory_source

from .helpers import SHANGHAI, raises_on, sh
from .test_working_time_probe import calendars, instants

#: Mon-Fri 08:30-12:00 and 13:00-17:30 in Shanghai with China's statutory days.
COMPANY = BusinessCalendar(Schedule(), statutory=chinese_statutory_source())


def local(at: datetime) -> str:
    return at.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M")


def test_two_working_hours_from_friday_1700_land_on_monday_1000() -> None:
    due = deadlines_for(COMPANY, sh("2026-03-06 17:00"), Severity.GENERAL).first_reply_due
    assert local(due) == "2026-03-09 10:00"


def test_the_lunch_break_is_not_working_time_for_the_first_reply() -> None:
    due = deadlines_for(COMPANY, sh("2026-03-02 11:00"), Severity.SIMPLE).first_reply_due
    assert local(due) == "2026-03-02 14:00"  # 1 h before lunch, 1 h after
    assert not is_working_time(COMPANY, sh("2026-03-02 12:30"))


@pytest.mark.parametrize(("received", "severity", "target", "hard_max"), [
    # Monday 10:00: simple the same day; general Tuesday (max Thursday); complex
    # the next Monday (max Wednesday).
    ("2026-03-02 10:00", Severity.SIMPLE, "2026-03-02 17:30", "2026-03-02 17:30"),
    ("2026-03-02 10:00", Severity.GENERAL, "2026-03-03 17:30", "2026-03-05 17:30"),
    ("2026-03-02 10:00", Severity.COMPLEX, "2026-03-09 17:30", "2026-03-11 17:30"),
    # after the close, on a Saturday: day 0 is the next working day
    ("2026-03-02 18:00", Severity.SIMPLE, "2026-03-03 17:30", "2026-03-03 17:30"),
    ("2026-03-07 10:00", Severity.GENERAL, "2026-03-10 17:30", "2026-03-12 17:30"),
    # Mid-Autumn: Fri 2026-09-25 is a statutory holiday, Sun 2026-09-20 a make-up day
    ("2026-09-24 10:00", Severity.GENERAL, "2026-09-28 17:30", "2026-09-30 17:30"),
    ("2026-09-19 10:00", Severity.SIMPLE, "2026-09-20 17:30", "2026-09-20 17:30"),
    ("2026-09-18 10:00", Severity.GENERAL, "2026-09-20 17:30", "2026-09-22 17:30"),
])
def test_resolution_deadlines_by_the_close_of_the_nth_working_day(
        received: str, severity: Severity, target: str, hard_max: str) -> None:
    deadlines = deadlines_for(COMPANY, sh(received), severity)
    assert (local(deadlines.resolve_target), local(deadlines.resolve_hard_max)) == \
        (target, hard_max)
    assert deadlines.progress_reply_due == sh(received) + timedelta(hours=24)


def test_a_make_up_sunday_works_and_a_statutory_holiday_does_not() -> None:
    assert is_working_time(COMPANY, sh("2026-09-20 10:00"))  # make-up Sunday
    assert not is_working_time(COMPANY, sh("2026-09-25 10:00"))  # Mid-Autumn Friday
    assert local(working_days_later(COMPANY, sh("2026-09-24 10:00"), 1)) == "2026-09-28 17:30"


def _closes_a_working_period(cal: BusinessCalendar, at: datetime) -> bool:
    """``at`` ends a working day: the instant before it works. (Whether ``at``
    itself works depends on the next day: hours to 24:00 on Monday and from 00:00
    on Tuesday touch, and Monday's close is Tuesday's opening - hypothesis found it.)"""
    return is_working_time(cal, at - timedelta(microseconds=1))


SLA = settings(max_examples=120, deadline=None)


@SLA
@given(calendars(), instants, st.sampled_from(list(Severity)))
def test_deadlines_never_land_in_a_closed_period_and_target_is_within_the_maximum(
        cal: BusinessCalendar, received: datetime, severity: Severity) -> None:
    deadlines = deadlines_for(cal, received, severity)
    assert received <= deadlines.first_reply_due
    assert deadlines.resolve_target <= deadlines.resolve_hard_max
    for due in (deadlines.resolve_target, deadlines.resolve_hard_max):
        assert due > received and _closes_a_working_period(cal, due)
    first = deadlines.first_reply_due
    assert is_working_time(cal, first - timedelta(microseconds=1))


@SLA
@given(calendars(), instants, st.sampled_from(list(Severity)),
       st.integers(-3 * 86400, 12 * 86400), st.text(max_size=3))
def test_an_accepted_extension_never_passes_the_maximum(
        cal: BusinessCalendar, received: datetime, severity: Severity, shift: int,
        reason: str) -> None:
    deadlines = deadlines_for(cal, received, severity)
    new_due = deadlines.resolve_target + timedelta(seconds=shift)
    try:
        check_extension(current_due=deadlines.resolve_target, target=deadlines.resolve_target,
                        hard_max=deadlines.resolve_hard_max, new_due=new_due, reason=reason)
    except ValidationError as refused:
        assert refused.field in ("resolve_due", "reason")
        return
    assert deadlines.resolve_target < new_due <= deadlines.resolve_hard_max
    assert reason.strip()


def test_extension_refusals_name_the_field() -> None:
    d = deadlines_for(COMPANY, sh("2026-03-02 10:00"), Severity.GENERAL)

    def extend(new_due: datetime, reason: str) -> None:
        check_extension(current_due=d.resolve_target, target=d.resolve_target,
                        hard_max=d.resolve_hard_max, new_due=new_due, reason=reason)

    raises_on(lambda: extend(d.resolve_hard_max + timedelta(seconds=1), "parts"), "resolve_due")
    raises_on(lambda: extend(d.resolve_target, "parts"), "resolve_due")  # not later
    raises_on(lambda: extend(d.resolve_hard_max, "  "), "reason")
    raises_on(lambda: extend(d.resolve_hard_max, "x" * 501), "reason")
    raises_on(lambda: extend(d.resolve_hard_max.replace(tzinfo=None), "parts"), "resolve_due")
    extend(d.resolve_hard_max, "the department waits for a spare part")  # accepted


NOW = datetime(2026, 3, 4, 2, 0, tzinfo=UTC)
PAST, FUTURE = NOW - timedelta(hours=1), NOW + timedelta(hours=1)


def clock(state: ComplaintState = ComplaintState.REGISTERED, **changes: object) -> Clock:
    values: dict[str, object] = dict(
        state=state, first_reply_due=FUTURE, first_reply_at=None, progress_reply_due=FUTURE,
        progress_reply_at=None, resolve_due=FUTURE, visit_state=VisitState.NONE,
        visit_due=None)
    values.update(changes)
    return Clock(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(("the_clock", "stages"), [
    (clock(), set()),
    (clock(first_reply_due=PAST), {Stage.FIRST_REPLY}),
    (clock(first_reply_due=PAST, first_reply_at=PAST), set()),
    (clock(progress_reply_due=PAST), {Stage.PROGRESS_REPLY}),
    (clock(ComplaintState.RESOLVED, progress_reply_due=PAST, resolve_due=PAST), set()),
    (clock(ComplaintState.VERIFIED, resolve_due=PAST), {Stage.RESOLUTION}),
    (clock(ComplaintState.CUSTOMER_INFORMED, visit_state=VisitState.QUEUED, visit_due=PAST),
     {Stage.VISIT}),
    (clock(ComplaintState.CUSTOMER_INFORMED, visit_state=VisitState.DONE, visit_due=PAST),
     set()),
    (clock(ComplaintState.ARCHIVED, first_reply_due=PAST, resolve_due=PAST), set()),
    (clock(first_reply_due=PAST, progress_reply_due=PAST, resolve_due=PAST),
     {Stage.FIRST_REPLY, Stage.PROGRESS_REPLY, Stage.RESOLUTION}),
])
def test_overdue_stages(the_clock: Clock, stages: set[Stage]) -> None:
    assert overdue_stages(the_clock, NOW) == stages


def test_a_calendar_without_working_time_counts_plain_time_and_refuses_nothing() -> None:
    closed = BusinessCalendar(Schedule(weekly=()))
    received = sh("2026-03-02 10:00")
    d = deadlines_for(closed, received, Severity.GENERAL)
    assert d.first_reply_due == received + timedelta(hours=2)
    assert (d.resolve_target, d.resolve_hard_max) == (received + timedelta(days=1),
                                                      received + timedelta(days=3))
    assert visit_due_after(closed, received) == received + timedelta(days=2)


def test_a_visit_is_due_two_working_days_after_it_is_queued() -> None:
    assert local(visit_due_after(COMPANY, sh("2026-03-06 16:00"))) == "2026-03-10 17:30"
