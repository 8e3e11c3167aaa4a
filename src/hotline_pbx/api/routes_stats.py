"""``GET /api/v1/stats``: the KPIs of docs/kpi.md over ``[from, to)``, with a
per-day breakdown (days of the configured zone).

Computed by :func:`hotline_pbx.store.stats.compute_stats`, the call tracker's
own SQL, so the API and the tracker share one definition. A window with no
countable call has no answer rate, service level or abandon rate (null, not
0 and not 1), like the Prometheus rules. Days without calls are listed too,
with zero counts, so a monthly report has a row for every day.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from aiohttp import web

from hotline_pbx.api.context import Call, Endpoint, json_response
from hotline_pbx.api.params import parse_enum, time_filter
from hotline_pbx.api.problems import bad_query
from hotline_pbx.domain.contract import COUNTED_PERIODS, AccessRole
from hotline_pbx.domain.kpi import kpis_from_counts
from hotline_pbx.store.stats import compute_stats

API = "/api/v1"
MAX_DAYS = 400  # a year and a bit: the monthly and yearly reports fit
_NO_CALLS = kpis_from_counts(answered=0, abandoned=0, short_abandoned=0, missed=0,
                             answered_within_service_level=0, wait_sum_answered=0.0,
                             talk_sum_answered=0.0).to_dict()


async def get_stats(call: Call) -> web.StreamResponse:
    for required in ("from", "to"):
        if required not in call.query:
            raise bad_query(required, "is required: the stats cover [from, to)",
                            "2026-10-01" if required == "from" else "2026-10-31")
    window = time_filter(call.query, call.zone)
    assert window.start is not None and window.end is not None
    if window.end - window.start > timedelta(days=MAX_DAYS):
        raise bad_query("to", f"the range is longer than {MAX_DAYS} days; ask for a year "
                        "at a time", "2026-12-31")
    period = parse_enum(COUNTED_PERIODS, call.query, "period")
    settings = call.api.settings
    stats = await compute_stats(
        call.conn, window.start.astimezone(call.zone), window.end.astimezone(call.zone),
        None if period is None else period.value, timezone=settings.routing.timezone,
        service_level_seconds=settings.kpi.service_level_seconds)
    await call.audit_read("stats.read", "stats")
    body = stats.to_dict()
    body["short_abandon_seconds"] = settings.kpi.short_abandon_seconds
    body["days"] = _every_day(call, window.start, window.end, body["days"])
    return json_response(body)


def _every_day(call: Call, start: Any, end: Any, days: list[dict[str, Any]]
               ) -> list[dict[str, Any]]:
    by_day = {day["day"]: day for day in days}
    first = start.astimezone(call.zone).date()
    last = (end - timedelta(microseconds=1)).astimezone(call.zone).date()
    filled = []
    while first <= last:
        key = first.isoformat()
        filled.append(by_day.get(key, {"day": key, **_NO_CALLS}))
        first += timedelta(days=1)
    return filled


ENDPOINTS = (
    Endpoint("GET", f"{API}/stats", get_stats, AccessRole.VIEWER,
             frozenset({"from", "to", "period"})),
)
