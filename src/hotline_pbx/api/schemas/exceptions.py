"""``GET|POST|DELETE /api/v1/exceptions``: dated closures and extra open days.

``{"date": "2026-10-01", "kind": "closed", "note": "..."}`` or ``{"date":
"2026-10-10", "kind": "open", "periods": [{"start": "09:00", "end": "12:00"}]}``;
the date always has its year.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from typing import Any

from hotline_pbx.api.schemas._json import (
    check_keys,
    expect_enum,
    expect_list,
    expect_mapping,
    parse_date,
)
from hotline_pbx.api.schemas.schedule import time_range_to_dict, time_ranges_from_list
from hotline_pbx.domain.calendar import DateException, ExceptionKind, duplicate_dates
from hotline_pbx.domain.contract import MAX_EXCEPTIONS
from hotline_pbx.domain.errors import ErrorCollector, ValidationError, raise_errors

__all__ = [
    "STORED_DATE",
    "exception_from_dict",
    "exception_to_dict",
    "exceptions_from_list",
    "exceptions_to_list",
    "stored_date_from_text",
]


#: A date as ``GET /api/v1/exceptions`` shows a stored one: of any year
#: PostgreSQL holds, ``infinity`` and ``-infinity`` included (so a row written
#: by SQL that does not load can still be named to be deleted).
STORED_DATE = re.compile(r"(-?infinity)|(\d{4,})-(\d{2})-(\d{2})( BC)?")


def stored_date_from_text(value: str, field: str) -> str:
    """The date of a stored exception, as shown by GET (the key to delete it)."""
    match = STORED_DATE.fullmatch(value)
    if match is None:
        raise ValidationError(
            field, f"{value!r} is not a date; write it as YYYY-MM-DD with the year", "2026-10-01"
        )
    if match.group(1) is None:
        try:  # a leap year, so that only a day no year has is refused here
            date(2000, int(match.group(3)), int(match.group(4)))
        except ValueError:
            raise ValidationError(
                field, f"{value!r} is not a date that exists in the calendar", "2026-10-01"
            ) from None
    return value


def exception_from_dict(data: object, *, path: str = "") -> DateException:
    example = '{"date": "2026-10-01", "kind": "closed", "note": "National Day"}'
    mapping = expect_mapping(data, path, example)
    errors = ErrorCollector(path)
    check_keys(
        mapping,
        ("date", "kind", "periods", "note"),
        ("date", "kind"),
        errors,
        {"date": "2026-10-01", "kind": "closed"},
    )
    day = None
    if "date" in mapping:
        day = errors.attempt("date", parse_date, mapping["date"], "", "2026-10-01")
    kind = None
    if "kind" in mapping:
        kind = errors.attempt("kind", expect_enum, ExceptionKind, mapping["kind"], "", "closed")
    periods: tuple[Any, ...] | None = ()
    if "periods" in mapping:
        periods = errors.attempt("", time_ranges_from_list, mapping["periods"], "periods")
    errors.raise_if_any()
    assert day is not None and kind is not None and periods is not None
    try:  # the note is checked (a string, its length) by DateException
        return DateException(day, kind, periods, mapping.get("note", ""))  # type: ignore[arg-type]
    except ValidationError as error:
        raise error.at(path) from None


def exception_to_dict(exception: DateException) -> dict[str, Any]:
    data: dict[str, Any] = {"date": exception.day.isoformat(), "kind": exception.kind.value}
    if exception.kind is ExceptionKind.OPEN:
        data["periods"] = [time_range_to_dict(r) for r in exception.periods]
    data["note"] = exception.note
    return data


def exceptions_from_list(data: object, *, path: str = "exceptions") -> tuple[DateException, ...]:
    """A list of exceptions; two for the same date are rejected."""
    items = expect_list(
        data, path, '[{"date": "2026-10-01", "kind": "closed"}]', max_items=MAX_EXCEPTIONS
    )
    errors = ErrorCollector()
    parsed: list[tuple[int, DateException]] = []
    for i, item in enumerate(items):
        exception = errors.attempt("", exception_from_dict, item, path=f"{path}[{i}]")
        if exception is not None:
            parsed.append((i, exception))
    errors.raise_if_any()
    raise_errors(duplicate_dates(parsed, path))
    return tuple(exception for _, exception in parsed)


def exceptions_to_list(exceptions: Iterable[DateException]) -> list[dict[str, Any]]:
    return [exception_to_dict(e) for e in exceptions]
