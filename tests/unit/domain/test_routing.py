"""The /route decision and its dialplan variables."""

from __future__ import annotations

import time
from typing import Any

import pytest

from hotline_pbx.api.schemas.routing_settings import settings_from_dict, settings_to_dict
from hotline_pbx.domain.calendar import BusinessCalendar, Override, OverrideMode
from hotline_pbx.domain.contract import DutyRole, Period, Route
from hotline_pbx.domain.roster import Absence, AbsenceReason, Person, Roster
from hotline_pbx.domain.routing import (
    DialTarget,
    RoutingSettings,
    RoutingSnapshot,
    decide_route,
    decision_to_variables,
)
from hotline_pbx.domain.statutory import chinese_statutory_source

from .helpers import raises_on, sh

SUP = Person("li.na", "Li Na", "+8613800000001")
D1 = Person("wang.fang", "Wang Fang", "13800000002")
D2 = Person("zhao.lei", "Zhao Lei", "13800000003")
CAL = BusinessCalendar(statutory=chinese_statutory_source())
ROSTER = Roster(SUP, (D1, D2))
SNAP = RoutingSnapshot(CAL, ROSTER, version=7)

OPEN = sh("2026-09-30 10:00")
LUNCH = sh("2026-09-30 12:30")
NIGHT = sh("2026-09-30 22:00")
HOLIDAY = sh("2026-10-01 10:00")


def target(role: DutyRole, person: Person, timeout: int = 20) -> DialTarget:
    return DialTarget(role, person.id, person.name, f"PJSIP/{person.mobile}@general-trunk", timeout)


def test_open_goes_to_the_queue() -> None:
    decision = decide_route(SNAP, OPEN)
    assert decision.route is Route.QUEUE
    assert decision.period is Period.OPEN
    assert decision.targets == ()
    assert decision.queue == "hotline"
    assert decision.version == 7
    assert decision_to_variables(decision, "c-1") == {
        "HOTLINE_CALL_ID": "c-1",
        "HOTLINE_PERIOD": "open",
        "HOTLINE_ROUTE": "queue",
        "HOTLINE_TARGET_COUNT": "0",
        "HOTLINE_QUEUE": "hotline",
        "HOTLINE_QUEUE_TIMEOUT": str(SNAP.settings.queue_timeout_seconds),
    }


@pytest.mark.parametrize("at", [LUNCH, NIGHT, HOLIDAY, sh("2026-10-03 10:00")])
def test_closed_forwards_to_the_chain(at: Any) -> None:
    decision = decide_route(SNAP, at)
    assert decision.route is Route.FORWARD
    assert decision.period is Period.CLOSED
    assert decision.queue is None
    assert decision.targets == (
        target(DutyRole.SUPERVISOR, SUP),
        target(DutyRole.DEPUTY, D1),
        target(DutyRole.DEPUTY, D2),
    )
    assert decision_to_variables(decision, "c-2") == {
        "HOTLINE_CALL_ID": "c-2",
        "HOTLINE_PERIOD": "closed",
        "HOTLINE_ROUTE": "forward",
        "HOTLINE_TARGET_COUNT": "3",
        "HOTLINE_TARGET_1": "PJSIP/+8613800000001@general-trunk",
        "HOTLINE_TARGET_TIMEOUT_1": "20",
        "HOTLINE_TARGET_2": "PJSIP/13800000002@general-trunk",
        "HOTLINE_TARGET_TIMEOUT_2": "20",
        "HOTLINE_TARGET_3": "PJSIP/13800000003@general-trunk",
        "HOTLINE_TARGET_TIMEOUT_3": "20",
    }


def test_absent_supervisor_is_skipped() -> None:
    roster = Roster(
        SUP,
        (D1, D2),
        (Absence(SUP.id, sh("2026-09-30 00:00"), sh("2026-10-02 00:00"), AbsenceReason.LEAVE),),
    )
    decision = decide_route(RoutingSnapshot(CAL, roster), NIGHT)
    assert [t.person_id for t in decision.targets] == [D1.id, D2.id]
    assert decision.targets[0].role is DutyRole.DEPUTY
    variables = decision_to_variables(decision, "c-3")
    assert variables["HOTLINE_TARGET_COUNT"] == "2"
    assert variables["HOTLINE_TARGET_1"] == "PJSIP/13800000002@general-trunk"
    assert "HOTLINE_TARGET_3" not in variables
    # once the absence ends the supervisor is first again
    back = decide_route(RoutingSnapshot(CAL, roster), sh("2026-10-02 20:00"))
    assert back.targets[0].person_id == SUP.id


def test_nobody_available_takes_the_closed_route() -> None:
    everyone_away = Roster(
        SUP,
        (D1,),
        (
            Absence(SUP.id, sh("2026-09-01 00:00"), None, AbsenceReason.RESIGNED),
            Absence(D1.id, sh("2026-09-30 00:00"), sh("2026-10-01 00:00"), AbsenceReason.NO_SIGNAL),
        ),
    )
    for roster, why in (
        (everyone_away, "everyone is absent"),
        (Roster(), "nobody is on the roster"),
    ):
        decision = decide_route(RoutingSnapshot(CAL, roster), NIGHT)
        assert decision.route is Route.CLOSED
        assert decision.period is Period.CLOSED
        assert decision.targets == ()
        assert why in decision.reason
        assert decision_to_variables(decision, "c-4") == {
            "HOTLINE_CALL_ID": "c-4",
            "HOTLINE_PERIOD": "closed",
            "HOTLINE_ROUTE": "closed",
            "HOTLINE_TARGET_COUNT": "0",
        }


