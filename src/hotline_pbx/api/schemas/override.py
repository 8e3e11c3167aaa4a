"""``GET|PUT|DELETE /api/v1/override``: force open or closed until an instant.

``{"mode": "closed", "until": "2026-10-01T08:30:00+08:00", "note": "..."}``;
``until`` needs a UTC offset.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hotline_pbx.api.schemas._json import (
    check_keys,
    expect_enum,
    expect_mapping,
    format_datetime,
    parse_datetime,
)
from hotline_pbx.domain.calendar import Override, OverrideMode, check_override_ends_after
from hotline_pbx.domain.errors import ErrorCollector, ValidationError

__all__ = ["override_from_dict", "override_to_dict"]

_EXAMPLE_DATETIME = "2026-10-01T08:30:00+08:00"


def override_from_dict(data: object, *, path: str = "", now: datetime | None = None) -> Override:
    """With ``now`` given (a write), an ``until`` that is not in the future is rejected."""
    example = f'{{"mode": "closed", "until": "{_EXAMPLE_DATETIME}"}}'
    mapping = expect_mapping(data, path, example)
    errors = ErrorCollector(path)
    check_keys(
        mapping,
        ("mode", "until", "note"),
        ("mode", "until"),
        errors,
        {"mode": "closed", "until": _EXAMPLE_DATETIME},
    )
    mode = None
    if "mode" in mapping:
        mode = errors.attempt("mode", expect_enum, OverrideMode, mapping["mode"], "", "closed")
    until = None
    if "until" in mapping:
        until = errors.attempt("until", parse_datetime, mapping["until"], "", _EXAMPLE_DATETIME)
    errors.raise_if_any()
    assert mode is not None and until is not None
    try:  # the note is checked (a string, its length) by Override
        override = Override(mode, until, mapping.get("note", ""))  # type: ignore[arg-type]
        if now is not None:
            check_override_ends_after(override, now)
    except ValidationError as error:
        raise error.at(path) from None
    return override


def override_to_dict(override: Override) -> dict[str, Any]:
    return {
        "mode": override.mode.value,
        "until": format_datetime(override.until),
        "note": override.note,
    }
