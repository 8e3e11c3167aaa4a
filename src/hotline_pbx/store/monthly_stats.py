"""The statistics pack (data) of a month or a day: ``GET /api/v1/reports/monthly``,
``GET /api/v1/reports/daily``, ``hotline-pbx report --month`` / ``--day``.

Per day of the month: the open-hours KPIs against the 85 % floor (the SQL of
:mod:`hotline_pbx.store.stats`, ``period = open``: closed-period, override and
fail-safe calls never pull the rate down) and every period's counts; the
day's mark on the business calendar (working day, statutory holiday, make-up
working day…). Then the call purposes (offered calls per purpose, how many met
their service target), the complaints received in the month (by department,
category and severity; resolution within target, extended deadline and hard
maximum; mean resolution in working hours) and the callback visits done in the
month (count, mean score and distribution per scale); the open-hours KPIs per
local weekday x hour of day (the heat map); the operations sections of
:mod:`hotline_pbx.store.pack_operations`; and the staffing advice of the four
weeks before the span's end. docs/kpi.md defines them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline_pbx.config import Settings
from hotline_pbx.domain.calendar import BusinessCalendar
from hotline_pbx.domain.calendar.working_time import working_time_between
from hotline_pbx.domain.contract import ANSWER_RATE_FLOOR
from hotline_pbx.domain.kpi import KpiSet
from hotline_pbx.domain.monthly import (
    DayMark,
    Span,
    is_working,
    mark_day,
    meets_floor,
    score_summary,
)
from hotline_pbx.domain.purposes import Catalogue
from hotline_pbx.store.config_repo import (
    business_calendar,
)
from hotline_pbx.store.models import complaints
from hotline_pbx.store.pack_operations import operations_summary
from hotline_pbx.store.purpose_repo import load_catalogue
from hotline_pbx.store.staffing_repo import staffing_advice
from hotline_pbx.store.stats import HeatCell, Stats, compute_heat_map, compute_stats

#: The staffing section: the advice of these weeks before the span's end.
PACK_STAFFING_WEEKS = 4

NO_PURPOSE = ""  # offered calls nobody gave a purpose yet

_PURPOSES = """
WITH t AS (SELECT key AS purpose, value::float AS target FROM jsonb_each_text(:targets))
SELECT coalesce(c.purpose, '') AS purpose, count(*) AS calls,
       count(*) FILTER (WHERE c.outcome = 'answered') AS answered,
       count(*) FILTER (WHERE t.target IS NOT NULL) AS with_target,
       count(*) FILTER (WHERE c.outcome = 'answered' AND CASE
           WHEN t.target = 0 THEN c.wait_seconds <= :service_level
           ELSE c.talk_seconds <= t.target END) AS met_target
FROM calls c LEFT JOIN t ON t.purpose = c.purpose
WHERE c.started_at >= :start AND c.started_at < :end
  AND NOT c.is_test AND c.period <> 'unrouted'