def test_empty_roster_during_open_hours_still_queues() -> None:
    assert decide_route(RoutingSnapshot(CAL, Roster()), OPEN).route is Route.QUEUE


def test_override_sets_the_override_period() -> None:
    closed = BusinessCalendar(override=Override(OverrideMode.CLOSED, sh("2026-09-30 18:00")))
    decision = decide_route(RoutingSnapshot(closed, ROSTER), OPEN)
    assert (decision.period, decision.route) == (Period.OVERRIDE, Route.FORWARD)
    assert decision_to_variables(decision, "c-5")["HOTLINE_PERIOD"] == "override"
    opened = BusinessCalendar(override=Override(OverrideMode.OPEN, sh("2026-10-01 00:00")))
    decision = decide_route(RoutingSnapshot(opened, ROSTER), NIGHT)
    assert (decision.period, decision.route) == (Period.OVERRIDE, Route.QUEUE)
    variables = decision_to_variables(decision, "c-6")
    assert (variables["HOTLINE_PERIOD"], variables["HOTLINE_QUEUE"]) == ("override", "hotline")
    # expired: back to the calendar
    assert (
        decide_route(RoutingSnapshot(opened, ROSTER), sh("2026-10-01 00:00")).route is Route.FORWARD
    )


def test_custom_settings() -> None:
    settings = RoutingSettings(
        queue_name="cs-400",
        dial_template="Local/{number}@mobiles",
        ring_timeout_seconds=30,
    )
    snap = RoutingSnapshot(CAL, Roster(SUP), settings)
    assert decide_route(snap, OPEN).queue == "cs-400"
    forward = decide_route(snap, NIGHT)
    assert forward.targets == (
        DialTarget(DutyRole.SUPERVISOR, SUP.id, SUP.name, "Local/+8613800000001@mobiles", 30),
    )
    assert decision_to_variables(forward, "c")["HOTLINE_TARGET_TIMEOUT_1"] == "30"


def test_defaults_use_the_general_trunk() -> None:
    settings = RoutingSettings()
    assert settings.dial_template == "PJSIP/{number}@general-trunk"
    assert settings.queue_name == "hotline"
    assert settings.ring_timeout_seconds == 20


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"dial_template": "PJSIP/13800000000@general-trunk"}, "dial_template"),
        ({"dial_template": "PJSIP/{number}@{number}"}, "dial_template"),
        ({"dial_template": "PJSIP/{number}@general-trunk&PJSIP/1@x"}, "dial_template"),
        ({"dial_template": "PJSIP/{number}@general-trunk,30"}, "dial_template"),
        ({"dial_template": "PJSIP/{number}@${TRUNK}"}, "dial_template"),
        ({"dial_template": "PJSIP/{number} @general-trunk"}, "dial_template"),
        ({"dial_template": "{number}"}, "dial_template"),
        ({"dial_template": "PJSIP/{number}@carrier"}, "dial_template"),  # the 400 trunk
        ({"dial_template": "PJSIP/CARRIER/sip:{number}@10.0.0.1"}, "dial_template"),
        ({"dial_template": "PJSIP/{number}@cn400", "inbound_endpoint": "cn400"}, "dial_template"),
        ({"inbound_endpoint": "my trunk"}, "inbound_endpoint"),
        ({"ring_timeout_seconds": 0}, "ring_timeout_seconds"),
        ({"ring_timeout_seconds": 301}, "ring_timeout_seconds"),
        ({"ring_timeout_seconds": True}, "ring_timeout_seconds"),
        ({"ring_timeout_seconds": 20.5}, "ring_timeout_seconds"),
        ({"queue_timeout_seconds": 5}, "queue_timeout_seconds"),
        ({"queue_name": "hot line"}, "queue_name"),
        ({"queue_name": "hotline,10"}, "queue_name"),
        ({"queue_name": ""}, "queue_name"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_settings(changes: dict[str, Any], field: str) -> None:
    raises_on(lambda: settings_from_dict(changes), field)


def test_settings_constructor_validates_and_round_trips() -> None:
    raises_on(lambda: RoutingSettings(dial_template="PJSIP/{number}@carrier"), "dial_template")
    settings = settings_from_dict({"ring_timeout_seconds": 25})
    assert settings.ring_timeout_seconds == 25
    assert settings_from_dict(settings_to_dict(settings)) == settings
    assert settings_to_dict(RoutingSettings())["dial_template"] == "PJSIP/{number}@general-trunk"


@pytest.mark.parametrize("call_id", ["", "a b", "x\nHANGUP", 'x"', "a" * 129])
def test_unsafe_call_id_is_refused(call_id: str) -> None:
    with pytest.raises(ValueError):
        decision_to_variables(decide_route(SNAP, OPEN), call_id)


def test_decision_is_fast() -> None:
    # generous bound (about 100x the measured cost): only catches per-call parsing
    start = time.perf_counter()
    for _ in range(2000):
        decide_route(SNAP, NIGHT)
        decide_route(SNAP, OPEN)
    assert time.perf_counter() - start < 2.0
