"""The staffing advisor (issue 15): ``GET /api/v1/staffing?weeks=4`` (viewer).

Per (weekday, half hour) of the working days of the last ``weeks`` weeks: the
calls, arrivals per hour, handle time, patience, the agents Erlang A says are
needed for the answer-rate floor and the service-level target, and what it
predicts at that many; next to the agents logged in now (the AMI queue watch
of this instance). Aggregates only: no caller is named, nothing to mask.
An empty history is an answer with ``empty: true`` and no rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from hotline_pbx.api.context import Call, Endpoint, json_response
from hotline_pbx.api.problems import invalid
from hotline_pbx.domain.contract import (
    ANSWER_RATE_FLOOR,
    DEFAULT_STAFFING_WEEKS,
    MAX_STAFFING_WEEKS,
    MIN_STAFFING_WEEKS,
    SERVICE_LEVEL_TARGET,
    AccessRole,
)
from hotline_pbx.domain.errors import ValidationError
from hotline_pbx.domain.staffing import Advice, SlotAdvice, advise, logged_in, slot_label
from hotline_pbx.store.config_repo import business_calendar
from hotline_pbx.store.staffing_repo import History, read_history

API = "/api/v1"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def parse_weeks(query: dict[str, str] | Any) -> int:
    value = query.get("weeks")
    if value is None:
        return DEFAULT_STAFFING_WEEKS
    if not (value.isascii() and value.isdigit() and len(value) <= 3
            and MIN_STAFFING_WEEKS <= int(value) <= MAX_STAFFING_WEEKS):
        raise invalid(ValidationError(
            "weeks", f"must be a whole number of weeks from {MIN_STAFFING_WEEKS} to "
            f"{MAX_STAFFING_WEEKS}, not {value[:20]!r}", str(DEFAULT_STAFFING_WEEKS)),
            what="the query string")
    return int(value)


def _round(value: float | None, places: int = 4) -> float | None:
    return None if value is None else round(value, places)


def slot_json(row: SlotAdvice) -> dict[str, Any]:
    figures = row.predicted
    return {
        "weekday": WEEKDAYS[row.weekday], "start": slot_label(row.slot), "calls": row.calls,
        "arrivals_per_hour": round(row.arrivals_per_hour, 3),
        "aht_seconds": _round(row.aht_seconds, 1),
        "patience_seconds": _round(row.patience_seconds, 1),
        "agents_needed": row.agents_needed,
        "predicted_answer_rate": _round(figures.answer_rate if figures else None),
        "predicted_service_level": _round(figures.service_level if figures else None),
        "predicted_asa_seconds": _round(figures.asa_seconds if figures else None, 1),
        "observed_answer_rate": _round(row.observed_answer_rate),
        "observed_service_level": _round(row.observed_service_level),
    }


def staffing_json(history: History, advice: Advice, weeks: int,
                  service_level_seconds: float) -> dict[str, Any]:
    """The body of the endpoint and of ``hotline-pbx staffing --json``."""
    empty = not advice.rows
    return {
        "weeks": weeks, "from": history.first_day.isoformat(),
        "to": history.last_day.isoformat(), "working_days": history.working_days,
        "calls": advice.calls, "empty": empty,
        "note": ("no open-period calls on the working days of this window: nothing to "
                 "advise from" if empty else
                 "Erlang A per half hour: the fewest agents for both targets"),
        "answer_rate_floor": ANSWER_RATE_FLOOR, "service_level_target": SERVICE_LEVEL_TARGET,
        "service_level_seconds": service_level_seconds,
        "aht_seconds": _round(advice.aht_seconds, 1),
        "patience_seconds": _round(advice.patience_seconds, 1),
        "rows": [slot_json(row) for row in advice.rows],
    }


def _agents_now(call: Call, body: dict[str, Any], now: datetime) -> dict[str, Any]:
    watch = call.api.queues
    local = now.astimezone(call.zone)
    weekday, start = WEEKDAYS[local.weekday()], slot_label(local.hour * 2 + local.minute // 30)
    needed = next((row["agents_needed"] for row in body["rows"]
                   if row["weekday"] == weekday and row["start"] == start), None)
    members = logged_in(watch.state.members.values()) if watch is not None else None
    return {"watching": watch is not None, "weekday": weekday, "start": start,
            "agents_needed": needed,
            "logged_in": members.agents if members else None,
            "paused": members.paused if members else None,
            "free": members.free if members else None}


async def get_staffing(call: Call) -> web.StreamResponse:
    weeks = parse_weeks(call.query)
    settings = call.api.settings
    now = datetime.now(call.zone)
    calendar = await business_calendar(call.conn, settings, now)
    history = await read_history(call.conn, calendar, today=now.date(), weeks=weeks,
                                 service_level_seconds=settings.kpi.service_level_seconds)
    advice = advise(history.slots, service_level_seconds=settings.kpi.service_level_seconds)
    body = staffing_json(history, advice, weeks, settings.kpi.service_level_seconds)
    body["now"] = _agents_now(call, body, now)
    return json_response(body)


ENDPOINTS = (
    Endpoint("GET", f"{API}/staffing", get_staffing, AccessRole.VIEWER, frozenset({"weeks"})),
)
