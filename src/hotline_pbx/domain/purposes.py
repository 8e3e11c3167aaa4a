"""The call purposes and departments: what the hotline is used for.

A supervisor or agent recording a call picks its purpose (consultation,
query, complaint, emergency report, recruitment, other); each purpose belongs
to a department, and a complaint names the responsible department. The list
is configurable (``GET|PUT /api/v1/purposes``, stored as one validated document
in ``call_purposes``); :data:`DEFAULT_CATALOGUE` applies until one is stored.

Some purposes carry a service target on talk time: a query is answered within
one minute of talk, a consultation at once (counted as met when answered
within its target too). :func:`parse_catalogue` is the one validation: the API
stores only what it accepts and the daemon loads only through it.

Pure.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ValidationError

_ID = re.compile(r"[a-z][a-z0-9_]{0,39}")
MAX_NAME = 80
MAX_ENTRIES = 100
_EXAMPLE = '{"departments": [{"id": "billing", "name": "财务部"}], "purposes": [...]}'


@dataclass(frozen=True, slots=True)
class Department:
    id: str
    name: str  # as shown to people (Chinese)
    name_en: str = ""


@dataclass(frozen=True, slots=True)
class Purpose:
    id: str
    name: str
    department: str  # a Department.id
    name_en: str = ""
    #: Seconds of talk within which a call of this purpose meets its service
    #: target (None: no target).
    talk_target_seconds: float | None = None


@dataclass(frozen=True, slots=True)
class Catalogue:
    departments: tuple[Department, ...]
    purposes: tuple[Purpose, ...]

    def department(self, department_id: str) -> Department | None:
        return next((d for d in self.departments if d.id == department_id), None)

    def purpose(self, purpose_id: str) -> Purpose | None:
        return next((p for p in self.purposes if p.id == purpose_id), None)

    def as_document(self) -> dict[str, Any]:
        return {
            "departments": [{"id": d.id, "name": d.name, "name_en": d.name_en}
                            for d in self.departments],
            "purposes": [{"id": p.id, "name": p.name, "name_en": p.name_en,
                          "department": p.department,
                          "talk_target_seconds": p.talk_target_seconds}
                         for p in self.purposes],
        }


#: The purpose a complaint's call gets.
COMPLAINT = "complaint"

DEFAULT_CATALOGUE = Catalogue(
    departments=(
        Department("customer_service", "客服部", "Customer service"),
        Department("engineering", "工程部", "Engineering"),
        Department("operations", "运营部", "Operations"),
        Department("billing", "财务部", "Billing"),
        Department("human_resources", "人力资源部", "Human resources"),
    ),
    purposes=(
        Purpose("consultation", "咨询", "customer_service", "Consultation", 0.0),
        Purpose("query", "查询", "customer_service", "Query", 60.0),
        Purpose(COMPLAINT, "投诉", "customer_service", "Complaint"),
        Purpose("emergency_report", "紧急报修", "engineering", "Emergency report"),
        Purpose("recruitment", "招聘", "human_resources", "Recruitment"),
        Purpose("other", "其他", "customer_service", "Other"),
    ),
)


def parse_catalogue(document: Any) -> Catalogue:
    """The one validation of a purpose catalogue; raises :class:`ValidationError`
    naming the field (``purposes[2].department``)."""
    if not isinstance(document, Mapping):
        raise ValidationError("", "must be an object with departments and purposes", _EXAMPLE)
    unknown = set(document) - {"departments", "purposes"}
    if unknown:
        raise ValidationError(sorted(unknown)[0], "unknown field; known: departments, purposes",
                              _EXAMPLE)
    departments = tuple(_department(f"departments[{i}]", item)
                        for i, item in enumerate(_list(document, "departments")))
    _unique("departments", [d.id for d in departments])
    known = {d.id for d in departments}
    purposes = tuple(_purpose(f"purposes[{i}]", item, known)
                     for i, item in enumerate(_list(document, "purposes")))
    _unique("purposes", [p.id for p in purposes])
    if COMPLAINT not in {p.id for p in purposes}:
        raise ValidationError("purposes", f"must keep the purpose {COMPLAINT!r} "
                              "(complaints are registered under it)", COMPLAINT)
    return Catalogue(departments, purposes)


def _list(document: Mapping[str, Any], name: str) -> list[Any]:
    value = document.get(name)
    if not isinstance(value, list) or not value:
        raise ValidationError(name, "must be a non-empty list", _EXAMPLE)
    if len(value) > MAX_ENTRIES:
        raise ValidationError(name, f"at most {MAX_ENTRIES} entries", _EXAMPLE)
    return value


def _unique(field: str, ids: list[str]) -> None:
    seen: set[str] = set()
    for index, value in enumerate(ids):
        if value in seen:
            raise ValidationError(f"{field}[{index}].id", f"{value!r} appears twice",
                                  f"{value}_2")
        seen.add(value)


def _fields(where: str, item: Any, allowed: set[str]) -> Mapping[str, Any]:
    if not isinstance(item, Mapping):
        raise ValidationError(where, "must be an object", _EXAMPLE)
    for key in sorted(set(item) - allowed):
        raise ValidationError(f"{where}.{key}",
                              f"unknown field; known: {', '.join(sorted(allowed))}", "name")
    return item


def _identifier(where: str, value: Any) -> str:
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ValidationError(where, "must be an identifier: a lowercase letter, then "
                              "lowercase letters, digits or _ (at most 40)", "billing")
    return value


def _name(where: str, value: Any, *, required: bool) -> str:
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > MAX_NAME:
        raise ValidationError(where, f"must be a name of 1 to {MAX_NAME} characters",
                              "财务部")
    if any(ord(ch) < 32 for ch in value):
        raise ValidationError(where, "must not contain control characters", "财务部")
    return value.strip()


def _department(where: str, item: Any) -> Department:
    fields = _fields(where, item, {"id", "name", "name_en"})
    return Department(_identifier(f"{where}.id", fields.get("id")),
                      _name(f"{where}.name", fields.get("name"), required=True),
                      _name(f"{where}.name_en", fields.get("name_en"), required=False))


def _purpose(where: str, item: Any, departments: set[str]) -> Purpose:
    fields = _fields(where, item, {"id", "name", "name_en", "department",
                                   "talk_target_seconds"})
    department = fields.get("department")
    # not a string (an object, a list): not hashable, and no department's id
    if not isinstance(department, str) or department not in departments:
        raise ValidationError(f"{where}.department",
                              f"unknown department {department!r}; known: "
                              f"{', '.join(sorted(departments))}", "customer_service")
    target = fields.get("talk_target_seconds")
    if target is not None and (isinstance(target, bool) or not isinstance(target, int | float)
                               or not 0 <= target <= 3600):
        raise ValidationError(f"{where}.talk_target_seconds",
                              "must be null or a number of seconds from 0 to 3600", "60")
    return Purpose(_identifier(f"{where}.id", fields.get("id")),
                   _name(f"{where}.name", fields.get("name"), required=True),
                   str(department),
                   _name(f"{where}.name_en", fields.get("name_en"), required=False),
                   None if target is None else float(target))
