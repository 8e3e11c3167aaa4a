"""Working time on stranger calendars than the company's: random weekly hours
(one-minute periods, a lone day), zones with DST (30-minute, over midnight) and
the year edges past the statutory data (2026 → 2027). The laws of add/between
must hold on every one of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from hotline_pbx.domain.calendar import BusinessCalendar, Schedule, TimeRange, WeeklyPeriod
from hotline_pbx.domain.calendar.model import Weekday
from hotline_pbx.domain.calendar.working_time import (
    add_working_time,
    is_working_time,
    working_time_between,
)
from hotline_pbx.domain.statutory import chinese_statutory_source

ZONES = ["Asia/Shanghai", "America/New_York", "Europe/Berlin", "Australia/Lord_Howe",
         "America/Santiago", "America/Havana", "Pacific/Kiritimati", "Pacific/Pago_Pago"]


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    periods = []
    for day in draw(st.lists(st.sampled_from(list(Weekday)), min_size=1, max_size=7,
                             unique=True)):
        start = draw(st.integers(0, 1439))
        end = draw(st.integers(start + 1, min(1440, start + draw(st.sampled_from(
            [1, 30, 600, 1440])))))
        periods.append(WeeklyPeriod(day, TimeRange(start, end)))
    statutory = chinese_statutory_source() if draw(st.booleans()) else None
    return BusinessCalendar(Schedule(timezone=draw(st.sampled_from(ZONES)),
                                     weekly=tuple(periods)), statutory=statutory)


instants = st.datetimes(min_value=datetime(2025, 12, 20), max_value=datetime(2027, 1, 10),
                        timezones=st.just(UTC))
durations = st.integers(0, 40 * 3600).map(lambda s: timedelta(seconds=s))
LAWS = settings(max_examples=200, deadline=None)


@LAWS
@given(calendars(), instants, durations, durations)
def test_add_is_additive_and_between_inverts_it(cal: BusinessCalendar, start: datetime,
                                                  x: timedelta, y: timedelta) -> None:
    first = add_working_time(cal, start, x)
    assert start <= first
    assert add_working_time(cal, start, x + y) == add_working_time(cal, first, y)
    assert working_time_between(cal, start, first) == x
    if x:
        assert is_working_time(cal, first - timedelta(microseconds=1))


@settings(max_examples=40, deadline=None)
@given(calendars(), st.integers(-3, 3))
def test_the_year_edge_past_the_statutory_data(cal: BusinessCalendar, hours: int) -> None:
    start = datetime(2026, 12, 31, 16, tzinfo=UTC) + timedelta(hours=hours)
    due = add_working_time(cal, start, timedelta(hours=8))
    assert working_time_between(cal, start, due) == timedelta(hours=8)
