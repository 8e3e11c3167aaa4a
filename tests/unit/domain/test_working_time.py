"""Working time: hand-computed deadlines (lunch, weekend, holiday, make-up day, DST)
and the arithmetic's laws, checked by hypothesis on the company's real calendar."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hotline_pbx.domain.calendar import (
    BusinessCalendar,
    DateException,
    ExceptionKind,
    Override,
    OverrideMode,
    Schedule,
    TimeRange,
    WeeklyPeriod,
)
from hotline_pbx.domain.calendar.working_time import (
    NoWorkingTime,
    add_working_time,
    end_of_working_day,
    is_working_time,
    working_time_between,
)
from hotline_pbx.domain.statutory import chinese_statutory_source

from .helpers import NEW_YORK, SHANGHAI, sh

HOURS = timedelta(hours=1)
#: The company's calendar: Mon-Fri 08:30-12:00 and 13:00-17:30 in Shanghai, with
#: China's statutory holidays and make-up working days.
COMPANY = BusinessCalendar(Schedule(), statutory=chinese_statutory_source())


def add(start: str, hours: float, cal: BusinessCalendar = COMPANY) -> datetime:
    return add_working_time(cal, sh(start), timedelta(hours=hours)).astimezone(SHANGHAI)


@pytest.mark.parametrize(("start", "hours", "due"), [
    ("2026-03-02 09:00", 2, "2026-03-02 11:00"),  # a plain Monday morning
    ("2026-03-02 11:00", 2, "2026-03-02 14:00"),  # across the lunch break
    ("2026-03-02 12:15", 2, "2026-03-02 15:00"),  # starting in the lunch break
    ("2026-03-02 10:00", 2, "2026-03-02 12:00"),  # ends exactly at lunch: 12:00, not 13:00
    ("2026-03-02 07:00", 2, "2026-03-02 10:30"),  # before opening
    ("2026-03-06 16:30", 2, "2026-03-09 09:30"),  # Friday afternoon → Monday (weekend)
    ("2026-03-07 10:00", 2, "2026-03-09 10:30"),  # on a Saturday
    ("2026-03-02 17:30", 1, "2026-03-03 09:30"),  # at the close
    ("2026-03-02 09:00", 9, "2026-03-03 10:00"),  # a whole working day is 8 hours
    # National Day: Oct 1-7 2026 are holidays, Sat Oct 10 is a make-up working day.
    ("2026-09-30 17:00", 2, "2026-10-08 10:00"),
    ("2026-10-09 17:00", 2, "2026-10-10 10:00"),  # make-up Saturday works (Monday's hours)
    # Sun 2026-09-20 is a make-up working day; Fri Sep 25 a holiday (Mid-Autumn).
    ("2026-09-19 12:00", 1, "2026-09-20 09:30"),
    ("2026-09-24 17:00", 1, "2026-09-28 09:00"),  # Thu evening → Mon (Fri-Sun holidays)
    ("2026-01-04 08:00", 2, "2026-01-04 10:30"),  # make-up Sunday 2026-01-04
])
def test_hand_computed_deadlines(start: str, hours: float, due: str) -> None:
    assert add(start, hours) == sh(due)


def test_spring_new_year_is_closed_for_nine_days() -> None:
    # Spring Festival 2026: Feb 15-23 holidays, Sat Feb 14 a make-up day.
    assert add("2026-02-14 17:00", 1) == sh("2026-02-24 09:00")
    assert working_time_between(COMPANY, sh("2026-02-14 17:30"), sh("2026-02-24 08:30")) \
        == timedelta(0)


def test_an_exception_and_its_own_hours_count() -> None:
    cal = BusinessCalendar(Schedule(), exceptions=(
        DateException(date(2026, 3, 3), ExceptionKind.CLOSED),
        DateException(date(2026, 3, 7), ExceptionKind.OPEN, (TimeRange.of("10:00", "11:00"),)),
    ))
    assert add("2026-03-02 17:00", 1, cal) == sh("2026-03-04 09:00")  # Tue closed
    assert add("2026-03-06 17:00", 1, cal) == sh("2026-03-07 10:30")  # Sat 10-11 open
    assert add("2026-03-06 17:00", 2, cal) == sh("2026-03-09 09:00")  # 0.5 + 1 + 0.5


def test_the_override_is_not_working_time() -> None:
    forced = BusinessCalendar(Schedule(), override=Override(
        OverrideMode.OPEN, datetime(2026, 3, 9, tzinfo=UTC)))
    assert forced.is_open(sh("2026-03-07 10:00"))
    assert not is_working_time(forced, sh("2026-03-07 10:00"))
    assert add("2026-03-07 10:00", 2, forced) == sh("2026-03-09 10:30")


def test_between_and_is_working_time() -> None:
    assert working_time_between(COMPANY, sh("2026-03-02 00:00"), sh("2026-03-03 00:00")) \
        == 8 * HOURS
    assert working_time_between(COMPANY, sh("2026-03-02 11:00"), sh("2026-03-02 14:00")) \
        == 2 * HOURS
    assert working_time_between(COMPANY, sh("2026-03-02 14:00"), sh("2026-03-02 11:00")) \
        == -2 * HOURS
    assert working_time_between(COMPANY, sh("2026-03-02 00:00"), sh("2026-03-09 00:00")) \
        == 40 * HOURS
    assert is_working_time(COMPANY, sh("2026-03-02 08:30"))
    assert not is_working_time(COMPANY, sh("2026-03-02 12:00"))
    assert not is_working_time(COMPANY, sh("2026-10-01 10:00"))  # National Day
    assert is_working_time(COMPANY, sh("2026-10-10 10:00"))  # its make-up Saturday


@pytest.mark.parametrize(("at", "end"), [
    ("2026-03-02 07:00", "2026-03-02 17:30"),
    ("2026-03-02 12:30", "2026-03-02 17:30"),
    ("2026-03-02 17:30", "2026-03-03 17:30"),  # at the close: the next day
    ("2026-03-06 18:00", "2026-03-09 17:30"),  # Friday evening → Monday
    ("2026-09-30 18:00", "2026-10-08 17:30"),  # National Day
])
def test_end_of_working_day(at: str, end: str) -> None:
    assert end_of_working_day(COMPANY, sh(at)) == sh(end)


# New York 2025-03-09 (Sunday) springs forward 02:00 → 03:00; 2025-11-02 falls back.
NY_NIGHT = BusinessCalendar(Schedule("America/New_York",
                                     (WeeklyPeriod.of("sun", "01:00", "04:00"),)))


def test_dst_spring_forward_loses_the_skipped_hour() -> None:
    start = datetime(2025, 3, 9, 1, 0, tzinfo=NEW_YORK)
    assert working_time_between(NY_NIGHT, start, start + 6 * HOURS) == 2 * HOURS
    due = add_working_time(NY_NIGHT, start, 90 * timedelta(minutes=1))
    assert due.astimezone(NEW_YORK) == datetime(2025, 3, 9, 3, 30, tzinfo=NEW_YORK)


def test_dst_fall_back_gains_the_repeated_hour() -> None:
    start = datetime(2025, 11, 2, 0, 0, tzinfo=NEW_YORK)
    assert working_time_between(NY_NIGHT, start, start + 8 * HOURS) == 4 * HOURS
    due = add_working_time(NY_NIGHT, start, 2 * HOURS)
    # 01:00-02:00 EDT (05:00-06:00 UTC), then 01:00-04:00 EST again from 06:00 UTC
    assert due == datetime(2025, 11, 2, 7, 0, tzinfo=UTC)  # 02:00 EST


def test_a_calendar_without_working_time_is_an_error_not_a_loop() -> None:
    never = BusinessCalendar(Schedule(weekly=()))
    with pytest.raises(NoWorkingTime, match="no working period"):
        add_working_time(never, sh("2026-03-02 09:00"), HOURS)
    with pytest.raises(NoWorkingTime):
        end_of_working_day(never, sh("2026-03-02 09:00"))
    assert working_time_between(never, sh("2026-03-02 09:00"), sh("2027-03-02 09:00")) \
        == timedelta(0)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="negative"):
        add_working_time(COMPANY, sh("2026-03-02 09:00"), -HOURS)
    with pytest.raises(ValueError, match="aware"):
        add_working_time(COMPANY, datetime(2026, 3, 2, 9), HOURS)
    assert add_working_time(COMPANY, sh("2026-03-07 09:00"), timedelta(0)) \
        == sh("2026-03-07 09:00")


# -- laws ----------------------------------------------------------------------------

instants = st.datetimes(min_value=datetime(2025, 12, 1), max_value=datetime(2026, 11, 30),
                        timezones=st.just(UTC))
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=30)).map(
    lambda d: timedelta(seconds=round(d.total_seconds())))
positive = durations.filter(lambda d: d > timedelta(0))
LAWS = settings(max_examples=150, deadline=None)


@LAWS
@given(instants, durations, durations)
def test_additive(start: datetime, x: timedelta, y: timedelta) -> None:
    assert add_working_time(COMPANY, start, x + y) == add_working_time(
        COMPANY, add_working_time(COMPANY, start, x), y)


@LAWS
@given(instants, durations, durations)
def test_monotone(start: datetime, x: timedelta, y: timedelta) -> None:
    low, high = sorted((x, y))
    first = add_working_time(COMPANY, start, low)
    assert start <= first <= add_working_time(COMPANY, start, high)


@LAWS
@given(instants, durations)
def test_between_inverts_add(start: datetime, x: timedelta) -> None:
    assert working_time_between(COMPANY, start, add_working_time(COMPANY, start, x)) == x


@LAWS
@given(instants, positive)
def test_never_lands_in_lunch_or_a_holiday(start: datetime, x: timedelta) -> None:
    """A due time is inside a working period or at its very end (12:00, 17:30):
    the working time just before it is working time."""
    due = add_working_time(COMPANY, start, x)
    assert is_working_time(COMPANY, due - timedelta(microseconds=1))
    local = due.astimezone(COMPANY.zone)
    assert COMPANY.plan_for(local.date()).periods or local.time() == datetime.min.time()


@LAWS
@given(instants)
def test_end_of_working_day_is_a_close(at: datetime) -> None:
    end = end_of_working_day(COMPANY, at)
    assert end > at
    assert is_working_time(COMPANY, end - timedelta(microseconds=1))
    assert not is_working_time(COMPANY, end)
    assert working_time_between(COMPANY, at, end) <= 8 * HOURS
