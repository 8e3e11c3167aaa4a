"""Daylight saving time: local wall-clock time decides, skipped and repeated hours behave."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from hotline_pbx.domain.calendar import BusinessCalendar, Schedule, WeeklyPeriod

from .helpers import BERLIN, NEW_YORK, utc


def calendar(zone: str, *periods: tuple[str, str, str]) -> BusinessCalendar:
    return BusinessCalendar(Schedule(zone, tuple(WeeklyPeriod.of(*p) for p in periods)))


def open_minutes(cal: BusinessCalendar, start: datetime, end: datetime) -> list[datetime]:
    minutes = []
    at = start
    while at < end:
        if cal.is_open(at):
            minutes.append(at)
        at += timedelta(minutes=1)
    return minutes


# New York, Sunday 2025-03-09: 02:00 EST jumps to 03:00 EDT at 07:00 UTC.
# New York, Sunday 2025-11-02: 02:00 EDT falls back to 01:00 EST at 06:00 UTC.


@pytest.mark.parametrize(
    ("instant", "is_open"),
    [
        ("2025-03-09 06:29", False),  # 01:29 EST
        ("2025-03-09 06:30", True),  # 01:30 EST
        ("2025-03-09 06:59:59", True),  # 01:59:59 EST
        ("2025-03-09 07:00", False),  # 03:00 EDT: 02:30 never came, but we are past it
        ("2025-03-09 08:00", False),
    ],
)
def test_spring_forward_period_across_the_gap(instant: str, is_open: bool) -> None:
    cal = calendar("America/New_York", ("sun", "01:30", "02:30"))
    assert cal.is_open(utc(instant)) is is_open


def test_spring_forward_period_inside_the_gap_never_opens() -> None:
    cal = calendar("America/New_York", ("sun", "02:15", "02:45"))
    assert open_minutes(cal, utc("2025-03-09 04:00"), utc("2025-03-09 10:00")) == []
    # a week later the same period is open for its 30 minutes
    assert len(open_minutes(cal, utc("2025-03-16 04:00"), utc("2025-03-16 10:00"))) == 30


def test_spring_forward_period_starting_after_the_gap() -> None:
    cal = calendar("America/New_York", ("sun", "03:00", "04:00"))
    assert not cal.is_open(utc("2025-03-09 06:59:59"))
    assert cal.is_open(utc("2025-03-09 07:00"))  # 03:00 EDT
    assert not cal.is_open(utc("2025-03-09 08:00"))  # 04:00 EDT
    assert len(open_minutes(cal, utc("2025-03-09 04:00"), utc("2025-03-09 10:00"))) == 60


@pytest.mark.parametrize(
    ("instant", "is_open"),
    [
        ("2025-11-02 05:29", False),  # 01:29 EDT
        ("2025-11-02 05:30", True),  # 01:30 EDT
        ("2025-11-02 05:59", True),  # 01:59 EDT
        ("2025-11-02 06:00", False),  # 01:00 EST (the hour repeats)
        ("2025-11-02 06:29", False),  # 01:29 EST
        ("2025-11-02 06:30", True),  # 01:30 EST
        ("2025-11-02 06:59", True),  # 01:59 EST
        ("2025-11-02 07:00", False),  # 02:00 EST
    ],
)
def test_fall_back_repeated_hour_opens_twice(instant: str, is_open: bool) -> None:
    cal = calendar("America/New_York", ("sun", "01:30", "02:00"))
    assert cal.is_open(utc(instant)) is is_open


def test_fall_back_period_over_the_repeated_hour_lasts_an_extra_hour() -> None:
    cal = calendar("America/New_York", ("sun", "00:30", "02:30"))
    minutes = open_minutes(cal, utc("2025-11-02 03:00"), utc("2025-11-02 09:00"))
    assert len(minutes) == 180  # 2 h of wall clock + the repeated hour
    assert minutes[0] == utc("2025-11-02 04:30") and minutes[-1] == utc("2025-11-02 07:29")


@pytest.mark.parametrize(
    ("instant", "is_open"),
    [
        # Friday before the change: CET (UTC+1)
        ("2026-03-27 07:29", False),
        ("2026-03-27 07:30", True),  # 08:30 CET
        ("2026-03-27 10:59", True),
        ("2026-03-27 11:00", False),  # 12:00 CET
        ("2026-03-27 16:29", True),
        ("2026-03-27 16:30", False),  # 17:30 CET
        # Monday after the change: CEST (UTC+2) - the same wall-clock hours
        ("2026-03-30 06:29", False),
        ("2026-03-30 06:30", True),  # 08:30 CEST
        ("2026-03-30 09:59", True),
        ("2026-03-30 10:00", False),  # 12:00 CEST
        ("2026-03-30 11:00", True),  # 13:00 CEST
        ("2026-03-30 15:30", False),  # 17:30 CEST
        # Monday after the autumn change: CET again
        ("2026-10-26 07:29", False),
        ("2026-10-26 07:30", True),
        ("2026-10-26 16:29", True),
        ("2026-10-26 16:30", False),
    ],
)
def test_berlin_business_hours_follow_the_wall_clock(instant: str, is_open: bool) -> None:
    cal = BusinessCalendar(Schedule("Europe/Berlin"))
    assert cal.is_open(utc(instant)) is is_open


def test_local_instants_give_the_same_answer() -> None:
    cal = BusinessCalendar(Schedule("Europe/Berlin"))
    assert cal.is_open(datetime(2026, 3, 30, 8, 30, tzinfo=BERLIN))
    assert not cal.is_open(datetime(2026, 3, 30, 8, 29, tzinfo=BERLIN))


def test_next_change_across_spring_gap() -> None:
    cal = calendar("America/New_York", ("sun", "01:30", "02:30"))
    change = cal.next_change(utc("2025-03-09 06:00"))
    assert change is not None and change.at == utc("2025-03-09 06:30") and change.state.is_open
    change = cal.next_change(utc("2025-03-09 06:30"))
    assert change is not None
    assert change.at == utc("2025-03-09 07:00")  # the jump itself closes it
    assert change.at.astimezone(NEW_YORK).hour == 3
    assert not change.state.is_open


def test_next_change_across_fall_back() -> None:
    cal = calendar("America/New_York", ("sun", "01:30", "02:00"))
    expected = ["2025-11-02 05:30", "2025-11-02 06:00", "2025-11-02 06:30", "2025-11-02 07:00"]
    at = utc("2025-11-02 04:00")
    seen = []
    for _ in expected:
        change = cal.next_change(at)
        assert change is not None
        seen.append(change.at)
        at = change.at
    assert seen == [utc(e) for e in expected]
    second_one_oclock = seen[1].astimezone(NEW_YORK)
    assert (second_one_oclock.hour, second_one_oclock.fold) == (1, 1)  # 01:00 EST


def test_next_change_over_the_berlin_spring_change() -> None:
    cal = BusinessCalendar(Schedule("Europe/Berlin"))
    change = cal.next_change(utc("2026-03-27 17:00"))  # Friday 18:00 CET
    assert change is not None
    assert change.at == utc("2026-03-30 06:30")  # Monday 08:30 CEST
