"""The business calendar's evaluation: is the hotline open at a given instant, and why.

Pure logic: nothing here reads a clock; every question is asked *at* an aware
``datetime`` that the caller passes in. The values it evaluates (hours,
exceptions, override) are :mod:`.model`'s.

Precedence
==========

For an instant the first rule that applies decides:

1. a manual **override** (force open or closed until an aware instant; at and
   after that instant it is ignored) - the period is then ``override``;
2. a dated **exception** for the local date (with its year): ``closed`` all
   day, or ``open`` with its own periods;
3. the **statutory source** (China's public holidays and make-up working days,
   see :mod:`hotline_pbx.domain.statutory`): a statutory holiday is closed all
   day; a make-up working day (调休, e.g. a Sunday that is a working day) is
   open with :attr:`Schedule.make_up_periods` - the schedule's
   ``workday_periods`` if set, otherwise **Monday's** weekly periods. A date
   the source knows nothing about (an ordinary day, or a year it has no data
   for) falls through to the weekly rules;
4. the **weekly** periods of the local weekday.

Time zones and daylight saving time
===================================

An instant is converted to the schedule's zone and its local wall-clock date
and time are compared with the periods. In zones with daylight saving time:

* on a spring-forward day the skipped local times never occur: a period
  01:30-02:30 in ``America/New_York`` on 2025-03-09 is open from 01:30 EST
  until the clock jumps from 01:59:59 EST to 03:00 EDT (30 real minutes), and
  a period 02:15-02:45 is never open that day;
* on a fall-back day the repeated hour occurs twice and a period covering it
  is open both times: 01:30-02:00 on 2025-11-02 is open 01:30-02:00 EDT and
  again 01:30-02:00 EST (60 real minutes).

This is what a wall clock on the office wall would say.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from .._parse import MINUTES_PER_DAY
from ..contract import Period
from ..errors import raise_errors
from .model import (
    DateException,
    DayKind,
    Override,
    OverrideMode,
    Schedule,
    StatutorySource,
    TimeRange,
    Weekday,
    duplicate_dates,
)

__all__ = ["BusinessCalendar", "CalendarState", "DayPlan", "Rule", "StateChange"]


class Rule(StrEnum):
    """Which rule decided a state (for logs, ops and tests)."""

    OVERRIDE = "override"
    EXCEPTION = "exception"
    STATUTORY_HOLIDAY = "statutory_holiday"
    STATUTORY_WORKDAY = "statutory_workday"
    WEEKLY = "weekly"


@dataclass(frozen=True, slots=True)
class CalendarState:
    """The calendar's answer for one instant."""

    is_open: bool
    period: Period
    reason: str
    rule: Rule


@dataclass(frozen=True, slots=True)
class StateChange:
    """The first instant (UTC) at which the state differs (open/closed or period)."""

    at: datetime
    state: CalendarState


@dataclass(frozen=True, slots=True)
class DayPlan:
    """The open periods of one local date and the rule that gave them."""

    periods: tuple[TimeRange, ...]
    rule: Rule
    note: str = ""


_HOLIDAY_PLAN = DayPlan((), Rule.STATUTORY_HOLIDAY)


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"an aware datetime is required, got naive {at!r}")


# --------------------------------------------------------------------------- calendar


