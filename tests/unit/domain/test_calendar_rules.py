"""Precedence: override > dated exception > statutory source > weekly."""

from __future__ import annotations

from datetime import date

import pytest

from hotline_pbx.domain.calendar import (
    BusinessCalendar,
    DateException,
    ExceptionKind,
    Override,
    OverrideMode,
    Rule,
    Schedule,
    StatutorySource,
    TimeRange,
    WeeklyPeriod,
)
from hotline_pbx.domain.contract import Period

from .helpers import FakeStatutory, sh, utc

WED_HOLIDAY = date(2026, 3, 4)  # a Wednesday, a holiday in the fake source
SUN_WORKDAY = date(2026, 3, 8)  # a Sunday, a make-up working day in the fake source
FAKE = FakeStatutory(holidays={WED_HOLIDAY}, workdays={SUN_WORKDAY})


def calendar(
    *,
    exceptions: tuple[DateException, ...] = (),
    override: Override | None = None,
    schedule: Schedule | None = None,
    statutory: StatutorySource | None = FAKE,
) -> BusinessCalendar:
    return BusinessCalendar(schedule or Schedule(), exceptions, override, statutory)


def test_fake_source_satisfies_the_protocol() -> None:
    assert isinstance(FAKE, StatutorySource)


# ------------------------------------------------------------------ statutory > weekly


@pytest.mark.parametrize("clock", ["08:30", "10:00", "13:00", "17:29"])
def test_statutory_holiday_closes_a_working_day(clock: str) -> None:
    state = calendar().state_at(sh(f"2026-03-04 {clock}"))
    assert (state.is_open, state.period, state.rule) == (
        False,
        Period.CLOSED,
        Rule.STATUTORY_HOLIDAY,
    )
    assert "statutory holiday 2026-03-04" in state.reason


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
def test_make_up_sunday_uses_mondays_periods(clock: str, is_open: bool) -> None:
    state = calendar().state_at(sh(f"2026-03-08 {clock}"))
    assert state.is_open is is_open
    assert state.rule is Rule.STATUTORY_WORKDAY


def test_make_up_day_follows_a_custom_monday() -> None:
    schedule = Schedule(
        weekly=(WeeklyPeriod.of("mon", "09:00", "11:00"), WeeklyPeriod.of("sat", "10:00", "12:00"))
    )
    cal = calendar(schedule=schedule)
    assert not cal.is_open(sh("2026-03-08 08:59"))
    assert cal.is_open(sh("2026-03-08 09:00"))
    assert cal.is_open(sh("2026-03-08 10:59"))
    assert not cal.is_open(sh("2026-03-08 11:00"))


def test_make_up_day_uses_workday_periods_when_configured() -> None:
    schedule = Schedule(workday_periods=(TimeRange.of("10:00", "15:00"),))
    cal = calendar(schedule=schedule)
    assert not cal.is_open(sh("2026-03-08 09:59"))
    assert cal.is_open(sh("2026-03-08 10:00"))
    assert cal.is_open(sh("2026-03-08 12:30"))  # no lunch break in these periods
    assert not cal.is_open(sh("2026-03-08 15:00"))
    # ordinary days keep the weekly periods
    assert not cal.is_open(sh("2026-03-09 12:30"))


def test_ordinary_days_fall_through_to_weekly() -> None:
    cal = calendar()
    assert cal.state_at(sh("2026-03-05 10:00")).rule is Rule.WEEKLY
    assert cal.is_open(sh("2026-03-05 10:00"))
    assert not cal.is_open(sh("2026-03-07 10:00"))  # an ordinary Saturday


def test_years_the_source_lacks_fall_back_to_weekly_and_are_reported() -> None:
    cal = calendar()
    assert cal.is_open(sh("2027-03-03 10:00"))
    assert cal.missing_statutory_years(sh("2026-06-01 00:00")) == (2027,)
    assert cal.missing_statutory_years(sh("2026-06-01 00:00"), years_ahead=0) == ()
    assert cal.missing_statutory_years(sh("2027-01-01 00:00")) == (2027, 2028)
    # the local year counts: 2026-12-31 16:00 UTC is already 2027 in Shanghai
    assert cal.missing_statutory_years(utc("2026-12-31 16:00"), years_ahead=0) == (2027,)
    assert calendar(statutory=None).missing_statutory_years(sh("2027-01-01 00:00")) == ()


class RaisingSource:
    """Behaves like calling chinese_calendar directly: raises for unknown years."""

    def covers(self, year: int) -> bool:
        return year <= 2026

    def day_kind(self, day: date) -> None:
        if day.year > 2026:
            raise NotImplementedError(f"no available data for year {day.year}")
        return None


def test_a_source_that_raises_for_a_year_never_breaks_routing() -> None:
    cal = calendar(statutory=RaisingSource())
    assert cal.is_open(sh("2027-03-03 10:00"))
    assert not cal.is_open(sh("2027-03-03 12:00"))
    assert cal.next_change(sh("2027-03-03 10:00")) is not None


