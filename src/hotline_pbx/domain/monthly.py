"""The statistics pack's rules: which month or day may be asked for, how each day
is marked, when a call met its purpose's service target, how visit scores sum
up, how much of a span the line was down.

Pure; :mod:`hotline_pbx.store.monthly_stats` reads the rows and applies these.
docs/kpi.md ("Call purposes", "The monthly pack") has the definitions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from .calendar import BusinessCalendar
from .calendar.evaluation import Rule
from .contract import ANSWER_RATE_FLOOR
from .errors import ValidationError

_MONTH = re.compile(r"(\d{4})-(\d{2})")
_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
MONTH_EXAMPLE = "2026-11"
DAY_EXAMPLE = "2026-11-03"


class _LocalDays:
    """Whole local days of ``zone`` from ``first_day`` up to ``next_first_day``
    (excluded): what :class:`Month` and :class:`Day` have in common."""

    __slots__ = ()
    zone: ZoneInfo

    @property
    def first_day(self) -> date:
        raise NotImplementedError

    @property
    def next_first_day(self) -> date:
        raise NotImplementedError

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first_day, time(), self.zone)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.next_first_day, time(), self.zone)

    def days(self) -> list[date]:
        count = (self.next_first_day - self.first_day).days
        return [self.first_day + timedelta(days=i) for i in range(count)]


@dataclass(frozen=True, slots=True)
class Month(_LocalDays):
    year: int
    month: int
    zone: ZoneInfo
    kind = "month"

    @property
    def label(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def next_first_day(self) -> date:
        return date(self.year + self.month // 12, self.month % 12 + 1, 1)


@dataclass(frozen=True, slots=True)
class Day(_LocalDays):
    """One local day: the daily pack."""

    day: date
    zone: ZoneInfo
    kind = "day"

    @property
    def label(self) -> str:
        return self.day.isoformat()

    @property
    def first_day(self) -> date:
        return self.day

    @property
    def next_first_day(self) -> date:
        return self.day + timedelta(days=1)


#: What a pack covers: a month or a day.
Span = Month | Day


def parse_month(text: str | None, zone: ZoneInfo, now: datetime, *,
                retention_days: int) -> Month:
    """``YYYY-MM`` of a month that has begun and whose records are kept; a
    :class:`ValidationError` naming ``month`` otherwise."""
    match = _MONTH.fullmatch(text or "")
    if match is None or not 1 <= int(match[2]) <= 12 or int(match[1]) < 1:
        raise ValidationError("month", "must be a month YYYY-MM", MONTH_EXAMPLE)
    month = Month(int(match[1]), int(match[2]), zone)
    local = now.astimezone(zone)
    _check_kept("month", month, Month(local.year, local.month, zone), now, retention_days)
    return month


def parse_day(text: str | None, zone: ZoneInfo, now: datetime, *,
              retention_days: int) -> Day:
    """``YYYY-MM-DD`` of a local day that has begun and whose records are kept; a
    :class:`ValidationError` naming ``day`` otherwise."""
    match = _DAY.fullmatch(text or "")
    try:
        day = date(int(match[1]), int(match[2]), int(match[3])) if match else None
    except ValueError:
        day = None
    if day is None:
        raise ValidationError("day", "must be a date YYYY-MM-DD", DAY_EXAMPLE)
    _check_kept("day", Day(day, zone), Day(now.astimezone(zone).date(), zone), now,
                retention_days)
    return Day(day, zone)


def _check_kept(field: str, span: Span, current: Span, now: datetime,
                retention_days: int) -> None:
    if span.start > current.start:
        raise ValidationError(field, f"{span.label} has not begun (this {field} is "
                              f"{current.label})", current.label)
    if span.end <= now - timedelta(days=retention_days):
        raise ValidationError(field, f"{span.label} is older than retention.days "
                              f"({retention_days}): its records have been purged",
                              current.label)


class DayMark(StrEnum):
    """How the business calendar treats a day of the pack."""

    WORKING = "working"  # an ordinary working day (weekly hours)
    NON_WORKING = "non_working"  # no weekly hours (a weekend)
    STATUTORY_HOLIDAY = "statutory_holiday"
    MAKE_UP_WORKDAY = "make_up_workday"  # a statutory make-up working day (调休)
    EXCEPTION_OPEN = "exception_open"  # a dated exception with open periods
    EXCEPTION_CLOSED = "exception_closed"


def mark_day(calendar: BusinessCalendar, day: date) -> DayMark:
    plan = calendar.plan_for(day)
    if plan.rule is Rule.STATUTORY_HOLIDAY:
        return DayMark.STATUTORY_HOLIDAY
    if plan.rule is Rule.STATUTORY_WORKDAY:
        return DayMark.MAKE_UP_WORKDAY
    if plan.rule is Rule.EXCEPTION:
        return DayMark.EXCEPTION_OPEN if plan.periods else DayMark.EXCEPTION_CLOSED
    return DayMark.WORKING if plan.periods else DayMark.NON_WORKING


def is_working(mark: DayMark) -> bool:
    return mark in (DayMark.WORKING, DayMark.MAKE_UP_WORKDAY, DayMark.EXCEPTION_OPEN)


def meets_floor(answer_rate: float | None) -> bool | None:
    """At or above the 85 % floor; None for a day with no countable call."""
    return None if answer_rate is None else answer_rate >= ANSWER_RATE_FLOOR


def met_target(target: float | None, *, answered: bool, wait: float | None,
               talk: float | None, service_level_seconds: float) -> bool:
    """Whether an offered call met its purpose's talk target: answered, and its talk
    within the target; a target of 0 s ("answered at once", a consultation) is met
    when the call was answered within the service level (wait <=
    ``kpi.service_level_seconds``), since no talk lasts 0 s. No target: never met
    (such purposes are not counted against one)."""
    if target is None or not answered:
        return False
    if target == 0:
        return wait is not None and wait <= service_level_seconds
    return talk is not None and talk <= target


def score_summary(scores: Iterable[tuple[int, int]]) -> list[dict[str, Any]]:
    """Visit scores ``(scale, score)`` per scale: count, mean and distribution."""
    by_scale: dict[int, dict[int, int]] = {}
    for scale, score in scores:
        counts = by_scale.setdefault(scale, dict.fromkeys(range(1, scale + 1), 0))
        counts[score] = counts.get(score, 0) + 1
    summary = []
    for scale, counts in sorted(by_scale.items()):
        total = sum(counts.values())
        mean = sum(s * n for s, n in counts.items()) / total
        summary.append({"scale": scale, "count": total, "mean": round(mean, 3),
                        "distribution": {str(s): n for s, n in sorted(counts.items())}})
    return summary


def downtime_seconds(faults: Iterable[tuple[datetime, datetime | None]], start: datetime,
                     end: datetime, now: datetime) -> float:
    """Seconds of ``[start, end)`` covered by at least one fault ``(began, ended)``;
    a fault still open runs until ``now``. Overlapping faults (a failed test and a
    carrier that stopped qualifying at once) count once."""
    stop = min(end, now)
    spans = sorted((max(began, start), min(ended or now, stop)) for began, ended in faults)
    total, reach = 0.0, start
    for began, ended in spans:
        began = max(began, reach)
        if ended > began:
            total += (ended - began).total_seconds()
            reach = ended
    return total