@dataclass(frozen=True)
class BusinessCalendar:
    """Weekly hours + dated exceptions + statutory source + override.

    Immutable; everything a lookup needs is precomputed when it is built, so
    :meth:`state_at` is a handful of dictionary look-ups.
    """

    schedule: Schedule = field(default_factory=Schedule)
    exceptions: tuple[DateException, ...] = ()
    override: Override | None = None
    #: None = no statutory rules; the app passes statutory.chinese_statutory_source()
    statutory: StatutorySource | None = field(default=None, compare=False)

    _zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _weekly_plans: tuple[DayPlan, ...] = field(init=False, repr=False, compare=False)
    _make_up_plan: DayPlan = field(init=False, repr=False, compare=False)
    _exception_plans: dict[date, DayPlan] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        exceptions = tuple(self.exceptions)
        object.__setattr__(self, "exceptions", exceptions)
        raise_errors(duplicate_dates(enumerate(exceptions)))
        plans = {
            exception.day: DayPlan(tuple(sorted(exception.periods)), Rule.EXCEPTION, exception.note)
            for exception in exceptions
        }
        schedule = self.schedule
        object.__setattr__(self, "_zone", schedule.zone)
        object.__setattr__(
            self,
            "_weekly_plans",
            tuple(DayPlan(schedule.periods_on(day), Rule.WEEKLY) for day in Weekday),
        )
        object.__setattr__(
            self, "_make_up_plan", DayPlan(schedule.make_up_periods, Rule.STATUTORY_WORKDAY)
        )
        object.__setattr__(self, "_exception_plans", plans)

    @property
    def zone(self) -> ZoneInfo:
        return self._zone

    def plan_for(self, day: date) -> DayPlan:
        """The open periods of a local date (ignoring any override)."""
        plan = self._exception_plans.get(day)
        if plan is not None:
            return plan
        if self.statutory is not None:
            try:
                kind = self.statutory.day_kind(day)
            except NotImplementedError:  # a source without data for the year: weekly rules
                kind = None
            if kind == DayKind.HOLIDAY:
                return _HOLIDAY_PLAN
            if kind == DayKind.WORKDAY:
                return self._make_up_plan
        return self._weekly_plans[day.weekday()]

    def state_at(self, at: datetime) -> CalendarState:
        """Open or closed at the aware instant ``at``, with the period and the reason."""
        _require_aware(at)
        override = self.override
        if override is not None and at < override.until:
            is_open = override.mode is OverrideMode.OPEN
            note = f" ({override.note})" if override.note else ""
            return CalendarState(
                is_open,
                Period.OVERRIDE,
                f"override: forced {override.mode.value} until "
                f"{override.until.astimezone(self._zone).isoformat()}{note}",
                Rule.OVERRIDE,
            )
        local = at.astimezone(self._zone)
        day = local.date()
        plan = self.plan_for(day)
        minute = local.hour * 60 + local.minute
        for hours in plan.periods:
            if hours.start <= minute < hours.end:
                return CalendarState(
                    True, Period.OPEN, f"open {hours} ({_describe(plan, day)})", plan.rule
                )
        return CalendarState(False, Period.CLOSED, f"closed ({_describe(plan, day)})", plan.rule)

    def is_open(self, at: datetime) -> bool:
        return self.state_at(at).is_open

    def next_change(
        self, at: datetime, *, horizon: timedelta = timedelta(days=35)
    ) -> StateChange | None:
        """When the state (open/closed or period) next differs from the state at ``at``.

        Returns None if it does not change within ``horizon``. Exact to the
        second, also across daylight-saving transitions. ``StateChange.at`` is
        in UTC (an aware local time in a repeated hour would compare unequal to
        every other zone's, PEP 495); show it with ``.astimezone(calendar.zone)``.
        """
        _require_aware(at)
        current = self.state_at(at)
        end = at.astimezone(UTC) + horizon
        for candidate in self._change_candidates(at, end):
            state = self.state_at(candidate)
            if state.is_open != current.is_open or state.period != current.period:
                return StateChange(candidate, state)
        return None

    def _change_candidates(self, at: datetime, end: datetime) -> list[datetime]:
        """Every instant in (at, end] at which the state could change, sorted.

        Between two consecutive candidates the override does not expire, the
        UTC offset does not change (so local wall-clock time runs on without
        jumps) and no period edge or midnight is reached, so the state is
        constant.
        """
        zone = self._zone
        at_utc = at.astimezone(UTC)
        end_utc = end.astimezone(UTC)
        found: set[datetime] = set()
        override = self.override
        if override is not None and at < override.until:
            found.add(override.until.astimezone(UTC))
        found.update(_offset_transitions(zone, at_utc, end_utc))
        day = at.astimezone(zone).date()
        last_day = end.astimezone(zone).date()
        while day <= last_day:
            edges = {0}
            for hours in self.plan_for(day).periods:
                edges.add(hours.start)
                if hours.end < MINUTES_PER_DAY:
                    edges.add(hours.end)
            for minute in edges:
                wall = datetime.combine(day, time(minute // 60, minute % 60))
                found.update(_instants_of_wall_time(zone, wall))
            day += timedelta(days=1)
        return sorted(t for t in found if at_utc < t <= end_utc)

    def missing_statutory_years(self, at: datetime, *, years_ahead: int = 1) -> tuple[int, ...]:
        """Years (the local year of ``at`` and the next ``years_ahead``) the
        statutory source has no data for. Empty when no source is configured.

        For these years statutory holidays are not known: routing falls back to
        the weekly rules, so the application should warn and admins should
        enter that year's holidays and make-up days as exceptions.
        """
        if self.statutory is None:
            return ()
        _require_aware(at)
        year = at.astimezone(self._zone).year
        return tuple(y for y in range(year, year + years_ahead + 1) if not self.statutory.covers(y))


def _describe(plan: DayPlan, day: date) -> str:
    rule = plan.rule
    if rule is Rule.WEEKLY:
        return f"weekly hours, {Weekday(day.weekday()).key}"
    if rule is Rule.EXCEPTION:
        note = f": {plan.note}" if plan.note else ""
        return f"exception for {day.isoformat()}{note}"
    if rule is Rule.STATUTORY_HOLIDAY:
        return f"statutory holiday {day.isoformat()}"
    return f"make-up working day {day.isoformat()}"


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None, fold=0)


def _instants_of_wall_time(zone: ZoneInfo, wall: datetime) -> list[datetime]:
    """The UTC instants whose local wall-clock time is ``wall`` (0, 1 or 2)."""
    found = []
    for fold in (0, 1):
        instant = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        if _wall(instant, zone) == wall:
            found.append(instant)
    return found


def _offset_transitions(zone: ZoneInfo, start: datetime, end: datetime) -> list[datetime]:
    """UTC instants (whole seconds) in [start, end] at which the zone's UTC offset
    changes; found by sampling every 6 hours and bisecting to the second."""
    step = 6 * 3600

    def offset(timestamp: int) -> timedelta | None:
        return datetime.fromtimestamp(timestamp, zone).utcoffset()

    found: list[datetime] = []
    low = math.floor(start.timestamp())
    last = math.ceil(end.timestamp())
    low_offset = offset(low)
    while low < last:
        high = min(low + step, last)
        high_offset = offset(high)
        if high_offset != low_offset:
            lo, hi = low, high
            while hi - lo > 1:
                mid = (lo + hi) // 2
                if offset(mid) == low_offset:
                    lo = mid
                else:
                    hi = mid
            found.append(datetime.fromtimestamp(hi, UTC))
        low, low_offset = high, high_offset
    return found