GROUP BY 1
ORDER BY 1
"""


@dataclass(frozen=True, slots=True)
class MonthlyPack:
    month: Span  # a month, or a day for the daily pack
    generated_at: datetime
    service_level_seconds: float
    open_hours: Stats
    every_period: Stats
    marks: dict[str, str]  # ISO day -> DayMark
    purposes: list[dict[str, Any]]
    complaints: dict[str, Any]
    visits: dict[str, Any]
    heat_map: list[HeatCell]
    departments: list[dict[str, str]]  # the catalogue's, to name the complaints' ids
    operations: dict[str, Any]
    staffing: dict[str, Any]

    @property
    def empty(self) -> bool:
        return self.every_period.total.offered == 0

    def day_rows(self) -> list[dict[str, Any]]:
        opened = {d.day.isoformat(): d.kpis for d in self.open_hours.days}
        every = {d.day.isoformat(): d.kpis for d in self.every_period.days}
        keys = [day.isoformat() for day in self.month.days()]
        return [_day_row(key, self.marks[key], opened.get(key), every.get(key)) for key in keys]

    def to_dict(self) -> dict[str, Any]:
        month = self.month
        partial = self.generated_at < month.end
        note = (f"no calls were recorded in {month.label}" if self.empty else None)
        return {
            "kind": month.kind, month.kind: month.label, "from": month.start.isoformat(),
            "to": month.end.isoformat(), "timezone": month.zone.key,
            "generated_at": self.generated_at.isoformat(), "partial": partial,
            "empty": self.empty, "note": note,
            "answer_rate_floor": ANSWER_RATE_FLOOR,
            "service_level_seconds": self.service_level_seconds,
            "working_days": sum(1 for m in self.marks.values() if is_working(DayMark(m))),
            "open_hours": _totals(self.open_hours.total),
            "all_periods": _totals(self.every_period.total),
            "unrouted": self.every_period.unrouted, "test_calls": self.every_period.test_calls,
            "days": self.day_rows(),
            "heat_map": [_heat_cell(cell) for cell in self.heat_map],
            "purposes": self.purposes, "departments": self.departments,
            "complaints": self.complaints, "visits": self.visits, **self.operations,
            "staffing": self.staffing,
        }


def _heat_cell(cell: HeatCell) -> dict[str, Any]:
    k = cell.kpis
    return {"weekday": cell.weekday, "hour": cell.hour, "offered": k.offered,
            "answered": k.answered, "answer_rate": k.answer_rate,
            "meets_floor": meets_floor(k.answer_rate)}


def _totals(kpis: KpiSet) -> dict[str, Any]:
    return {**kpis.to_dict(), "meets_floor": meets_floor(kpis.answer_rate)}


def _day_row(day: str, mark: str, opened: KpiSet | None, every: KpiSet | None
             ) -> dict[str, Any]:
    row: dict[str, Any] = {"day": day, "mark": mark, "working_day": is_working(DayMark(mark))}
    row["open_hours"] = None if opened is None else _totals(opened)
    row["all_periods"] = None if every is None else every.to_dict()
    return row


async def monthly_pack(conn: AsyncConnection, settings: Settings, month: Span,
                       now: datetime) -> MonthlyPack:
    sl = settings.kpi.service_level_seconds
    tz = settings.routing.timezone
    opened = await compute_stats(conn, month.start, month.end, "open", timezone=tz,
                                 service_level_seconds=sl)
    every = await compute_stats(conn, month.start, month.end, None, timezone=tz,
                                service_level_seconds=sl)
    heat = await compute_heat_map(conn, month.start, month.end, "open", timezone=tz,
                                  service_level_seconds=sl)
    calendar = await business_calendar(conn, settings, now)
    marks = {day.isoformat(): mark_day(calendar, day).value for day in month.days()}
    catalogue = await load_catalogue(conn)
    advice_until = min(month.next_first_day, now.astimezone(month.zone).date())
    return MonthlyPack(
        month, now, sl, opened, every, marks,
        await purpose_counts(conn, catalogue, month, sl),
        await complaint_summary(conn, calendar, month, now),
        await visit_summary(conn, month), heat,
        [{"id": d.id, "name": d.name, "name_en": d.name_en} for d in catalogue.departments],
        await operations_summary(conn, month, now),
        await staffing_advice(conn, calendar, today=advice_until,
                              weeks=PACK_STAFFING_WEEKS, service_level_seconds=sl))


async def purpose_counts(conn: AsyncConnection, catalogue: Catalogue, month: Span,
                         service_level_seconds: float) -> list[dict[str, Any]]:
    """Offered calls per purpose; ``met_target`` per :func:`domain.monthly.met_target`."""
    targets = {p.id: p.talk_target_seconds for p in catalogue.purposes
               if p.talk_target_seconds is not None}
    rows = (await conn.execute(text(_PURPOSES), {
        "targets": json.dumps(targets), "service_level": service_level_seconds,
        "start": month.start, "end": month.end})).mappings().all()
    found = {row["purpose"]: row for row in rows}
    items = []
    for purpose in [p.id for p in catalogue.purposes] + sorted(
            set(found) - {p.id for p in catalogue.purposes}):
        row = found.get(purpose)
        known = catalogue.purpose(purpose)
        target = None if known is None else known.talk_target_seconds
        items.append({
            "purpose": purpose or None, "name": known.name if known else None,
            "name_en": known.name_en if known else None, "talk_target_seconds": target,
            "calls": int(row["calls"]) if row else 0,
            "answered": int(row["answered"]) if row else 0,
            "met_target": (int(row["met_target"]) if row else 0) if target is not None
            else None})
    return items


def _group(rows: Iterable[Any], key: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[getattr(row, key)] = counts.get(getattr(row, key), 0) + 1
    return dict(sorted(counts.items()))


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


async def complaint_summary(conn: AsyncConnection, calendar: BusinessCalendar, month: Span,
                            now: datetime) -> dict[str, Any]:
    """Complaints received in the month. A complaint is *due* once it is resolved
    or its deadline has passed; compliance = resolved by the deadline / due."""
    c = complaints
    rows = (await conn.execute(
        select(c.c.department, c.c.category, c.c.severity, c.c.received_at, c.c.resolved_at,
               c.c.resolve_target, c.c.resolve_due, c.c.resolve_hard_max)
        .where(c.c.received_at >= month.start, c.c.received_at < month.end))).all()
    resolved = [r for r in rows if r.resolved_at is not None]
    hours = [working_time_between(calendar, r.received_at, r.resolved_at).total_seconds() / 3600
             for r in resolved]
    sla: dict[str, Any] = {}
    for name in ("resolve_target", "resolve_due", "resolve_hard_max"):
        due = [r for r in rows if r.resolved_at is not None or getattr(r, name) <= now]
        met = sum(1 for r in due if r.resolved_at is not None
                  and r.resolved_at <= getattr(r, name))
        sla[name.removeprefix("resolve_")] = {"due": len(due), "met": met,
                                              "compliance": _ratio(met, len(due))}
    return {"received": len(rows), "resolved": len(resolved),
            "by_department": _group(rows, "department"), "by_category": _group(rows, "category"),
            "by_severity": _group(rows, "severity"), "sla": sla,
            "mean_resolution_working_hours": round(sum(hours) / len(hours), 3) if hours
            else None}


async def visit_summary(conn: AsyncConnection, month: Span) -> dict[str, Any]:
    """Callback visits done in the month (``visited_at``), per scale."""
    c = complaints
    rows = (await conn.execute(
        select(c.c.visit_scale, c.c.visit_score, c.c.visit_by)
        .where(c.c.visit_state == "done", c.c.visit_score.is_not(None),
               c.c.visited_at >= month.start, c.c.visited_at < month.end))).all()
    scores = [(int(r.visit_scale or max(5, r.visit_score)), int(r.visit_score)) for r in rows]
    by_dialer = sum(1 for r in rows if r.visit_by == "dialer")
    return {"count": len(rows), "by_dialer": by_dialer, "by_person": len(rows) - by_dialer,
            "per_scale": score_summary(scores)}
