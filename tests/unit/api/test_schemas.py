"""The schemas convert JSON and add no rule of their own: what they refuse
beyond the shape, the domain value's constructor refuses, with the same
field and reason."""

from __future__ import annotations

import ast
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline_pbx.api.schemas.override import override_from_dict
from hotline_pbx.api.schemas.roster import person_from_dict
from hotline_pbx.api.schemas.routing_settings import settings_from_dict
from hotline_pbx.api.schemas.schedule import schedule_from_dict, schedule_to_dict
from hotline_pbx.domain.calendar import (
    DEFAULT_WEEKLY,
    BusinessCalendar,
    DateException,
    ExceptionKind,
    Schedule,
    Weekday,
    default_schedule,
    duplicate_dates,
)
from hotline_pbx.domain.errors import ValidationError
from hotline_pbx.domain.roster import Person
from hotline_pbx.domain.routing import RoutingSettings
from hotline_pbx.store.config_repo import default_schedule_document

DOMAIN = Path(__file__).resolve().parents[3] / "src" / "hotline_pbx" / "domain"


def _outcome(build: Callable[[], object]) -> object:
    """The value built, or the problems (field, reason, example) it was refused with."""
    try:
        return build()
    except ValidationError as error:
        return [e.as_dict() for e in error.errors]


@given(st.text(max_size=70), st.text(max_size=110), st.text(max_size=25))
def test_person_schema_refuses_exactly_what_person_refuses(
    person_id: str, name: str, mobile: str
) -> None:
    document = {"id": person_id, "name": name, "mobile": mobile}
    assert _outcome(lambda: person_from_dict(document)) == _outcome(
        lambda: Person(person_id, name, mobile)
    )


_SETTING_VALUES = st.one_of(st.integers(-10, 5000), st.text(max_size=40), st.none(),
                            st.booleans())


@given(st.dictionaries(st.sampled_from(["queue_name", "dial_template", "ring_timeout_seconds",
                                        "queue_timeout_seconds", "inbound_endpoint"]),
                       _SETTING_VALUES))
def test_settings_schema_refuses_exactly_what_routing_settings_refuses(
    values: dict[str, Any]
) -> None:
    assert _outcome(lambda: settings_from_dict(values)) == _outcome(
        lambda: RoutingSettings(**values)
    )


def test_default_schedule_is_the_company_policy_in_the_configured_zone() -> None:
    schedule = default_schedule("Europe/Berlin")
    assert schedule == Schedule("Europe/Berlin", DEFAULT_WEEKLY)
    assert [str(r) for r in schedule.periods_on(Weekday.MON)] == ["08:30-12:00", "13:00-17:30"]
    assert schedule.periods_on(Weekday.SAT) == schedule.periods_on(Weekday.SUN) == ()
    assert default_schedule().timezone == "Asia/Shanghai"
    # What the store shows when nothing is stored loads back to the same value.
    document = default_schedule_document("Europe/Berlin")
    assert schedule_from_dict(document) == schedule and schedule_to_dict(schedule) == document
    lunch = datetime(2026, 3, 2, 12, 30, tzinfo=schedule.zone)
    assert not BusinessCalendar(schedule).is_open(lunch)
    assert BusinessCalendar(schedule).is_open(lunch - timedelta(hours=1))


def test_duplicate_dates_names_each_later_duplicate_by_its_position() -> None:
    day = DateException(datetime(2026, 10, 1).date(), ExceptionKind.CLOSED)
    other = DateException(datetime(2026, 10, 2).date(), ExceptionKind.CLOSED)
    errors = duplicate_dates([(0, day), (3, other), (5, day), (7, day)])
    assert [e.field for e in errors] == ["exceptions[5].date", "exceptions[7].date"]
    assert all("exceptions[0]" in e.reason for e in errors)
    assert duplicate_dates([(0, day), (1, other)]) == []


@pytest.mark.parametrize("offset", [timedelta(0), timedelta(seconds=-1)])
def test_an_override_written_now_must_end_later(offset: timedelta) -> None:
    now = datetime(2026, 10, 1, 0, 30, tzinfo=UTC)
    document = {"mode": "closed", "until": (now + offset).isoformat()}
    with pytest.raises(ValidationError) as info:
        override_from_dict(document, now=now)
    assert info.value.field == "until" and "not in the future" in info.value.reason
    assert override_from_dict(document).until == now + offset  # stored ones still load


def test_the_domain_imports_no_wire_format_and_no_io() -> None:
    forbidden = ("hotline_pbx.api", "hotline_pbx.store", "aiohttp", "asyncio", "json",
                 "sqlalchemy")
    found = []
    for path in DOMAIN.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            found += [f"{path.name}: {n}" for n in names
                      if any(n == f or n.startswith(f + ".") for f in forbidden)]
            if isinstance(node, ast.FunctionDef) and node.name.endswith(("_from_dict",
                                                                           "_to_dict")):
                found.append(f"{path.name}: def {node.name}")
    assert found == []