# ------------------------------------------------------------------ exception > statutory


def test_open_exception_beats_statutory_holiday() -> None:
    exception = DateException(
        WED_HOLIDAY, ExceptionKind.OPEN, (TimeRange.of("09:00", "12:00"),), "skeleton crew"
    )
    cal = calendar(exceptions=(exception,))
    assert not cal.is_open(sh("2026-03-04 08:59"))
    state = cal.state_at(sh("2026-03-04 09:00"))
    assert (state.is_open, state.rule) == (True, Rule.EXCEPTION)
    assert "skeleton crew" in state.reason
    assert cal.is_open(sh("2026-03-04 11:59"))
    assert not cal.is_open(sh("2026-03-04 12:00"))
    assert not cal.is_open(sh("2026-03-04 13:00"))  # only the exception's periods


def test_closed_exception_beats_make_up_day() -> None:
    cal = calendar(exceptions=(DateException(SUN_WORKDAY, ExceptionKind.CLOSED),))
    state = cal.state_at(sh("2026-03-08 10:00"))
    assert (state.is_open, state.period, state.rule) == (False, Period.CLOSED, Rule.EXCEPTION)


def test_exceptions_beat_weekly() -> None:
    cal = calendar(
        exceptions=(
            DateException(date(2026, 3, 2), ExceptionKind.CLOSED, note="stocktaking"),
            DateException(date(2026, 3, 7), ExceptionKind.OPEN, (TimeRange.of("08:30", "12:00"),)),
        )
    )
    assert not cal.is_open(sh("2026-03-02 10:00"))
    assert "stocktaking" in cal.state_at(sh("2026-03-02 10:00")).reason
    assert cal.is_open(sh("2026-03-07 10:00"))  # a Saturday opened by exception
    assert cal.is_open(sh("2026-03-03 10:00"))  # the day after is normal


def test_exception_applies_to_the_local_date() -> None:
    cal = calendar(exceptions=(DateException(date(2026, 3, 3), ExceptionKind.CLOSED),))
    # 2026-03-03 00:30 Shanghai is still 2026-03-02 in UTC
    assert cal.state_at(utc("2026-03-02 16:30")).rule is Rule.EXCEPTION  # 00:30 local on 03-03
    assert cal.state_at(utc("2026-03-03 00:30")).rule is Rule.EXCEPTION  # 08:30 local on 03-03
    assert cal.state_at(utc("2026-03-02 09:29")).rule is Rule.WEEKLY  # 17:29 local on 03-02
    assert cal.is_open(utc("2026-03-02 09:29"))


def test_exceptions_have_a_year() -> None:
    cal = calendar(exceptions=(DateException(date(2026, 3, 2), ExceptionKind.CLOSED),))
    assert not cal.is_open(sh("2026-03-02 10:00"))
    assert cal.is_open(sh("2027-03-02 10:00"))  # same day and month, another year


# ------------------------------------------------------------------ override > everything


@pytest.mark.parametrize(
    "at",
    [
        "2026-03-02 10:00",
        "2026-03-02 12:30",
        "2026-03-04 10:00",
        "2026-03-08 10:00",
        "2026-03-07 10:00",
    ],
)
@pytest.mark.parametrize("mode", list(OverrideMode))
def test_override_beats_everything(at: str, mode: OverrideMode) -> None:
    cal = calendar(
        exceptions=(
            DateException(date(2026, 3, 7), ExceptionKind.OPEN, (TimeRange.of("08:00", "18:00"),)),
        ),
        override=Override(mode, sh("2026-03-09 00:00"), "typhoon"),
    )
    state = cal.state_at(sh(at))
    assert state.is_open is (mode is OverrideMode.OPEN)
    assert state.period is Period.OVERRIDE
    assert state.rule is Rule.OVERRIDE
    assert "typhoon" in state.reason and "2026-03-09T00:00:00+08:00" in state.reason


def test_override_ends_exactly_at_until() -> None:
    cal = calendar(override=Override(OverrideMode.CLOSED, sh("2026-03-02 10:00")))
    assert cal.state_at(sh("2026-03-02 09:59:59")).period is Period.OVERRIDE
    assert not cal.is_open(sh("2026-03-02 09:59:59"))
    state = cal.state_at(sh("2026-03-02 10:00"))
    assert (state.is_open, state.period) == (True, Period.OPEN)


def test_expired_override_is_ignored() -> None:
    cal = calendar(override=Override(OverrideMode.OPEN, sh("2026-03-01 00:00")))
    state = cal.state_at(sh("2026-03-02 12:30"))
    assert (state.is_open, state.period, state.rule) == (False, Period.CLOSED, Rule.WEEKLY)


def test_override_until_in_another_zone() -> None:
    cal = calendar(
        override=Override(OverrideMode.CLOSED, utc("2026-03-02 02:00"))
    )  # 10:00 Shanghai
    assert cal.state_at(sh("2026-03-02 09:59")).period is Period.OVERRIDE
    assert cal.state_at(sh("2026-03-02 10:00")).period is Period.OPEN
