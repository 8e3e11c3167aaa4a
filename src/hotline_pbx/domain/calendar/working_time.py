"""Working time on the business calendar: deadlines that count only working hours.

Callback tasks are due "within 2 working hours", complaints "the same working
day" or "within 1 working day": both count time only while the calendar's
working periods run. Working time is :meth:`BusinessCalendar.plan_for` of each
local date - the weekly periods (so the lunch break is not working time), dated
exceptions, statutory holidays and make-up working days - and **never the
day/night override**: forcing the hotline closed for an hour does not stop a
deadline's clock, forcing it open at night does not start it.

Pure: every function is asked about aware instants the caller passes in.

Local wall-clock time decides, as for routing (see :mod:`.evaluation`): on a
spring-forward day a working period loses the skipped hour, on a fall-back day
it gains the repeated one. Results are aware datetimes in UTC.

Searching forward is bounded: when :data:`MAX_IDLE_DAYS` local dates in a row
have no working period, :class:`NoWorkingTime` is raised (a calendar with every
day closed must not loop for ever).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise

from .evaluation import BusinessCalendar, _instants_of_wall_time, _offset_transitions

__all__ = [
    "MAX_IDLE_DAYS",
    "NoWorkingTime",
    "add_working_time",
    "day_intervals",
    "end_of_working_day",
    "is_working_time",
    "working_intervals",
    "working_time_between",
]

#: Local dates in a row without any working period before the search gives up
#: (China's longest statutory break is 9 days; a year covers any real calendar).
MAX_IDLE_DAYS = 400

_ZERO = timedelta(0)

Interval = tuple[datetime, datetime]


class NoWorkingTime(ValueError):
    """The calendar has no working period within :data:`MAX_IDLE_DAYS` days."""


def _require_aware(at: datetime, name: str) -> None:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, got naive {at!r}")


def is_working_time(calendar: BusinessCalendar, at: datetime) -> bool:
    """Whether ``at`` lies in a working period of its local date (override ignored)."""
    _require_aware(at, "at")
    local = at.astimezone(calendar.zone)
    minute = local.hour * 60 + local.minute
    return any(p.start <= minute < p.end for p in calendar.plan_for(local.date()).periods)


def day_intervals(calendar: BusinessCalendar, day: date) -> list[Interval]:
    """The working time of one local date as sorted, disjoint UTC intervals ``[a, b)``.

    Between two consecutive candidate instants (the periods' wall-clock edges
    and the zone's offset changes) the local date and minute run on without a
    jump, so one look at each piece's middle decides it.
    """
    periods = calendar.plan_for(day).periods
    if not periods:
        return []
    zone = calendar.zone
    candidates: set[datetime] = set()
    for period in periods:
        for minute in (period.start, period.end):
            wall = datetime.combine(day, time()) + timedelta(minutes=minute)
            candidates.update(_instants_of_wall_time(zone, wall))
    midnight = datetime.combine(day, time()).replace(tzinfo=zone).astimezone(UTC)
    candidates.update(_offset_transitions(zone, midnight - timedelta(hours=30),
                                          midnight + timedelta(hours=54)))
    ordered = sorted(candidates)
    found: list[Interval] = []
    for a, b in pairwise(ordered):
        local = (a + (b - a) / 2).astimezone(zone)
        minute = local.hour * 60 + local.minute
        if local.date() != day or not any(p.start <= minute < p.end for p in periods):
            continue
        if found and found[-1][1] == a:
            found[-1] = (found[-1][0], b)
        else:
            found.append((a, b))
    return found


def working_intervals(calendar: BusinessCalendar, start: datetime) -> Iterator[Interval]:
    """Working time from ``start`` on, as ascending disjoint UTC intervals (the first
    one clipped to ``start``). Endless for a calendar that has working time; raises
    :class:`NoWorkingTime` after :data:`MAX_IDLE_DAYS` local dates in a row without it."""
    _require_aware(start, "start")
    cursor = start.astimezone(UTC)
    # The day before: an instant just after a fall-back midnight is still its date.
    day = cursor.astimezone(calendar.zone).date() - timedelta(days=1)
    idle = 0
    while True:
        intervals = day_intervals(calendar, day)
        idle = 0 if intervals else idle + 1
        if idle > MAX_IDLE_DAYS:
            raise NoWorkingTime(f"the calendar has no working period in the "
                                f"{MAX_IDLE_DAYS} days before {day.isoformat()}: add "
                                "weekly hours or an open exception")
        for a, b in intervals:
            # Never backwards: a date whose hours overlap the previous one's in
            # real time (a zone turning its clock back over midnight) counts once.
            a = max(a, cursor)
            if a < b:
                yield a, b
                cursor = b
        day += timedelta(days=1)


def add_working_time(calendar: BusinessCalendar, start: datetime,
                     duration: timedelta) -> datetime:
    """The instant at which ``duration`` of working time has passed since ``start``.

    A start outside working time counts from the next working period; a
    duration that ends exactly where a period ends gives that end (12:00, not
    the 13:00 after lunch). A zero duration gives ``start`` itself (in UTC).
    """
    if duration < _ZERO:
        raise ValueError(f"duration must not be negative, got {duration}")
    _require_aware(start, "start")
    left = duration
    if left == _ZERO:
        return start.astimezone(UTC)
    for a, b in working_intervals(calendar, start):
        if b - a >= left:
            return a + left
        left -= b - a
    raise AssertionError("unreachable: working_intervals is endless or raises")


def working_time_between(calendar: BusinessCalendar, start: datetime,
                         end: datetime) -> timedelta:
    """The working time in ``[start, end)``; negative when ``end`` is before ``start``."""
    _require_aware(start, "start")
    _require_aware(end, "end")
    if end < start:
        return -working_time_between(calendar, end, start)
    total = _ZERO
    try:
        for a, b in working_intervals(calendar, start):
            if a >= end:
                break
            total += min(b, end) - a
    except NoWorkingTime:  # nothing more to count, however far end is
        pass
    return total


def end_of_working_day(calendar: BusinessCalendar, at: datetime) -> datetime:
    """The end of the working day ``at`` belongs to: the end of its local date's
    last working period if that is still to come, else the end of the next
    working day's (a complaint at 18:00 on Friday is due "the same working day"
    at Monday's close)."""
    _require_aware(at, "at")
    moment = at.astimezone(UTC)
    day = moment.astimezone(calendar.zone).date() - timedelta(days=1)
    for _ in range(MAX_IDLE_DAYS + 2):
        intervals = day_intervals(calendar, day)
        if intervals and intervals[-1][1] > moment:
            return intervals[-1][1]
        day += timedelta(days=1)
    raise NoWorkingTime(f"the calendar has no working period in the {MAX_IDLE_DAYS} days "
                        f"after {at.isoformat()}: add weekly hours or an open exception")

