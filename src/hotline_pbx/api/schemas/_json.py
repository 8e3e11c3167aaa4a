"""Shape checks of JSON values, field by field, shared by the schemas.

Every helper raises :class:`ValidationError` with the field path it was given;
the schemas use an :class:`ErrorCollector` to report every problem of one
document at once.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import TypeVar

from hotline_pbx.domain._parse import check_year, type_name
from hotline_pbx.domain.errors import ErrorCollector, ValidationError

E = TypeVar("E", bound=StrEnum)

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def expect_mapping(value: object, field: str, example: str) -> Mapping[str, object]:
    if not isinstance(value, Mapping):
        raise ValidationError(field, f"must be an object, not {type_name(value)}", example)
    for key in value:
        if not isinstance(key, str):
            raise ValidationError(field, "object keys must be strings", example)
    return value


def check_keys(
    data: Mapping[str, object],
    allowed: Collection[str],
    required: Collection[str],
    errors: ErrorCollector,
    examples: Mapping[str, str],
) -> None:
    """Record an error for every unknown key and every missing required key."""
    allowed_text = ", ".join(allowed)
    for key in data:
        if key not in allowed:
            errors.add(key, f"unknown field; the allowed fields are: {allowed_text}", allowed_text)
    for key in required:
        if key not in data:
            errors.add(key, "is required", examples.get(key, ""))


def expect_list(
    value: object, field: str, example: str, *, max_items: int | None = None
) -> Sequence[object]:
    """A JSON list. ``max_items`` only where no domain value counts the items."""
    if not isinstance(value, list | tuple):
        raise ValidationError(field, f"must be a list, not {type_name(value)}", example)
    if max_items is not None and len(value) > max_items:
        raise ValidationError(
            field, f"has too many entries ({len(value)}; at most {max_items})", example
        )
    return value


def expect_enum(enum: type[E], value: object, field: str, example: str) -> E:
    allowed = ", ".join(member.value for member in enum)
    if not isinstance(value, str):
        raise ValidationError(
            field, f"must be one of {allowed} as a string, not {type_name(value)}", example
        )
    for member in enum:
        if member.value == value:
            return member
    raise ValidationError(field, f"{value!r} is not one of {allowed}", example)


def parse_date(value: object, field: str, example: str) -> date:
    """``YYYY-MM-DD`` with the year (in range, so a path or query date that
    could never be stored is refused as such)."""
    if not isinstance(value, str):
        raise ValidationError(
            field, f'must be a date as a string "YYYY-MM-DD", not {type_name(value)}', example
        )
    if _ISO_DATE.fullmatch(value) is None:
        raise ValidationError(
            field, f"{value!r} is not a date; write it as YYYY-MM-DD with the year", example
        )
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            field, f"{value!r} is not a date that exists in the calendar", example
        ) from None
    check_year(parsed.year, field, example)
    return parsed


def parse_datetime(value: object, field: str, example: str) -> datetime:
    """An ISO 8601 date and time. Whether it is an instant the domain can hold
    (with a UTC offset, in the years of the contract) is the domain value's rule."""
    if not isinstance(value, str):
        raise ValidationError(
            field,
            f"must be a date and time as an ISO 8601 string, not {type_name(value)}",
            example,
        )
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            field,
            f"{value!r} is not an ISO 8601 date and time such as {example}",
            example,
        ) from None


def format_datetime(value: datetime) -> str:
    return value.isoformat()
