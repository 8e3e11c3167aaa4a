"""``PATCH /api/v1/faults/{id}``: the paper fault form's fields.

``{"reported_by": "Li Na, to the technical department", "reported_at":
"2026-11-03T09:10:00+08:00", "repaired_at": "2026-11-03T11:40:00+08:00",
"note": "carrier replaced a card"}``; every field optional, ``null`` clears a
time. Instants need a UTC offset and a year in range in UTC (they are stored
as ``timestamptz`` and must read back).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from hotline_pbx.api.schemas._json import expect_mapping, parse_datetime
from hotline_pbx.domain._parse import check_instant
from hotline_pbx.domain.errors import ErrorCollector, ValidationError

__all__ = ["FAULT_FORM_FIELDS", "MAX_NOTE", "MAX_REPORTED_BY", "fault_form_from_dict"]

FAULT_FORM_FIELDS = ("reported_by", "reported_at", "repaired_at", "note")
MAX_REPORTED_BY = 200
MAX_NOTE = 4000
_EXAMPLES = {"reported_by": "Li Na, to the technical department",
             "reported_at": "2026-11-03T09:10:00+08:00",
             "repaired_at": "2026-11-03T11:40:00+08:00",
             "note": "carrier replaced a line card"}
_CONTROL = {chr(c) for c in (*range(0, 9), 11, 12, *range(14, 32), 127)}


def fault_form_from_dict(data: object) -> dict[str, Any]:
    """The fields to change; raises ValidationError (every problem found)."""
    mapping = expect_mapping(data, "", '{"note": "' + _EXAMPLES["note"] + '"}')
    errors = ErrorCollector("")
    for key in mapping:
        if key not in FAULT_FORM_FIELDS:
            errors.add(key, "unknown field; the fields of the fault form are: "
                       + ", ".join(FAULT_FORM_FIELDS), _EXAMPLES["note"])
    if not mapping:
        errors.add("(body)", "names no field to change; the fields are: "
                   + ", ".join(FAULT_FORM_FIELDS), '{"note": "…"}')
    changes: dict[str, Any] = {}
    for key, limit in (("reported_by", MAX_REPORTED_BY), ("note", MAX_NOTE)):
        if key in mapping:
            changes[key] = errors.attempt("", _text, mapping[key], key, limit)
    for key in ("reported_at", "repaired_at"):
        if key in mapping:
            changes[key] = errors.attempt("", _instant_or_none, mapping[key], key)
    errors.raise_if_any()
    return changes


def _text(value: object, field: str, limit: int) -> str:
    example = _EXAMPLES[field]
    if not isinstance(value, str):
        raise ValidationError(field, "must be a string (\"\" clears it)", example)
    if len(value) > limit:
        raise ValidationError(field, f"is too long ({len(value)} characters; at most {limit})",
                              example)
    if _CONTROL & set(value):
        raise ValidationError(field, "must not contain control characters (line breaks are "
                              "fine)", example)
    return value


def _instant_or_none(value: object, field: str) -> datetime | None:
    if value is None:
        return None
    instant = parse_datetime(value, field, _EXAMPLES[field])
    check_instant(instant, field, _EXAMPLES[field])
    return instant
