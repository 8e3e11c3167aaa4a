"""The whole business calendar as one document: schedule, exceptions, override.

``{"schedule": {...}, "exceptions": [...], "override": {...} | null}``;
``exceptions`` and ``override`` may be left out. Field paths are
``schedule.weekly[2].end``, ``exceptions[0].date``, ``override.until``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hotline_pbx.api.schemas._json import check_keys, expect_mapping
from hotline_pbx.api.schemas.exceptions import exceptions_from_list, exceptions_to_list
from hotline_pbx.api.schemas.override import override_from_dict, override_to_dict
from hotline_pbx.api.schemas.schedule import schedule_from_dict, schedule_to_dict
from hotline_pbx.domain.calendar import BusinessCalendar, DateException, StatutorySource
from hotline_pbx.domain.errors import ErrorCollector

__all__ = ["calendar_from_dict", "calendar_to_dict"]


def calendar_from_dict(
    data: object,
    *,
    path: str = "",
    statutory: StatutorySource | None = None,
    now: datetime | None = None,
) -> BusinessCalendar:
    mapping = expect_mapping(data, path, '{"schedule": {...}, "exceptions": [], "override": null}')
    errors = ErrorCollector(path)
    check_keys(
        mapping,
        ("schedule", "exceptions", "override"),
        ("schedule",),
        errors,
        {"schedule": '{"timezone": "Asia/Shanghai", "weekly": [...]}'},
    )
    schedule = None
    if "schedule" in mapping:
        schedule = errors.attempt("", schedule_from_dict, mapping["schedule"], path="schedule")
    exceptions: tuple[DateException, ...] | None = ()
    if "exceptions" in mapping:
        exceptions = errors.attempt("", exceptions_from_list, mapping["exceptions"])
    override = None
    if mapping.get("override") is not None:
        override = errors.attempt(
            "", override_from_dict, mapping["override"], path="override", now=now
        )
    errors.raise_if_any()
    assert schedule is not None and exceptions is not None
    return BusinessCalendar(schedule, exceptions, override, statutory)


def calendar_to_dict(calendar: BusinessCalendar) -> dict[str, Any]:
    return {
        "schedule": schedule_to_dict(calendar.schedule),
        "exceptions": exceptions_to_list(calendar.exceptions),
        "override": None if calendar.override is None else override_to_dict(calendar.override),
    }
