"""Checks the domain's constructors share: text, whole numbers, times of day,
years and instants.

Private to the domain package (the schemas of :mod:`hotline_pbx.api.schemas`
use ``type_name``, ``parse_hhmm`` and ``check_year`` to describe and convert
JSON values, and the API's query parser ``check_instant``, so that a query
instant is checked as a body instant is). Every helper raises
:class:`ValidationError` with the field path it was given.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from enum import StrEnum
from typing import TypeVar

from .contract import MAX_YEAR, MIN_YEAR
from .errors import ValidationError

MINUTES_PER_DAY = 24 * 60

_HHMM = re.compile(r"(\d{1,2}):(\d{2})")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

E = TypeVar("E", bound=StrEnum)



def type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


def expect_str(
    value: object,
    field: str,
    example: str,
    *,
    max_length: int,
    allow_empty: bool = False,
) -> str:
    if not isinstance(value, str):
        raise ValidationError(field, f"must be a string, not {type_name(value)}", example)
    return check_text(value, field, example, max_length=max_length, allow_empty=allow_empty)


def check_text(
    value: str, field: str, example: str, *, max_length: int, allow_empty: bool = False
) -> str:
    if not allow_empty and not value.strip():
        raise ValidationError(field, "must not be empty", example)
    if len(value) > max_length:
        raise ValidationError(
            field, f"is too long ({len(value)} characters; at most {max_length})", example
        )
    if _CONTROL.search(value):
        raise ValidationError(
            field, "must not contain control characters such as line breaks or tabs", example
        )
    return value


def expect_int(value: object, field: str, example: str, *, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(field, f"must be a whole number, not {type_name(value)}", example)
    if not low <= value <= high:
        raise ValidationError(field, f"must be between {low} and {high}, not {value}", example)
    return value


def format_hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def parse_hhmm(value: object, field: str, example: str, *, is_end: bool) -> int:
    """Parse ``"HH:MM"`` into minutes since midnight. ``"24:00"`` only as an end."""
    if not isinstance(value, str):
        raise ValidationError(
            field, f'must be a time of day as a string "HH:MM", not {type_name(value)}', example
        )
    match = _HHMM.fullmatch(value)
    if match is None:
        raise ValidationError(
            field, f"{value!r} is not a time of day; write it as HH:MM (24-hour clock)", example
        )
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59:
        raise ValidationError(
            field, f"{value!r} is not a time of day: minutes run from 00 to 59", example
        )
    if hours == 24 and minutes == 0:
        if not is_end:
            raise ValidationError(
                field,
                "a period cannot start at 24:00; start it at 00:00 of the next day",
                example,
            )
        return MINUTES_PER_DAY
    if hours > 23:
        reason = f"{value!r} is not a time of day: hours run from 00 to 23"
        if is_end:
            reason += " (24:00 is allowed as an end, meaning midnight at the end of the day)"
        raise ValidationError(field, reason, example)
    return hours * 60 + minutes


def check_year(year: int, field: str, example: str) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ValidationError(
            field, f"year {year} is out of range; use a year from {MIN_YEAR} to {MAX_YEAR}", example
        )


def check_aware(value: datetime, field: str, example: str) -> None:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValidationError(
            field,
            "must include a UTC offset (for example +08:00 or Z) so the instant is unambiguous",
            example,
        )


def check_instant(value: datetime, field: str, example: str) -> None:
    """An aware instant whose year is in range *in UTC*.

    Instants are stored in UTC (``timestamptz``) and read back in UTC, so the
    year is checked on that value, not on the local rendering the client
    sent: ``2100-12-31T23:00:00-14:00`` is 2101 in UTC and would not load.
    """
    check_aware(value, field, example)
    try:
        in_range = MIN_YEAR <= value.astimezone(UTC).year <= MAX_YEAR
    except OverflowError:  # e.g. 0001-01-01T00:00+14:00 is before year 1 in UTC
        in_range = False
    if not in_range:
        raise ValidationError(
            field,
            f"{value.isoformat()} is out of range in UTC (the instant as stored); use an "
            f"instant from {MIN_YEAR}-01-01T00:00:00Z to {MAX_YEAR}-12-31T23:59:59Z",
            example,
        )


