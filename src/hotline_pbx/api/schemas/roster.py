"""``GET|PUT /api/v1/roster``: supervisor, ordered deputies, absences.

``{"supervisor": {"id": "zhang.wei", "name": "Zhang Wei", "mobile":
"+8613800138000"} | null, "deputies": [{...}, ...], "absences": [{"person_id":
"zhang.wei", "from": "...+08:00", "to": "...+08:00" | null, "reason": "leave",
"note": ""}]}``. All three keys may be left out (an empty roster is valid).
Field paths are relative to the body (``deputies[1].mobile``); pass
``path="roster"`` to get ``roster.deputies[1].mobile``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hotline_pbx.api.schemas._json import (
    check_keys,
    expect_enum,
    expect_list,
    expect_mapping,
    format_datetime,
    parse_datetime,
)
from hotline_pbx.domain.errors import ErrorCollector, ValidationError
from hotline_pbx.domain.roster import Absence, AbsenceReason, Person, Roster

__all__ = [
    "absence_from_dict",
    "absence_to_dict",
    "person_from_dict",
    "person_to_dict",
    "roster_from_dict",
    "roster_to_dict",
]

_EXAMPLE_ID = "zhang.wei"
_EXAMPLE_DATETIME = "2026-10-01T08:30:00+08:00"
_EXAMPLE_PERSON = '{"id": "zhang.wei", "name": "Zhang Wei", "mobile": "+8613800138000"}'
_PERSON_FIELDS = ("id", "name", "mobile")


def person_from_dict(data: object, *, path: str = "") -> Person:
    """``{"id": ..., "name": ..., "mobile": ...}``; Person checks each value."""
    mapping = expect_mapping(data, path, _EXAMPLE_PERSON)
    errors = ErrorCollector(path)
    check_keys(
        mapping,
        _PERSON_FIELDS,
        _PERSON_FIELDS,
        errors,
        {"id": _EXAMPLE_ID, "name": "Zhang Wei", "mobile": "+8613800138000"},
    )
    errors.raise_if_any()
    try:
        return Person(*(mapping[key] for key in _PERSON_FIELDS))  # type: ignore[arg-type]
    except ValidationError as error:
        raise error.at(path) from None


def person_to_dict(person: Person) -> dict[str, Any]:
    return {"id": person.id, "name": person.name, "mobile": person.mobile}


def absence_from_dict(data: object, *, path: str = "") -> Absence:
    """``to`` and ``note`` may be left out; Absence checks the values."""
    example = (
        f'{{"person_id": "zhang.wei", "from": "{_EXAMPLE_DATETIME}", '
        '"to": "2026-10-08T08:30:00+08:00", "reason": "leave"}'
    )
    mapping = expect_mapping(data, path, example)
    errors = ErrorCollector(path)
    check_keys(
        mapping,
        ("person_id", "from", "to", "reason", "note"),
        ("person_id", "from", "reason"),
        errors,
        {"person_id": _EXAMPLE_ID, "from": _EXAMPLE_DATETIME, "reason": "leave"},
    )
    start = None
    if "from" in mapping:
        start = errors.attempt("from", parse_datetime, mapping["from"], "", _EXAMPLE_DATETIME)
    end = None
    end_ok = True
    if mapping.get("to") is not None:
        end = errors.attempt("to", parse_datetime, mapping["to"], "", _EXAMPLE_DATETIME)
        end_ok = end is not None
    reason = None
    if "reason" in mapping:
        reason = errors.attempt(
            "reason", expect_enum, AbsenceReason, mapping["reason"], "", "leave"
        )
    errors.raise_if_any()
    assert start is not None and end_ok and reason is not None
    try:
        return Absence(
            mapping["person_id"], start, end, reason, mapping.get("note", "")  # type: ignore[arg-type]
        )
    except ValidationError as error:
        raise error.at(path) from None


def absence_to_dict(absence: Absence) -> dict[str, Any]:
    return {
        "person_id": absence.person_id,
        "from": format_datetime(absence.start),
        "to": None if absence.end is None else format_datetime(absence.end),
        "reason": absence.reason.value,
        "note": absence.note,
    }


def roster_from_dict(data: object, *, path: str = "") -> Roster:
    mapping: Mapping[str, object] = expect_mapping(
        data, path, f'{{"supervisor": {_EXAMPLE_PERSON}, "deputies": [], "absences": []}}'
    )
    errors = ErrorCollector(path)
    check_keys(mapping, ("supervisor", "deputies", "absences"), (), errors, {})
    supervisor = None
    supervisor_ok = True
    if mapping.get("supervisor") is not None:
        supervisor = errors.attempt("", person_from_dict, mapping["supervisor"], path="supervisor")
        supervisor_ok = supervisor is not None
    deputies: list[Person] = []
    if "deputies" in mapping:
        items = errors.attempt(
            "deputies", expect_list, mapping["deputies"], "", f"[{_EXAMPLE_PERSON}]"
        )
        for i, item in enumerate(items or ()):
            person = errors.attempt("", person_from_dict, item, path=f"deputies[{i}]")
            if person is not None:
                deputies.append(person)
    absences: list[Absence] = []
    if "absences" in mapping:
        items = errors.attempt("absences", expect_list, mapping["absences"], "", "[]")
        for i, item in enumerate(items or ()):
            absence = errors.attempt("", absence_from_dict, item, path=f"absences[{i}]")
            if absence is not None:
                absences.append(absence)
    errors.raise_if_any()
    assert supervisor_ok
    try:
        return Roster(supervisor, tuple(deputies), tuple(absences))
    except ValidationError as error:
        raise error.at(path) from None


def roster_to_dict(roster: Roster) -> dict[str, Any]:
    return {
        "supervisor": None if roster.supervisor is None else person_to_dict(roster.supervisor),
        "deputies": [person_to_dict(p) for p in roster.deputies],
        "absences": [absence_to_dict(a) for a in roster.absences],
    }
