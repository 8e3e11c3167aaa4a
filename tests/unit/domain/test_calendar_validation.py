"""Every bad schedule, exception or override is rejected with the field named."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pytest

from hotline_pbx.api.schemas.calendar import calendar_from_dict, calendar_to_dict
from hotline_pbx.api.schemas.exceptions import (
    exception_from_dict,
    exception_to_dict,
    exceptions_from_list,
)
from hotline_pbx.api.schemas.override import override_from_dict, override_to_dict
from hotline_pbx.api.schemas.schedule import schedule_from_dict, schedule_to_dict
from hotline_pbx.domain.calendar import (
    BusinessCalendar,
    DateException,
    ExceptionKind,
    Override,
    OverrideMode,
    Schedule,
    TimeRange,
    WeeklyPeriod,
    add_exception,
)
from hotline_pbx.domain.errors import ValidationError, ValidationErrors

from .helpers import raises_on, sh


def period(day: Any, start: Any, end: Any) -> dict[str, Any]:
    return {"day": day, "start": start, "end": end}


def body(*weekly: Any, **extra: Any) -> dict[str, Any]:
    return {"timezone": "Asia/Shanghai", "weekly": list(weekly), **extra}


GOOD = [period("mon", "08:30", "12:00"), period("mon", "13:00", "17:30")]


# ------------------------------------------------------------------ time values


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        ("25:00", "24:00", "start"),
        ("08:00", "25:00", "end"),
        ("12:60", "13:00", "start"),
        ("08:00", "12:60", "end"),
        ("24:00", "24:00", "start"),  # 24:00 only as an end
        ("12:00", "08:30", "end"),  # inverted
        ("12:00", "12:00", "end"),  # empty
        ("8h30", "12:00", "start"),
        ("08:30:00", "12:00", "start"),
        ("08:30", "noon", "end"),
        ("-1:00", "12:00", "start"),
        (830, "12:00", "start"),
        ("08:30", None, "end"),
    ],
)
def test_bad_times_name_the_field(start: Any, end: Any, field: str) -> None:
    raises_on(
        lambda: schedule_from_dict(body(*GOOD, period("tue", start, end))), f"weekly[2].{field}"
    )


def test_24_00_is_allowed_as_end_and_one_digit_hours_are_read() -> None:
    schedule = schedule_from_dict(body(period("mon", "8:30", "24:00")))
    assert schedule.weekly == (WeeklyPeriod.of("mon", "08:30", "24:00"),)
    assert schedule_to_dict(schedule)["weekly"] == [period("mon", "08:30", "24:00")]


def test_inverted_reason_is_actionable() -> None:
    error = raises_on(lambda: TimeRange.of("12:00", "08:30"), "end")
    assert "12:00" in error.reason and "08:30" in error.reason


def test_schedule_constructor_rejects_a_non_string_zone() -> None:
    raises_on(lambda: Schedule(8), "timezone")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        (-1, 10, "start"),
        (1440, 1441, "start"),
        (0, 1441, "end"),
        (10, 10, "end"),
        (True, 10, "start"),
    ],
)
def test_time_range_constructor_checks(start: Any, end: Any, field: str) -> None:
    raises_on(lambda: TimeRange(start, end), field)


# ------------------------------------------------------------------ overlaps


def test_overlap_names_the_later_period() -> None:
    error = raises_on(
        lambda: schedule_from_dict(
            body(period("mon", "08:30", "12:00"), period("mon", "11:00", "14:00"))
        ),
        "weekly[1].start",
    )
    assert "weekly[0]" in error.reason and "overlap" in error.reason


def test_overlap_with_an_earlier_starting_later_entry_names_its_end() -> None:
    raises_on(
        lambda: schedule_from_dict(
            body(
                period("mon", "13:00", "17:30"),
                period("tue", "09:00", "10:00"),
                period("mon", "12:00", "13:30"),
            )
        ),
        "weekly[2].end",
    )


def test_same_times_on_different_days_do_not_overlap() -> None:
    schedule = schedule_from_dict(
        body(period("mon", "08:30", "12:00"), period("tue", "08:30", "12:00"))
    )
    assert len(schedule.weekly) == 2


def test_contained_and_duplicate_periods_overlap() -> None:
    raises_on(
        lambda: schedule_from_dict(
            body(
                period("wed", "08:00", "18:00"),
                period("wed", "09:00", "10:00"),
                period("wed", "08:00", "18:00"),
            )
        ),
        "weekly[1].start",
        "weekly[2].start",
    )


def test_constructor_checks_overlaps_too() -> None:
    raises_on(
        lambda: Schedule(
            weekly=(
                WeeklyPeriod.of("fri", "08:00", "12:00"),
                WeeklyPeriod.of("fri", "11:59", "13:00"),
            )
        ),
        "weekly[1].start",
    )


def test_workday_periods_are_validated() -> None:
    raises_on(
        lambda: schedule_from_dict(
            body(
                *GOOD,
                workday_periods=[
                    {"start": "09:00", "end": "12:00"},
                    {"start": "11:00", "end": "12:30"},
                ],
            )
        ),
        "workday_periods[1].start",
    )
    raises_on(
        lambda: schedule_from_dict(
            body(*GOOD, workday_periods=[{"start": "09:00", "end": "25:00"}])
        ),
        "workday_periods[0].end",
    )
    raises_on(lambda: schedule_from_dict(body(*GOOD, workday_periods="09-12")), "workday_periods")


# ------------------------------------------------------------------ structure and types


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ([], [""]),
        ("mon 08:30-12:00", [""]),
        ({"timezone": "Asia/Shanghai"}, ["weekly"]),
        (body(*GOOD, colour="blue"), ["colour"]),
        ({"timezone": "Asia/Shanghai", "weekly": {"mon": []}}, ["weekly"]),
        (body("mon 08:30-12:00"), ["weekly[0]"]),
        (body({**GOOD[0], "note": "x"}), ["weekly[0].note"]),
        (body({"day": "mon", "start": "08:30"}), ["weekly[0].end"]),
        (body(period("monday", "08:30", "12:00")), ["weekly[0].day"]),
        (body(period(1, "08:30", "12:00")), ["weekly[0].day"]),
        ({"timezone": 8, "weekly": GOOD}, ["timezone"]),
        ({"timezone": "Mars/Olympus_Mons", "weekly": GOOD}, ["timezone"]),
        ({"timezone": "../../etc/passwd", "weekly": GOOD}, ["timezone"]),
        ({"timezone": "/usr/share/zoneinfo/UTC", "weekly": GOOD}, ["timezone"]),
        ({"timezone": "", "weekly": GOOD}, ["timezone"]),
        ({"timezone": "CST", "weekly": GOOD}, ["timezone"]),
        ({"timezone": "America", "weekly": GOOD}, ["timezone"]),
        ({"timezone": "zone.tab", "weekly": GOOD}, ["timezone"]),
        ({"timezone": "Asia/Shanghai ", "weekly": GOOD}, ["timezone"]),
    ],
)
def test_schedule_structure_errors(data: Any, fields: list[str]) -> None:
    raises_on(lambda: schedule_from_dict(data), *fields)


def test_all_problems_are_reported_together() -> None:
    data = {
        "timezone": "Nowhere/Town",
        "weekly": [
            period("mon", "25:00", "12:00"),
            period("xyz", "08:00", "12:60"),
            {"day": "tue", "start": "08:00", "end": "09:00", "extra": 1},
        ],
        "unknown": True,
    }
    with pytest.raises(ValidationErrors) as info:
        schedule_from_dict(data)
    assert [e.field for e in info.value.errors] == [
        "unknown",
        "timezone",
        "weekly[0].start",
        "weekly[1].day",
        "weekly[1].end",
        "weekly[2].extra",
    ]


def test_path_prefix() -> None:
    raises_on(
        lambda: schedule_from_dict(body(period("mon", "08:30", "25:00")), path="schedule"),
        "schedule.weekly[0].end",
    )


def test_timezone_defaults_and_accepts_iana_names() -> None:
    assert schedule_from_dict({"weekly": []}).timezone == "Asia/Shanghai"
    assert (
        schedule_from_dict({"timezone": "Europe/Berlin", "weekly": []}).zone.key == "Europe/Berlin"
    )


# ------------------------------------------------------------------ exceptions


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ({"date": "2026-02-30", "kind": "closed"}, ["date"]),
        ({"date": "2026-13-01", "kind": "closed"}, ["date"]),
        ({"date": "10-01", "kind": "closed"}, ["date"]),  # no year
        ({"date": "01/10/2026", "kind": "closed"}, ["date"]),
        ({"date": "20261001", "kind": "closed"}, ["date"]),
        ({"date": "2026-W40-4", "kind": "closed"}, ["date"]),
        ({"date": "1999-10-01", "kind": "closed"}, ["date"]),
        ({"date": 20261001, "kind": "closed"}, ["date"]),
        ({"date": "2026-10-01T00:00:00", "kind": "closed"}, ["date"]),
        ({"kind": "closed"}, ["date"]),
        ({"date": "2026-10-01"}, ["kind"]),
        ({"date": "2026-10-01", "kind": "holiday"}, ["kind"]),
        (
            {
                "date": "2026-10-01",
                "kind": "closed",
                "periods": [{"start": "09:00", "end": "12:00"}],
            },
            ["periods"],
        ),
        ({"date": "2026-10-10", "kind": "open"}, ["periods"]),
        ({"date": "2026-10-10", "kind": "open", "periods": []}, ["periods"]),
        (
            {"date": "2026-10-10", "kind": "open", "periods": [{"start": "12:00", "end": "09:00"}]},
            ["periods[0].end"],
        ),
        (
            {
                "date": "2026-10-10",
                "kind": "open",
                "periods": [{"start": "09:00", "end": "12:00"}, {"start": "10:00", "end": "11:00"}],
            },
            ["periods[1].start"],
        ),
        (
            {"date": "2026-10-10", "kind": "open", "periods": [{"start": "09:00"}]},
            ["periods[0].end"],
        ),
        ({"date": "2026-10-01", "kind": "closed", "note": 5}, ["note"]),
        ({"date": "2026-10-01", "kind": "closed", "note": "x" * 501}, ["note"]),
        ({"date": "2026-10-01", "kind": "closed", "note": "line\nbreak"}, ["note"]),
        ({"date": "2026-10-01", "kind": "closed", "year": 2026}, ["year"]),
        ("2026-10-01", [""]),
    ],
)
def test_exception_errors(data: Any, fields: list[str]) -> None:
    raises_on(lambda: exception_from_dict(data), *fields)


def test_two_exceptions_for_one_date_are_rejected() -> None:
    items = [
        {"date": "2026-10-01", "kind": "closed"},
        {"date": "2026-10-02", "kind": "closed"},
        {"date": "2026-10-01", "kind": "open", "periods": [{"start": "09:00", "end": "12:00"}]},
    ]
    error = raises_on(lambda: exceptions_from_list(items), "exceptions[2].date")
    assert "exceptions[0]" in error.reason
    first = exception_from_dict(items[0])
    raises_on(
        lambda: BusinessCalendar(exceptions=(first, exception_from_dict(items[1]), first)),
        "exceptions[2].date",
    )
    raises_on(lambda: add_exception([first], first), "date")


def test_add_exception_keeps_dates_sorted() -> None:
    a = DateException(date(2026, 10, 2), ExceptionKind.CLOSED)
    b = DateException(date(2026, 10, 1), ExceptionKind.CLOSED)
    assert add_exception([a], b) == (b, a)


def test_exceptions_list_reports_item_paths() -> None:
    raises_on(
        lambda: exceptions_from_list(
            [{"date": "2026-10-01", "kind": "closed"}, {"date": "2026-02-30", "kind": "closed"}]
        ),
        "exceptions[1].date",
    )
    raises_on(lambda: exceptions_from_list({"date": "2026-10-01"}), "exceptions")


def test_exception_round_trip() -> None:
    closed = {"date": "2026-12-24", "kind": "closed", "note": "company outing"}
    opened = {
        "date": "2026-12-26",
        "kind": "open",
        "periods": [{"start": "09:00", "end": "12:00"}],
        "note": "",
    }
    assert exception_to_dict(exception_from_dict(closed)) == closed
    assert exception_to_dict(exception_from_dict(opened)) == opened
    assert exception_from_dict({"date": "2026-12-24", "kind": "closed"}).note == ""


# ------------------------------------------------------------------ override


@pytest.mark.parametrize(
    ("data", "fields"),
    [
        ({"mode": "closed", "until": "2026-10-01T08:30:00"}, ["until"]),  # no offset
        ({"mode": "closed", "until": "2026-10-01"}, ["until"]),
        ({"mode": "closed", "until": "tomorrow"}, ["until"]),
        ({"mode": "closed", "until": 1790000000}, ["until"]),
        ({"mode": "closed", "until": "2026-02-30T08:30:00+08:00"}, ["until"]),
        ({"mode": "auto", "until": "2026-10-01T08:30:00+08:00"}, ["mode"]),
        ({"mode": None, "until": "2026-10-01T08:30:00+08:00"}, ["mode"]),
        ({"until": "2026-10-01T08:30:00+08:00"}, ["mode"]),
        ({"mode": "open"}, ["until"]),
        ({"mode": "open", "until": "2026-10-01T08:30:00+08:00", "by": "admin"}, ["by"]),
        ({"mode": "open", "until": "2026-10-01T08:30:00+08:00", "note": ["x"]}, ["note"]),
        (None, [""]),
    ],
)
def test_override_errors(data: Any, fields: list[str]) -> None:
    raises_on(lambda: override_from_dict(data), *fields)


def test_override_until_must_be_in_the_future_when_now_is_given() -> None:
    data = {"mode": "closed", "until": "2026-10-01T08:30:00+08:00"}
    raises_on(lambda: override_from_dict(data, now=sh("2026-10-01 08:30")), "until")
    assert override_from_dict(data, now=sh("2026-10-01 08:29")).until == sh("2026-10-01 08:30")


def test_override_constructor_needs_aware_until() -> None:
    raises_on(lambda: Override(OverrideMode.OPEN, datetime(2026, 10, 1, 8, 30)), "until")


def test_override_round_trip_and_z_suffix() -> None:
    data = {"mode": "open", "until": "2026-10-01T08:30:00+08:00", "note": "storm"}
    assert override_to_dict(override_from_dict(data)) == data
    assert override_from_dict({"mode": "open", "until": "2026-10-01T00:30:00Z"}).until == sh(
        "2026-10-01 08:30"
    )


# ------------------------------------------------------------------ whole calendar


def test_calendar_dict_round_trip_and_paths() -> None:
    data = {
        "schedule": {"timezone": "Asia/Shanghai", "weekly": GOOD, "workday_periods": None},
        "exceptions": [{"date": "2026-12-24", "kind": "closed", "note": ""}],
        "override": {"mode": "closed", "until": "2026-10-01T08:30:00+08:00", "note": ""},
    }
    calendar = calendar_from_dict(data)
    assert calendar_to_dict(calendar) == data
    assert calendar_from_dict(calendar_to_dict(calendar)) == calendar
    assert calendar_from_dict({"schedule": {"weekly": []}}).override is None
    bad = {
        "schedule": {"weekly": [period("mon", "08:30", "12:60")]},
        "exceptions": [{"date": "2026-02-30", "kind": "closed"}],
        "override": {"mode": "closed", "until": "soon"},
        "extra": 1,
    }
    with pytest.raises(ValidationError) as info:
        calendar_from_dict(bad)
    assert [e.field for e in info.value.errors] == [
        "extra",
        "schedule.weekly[0].end",
        "exceptions[0].date",
        "override.until",
    ]
