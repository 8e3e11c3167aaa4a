"""China's statutory calendar from the real chinese_calendar 1.11.0 data."""

from __future__ import annotations

from datetime import date

import chinese_calendar
import pytest

from hotline_pbx.domain.calendar import (
    BusinessCalendar,
    DateException,
    DayKind,
    ExceptionKind,
    Rule,
    StatutorySource,
)
from hotline_pbx.domain.contract import Period
from hotline_pbx.domain.statutory import TableStatutorySource, chinese_statutory_source

from .helpers import sh

SOURCE = chinese_statutory_source()
CAL = BusinessCalendar(statutory=SOURCE)


def test_source_is_a_statutory_source_and_shared() -> None:
    assert isinstance(SOURCE, StatutorySource)
    assert chinese_statutory_source() is SOURCE


def test_covered_years() -> None:
    assert SOURCE.covers(2004)
    assert SOURCE.covers(2026)
    assert not SOURCE.covers(2003)
    assert not SOURCE.covers(2027)
    assert SOURCE.missing_years([2026, 2027, 2028, 2027]) == (2027, 2028)


def test_the_library_itself_raises_for_2027_but_the_source_does_not() -> None:
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_holiday(date(2027, 10, 1))
    assert SOURCE.day_kind(date(2027, 10, 1)) is None
    assert SOURCE.day_kind(date(1999, 10, 1)) is None


@pytest.mark.parametrize(
    ("day", "kind", "name"),
    [
        (date(2026, 10, 1), DayKind.HOLIDAY, "National Day"),
        (date(2026, 10, 7), DayKind.HOLIDAY, "National Day"),
        (date(2026, 2, 17), DayKind.HOLIDAY, "Spring Festival"),
        (date(2026, 1, 4), DayKind.WORKDAY, "New Year's Day"),  # a Sunday
        (date(2026, 2, 14), DayKind.WORKDAY, "Spring Festival"),  # a Saturday
        (date(2026, 9, 20), DayKind.WORKDAY, "National Day"),  # a Sunday
        (date(2026, 10, 10), DayKind.WORKDAY, "National Day"),  # a Saturday
        (date(2026, 10, 8), None, None),  # an ordinary Thursday
        (date(2026, 10, 11), None, None),  # an ordinary Sunday
    ],
)
def test_day_kinds_2026(day: date, kind: DayKind | None, name: str | None) -> None:
    assert SOURCE.day_kind(day) is kind
    assert SOURCE.name(day) == name


def test_make_up_working_days_are_weekends() -> None:
    workdays = [d for d in chinese_calendar.workdays if SOURCE.day_kind(d) is DayKind.WORKDAY]
    assert workdays
    assert all(d.weekday() >= 5 for d in workdays)


@pytest.mark.parametrize("day", ["2026-10-01", "2026-10-02", "2026-10-05", "2026-10-07"])
@pytest.mark.parametrize("clock", ["08:30", "10:00", "13:00", "17:29"])
def test_national_day_2026_closed(day: str, clock: str) -> None:
    state = CAL.state_at(sh(f"{day} {clock}"))
    assert (state.is_open, state.period, state.rule) == (
        False,
        Period.CLOSED,
        Rule.STATUTORY_HOLIDAY,
    )


def test_first_working_day_after_national_day_opens() -> None:
    assert CAL.is_open(sh("2026-10-08 08:30"))
    change = CAL.next_change(sh("2026-09-30 17:00"))
    assert change is not None
    assert change.at == sh("2026-09-30 17:30")
    change = CAL.next_change(sh("2026-09-30 17:30"))
    assert change is not None
    assert change.at == sh("2026-10-08 08:30")


@pytest.mark.parametrize("day", ["2026-10-10", "2026-09-20", "2026-02-14", "2026-01-04"])
@pytest.mark.parametrize(
    ("clock", "is_open"),
    [
        ("08:29", False),
        ("08:30", True),
        ("11:59", True),
        ("12:00", False),
        ("12:59", False),
        ("13:00", True),
        ("17:29", True),
        ("17:30", False),
    ],
)
def test_make_up_weekend_days_2026_open_like_monday(day: str, clock: str, is_open: bool) -> None:
    state = CAL.state_at(sh(f"{day} {clock}"))
    assert state.is_open is is_open
    assert state.rule is Rule.STATUTORY_WORKDAY


def test_ordinary_weekend_stays_closed() -> None:
    assert not CAL.is_open(sh("2026-10-11 10:00"))


@pytest.mark.parametrize(
    ("at", "is_open"),
    [
        ("2027-10-01 10:00", True),  # a Friday: weekly rules, not National Day
        ("2027-10-01 12:00", False),
        ("2027-10-02 10:00", False),  # Saturday
        ("2027-02-08 10:00", True),  # would be Spring Festival; unknown to the data
    ],
)
def test_2027_falls_back_to_weekly_rules(at: str, is_open: bool) -> None:
    state = CAL.state_at(sh(at))
    assert state.is_open is is_open
    assert state.rule is Rule.WEEKLY


def test_missing_year_is_reported() -> None:
    assert CAL.missing_statutory_years(sh("2026-10-01 10:00")) == (2027,)
    assert CAL.missing_statutory_years(sh("2026-10-01 10:00"), years_ahead=0) == ()
    assert CAL.missing_statutory_years(sh("2027-01-01 00:00"), years_ahead=0) == (2027,)


def test_admins_enter_a_missing_years_holidays_as_exceptions() -> None:
    cal = BusinessCalendar(
        exceptions=tuple(
            DateException(date(2027, 10, d), ExceptionKind.CLOSED, note="National Day")
            for d in range(1, 8)
        ),
        statutory=SOURCE,
    )
    assert not cal.is_open(sh("2027-10-01 10:00"))
    assert cal.state_at(sh("2027-10-01 10:00")).rule is Rule.EXCEPTION
    assert cal.is_open(sh("2027-10-08 10:00"))


def test_table_source_ignores_dates_outside_its_years() -> None:
    source = TableStatutorySource({date(2030, 1, 1): "New Year"}, {date(2031, 1, 4): "x"}, [2030])
    assert source.day_kind(date(2030, 1, 1)) is DayKind.HOLIDAY
    assert source.day_kind(date(2031, 1, 4)) is None
    assert source.years == frozenset({2030})
    with pytest.raises(ValueError):
        TableStatutorySource({date(2030, 1, 1): "a"}, {date(2030, 1, 1): "b"}, [2030])
