"""``GET /api/v1/reports/monthly?month=YYYY-MM`` (viewer): the monthly statistics
pack as JSON, or ``&format=csv`` as CSV (one table after another: days,
purposes, complaints, visits). Built by :func:`hotline_pbx.store.monthly_stats.monthly_pack`
(the same numbers ``hotline-pbx report --month`` prints). A malformed month, one
not begun yet or one older than ``retention.days``: 422 naming ``month``
(a missing one, an unknown ``format``: 400). A
month without calls: ``"empty": true`` and a note saying so, rates null, not 0 %.
No phone number or name is in the pack; the read is audited all the same.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hotline_pbx.api.context import Call, Endpoint, json_response
from hotline_pbx.api.problems import bad_query, invalid
from hotline_pbx.domain.contract import AccessRole
from hotline_pbx.domain.errors import ValidationError
from hotline_pbx.domain.monthly import MONTH_EXAMPLE, parse_month
from hotline_pbx.store.monthly_stats import monthly_pack

API = "/api/v1"
FORMATS = ("json", "csv")
DAY_COLUMNS = ("day", "mark", "working_day", "offered_all_periods", "offered", "answered",
               "abandoned", "short_abandoned", "missed", "answer_rate", "meets_floor",
               "service_level", "asa_seconds")


async def get_monthly(call: Call) -> web.StreamResponse:
    if "month" not in call.query:
        raise bad_query("month", "is required", MONTH_EXAMPLE)
    fmt = call.query.get("format", "json")
    if fmt not in FORMATS:
        raise bad_query("format", "must be json or csv", "csv")
    settings = call.api.settings
    now = datetime.now(UTC)
    try:
        month = parse_month(call.query["month"], call.zone, now,
                            retention_days=settings.retention.days)
    except ValidationError as exc:
        raise invalid(exc, what="the query string") from None
    pack = (await monthly_pack(call.conn, settings, month, now)).to_dict()
    await call.audit_read("reports.monthly", f"month:{month.label}")
    if fmt == "json":
        return json_response(pack)
    return web.Response(body=b"\xef\xbb\xbf" + pack_csv(pack).encode("utf-8"), headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": f'attachment; filename="hotline-{month.label}.csv"'})


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _day_line(day: dict[str, Any]) -> list[str]:
    opened = day["open_hours"] or {}
    every = day["all_periods"] or {}
    values = [day["day"], day["mark"], day["working_day"], every.get("offered", 0)]
    values += [opened.get(k, 0) for k in ("offered", "answered", "abandoned",
                                           "short_abandoned", "missed")]
    values += [opened.get(k) for k in ("answer_rate", "meets_floor", "service_level",
                                       "asa_seconds")]
    return [_cell(v) for v in values]


def pack_csv(pack: dict[str, Any]) -> str:
    buffer = io.StringIO()
    out = csv.writer(buffer, lineterminator="\r\n")
    out.writerow(["month", pack["month"], "timezone", pack["timezone"],
                  "note", pack["note"] or ""])
    out.writerows([[], DAY_COLUMNS, *(_day_line(d) for d in pack["days"])])
    out.writerows([[], ["purpose", "name", "talk_target_seconds", "calls", "answered",
                        "met_target"]])
    out.writerows([_cell(p[k]) for k in ("purpose", "name", "talk_target_seconds", "calls",
                                         "answered", "met_target")] for p in pack["purposes"])
    complaints = pack["complaints"]
    out.writerows([[], ["complaints", "group", "value", "count"]])
    for group in ("by_department", "by_category", "by_severity"):
        out.writerows(["complaints", group, k, n] for k, n in complaints[group].items())
    out.writerows(["complaints", "sla", k, _cell(v["compliance"])]
                  for k, v in complaints["sla"].items())
    out.writerow(["complaints", "mean_resolution_working_hours", "",
                  _cell(complaints["mean_resolution_working_hours"])])
    out.writerows([[], ["visits", "scale", "count", "mean", "distribution"]])
    out.writerows(["visits", s["scale"], s["count"], _cell(s["mean"]),
                   " ".join(f"{k}:{v}" for k, v in s["distribution"].items())]
                  for s in pack["visits"]["per_scale"])
    return buffer.getvalue()


ENDPOINTS = (
    Endpoint("GET", f"{API}/reports/monthly", get_monthly, AccessRole.VIEWER,
             frozenset({"month", "format"})),
)
