"""KPIs over the stored call records, computed in SQL (docs/kpi.md).

Used by ``GET /api/v1/stats`` and ``hotline-pbx report``. The definitions are
those of :mod:`hotline_pbx.domain.kpi` (the integration tests compare the two
on random call mixes):

* a call belongs to the window by its ``started_at``: ``start <= started_at < end``;
* offered = calls that reached routing (period not ``unrouted``), line-monitor
  test calls (``is_test``) excluded; they are counted apart;
* ``period`` = one of open, closed, override, failsafe, or None for all of them;
  the open-hours KPIs are ``period="open"``: closed-period, override and
  fail-safe calls never pull them down;
* the per-day breakdown groups by the local date of ``started_at`` in the
  configured zone (``routing.timezone``).

One query, one round trip: totals and days come from ``GROUPING SETS``. The
heat map (:func:`compute_heat_map`) applies the same counts per local weekday
and hour of day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline_pbx.domain.contract import COUNTED_PERIODS, DEFAULT_TIMEZONE
from hotline_pbx.domain.kpi import KpiSet, kpis_from_counts

__all__ = ["PERIODS", "DayKpis", "HeatCell", "Stats", "compute_heat_map", "compute_stats"]

#: Periods a stats query can select (``None`` = all of them).
PERIODS = tuple(p.value for p in COUNTED_PERIODS)

# The KPI counts of docs/kpi.md over the rows of ``c``: one definition for the
# per-day query and the hour-of-day x weekday heat map.
_COUNTS = """
    count(*) FILTER (WHERE offered AND outcome = 'answered') AS answered,
    count(*) FILTER (WHERE offered AND outcome = 'abandoned') AS abandoned,
    count(*) FILTER (WHERE offered AND outcome = 'short_abandoned') AS short_abandoned,
    count(*) FILTER (WHERE offered AND outcome = 'missed') AS missed,
    count(*) FILTER (WHERE offered AND outcome = 'answered'
                     AND wait_seconds <= :service_level) AS answered_within_service_level,
    coalesce(sum(wait_seconds) FILTER (WHERE offered AND outcome = 'answered'), 0)
        AS wait_sum_answered,
    coalesce(sum(talk_seconds) FILTER (WHERE offered AND outcome = 'answered'), 0)
        AS talk_sum_answered,
    count(*) FILTER (WHERE period = 'unrouted' AND NOT is_test) AS unrouted,
    count(*) FILTER (WHERE is_test) AS test_calls
"""

_CALLS = """
WITH c AS (
    SELECT outcome, wait_seconds, talk_seconds, period, is_test,
           started_at AT TIME ZONE :tz AS local_start,
           (NOT is_test AND period <> 'unrouted') AS offered
    FROM calls
    WHERE started_at >= :start AND started_at < :end {period_filter}
)
"""

_QUERY = _CALLS + """
SELECT local_start::date AS day, GROUPING(local_start::date) AS is_total,
""" + _COUNTS + """
FROM c
GROUP BY GROUPING SETS ((), (local_start::date))
ORDER BY is_total DESC, day
"""

_HEAT_QUERY = _CALLS + """
SELECT extract(isodow FROM local_start)::int - 1 AS weekday,
       extract(hour FROM local_start)::int AS hour,
""" + _COUNTS + """
FROM c
GROUP BY 1, 2
ORDER BY 1, 2
"""


@dataclass(frozen=True, slots=True)
class DayKpis:
    day: date
    kpis: KpiSet

    def to_dict(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), **self.kpis.to_dict()}


@dataclass(frozen=True, slots=True)
class HeatCell:
    weekday: int  # 0 = Monday, local time
    hour: int  # 0..23, local time
    kpis: KpiSet


@dataclass(frozen=True, slots=True)
class Stats:
    start: datetime
    end: datetime
    period: str | None  # None: every period
    timezone: str
    service_level_seconds: float
    total: KpiSet
    days: tuple[DayKpis, ...]
    unrouted: int  # callers who hung up before routing: recorded, never offered
    test_calls: int  # line-monitor calls, excluded

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of GET /api/v1/stats: the totals at the top, then the days."""
        return {
            "from": self.start.isoformat(), "to": self.end.isoformat(),
            "period": self.period or "all", "timezone": self.timezone,
            "service_level_seconds": self.service_level_seconds,
            **self.total.to_dict(),
            "unrouted": self.unrouted, "test_calls": self.test_calls,
            "days": [d.to_dict() for d in self.days],
        }


async def compute_stats(conn: AsyncConnection, start: datetime, end: datetime,
                        period: str | None = None, *, timezone: str = DEFAULT_TIMEZONE,
                        service_level_seconds: float = 20.0) -> Stats:
    """The KPI set for calls that started in ``[start, end)``; ValueError on bad input."""
    period, sql, params = _query(_QUERY, start, end, period, timezone, service_level_seconds)
    rows = (await conn.execute(text(sql), params)).mappings().all()
    total = _empty() if not rows else _kpis(rows[0])
    days = tuple(DayKpis(row["day"], _kpis(row)) for row in rows[1:])
    unrouted = int(rows[0]["unrouted"]) if rows else 0
    tests = int(rows[0]["test_calls"]) if rows else 0
    return Stats(start, end, period, timezone, float(service_level_seconds), total, days,
                 unrouted, tests)


async def compute_heat_map(conn: AsyncConnection, start: datetime, end: datetime,
                           period: str | None = None, *, timezone: str = DEFAULT_TIMEZONE,
                           service_level_seconds: float = 20.0) -> list[HeatCell]:
    """The KPI set per (local weekday, hour of day) of the calls in ``[start, end)``:
    only the cells that have a call."""
    _, sql, params = _query(_HEAT_QUERY, start, end, period, timezone, service_level_seconds)
    rows = (await conn.execute(text(sql), params)).mappings().all()
    return [HeatCell(int(row["weekday"]), int(row["hour"]), _kpis(row)) for row in rows]


def _query(template: str, start: datetime, end: datetime, period: str | None, timezone: str,
           service_level_seconds: float) -> tuple[str | None, str, dict[str, Any]]:
    _check_window(start, end)
    if period == "all":
        period = None
    if period is not None and period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)} or all, not {period!r}")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {timezone!r}") from None
    params: dict[str, Any] = {"start": start, "end": end, "tz": timezone,
                              "service_level": float(service_level_seconds)}
    period_filter = ""
    if period is not None:
        period_filter = "AND period = :period"
        params["period"] = period
    return period, template.format(period_filter=period_filter), params


def _check_window(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("from and to need a time zone (e.g. 2026-11-02T00:00:00+08:00)")
    if end <= start:
        raise ValueError(f"to ({end.isoformat()}) must be after from ({start.isoformat()})")


def _kpis(row: Any) -> KpiSet:
    return kpis_from_counts(
        answered=int(row["answered"]), abandoned=int(row["abandoned"]),
        short_abandoned=int(row["short_abandoned"]), missed=int(row["missed"]),
        answered_within_service_level=int(row["answered_within_service_level"]),
        wait_sum_answered=float(row["wait_sum_answered"]),
        talk_sum_answered=float(row["talk_sum_answered"]),
    )


def _empty() -> KpiSet:
    return kpis_from_counts(answered=0, abandoned=0, short_abandoned=0, missed=0,
                            answered_within_service_level=0, wait_sum_answered=0.0,
                            talk_sum_answered=0.0)
