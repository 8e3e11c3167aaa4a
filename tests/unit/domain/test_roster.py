"""Roster: failover chain and validation."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from hotline_pbx.api.schemas.roster import (
    absence_from_dict,
    person_from_dict,
    roster_from_dict,
    roster_to_dict,
)
from hotline_pbx.domain.contract import DutyRole
from hotline_pbx.domain.roster import Absence, AbsenceReason, Person, Roster

from .helpers import raises_on, sh

SUP = Person("li.na", "Li Na", "+8613800000001")
D1 = Person("wang.fang", "Wang Fang", "13800000002")
D2 = Person("zhao.lei", "Zhao Lei", "13800000003")

MORNING = sh("2026-10-01 09:00")


def absent(person: Person, start: str, end: str | None, reason: str = "leave") -> Absence:
    return Absence(person.id, sh(start), None if end is None else sh(end), AbsenceReason(reason))


def roster(*absences: Absence) -> Roster:
    return Roster(SUP, (D1, D2), absences)


def ids(people: tuple[Person, ...]) -> list[str]:
    return [p.id for p in people]


def test_nobody_absent() -> None:
    assert roster().failover_chain(MORNING) == (SUP, D1, D2)
    assert roster().on_duty(MORNING) == (
        (DutyRole.SUPERVISOR, SUP),
        (DutyRole.DEPUTY, D1),
        (DutyRole.DEPUTY, D2),
    )


def test_absent_supervisor() -> None:
    r = roster(absent(SUP, "2026-09-30 18:00", "2026-10-08 08:30"))
    assert r.failover_chain(MORNING) == (D1, D2)
    assert r.absence_at(SUP.id, MORNING) is not None


def test_absent_first_deputy() -> None:
    r = roster(absent(D1, "2026-10-01 00:00", "2026-10-02 00:00", "no_signal"))
    assert r.failover_chain(MORNING) == (SUP, D2)


def test_supervisor_and_first_deputy_absent() -> None:
    r = roster(
        absent(SUP, "2026-10-01 00:00", None, "resigned"),
        absent(D1, "2026-10-01 00:00", "2026-10-02 00:00"),
    )
    assert r.failover_chain(MORNING) == (D2,)


def test_everyone_absent() -> None:
    r = roster(
        absent(SUP, "2026-10-01 00:00", None, "resigned"),
        absent(D1, "2026-10-01 00:00", "2026-10-02 00:00"),
        absent(D2, "2026-09-01 00:00", "2026-12-01 00:00", "other"),
    )
    assert r.failover_chain(MORNING) == ()


def test_empty_roster_is_valid_and_yields_no_chain() -> None:
    assert Roster().failover_chain(MORNING) == ()
    assert roster_from_dict({}).failover_chain(MORNING) == ()
    assert roster_from_dict({"supervisor": None, "deputies": [], "absences": []}) == Roster()


def test_deputies_only() -> None:
    assert Roster(None, (D1, D2)).failover_chain(MORNING) == (D1, D2)


def test_absence_is_half_open() -> None:
    r = roster(absent(SUP, "2026-10-01 09:00", "2026-10-01 18:00"))
    assert ids(r.failover_chain(sh("2026-10-01 08:59:59")))[0] == SUP.id
    assert ids(r.failover_chain(sh("2026-10-01 09:00")))[0] == D1.id
    assert ids(r.failover_chain(sh("2026-10-01 17:59:59")))[0] == D1.id
    assert ids(r.failover_chain(sh("2026-10-01 18:00")))[0] == SUP.id


def test_open_ended_absence_and_several_absences_per_person() -> None:
    r = roster(
        absent(SUP, "2026-10-05 00:00", None, "resigned"),
        absent(SUP, "2026-09-01 00:00", "2026-09-02 00:00"),
    )
    assert SUP in r.failover_chain(sh("2026-09-03 00:00"))
    assert SUP not in r.failover_chain(sh("2026-09-01 12:00"))
    assert SUP not in r.failover_chain(sh("2030-01-01 00:00"))
    absence = r.absence_at(SUP.id, sh("2030-01-01 00:00"))
    assert absence is not None and absence.reason is AbsenceReason.RESIGNED


def test_naive_instant_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        roster().failover_chain(datetime(2026, 10, 1, 9, 0))


# ------------------------------------------------------------------ validation

PERSON = {"id": "li.na", "name": "Li Na", "mobile": "+8613800000001"}


def person(**changes: Any) -> dict[str, Any]:
    return {**PERSON, **changes}


def body(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "supervisor": person(),
        "deputies": [
            {"id": "wang.fang", "name": "Wang Fang", "mobile": "13800000002"},
            {"id": "zhao.lei", "name": "Zhao Lei", "mobile": "13800000003"},
        ],
        "absences": [],
    }
    data.update(changes)
    return data


def deputies_with(second: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": "wang.fang", "name": "Wang Fang", "mobile": "13800000002"}, second]


ABSENCE = {
    "person_id": "li.na",
    "from": "2026-10-01T00:00:00+08:00",
    "to": "2026-10-08T00:00:00+08:00",
    "reason": "leave",
}


@pytest.mark.parametrize(
    "mobile",
    [
        "138 0013 8000",
        "138-0013-8000",
        "abc",
        "",
        "1234",
        "+",
        "++8613800000001",
        "1" * 21,
        "+86 138",
    ],
)
def test_mobile_must_be_dialable(mobile: str) -> None:
    second = {"id": "zhao.lei", "name": "Zhao Lei", "mobile": mobile}
    raises_on(lambda: roster_from_dict(body(deputies=deputies_with(second))), "deputies[1].mobile")
    raises_on(lambda: roster_from_dict(body(supervisor=person(mobile=mobile))), "supervisor.mobile")


def test_mobile_injection_is_impossible() -> None:
    raises_on(lambda: Person("x", "X", "13800000002&PJSIP/400@carrier"), "mobile")
    raises_on(lambda: Person("x", "X", "13800000002,,60"), "mobile")


@pytest.mark.parametrize("mobile", ["10086", "13800138000", "+8613800138000", "008613800138000"])
def test_good_mobiles(mobile: str) -> None:
    assert Person("x", "X", mobile).mobile == mobile


def test_field_path_with_roster_prefix() -> None:
    second = {"id": "zhao.lei", "name": "Zhao Lei", "mobile": "call me"}
    raises_on(
        lambda: roster_from_dict(body(deputies=deputies_with(second)), path="roster"),
        "roster.deputies[1].mobile",
    )


def test_duplicate_people() -> None:
    dup = {"id": "wang.fang", "name": "Wang F.", "mobile": "13800000009"}
    raises_on(lambda: roster_from_dict(body(deputies=deputies_with(dup))), "deputies[1].id")
    raises_on(
        lambda: roster_from_dict(body(deputies=[person(mobile="13800000009")])), "deputies[0].id"
    )
    same_mobile = {"id": "zhao.lei", "name": "Zhao Lei", "mobile": "13800000002"}
    raises_on(
        lambda: roster_from_dict(body(deputies=deputies_with(same_mobile))), "deputies[1].mobile"
    )
    raises_on(lambda: Roster(SUP, (D1, D1)), "deputies[1].id", "deputies[1].mobile")


def test_absence_ending_before_it_starts() -> None:
    backwards = {**ABSENCE, "to": "2026-09-30T00:00:00+08:00"}
    error = raises_on(lambda: roster_from_dict(body(absences=[backwards])), "absences[0].to")
    assert "later than" in error.reason
    same = {**ABSENCE, "to": ABSENCE["from"]}
    raises_on(lambda: roster_from_dict(body(absences=[ABSENCE, same])), "absences[1].to")
    raises_on(
        lambda: Absence("x", sh("2026-10-02 00:00"), sh("2026-10-01 00:00"), AbsenceReason.LEAVE),
        "to",
    )


def test_absence_for_unknown_person() -> None:
    stranger = {**ABSENCE, "person_id": "nobody"}
    error = raises_on(lambda: roster_from_dict(body(absences=[stranger])), "absences[0].person_id")
    assert "li.na" in error.reason
    raises_on(
        lambda: Roster(absences=(absent(SUP, "2026-10-01 00:00", None),)), "absences[0].person_id"
    )


@pytest.mark.parametrize(
    ("absence", "field"),
    [
        ({**ABSENCE, "from": "2026-10-01T00:00:00"}, "absences[0].from"),  # naive
        ({**ABSENCE, "to": "next week"}, "absences[0].to"),
        ({**ABSENCE, "reason": "sick"}, "absences[0].reason"),
        ({**ABSENCE, "reason": None}, "absences[0].reason"),
        ({**ABSENCE, "until": "x"}, "absences[0].until"),
        ({k: v for k, v in ABSENCE.items() if k != "from"}, "absences[0].from"),
        ({**ABSENCE, "person_id": 7}, "absences[0].person_id"),
        ({**ABSENCE, "note": "a\tb"}, "absences[0].note"),
        ("li.na on leave", "absences[0]"),
    ],
)
def test_bad_absences(absence: Any, field: str) -> None:
    raises_on(lambda: roster_from_dict(body(absences=[absence])), field)


@pytest.mark.parametrize(
    ("supervisor", "field"),
    [
        (person(id=""), "supervisor.id"),
        (person(id="li na"), "supervisor.id"),
        (person(id="x" * 65), "supervisor.id"),
        (person(name=""), "supervisor.name"),
        (person(name="   "), "supervisor.name"),
        (person(name="x" * 101), "supervisor.name"),
        (person(name=None), "supervisor.name"),
        (person(mobile=13800000002), "supervisor.mobile"),
        ({"id": "li.na", "name": "Li Na"}, "supervisor.mobile"),
        (person(email="x@example.com"), "supervisor.email"),
        ("li.na", "supervisor"),
    ],
)
def test_bad_people(supervisor: Any, field: str) -> None:
    raises_on(lambda: roster_from_dict(body(supervisor=supervisor)), field)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ([], ""),
        ({"deputies": "wang.fang"}, "deputies"),
        ({"absences": {}}, "absences"),
        ({"duty": []}, "duty"),
    ],
)
def test_bad_roster_structure(data: Any, field: str) -> None:
    raises_on(lambda: roster_from_dict(data), field)


def test_every_problem_is_reported() -> None:
    data = body(
        supervisor=person(mobile="x"),
        deputies=[{"id": "a", "name": "", "mobile": "13800000002"}],
        absences=[{**ABSENCE, "reason": "sick", "to": "later"}],
    )
    raises_on(
        lambda: roster_from_dict(data),
        "supervisor.mobile",
        "deputies[0].name",
        "absences[0].to",
        "absences[0].reason",
    )


def test_round_trip() -> None:
    data = body(absences=[{**ABSENCE, "note": "annual leave"}, {**ABSENCE, "to": None, "note": ""}])
    r = roster_from_dict(data)
    assert roster_to_dict(r) == data
    assert roster_from_dict(roster_to_dict(r)) == r
    assert person_from_dict(PERSON) == SUP
    assert absence_from_dict({**ABSENCE, "to": None}).end is None
