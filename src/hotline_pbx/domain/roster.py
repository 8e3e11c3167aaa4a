"""Who takes the hotline's calls outside business hours.

The roster names the on-duty customer-service **supervisor**, an ordered list
of **deputies** and **absences** (leave, resigned, no signal, other), each
for a half-open span of time ``[from, to)`` (``to`` may be null: until further
notice). :meth:`Roster.failover_chain` gives, for an instant, the people to
ring in order: the supervisor unless absent, then the deputies in their order,
skipping absent ones. An empty roster is valid and yields an empty chain
(routing then takes the closed path).

The JSON form is :mod:`hotline_pbx.api.schemas.roster`'s; the rules are here,
in the constructors.

Mobiles are stored exactly as dialled: digits with an optional leading ``+``,
5-20 digits, no spaces or dashes. Nothing else can reach a dial string.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from ._parse import check_instant, expect_str
from .contract import MAX_ABSENCES, MAX_DEPUTIES, MAX_NAME_LENGTH, MAX_NOTE_LENGTH, DutyRole
from .errors import ErrorCollector, ValidationError, raise_errors

__all__ = [
    "Absence",
    "AbsenceReason",
    "Person",
    "Roster",
    "check_mobile",
]


_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_MOBILE = re.compile(r"\+?[0-9]{5,20}")

_EXAMPLE_ID = "zhang.wei"
_EXAMPLE_NAME = "Zhang Wei"
_EXAMPLE_MOBILE = "+8613800138000"
_EXAMPLE_DATETIME = "2026-10-01T08:30:00+08:00"
_EXAMPLE_PERSON = '{"id": "zhang.wei", "name": "Zhang Wei", "mobile": "+8613800138000"}'


class AbsenceReason(StrEnum):
    LEAVE = "leave"
    RESIGNED = "resigned"
    NO_SIGNAL = "no_signal"
    OTHER = "other"


def check_mobile(mobile: str, field_name: str = "mobile") -> str:
    """A dialable number: optional leading ``+`` then 5-20 digits, nothing else."""
    if _MOBILE.fullmatch(mobile) is None:
        raise ValidationError(
            field_name,
            f"{mobile!r} is not a dialable number; write digits only, optionally with a "
            "leading + (5 to 20 digits, no spaces, dashes or letters)",
            _EXAMPLE_MOBILE,
        )
    return mobile


@dataclass(frozen=True, slots=True)
class Person:
    """Someone who can take forwarded calls: an id, a display name and a mobile."""

    id: str
    name: str
    mobile: str

    def __post_init__(self) -> None:
        errors = ErrorCollector()
        if not isinstance(self.id, str) or _ID.fullmatch(self.id) is None:
            errors.add(
                "id",
                f"{self.id!r} is not a valid id; use 1-64 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit",
                _EXAMPLE_ID,
            )
        errors.attempt("name", _check_name, self.name)
        if not isinstance(self.mobile, str):
            errors.add("mobile", "must be a string", _EXAMPLE_MOBILE)
        else:
            errors.attempt("", check_mobile, self.mobile)
        errors.raise_if_any()


def _check_name(name: object) -> str:
    return expect_str(name, "", _EXAMPLE_NAME, max_length=MAX_NAME_LENGTH)


@dataclass(frozen=True, slots=True)
class Absence:
    """``person_id`` is unavailable from ``start`` (inclusive) to ``end``
    (exclusive; None = until further notice)."""

    person_id: str
    start: datetime
    end: datetime | None
    reason: AbsenceReason
    note: str = ""

    def __post_init__(self) -> None:
        errors = ErrorCollector()
        if not isinstance(self.person_id, str) or not self.person_id:
            errors.add("person_id", "must name a person of the roster by id", _EXAMPLE_ID)
        start_ok = errors.attempt("from", _check_instant, self.start) is not None
        end_ok = self.end is None or errors.attempt("to", _check_instant, self.end) is not None
        if start_ok and end_ok and self.end is not None and self.end <= self.start:
            errors.add(
                "to",
                f"the absence ends ({self.end.isoformat()}) before or when it starts "
                f"({self.start.isoformat()}); 'to' must be later than 'from'",
                _EXAMPLE_DATETIME,
            )
        if not isinstance(self.reason, AbsenceReason):
            errors.add("reason", "must be one of leave, resigned, no_signal, other", "leave")
        errors.attempt(
            "note",
            expect_str,
            self.note,
            "",
            "annual leave",
            max_length=MAX_NOTE_LENGTH,
            allow_empty=True,
        )
        errors.raise_if_any()

    def covers(self, at: datetime) -> bool:
        """True when ``at`` lies in ``[start, end)``."""
        return self.start <= at and (self.end is None or at < self.end)


def _check_instant(value: object) -> datetime:
    if not isinstance(value, datetime):
        raise ValidationError("", "must be a date and time", _EXAMPLE_DATETIME)
    check_instant(value, "", _EXAMPLE_DATETIME)
    return value


@dataclass(frozen=True)
class Roster:
    """Supervisor, ordered deputies and absences. Immutable and validated."""

    supervisor: Person | None = None
    deputies: tuple[Person, ...] = ()
    absences: tuple[Absence, ...] = ()

    _ordered: tuple[tuple[DutyRole, Person], ...] = field(init=False, repr=False, compare=False)
    _absences_by_person: dict[str, tuple[Absence, ...]] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        deputies = tuple(self.deputies)
        absences = tuple(self.absences)
        object.__setattr__(self, "deputies", deputies)
        object.__setattr__(self, "absences", absences)
        errors: list[ValidationError] = []
        if len(deputies) > MAX_DEPUTIES:
            errors.append(
                ValidationError(
                    "deputies", f"has more than {MAX_DEPUTIES} people", f"[{_EXAMPLE_PERSON}]"
                )
            )
        if len(absences) > MAX_ABSENCES:
            errors.append(
                ValidationError(
                    "absences",
                    f"has more than {MAX_ABSENCES} entries; delete absences that are over",
                    "[]",
                )
            )
        people: list[tuple[str, Person]] = []
        if self.supervisor is not None:
            people.append(("supervisor", self.supervisor))
        people.extend((f"deputies[{i}]", p) for i, p in enumerate(deputies))
        ids: dict[str, str] = {}
        mobiles: dict[str, str] = {}
        for path, person in people:
            if person.id in ids:
                errors.append(
                    ValidationError(
                        f"{path}.id",
                        f"{person.id!r} is already on the roster as {ids[person.id]}; "
                        "each person appears once (as supervisor or as one deputy)",
                        _EXAMPLE_ID,
                    )
                )
            else:
                ids[person.id] = path
            if person.mobile in mobiles:
                errors.append(
                    ValidationError(
                        f"{path}.mobile",
                        f"{person.mobile} is already the mobile of {mobiles[person.mobile]}; "
                        "two people on the roster cannot share one mobile",
                        _EXAMPLE_MOBILE,
                    )
                )
            else:
                mobiles[person.mobile] = path
        by_person: dict[str, list[Absence]] = {}
        for i, absence in enumerate(absences):
            if absence.person_id not in ids:
                errors.append(_not_on_roster(absence, f"absences[{i}]", ids))
                continue
            by_person.setdefault(absence.person_id, []).append(absence)
        raise_errors(errors)
        ordered: list[tuple[DutyRole, Person]] = []
        if self.supervisor is not None:
            ordered.append((DutyRole.SUPERVISOR, self.supervisor))
        ordered.extend((DutyRole.DEPUTY, p) for p in deputies)
        object.__setattr__(self, "_ordered", tuple(ordered))
        object.__setattr__(
            self,
            "_absences_by_person",
            {pid: tuple(sorted(items, key=_absence_start)) for pid, items in by_person.items()},
        )

    def check_absence(self, absence: Absence, path: str) -> None:
        """Raise unless ``absence`` (at ``path``) names someone on this roster:
        the rule the constructor applies to each of its absences."""
        ids = [person.id for _, person in self._ordered]
        if absence.person_id not in ids:
            raise _not_on_roster(absence, path, ids)

    @property
    def people(self) -> tuple[tuple[DutyRole, Person], ...]:
        """Everyone in failover order with their role."""
        return self._ordered

    def absence_at(self, person_id: str, at: datetime) -> Absence | None:
        """The absence covering ``at`` for ``person_id``, if any."""
        for absence in self._absences_by_person.get(person_id, ()):
            if absence.start > at:
                break
            if absence.end is None or at < absence.end:
                return absence
        return None

    def is_absent(self, person_id: str, at: datetime) -> bool:
        return self.absence_at(person_id, at) is not None

    def on_duty(self, at: datetime) -> tuple[tuple[DutyRole, Person], ...]:
        """The failover chain at ``at`` with each person's role."""
        if at.tzinfo is None or at.utcoffset() is None:
            raise ValueError(f"an aware datetime is required, got naive {at!r}")
        if not self._absences_by_person:
            return self._ordered
        return tuple(
            (role, person)
            for role, person in self._ordered
            if person.id not in self._absences_by_person or self.absence_at(person.id, at) is None
        )

    def failover_chain(self, at: datetime) -> tuple[Person, ...]:
        """Who to ring at ``at``, in order: the supervisor unless absent, then the
        deputies in their order, skipping those who are absent."""
        return tuple(person for _, person in self.on_duty(at))


def _not_on_roster(absence: Absence, path: str, ids: Iterable[str]) -> ValidationError:
    ids = list(ids)
    known = ", ".join(ids) or "nobody yet"
    return ValidationError(
        f"{path}.person_id",
        f"{absence.person_id!r} is not on the roster (known ids: {known}); "
        "an absence must name the supervisor or a deputy",
        next(iter(ids), _EXAMPLE_ID),
    )


def _absence_start(absence: Absence) -> datetime:
    return absence.start
