"""Weekly hours: every edge of the default schedule, both sides, to the minute."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hotline_pbx.domain.calendar import (
    DEFAULT_WEEKLY,
    BusinessCalendar,
    Override,
    OverrideMode,
    Rule,
    Schedule,
    TimeRange,
    Weekday,
    WeeklyPeriod,
)
from hotline_pbx.domain.contract import ROUTED_PERIODS, Period

from .helpers import SHANGHAI, sh, utc

CAL = BusinessCalendar()  # defaults: Asia/Shanghai, Mon-Fri 08:30-12:00 + 13:00-17:30

# 2026-03-02 is a Monday (no statutory source in CAL anyway)
EDGES = [
    ("00:00", False),
    ("08:29", False),
    ("08:29:59", False),
    ("08:30", True),
    ("08:30:01", True),
    ("11:59", True),
    ("11:59:59", True),
    ("12:00", False),
    ("12:00:01", False),
    ("12:59", False),
    ("12:59:59", False),
    ("13:00", True),
    ("17:29", True),
    ("17:29:59", True),
    ("17:30", False),
    ("17:31", False),
    ("23:59:59", False),
]


@pytest.mark.parametrize(("clock", "is_open"), EDGES)
def test_default_hours_edges_monday(clock: str, is_open: bool) -> None:
    state = CAL.state_at(sh(f"2026-03-02 {clock}"))
    assert state.is_open is is_open
    assert state.period is (Period.OPEN if is_open else Period.CLOSED)
    assert state.rule is Rule.WEEKLY


@pytest.mark.parametrize("day", range(2, 7))  # Mon 2 .. Fri 6 March 2026
@pytest.mark.parametrize(("clock", "is_open"), EDGES)
def test_default_hours_every_weekday(day: int, clock: str, is_open: bool) -> None:
    assert CAL.is_open(sh(f"2026-03-0{day} {clock}")) is is_open


@pytest.mark.parametrize("clock", ["00:00", "08:30", "10:00", "13:00", "17:29", "23:59"])
@pytest.mark.parametrize("day", ["2026-03-07", "2026-03-08"])  # Saturday, Sunday
def test_weekend_closed(day: str, clock: str) -> None:
    state = CAL.state_at(sh(f"{day} {clock}"))
    assert not state.is_open
    assert state.period is Period.CLOSED


def test_default_schedule_is_the_policy() -> None:
    schedule = Schedule()
    assert schedule.timezone == "Asia/Shanghai"
    assert schedule.weekly == DEFAULT_WEEKLY
    assert [str(p) for p in schedule.weekly if p.day is Weekday.MON] == [
        "mon 08:30-12:00",
        "mon 13:00-17:30",
    ]
    assert schedule.periods_on(Weekday.SAT) == ()


@pytest.mark.parametrize(
    ("instant", "is_open"),
    [
        ("2026-03-02 00:29", False),  # 08:29 Shanghai
        ("2026-03-02 00:30", True),  # 08:30
        ("2026-03-02 03:59", True),  # 11:59
        ("2026-03-02 04:00", False),  # 12:00
        ("2026-03-02 04:59", False),  # 12:59
        ("2026-03-02 05:00", True),  # 13:00
        ("2026-03-02 09:29", True),  # 17:29
        ("2026-03-02 09:30", False),  # 17:30
        ("2026-03-01 23:00", False),  # Sunday in UTC, Monday 07:00 in Shanghai
        ("2026-03-06 09:29", True),  # Friday 17:29
        ("2026-03-06 20:00", False),  # Saturday 04:00 in Shanghai
    ],
)
def test_instants_in_other_zones_use_local_wall_clock(instant: str, is_open: bool) -> None:
    assert CAL.is_open(utc(instant)) is is_open
    assert CAL.is_open(utc(instant).astimezone(SHANGHAI)) is is_open


def _calendar(*periods: tuple[str, str, str]) -> BusinessCalendar:
    return BusinessCalendar(Schedule(weekly=tuple(WeeklyPeriod.of(*p) for p in periods)))


def test_end_of_day_24_00() -> None:
    cal = _calendar(("mon", "22:00", "24:00"))
    assert not cal.is_open(sh("2026-03-02 21:59"))
    assert cal.is_open(sh("2026-03-02 22:00"))
    assert cal.is_open(sh("2026-03-02 23:59:59"))
    assert not cal.is_open(sh("2026-03-03 00:00"))  # Tuesday has no periods


def test_all_day_and_overnight_as_two_periods() -> None:
    cal = _calendar(("mon", "00:00", "24:00"), ("tue", "00:00", "06:00"))
    assert not cal.is_open(sh("2026-03-01 23:59"))
    assert cal.is_open(sh("2026-03-02 00:00"))
    assert cal.is_open(sh("2026-03-02 23:59:59"))
    assert cal.is_open(sh("2026-03-03 00:00"))
    assert cal.is_open(sh("2026-03-03 05:59"))
    assert not cal.is_open(sh("2026-03-03 06:00"))


def test_touching_periods_do_not_overlap() -> None:
    cal = _calendar(("mon", "12:00", "13:00"), ("mon", "13:00", "14:00"))
    assert not cal.is_open(sh("2026-03-02 11:59"))
    assert cal.is_open(sh("2026-03-02 12:59"))
    assert cal.is_open(sh("2026-03-02 13:00"))
    assert cal.is_open(sh("2026-03-02 13:59"))
    assert not cal.is_open(sh("2026-03-02 14:00"))


def test_periods_may_be_listed_in_any_order() -> None:
    cal = _calendar(("mon", "13:00", "17:30"), ("fri", "09:00", "10:00"), ("mon", "08:30", "12:00"))
    assert cal.schedule.periods_on(Weekday.MON) == (
        TimeRange.of("08:30", "12:00"),
        TimeRange.of("13:00", "17:30"),
    )
    assert cal.is_open(sh("2026-03-02 08:30"))
    assert not cal.is_open(sh("2026-03-02 12:30"))


def test_empty_weekly_is_always_closed() -> None:
    cal = _calendar()
    assert not cal.is_open(sh("2026-03-02 10:00"))
    assert cal.next_change(sh("2026-03-02 10:00")) is None


def test_naive_instant_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        CAL.state_at(datetime(2026, 3, 2, 10, 0))
    with pytest.raises(ValueError, match="aware"):
        CAL.next_change(datetime(2026, 3, 2, 10, 0))


def test_reason_says_why() -> None:
    assert CAL.state_at(sh("2026-03-02 10:00")).reason == "open 08:30-12:00 (weekly hours, mon)"
    assert CAL.state_at(sh("2026-03-02 12:30")).reason == "closed (weekly hours, mon)"


def test_period_is_a_str_enum() -> None:
    # The calendar decides one of the routed periods (failsafe and unrouted are
    # the dialplan's and the tracker's: tests/unit/test_contract.py).
    assert [p.value for p in ROUTED_PERIODS] == ["open", "closed", "override"]
    assert Period("override") is Period.OVERRIDE
    assert str(Period.OVERRIDE) == "override"


@pytest.mark.parametrize(
    ("at", "change_at", "opens"),
    [
        ("2026-03-02 10:00", "2026-03-02 12:00", False),
        ("2026-03-02 11:59:59", "2026-03-02 12:00", False),
        ("2026-03-02 12:00", "2026-03-02 13:00", True),
        ("2026-03-02 07:00", "2026-03-02 08:30", True),
        ("2026-03-02 17:29", "2026-03-02 17:30", False),
        ("2026-03-06 17:30", "2026-03-09 08:30", True),  # Friday evening -> Monday
        ("2026-03-07 12:00", "2026-03-09 08:30", True),
    ],
)
def test_next_change(at: str, change_at: str, opens: bool) -> None:
    change = CAL.next_change(sh(at))
    assert change is not None
    assert change.at == sh(change_at)
    assert change.at.tzinfo is UTC
    assert change.state.is_open is opens


def test_next_change_respects_horizon() -> None:
    at = sh("2026-03-06 18:00")
    assert CAL.next_change(at, horizon=timedelta(days=1)) is None
    change = CAL.next_change(at, horizon=timedelta(days=3))
    assert change is not None and change.at == sh("2026-03-09 08:30")


def test_next_change_at_override_expiry() -> None:
    cal = BusinessCalendar(override=Override(OverrideMode.CLOSED, sh("2026-03-02 15:00")))
    change = cal.next_change(sh("2026-03-02 09:00"))
    assert change is not None
    assert change.at == sh("2026-03-02 15:00")
    assert change.state.period is Period.OPEN
    # an override that agrees with the hours still changes the period
    cal = BusinessCalendar(override=Override(OverrideMode.OPEN, sh("2026-03-02 10:00")))
    change = cal.next_change(sh("2026-03-02 09:00"))
    assert change is not None
    assert change.at == sh("2026-03-02 10:00")
    assert (change.state.is_open, change.state.period) == (True, Period.OPEN)
