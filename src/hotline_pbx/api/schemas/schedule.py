"""``GET|PUT /api/v1/schedule``: time zone, weekly open periods, make-up day periods.

``{"timezone": "Asia/Shanghai", "weekly": [{"day": "mon", "start": "08:30",
"end": "12:00"}, ...], "workday_periods": null}``. ``timezone`` defaults to
Asia/Shanghai; ``workday_periods`` (the open periods of a statutory make-up
working day) may be left out or null, meaning Monday's periods. An empty
``weekly`` list means never open by the weekly rules. Times are ``HH:MM``
(``24:00`` as an end).
"""

from __future__ import annotations

from typing import Any

from hotline_pbx.api.schemas._json import check_keys, expect_list, expect_mapping
from hotline_pbx.domain._parse import expect_str, format_hhmm, parse_hhmm
from hotline_pbx.domain.calendar import Schedule, TimeRange, Weekday, WeeklyPeriod, load_zone
from hotline_pbx.domain.contract import DEFAULT_TIMEZONE
from hotline_pbx.domain.errors import ErrorCollector, ValidationError

__all__ = [
    "EXAMPLE_TIME_RANGE",
    "schedule_from_dict",
    "schedule_to_dict",
    "time_range_from_dict",
    "time_range_to_dict",
    "time_ranges_from_list",
]

EXAMPLE_TIME_RANGE = '{"start": "08:30", "end": "12:00"}'
_EXAMPLE_WEEKLY = '{"day": "mon", "start": "08:30", "end": "12:00"}'


def time_range_from_dict(data: object, *, path: str = "") -> TimeRange:
    """``{"start": "08:30", "end": "12:00"}`` -> TimeRange (``24:00`` allowed as end)."""
    mapping = expect_mapping(data, path, EXAMPLE_TIME_RANGE)
    errors = ErrorCollector(path)
    check_keys(
        mapping, ("start", "end"), ("start", "end"), errors, {"start": "08:30", "end": "12:00"}
    )
    start = end = None
    if "start" in mapping:
        start = errors.attempt("", parse_hhmm, mapping["start"], "start", "08:30", is_end=False)
    if "end" in mapping:
        end = errors.attempt("", parse_hhmm, mapping["end"], "end", "12:00", is_end=True)
    errors.raise_if_any()
    assert start is not None and end is not None
    try:
        return TimeRange(start, end)
    except ValidationError as error:
        raise error.at(path) from None


def time_range_to_dict(hours: TimeRange) -> dict[str, Any]:
    return {"start": format_hhmm(hours.start), "end": format_hhmm(hours.end)}


def time_ranges_from_list(value: object, path: str) -> tuple[TimeRange, ...]:
    """A list of periods of one day; how many and whether they overlap is the
    rule of the value holding them (Schedule, DateException)."""
    items = expect_list(value, path, f"[{EXAMPLE_TIME_RANGE}]")
    errors = ErrorCollector()
    ranges = [
        errors.attempt("", time_range_from_dict, item, path=f"{path}[{i}]")
        for i, item in enumerate(items)
    ]
    errors.raise_if_any()
    return tuple(r for r in ranges if r is not None)


def _weekday_from_json(value: object) -> Weekday:
    return Weekday.from_key(expect_str(value, "", "mon", max_length=16))


def _weekly_from_dict(data: object, path: str) -> WeeklyPeriod:
    mapping = expect_mapping(data, path, _EXAMPLE_WEEKLY)
    errors = ErrorCollector(path)
    check_keys(
        mapping,
        ("day", "start", "end"),
        ("day", "start", "end"),
        errors,
        {"day": "mon", "start": "08:30", "end": "12:00"},
    )
    day = None
    if "day" in mapping:
        day = errors.attempt("day", _weekday_from_json, mapping["day"])
    hours = None
    if "start" in mapping and "end" in mapping:
        hours = errors.attempt(
            "", time_range_from_dict, {"start": mapping["start"], "end": mapping["end"]}
        )
    errors.raise_if_any()
    assert day is not None and hours is not None
    return WeeklyPeriod(day, hours)


def _timezone_from_json(value: object) -> str:
    """The zone name. Checked here with the domain's own rule (``load_zone``, the
    one Schedule applies) only so that a bad zone is reported together with the
    document's other problems, in document order."""
    name = expect_str(value, "", DEFAULT_TIMEZONE, max_length=64)
    load_zone(name, "")
    return name


def schedule_from_dict(data: object, *, path: str = "") -> Schedule:
    """Build a Schedule from the JSON of ``PUT /api/v1/schedule`` (module docstring)."""
    mapping = expect_mapping(data, path, '{"timezone": "Asia/Shanghai", "weekly": [...]}')
    errors = ErrorCollector(path)
    check_keys(
        mapping,
        ("timezone", "weekly", "workday_periods"),
        ("weekly",),
        errors,
        {"weekly": f"[{_EXAMPLE_WEEKLY}]"},
    )
    timezone: str | None = DEFAULT_TIMEZONE
    if "timezone" in mapping:
        timezone = errors.attempt("timezone", _timezone_from_json, mapping["timezone"])
    weekly: list[WeeklyPeriod] = []
    if "weekly" in mapping:
        items = errors.attempt(
            "weekly", expect_list, mapping["weekly"], "", f"[{_EXAMPLE_WEEKLY}]"
        )
        for i, item in enumerate(items or ()):
            period = errors.attempt("", _weekly_from_dict, item, f"weekly[{i}]")
            if period is not None:
                weekly.append(period)
    workday: tuple[TimeRange, ...] | None = None
    if mapping.get("workday_periods") is not None:
        workday = errors.attempt(
            "", time_ranges_from_list, mapping["workday_periods"], "workday_periods"
        )
    errors.raise_if_any()
    assert timezone is not None
    try:
        return Schedule(timezone, tuple(weekly), workday)
    except ValidationError as error:
        raise error.at(path) from None


def schedule_to_dict(schedule: Schedule) -> dict[str, Any]:
    return {
        "timezone": schedule.timezone,
        "weekly": [{"day": p.day.key, **time_range_to_dict(p.hours)} for p in schedule.weekly],
        "workday_periods": None
        if schedule.workday_periods is None
        else [time_range_to_dict(r) for r in schedule.workday_periods],
    }
