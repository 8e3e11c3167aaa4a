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
    DEFAULT_STAFFING_WEEKS,
    MAX_STAFFING_WEEKS,
    MIN_STAFFING_WEEKS,
    AccessRole,
)
from hotline_pbx.domain.errors import ValidationError
from hotline_pbx.domain.staffing import WEEKDAYS, logged_in, slot_label
from hotline_pbx.store.config_repo import business_calendar
from hotline_pbx.store.staffing_repo import staffing_advice

API = "/api/v1"


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
    body = await staffing_advice(call.conn, calendar, today=now.date(), weeks=weeks,
                                 service_level_seconds=settings.kpi.service_level_seconds)
    body["now"] = _agents_now(call, body, now)
    return json_response(body)


ENDPOINTS = (
    Endpoint("GET", f"{API}/staffing", get_staffing, AccessRole.VIEWER, frozenset({"weeks"})),
)
