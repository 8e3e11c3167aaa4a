"""The staffing advisor's history: recorded calls per local weekday and half hour.

The window is the ``weeks`` whole weeks of local dates before ``today``
(``routing.timezone``; today itself, being partial, is left out). Counted:
open-period calls (``period = 'open'``), no line-monitor test calls, no short
abandons (the answer rate leaves them out too). Only working days count, as
the business calendar says (weekly schedule, dated exceptions, statutory
holidays and make-up working days: a day with open periods in its plan): a
statutory holiday's calls are left out, a make-up Sunday is a Sunday with
one working day. The mean per weekday divides by the working days of that
weekday in the window, days without a call included.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline_pbx.domain.calendar import BusinessCalendar
from hotline_pbx.domain.contract import ANSWER_RATE_FLOOR, SERVICE_LEVEL_TARGET
from hotline_pbx.domain.staffing import (
    WEEKDAYS,
    Advice,
    SlotAdvice,
    SlotHistory,
    advise,
    slot_label,
)

__all__ = ["WEEKDAYS", "History", "read_history", "staffing_advice", "staffing_json"]

_QUERY = text("""
SELECT (started_at AT TIME ZONE :tz)::date AS day,
       (extract(hour FROM started_at AT TIME ZONE :tz) * 2
        + floor(extract(minute FROM started_at AT TIME ZONE :tz) / 30))::int AS slot,
       count(*) AS calls,
       count(*) FILTER (WHERE outcome = 'answered') AS answered,
       count(*) FILTER (WHERE outcome = 'abandoned') AS abandoned,
       count(*) FILTER (WHERE outcome = 'answered' AND wait_seconds <= :service_level)
           AS answered_within,
       coalesce(sum(talk_seconds) FILTER (WHERE outcome = 'answered'), 0) AS talk_sum,
       coalesce(sum(wait_seconds), 0) AS wait_sum
FROM calls
WHERE period = 'open' AND NOT is_test AND outcome <> 'short_abandoned'
  AND started_at >= :start AND started_at < :end
GROUP BY 1, 2
""")


@dataclass(frozen=True, slots=True)
class History:
    first_day: date
    last_day: date  # inclusive
    working_days: int
    slots: tuple[SlotHistory, ...]


def _working_days(calendar: BusinessCalendar, first: date, end: date) -> list[date]:
    days = (first + timedelta(days=i) for i in range((end - first).days))
    return [day for day in days if calendar.plan_for(day).periods]


async def read_history(conn: AsyncConnection, calendar: BusinessCalendar, *, today: date,
                       weeks: int, service_level_seconds: float) -> History:
    zone = calendar.zone
    first = today - timedelta(weeks=weeks)
    working = _working_days(calendar, first, today)
    result = await conn.execute(_QUERY, {
        "tz": zone.key, "service_level": service_level_seconds,
        "start": datetime.combine(first, time(), zone),
        "end": datetime.combine(today, time(), zone)})
    per_weekday = Counter(day.weekday() for day in working)
    sums: dict[tuple[int, int], list[float]] = {}
    working_set = set(working)
    for row in result:
        if row.day not in working_set:
            continue
        key = (row.day.weekday(), row.slot)
        values = (row.calls, row.answered, row.abandoned, row.answered_within,
                  row.talk_sum, row.wait_sum)
        sums[key] = [a + float(b) for a, b in zip(sums.get(key, [0.0] * 6), values,
                                                  strict=True)]
    slots = tuple(
        SlotHistory(weekday=wd, slot=slot, days=per_weekday[wd], calls=int(v[0]),
                    answered=int(v[1]), abandoned=int(v[2]), answered_within=int(v[3]),
                    talk_sum=v[4], wait_sum=v[5])
        for (wd, slot), v in sorted(sums.items()))
    return History(first, today - timedelta(days=1), len(working), slots)


async def staffing_advice(conn: AsyncConnection, calendar: BusinessCalendar, *, today: date,
                          weeks: int, service_level_seconds: float) -> dict[str, Any]:
    """The advice of the ``weeks`` weeks before ``today``, in the shape of
    ``GET /api/v1/staffing`` (without the live agents)."""
    history = await read_history(conn, calendar, today=today, weeks=weeks,
                                 service_level_seconds=service_level_seconds)
    advice = advise(history.slots, service_level_seconds=service_level_seconds)
    return staffing_json(history, advice, weeks, service_level_seconds)


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
