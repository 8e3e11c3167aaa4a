"""The business calendar: is the hotline open at a given instant, and why.

Pure logic: nothing here reads a clock; every question is asked *at* an aware
``datetime`` that the caller passes in.

Opening hours
=============

Weekly open periods are given per weekday at minute precision in an IANA time
zone (default ``Asia/Shanghai``; default hours Mon-Fri 08:30-12:00 and
13:00-17:30, so the lunch break is closed).

Every period is a **half-open interval** ``[start, end)`` of local wall-clock
time: the start minute is open, the end minute is closed. With the default
hours, 08:29 is closed, 08:30 is open, 11:59 is open, 12:00 is closed, 12:59
is closed, 13:00 is open, 17:29 is open and 17:30 is closed. Seconds do not
matter because every edge lies on a whole minute (11:59:59 is open, 12:00:00
is closed).

A period lies within one day: ``start`` is 00:00-23:59, ``end`` is
00:01-24:00 and later than ``start``; ``24:00`` is accepted as an end and
means midnight at the end of that day (so 00:00-24:00 is open all day). A
period that runs past midnight is written as two periods, one on each day.
``25:00``, ``12:60``, inverted or empty periods (end <= start) and
overlapping periods on the same day are rejected. Periods that merely touch
(12:00-13:00 and 13:00-14:00) do not overlap.

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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import IntEnum, StrEnum
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ._parse import (
    MINUTES_PER_DAY,
    check_instant,
    check_keys,
    check_year,
    expect_enum,
    expect_list,
    expect_mapping,
    expect_str,
    format_datetime,
    format_hhmm,
    parse_aware_datetime,
    parse_date,
    parse_hhmm,
)
from .contract import (
    DEFAULT_TIMEZONE,
    MAX_DAY_PERIODS,
    MAX_EXCEPTIONS,
    MAX_NOTE_LENGTH,
    MAX_WEEKLY_PERIODS,
    Period,
)
from .errors import ErrorCollector, ValidationError, raise_errors

__all__ = [
    "DEFAULT_WEEKLY",
    "BusinessCalendar",
    "CalendarState",
    "DateException",
    "DayKind",
    "DayPlan",
    "ExceptionKind",
    "Override",
    "OverrideMode",
    "Rule",
    "Schedule",
    "StateChange",
    "StatutorySource",
    "TimeRange",
    "Weekday",
    "WeeklyPeriod",
    "add_exception",
    "calendar_from_dict",
    "calendar_to_dict",
    "exception_from_dict",
    "exception_to_dict",
    "exceptions_from_list",
    "exceptions_to_list",
    "load_zone",
    "override_from_dict",
    "override_to_dict",
    "schedule_from_dict",
    "schedule_to_dict",
    "time_range_from_dict",
    "time_range_to_dict",
]

_EXAMPLE_TIME_RANGE = '{"start": "08:30", "end": "12:00"}'
_EXAMPLE_WEEKLY = '{"day": "mon", "start": "08:30", "end": "12:00"}'
_EXAMPLE_DATETIME = "2026-10-01T08:30:00+08:00"


# --------------------------------------------------------------------------- enums


class Weekday(IntEnum):
    """Days of the week, numbered like :meth:`datetime.date.weekday`."""

    MON = 0
    TUE = 1
    WED = 2
    THU = 3
    FRI = 4
    SAT = 5
    SUN = 6

    @property
    def key(self) -> str:
        """The name used in JSON: ``mon`` ... ``sun``."""
        return self.name.lower()

    @classmethod
    def from_key(cls, key: str) -> Weekday:
        member = cls.__members__.get(key.upper())
        if member is None:
            raise ValidationError(
                "", f"{key!r} is not a day; use one of mon, tue, wed, thu, fri, sat, sun", "mon"
            )
        return member


class DayKind(StrEnum):
    """What a statutory source says about a date."""

    HOLIDAY = "holiday"  # statutory public holiday: closed all day
    WORKDAY = "workday"  # make-up working day (调休): open with the make-up periods


class ExceptionKind(StrEnum):
    CLOSED = "closed"
    OPEN = "open"


class OverrideMode(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Rule(StrEnum):
    """Which rule decided a state (for logs, ops and tests)."""

    OVERRIDE = "override"
    EXCEPTION = "exception"
    STATUTORY_HOLIDAY = "statutory_holiday"
    STATUTORY_WORKDAY = "statutory_workday"
    WEEKLY = "weekly"


@runtime_checkable
class StatutorySource(Protocol):
    """Public holidays and make-up working days, by date.

    ``day_kind`` returns None for an ordinary day *and* for a date in a year
    the source has no data for (it must never raise for a valid date);
    ``covers`` tells which years it has data for, so the application can warn
    and admins can enter a missing year's dates as exceptions.
    """

    def day_kind(self, day: date) -> DayKind | None: ...

    def covers(self, year: int) -> bool: ...


# --------------------------------------------------------------------------- values


@dataclass(frozen=True, order=True, slots=True)
class TimeRange:
    """A half-open range ``[start, end)`` of minutes since local midnight.

    ``start`` is 0-1439, ``end`` is 1-1440 (1440 = 24:00) and greater than
    ``start``.
    """

    start: int
    end: int

    def __post_init__(self) -> None:
        for name, value in (("start", self.start), ("end", self.end)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValidationError(name, "must be minutes since midnight", "510")
        if not 0 <= self.start < MINUTES_PER_DAY:
            raise ValidationError(
                "start", "must be a time from 00:00 to 23:59 (minutes 0-1439)", "08:30"
            )
        if not 0 < self.end <= MINUTES_PER_DAY:
            raise ValidationError(
                "end", "must be a time from 00:01 to 24:00 (minutes 1-1440)", "12:00"
            )
        if self.end <= self.start:
            raise ValidationError(
                "end",
                f"the period ends at {format_hhmm(self.end)}, not after it starts at "
                f"{format_hhmm(self.start)}; a period must end later the same day "
                "(use 24:00 for midnight, and split periods that run past midnight)",
                f"{format_hhmm(min(self.start + 60, MINUTES_PER_DAY))}"
                if self.start < MINUTES_PER_DAY - 1
                else "24:00",
            )

    @classmethod
    def of(cls, start: str, end: str) -> TimeRange:
        """``TimeRange.of("08:30", "12:00")``."""
        return cls(
            parse_hhmm(start, "start", "08:30", is_end=False),
            parse_hhmm(end, "end", "12:00", is_end=True),
        )

    def contains(self, minute: int) -> bool:
        return self.start <= minute < self.end

    def overlaps(self, other: TimeRange) -> bool:
        return self.start < other.end and other.start < self.end

    def __str__(self) -> str:
        return f"{format_hhmm(self.start)}-{format_hhmm(self.end)}"


@dataclass(frozen=True, slots=True)
class WeeklyPeriod:
    """An open period that repeats every week on ``day``."""

    day: Weekday
    hours: TimeRange

    def __post_init__(self) -> None:
        if not isinstance(self.day, Weekday):
            raise ValidationError("day", "must be a weekday", "mon")

    @classmethod
    def of(cls, day: str, start: str, end: str) -> WeeklyPeriod:
        """``WeeklyPeriod.of("mon", "08:30", "12:00")``."""
        return cls(Weekday.from_key(day), TimeRange.of(start, end))

    def __str__(self) -> str:
        return f"{self.day.key} {self.hours}"


_MORNING = TimeRange(8 * 60 + 30, 12 * 60)
_AFTERNOON = TimeRange(13 * 60, 17 * 60 + 30)

DEFAULT_WEEKLY: tuple[WeeklyPeriod, ...] = tuple(
    WeeklyPeriod(day, hours)
    for day in (Weekday.MON, Weekday.TUE, Weekday.WED, Weekday.THU, Weekday.FRI)
    for hours in (_MORNING, _AFTERNOON)
)


def load_zone(name: str, field_name: str = "timezone") -> ZoneInfo:
    """Load an IANA zone or raise a ValidationError naming ``field_name``."""
    example = DEFAULT_TIMEZONE
    if not isinstance(name, str):
        raise ValidationError(field_name, "must be an IANA time zone name as a string", example)
    if not name or name != name.strip() or name.startswith("/") or ".." in name:
        raise ValidationError(
            field_name, f"{name!r} is not an IANA time zone name such as {example}", example
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValidationError(
            field_name,
            f"{name!r} is not a known IANA time zone; use a name such as {example} "
            "or Europe/Berlin",
            example,
        ) from None


def _overlap_errors(
    ranges: Sequence[TimeRange], field_of: Sequence[str], describe: Sequence[str]
) -> list[ValidationError]:
    """An error for each range that overlaps an earlier-listed one."""
    errors: list[ValidationError] = []
    for j, later in enumerate(ranges):
        for i in range(j):
            earlier = ranges[i]
            if later.overlaps(earlier):
                part = "start" if later.start >= earlier.start else "end"
                errors.append(
                    ValidationError(
                        f"{field_of[j]}.{part}",
                        f"{describe[j]} overlaps {field_of[i]} ({describe[i]}); "
                        "periods on the same day must not overlap (touching is fine)",
                        _EXAMPLE_TIME_RANGE,
                    )
                )
                break
    return errors


def _check_day_ranges(ranges: Sequence[TimeRange], path: str) -> list[ValidationError]:
    return _overlap_errors(
        ranges, [f"{path}[{i}]" for i in range(len(ranges))], [str(r) for r in ranges]
    )


def _sorted_ranges(ranges: Iterable[TimeRange]) -> tuple[TimeRange, ...]:
    return tuple(sorted(ranges))


@dataclass(frozen=True)
class Schedule:
    """Time zone, weekly open periods and the periods of a make-up working day."""

    timezone: str = DEFAULT_TIMEZONE
    weekly: tuple[WeeklyPeriod, ...] = DEFAULT_WEEKLY
    #: periods of a statutory make-up working day; None = Monday's weekly periods
    workday_periods: tuple[TimeRange, ...] | None = None

    zone: ZoneInfo = field(init=False, repr=False, compare=False)
    _by_day: tuple[tuple[TimeRange, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        errors: list[ValidationError] = []
        zone: ZoneInfo | None = None
        try:
            zone = load_zone(self.timezone)
        except ValidationError as error:
            errors.append(error)
        weekly = tuple(self.weekly)
        if len(weekly) > MAX_WEEKLY_PERIODS:
            errors.append(
                ValidationError(
                    "weekly", f"has more than {MAX_WEEKLY_PERIODS} periods", _EXAMPLE_WEEKLY
                )
            )
        for day in Weekday:
            indexes = [i for i, p in enumerate(weekly) if p.day is day]
            errors.extend(
                _overlap_errors(
                    [weekly[i].hours for i in indexes],
                    [f"weekly[{i}]" for i in indexes],
                    [str(weekly[i]) for i in indexes],
                )
            )
        if self.workday_periods is not None:
            workday = tuple(self.workday_periods)
            if len(workday) > MAX_DAY_PERIODS:
                errors.append(
                    ValidationError(
                        "workday_periods",
                        f"has more than {MAX_DAY_PERIODS} periods",
                        _EXAMPLE_TIME_RANGE,
                    )
                )
            errors.extend(_check_day_ranges(workday, "workday_periods"))
            object.__setattr__(self, "workday_periods", workday)
        raise_errors(errors)
        assert zone is not None
        object.__setattr__(self, "weekly", weekly)
        object.__setattr__(self, "zone", zone)
        object.__setattr__(
            self,
            "_by_day",
            tuple(_sorted_ranges(p.hours for p in weekly if p.day is day) for day in Weekday),
        )

    def periods_on(self, day: Weekday) -> tuple[TimeRange, ...]:
        """The weekly open periods of ``day``, sorted by start."""
        return self._by_day[day]

    @property
    def make_up_periods(self) -> tuple[TimeRange, ...]:
        """Open periods of a make-up working day: ``workday_periods`` or Monday's."""
        if self.workday_periods is not None:
            return _sorted_ranges(self.workday_periods)
        return self._by_day[Weekday.MON]


@dataclass(frozen=True, slots=True)
class DateException:
    """A dated exception (with its year): closed all day, or open with its own periods."""

    day: date
    kind: ExceptionKind
    periods: tuple[TimeRange, ...] = ()
    note: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.day, datetime) or not isinstance(self.day, date):
            raise ValidationError("date", "must be a date", "2026-10-01")
        check_year(self.day.year, "date", "2026-10-01")
        if not isinstance(self.kind, ExceptionKind):
            raise ValidationError("kind", "must be closed or open", "closed")
        periods = tuple(self.periods)
        object.__setattr__(self, "periods", periods)
        if self.kind is ExceptionKind.CLOSED and periods:
            raise ValidationError(
                "periods",
                "a closed day has no open periods; remove them or use kind open",
                "[]",
            )
        if self.kind is ExceptionKind.OPEN and not periods:
            raise ValidationError(
                "periods",
                "an open day needs at least one open period",
                f"[{_EXAMPLE_TIME_RANGE}]",
            )
        if len(periods) > MAX_DAY_PERIODS:
            raise ValidationError(
                "periods", f"has more than {MAX_DAY_PERIODS} periods", _EXAMPLE_TIME_RANGE
            )
        raise_errors(_check_day_ranges(periods, "periods"))
        expect_str(
            self.note, "note", "company outing", max_length=MAX_NOTE_LENGTH, allow_empty=True
        )


@dataclass(frozen=True, slots=True)
class Override:
    """Force open or closed until an aware instant (a day/night switch).

    Active while ``at < until``; at and after ``until`` it is ignored.
    """

    mode: OverrideMode
    until: datetime
    note: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.mode, OverrideMode):
            raise ValidationError("mode", "must be open or closed", "closed")
        if not isinstance(self.until, datetime):
            raise ValidationError("until", "must be a date and time", _EXAMPLE_DATETIME)
        check_instant(self.until, "until", _EXAMPLE_DATETIME)
        expect_str(self.note, "note", "storm warning", max_length=MAX_NOTE_LENGTH, allow_empty=True)

    def is_active(self, at: datetime) -> bool:
        return at < self.until


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
        errors: list[ValidationError] = []
        plans: dict[date, DayPlan] = {}
        first_index: dict[date, int] = {}
        for index, exception in enumerate(exceptions):
            if exception.day in first_index:
                errors.append(
                    _duplicate_exception(
                        exception.day,
                        f"exceptions[{index}].date",
                        f"exceptions[{first_index[exception.day]}]",
                    )
                )
                continue
            first_index[exception.day] = index
            plans[exception.day] = DayPlan(
                _sorted_ranges(exception.periods), Rule.EXCEPTION, exception.note
            )
        raise_errors(errors)
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


def _duplicate_exception(day: date, field_name: str, other: str) -> ValidationError:
    return ValidationError(
        field_name,
        f"there is already an exception for {day.isoformat()} ({other}); "
        "a date can have only one exception - edit or delete the existing one",
        (day + timedelta(days=1)).isoformat(),
    )


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


# --------------------------------------------------------------------------- dicts


def time_range_from_dict(data: object, *, path: str = "") -> TimeRange:
    """``{"start": "08:30", "end": "12:00"}`` -> TimeRange (``24:00`` allowed as end)."""
    mapping = expect_mapping(data, path, _EXAMPLE_TIME_RANGE)
    errors = ErrorCollector(path)
    check_keys(
        mapping, ("start", "end"), ("start", "end"), errors, {"start": "08:30", "end": "12:00"}
    )
    start = end = None
    if "start" in mapping:
        start = errors.attempt("", parse_hhmm, mapping["start"], "start", "08:30", is_end=False)
    if "end" in mapping:
        end = errors.attempt("", parse_hhmm, mapping["end"], "end", "12:00", is_end=True)
    errors.raise_if_any()
    assert start is not None and end is not None
    try:
        return TimeRange(start, end)
    except ValidationError as error:
        raise error.at(path) from None


def time_range_to_dict(hours: TimeRange) -> dict[str, Any]:
    return {"start": format_hhmm(hours.start), "end": format_hhmm(hours.end)}


def _ranges_from_list(value: object, path: str) -> tuple[TimeRange, ...]:
    items = expect_list(value, path, f"[{_EXAMPLE_TIME_RANGE}]", max_items=MAX_DAY_PERIODS)
    errors = ErrorCollector()
    ranges = [
        errors.attempt("", time_range_from_dict, item, path=f"{path}[{i}]")
        for i, item in enumerate(items)
    ]
    errors.raise_if_any()
    return tuple(r for r in ranges if r is not None)


def _weekday_from_json(value: object) -> Weekday:
    return Weekday.from_key(expect_str(value, "", "mon", max_length=16))


def _weekly_from_dict(data: object, path: str) -> WeeklyPeriod:
    mapping = expect_mapping(data, path, _EXAMPLE_WEEKLY)
    errors = ErrorCollector(path)
    check_keys(
        mapping,
        ("day", "start", "end"),
        ("day", "start", "end"),
        errors,
        {"day": "mon", "start": "08:30", "end": "12:00"},
    )
    day = None
    if "day" in mapping:
        day = errors.attempt("day", _weekday_from_json, mapping["day"])
    hours = None
    if "start" in mapping and "end" in mapping:
        hours = errors.attempt(
            "", time_range_from_dict, {"start": mapping["start"], "end": mapping["end"]}
        )
    errors.raise_if_any()
    assert day is not None and hours is not None
    return WeeklyPeriod(day, hours)


def schedule_from_dict(data: object, *, path: str = "") -> Schedule:
    """Validate and build a Schedule from the JSON of ``PUT /api/v1/schedule``.

    ``{"timezone": "Asia/Shanghai", "weekly": [{"day": "mon", "start": "08:30",
    "end": "12:00"}, ...], "workday_periods": null}``. ``timezone`` defaults to
    Asia/Shanghai; ``workday_periods`` (the open periods of a statutory make-up
    working day) may be left out or null, meaning Monday's periods. An empty
    ``weekly`` list means never open by the weekly rules.
    """
    mapping = expect_mapping(data, path, '{"timezone": "Asia/Shanghai", "weekly": [...]}')
    errors = ErrorCollector(path)
    check_keys(
        mapping,
        ("timezone", "weekly", "workday_periods"),
        ("weekly",),
        errors,
        {"weekly": f"[{_EXAMPLE_WEEKLY}]"},
    )
    timezone: str | None = DEFAULT_TIMEZONE
    if "timezone" in mapping:
        timezone = errors.attempt(
            "timezone", expect_str, mapping["timezone"], "", DEFAULT_TIMEZONE, max_length=64
        )
        if timezone is not None and errors.attempt("", load_zone, timezone) is None:
            timezone = None
    weekly: list[WeeklyPeriod] = []
    if "weekly" in mapping:
        items = errors.attempt(
            "weekly",
            expect_list,
            mapping["weekly"],
            "",
            f"[{_EXAMPLE_WEEKLY}]",
            max_items=MAX_WEEKLY_PERIODS,
        )
        for i, item in enumerate(items or ()):
            period = errors.attempt("", _weekly_from_dict, item, f"weekly[{i}]")
            if period is not None:
                weekly.append(period)
    workday: tuple[TimeRange, ...] | None = None
    if mapping.get("workday_periods") is not None:
        workday = errors.attempt(
            "", _ranges_from_list, mapping["workday_periods"], "workday_periods"
        )
    errors.raise_if_any()
    assert timezone is not None
    try:
        return Schedule(timezone, tuple(weekly), workday)
    except ValidationError as error:
        raise error.at(path) from None


def schedule_to_dict(schedule: Schedule) -> dict[str, Any]:
    return {
        "timezone": schedule.timezone,
        "weekly": [{"day": p.day.key, **time_range_to_dict(p.hours)} for p in schedule.weekly],
        "workday_periods": None
        if schedule.workday_periods is None
        else [time_range_to_dict(r) for r in schedule.workday_periods],
    }


def _note_from_json(value: object, example: str) -> str:
    return expect_str(value, "", example, max_length=MAX_NOTE_LENGTH, allow_empty=True)


def exception_from_dict(data: object, *, path: str = "") -> DateException:
    """``{"date": "2026-10-01", "kind": "closed", "note": "..."}`` or
    ``{"date": "2026-10-10", "kind": "open", "periods": [{"start": ..., "end": ...}]}``."""
    example = '{"date": "2026-10-01", "kind": "closed", "note": "National Day"}'
    mapping = expect_mapping(data, path, example)
    errors = ErrorCollector(path)
    check_keys(
        mapping,
        ("date", "kind", "periods", "note"),
        ("date", "kind"),
        errors,
        {"date": "2026-10-01", "kind": "closed"},
    )
    day = None
    if "date" in mapping:
        day = errors.attempt("date", parse_date, mapping["date"], "", "2026-10-01")
    kind = None
    if "kind" in mapping:
        kind = errors.attempt("kind", expect_enum, ExceptionKind, mapping["kind"], "", "closed")
    periods: tuple[TimeRange, ...] | None = ()
    if "periods" in mapping:
        periods = errors.attempt("", _ranges_from_list, mapping["periods"], "periods")
    note: str | None = ""
    if "note" in mapping:
        note = errors.attempt("note", _note_from_json, mapping["note"], "National Day")
    errors.raise_if_any()
    assert day is not None and kind is not None and periods is not None and note is not None
    try:
        return DateException(day, kind, periods, note)
    except ValidationError as error:
        raise error.at(path) from None


def exception_to_dict(exception: DateException) -> dict[str, Any]:
    data: dict[str, Any] = {"date": exception.day.isoformat(), "kind": exception.kind.value}
    if exception.kind is ExceptionKind.OPEN:
        data["periods"] = [time_range_to_dict(r) for r in exception.periods]
    data["note"] = exception.note
    return data


def exceptions_from_list(data: object, *, path: str = "exceptions") -> tuple[DateException, ...]:
    """A list of exceptions; two for the same date are rejected."""
    items = expect_list(
        data, path, '[{"date": "2026-10-01", "kind": "closed"}]', max_items=MAX_EXCEPTIONS
    )
    errors = ErrorCollector()
    parsed: list[DateException] = []
    first_index: dict[date, int] = {}
    for i, item in enumerate(items):
        exception = errors.attempt("", exception_from_dict, item, path=f"{path}[{i}]")
        if exception is None:
            continue
        if exception.day in first_index:
            errors.extend(
                _duplicate_exception(
                    exception.day, f"{path}[{i}].date", f"{path}[{first_index[exception.day]}]"
                )
            )
            continue
        first_index[exception.day] = i
        parsed.append(exception)
    errors.raise_if_any()
    return tuple(parsed)


def exceptions_to_list(exceptions: Iterable[DateException]) -> list[dict[str, Any]]:
    return [exception_to_dict(e) for e in exceptions]


def add_exception(
    existing: Iterable[DateException], new: DateException
) -> tuple[DateException, ...]:
    """``existing`` plus ``new``, sorted by date; a second exception for a date
    is rejected with a ValidationError on field ``date`` (for ``POST
    /api/v1/exceptions``)."""
    current = tuple(existing)
    for other in current:
        if other.day == new.day:
            raise ValidationError(
                "date",
                f"there is already an exception for {new.day.isoformat()}; "
                "a date can have only one exception - delete the existing one first",
                (new.day + timedelta(days=1)).isoformat(),
            )
    return tuple(sorted((*current, new), key=_exception_day))


def _exception_day(exception: DateException) -> date:
    return exception.day


def override_from_dict(data: object, *, path: str = "", now: datetime | None = None) -> Override:
    """``{"mode": "closed", "until": "2026-10-01T08:30:00+08:00", "note": "..."}``.

    ``until`` needs a UTC offset; with ``now`` given, an ``until`` that is not
    in the future is rejected.
    """
    example = f'{{"mode": "closed", "until": "{_EXAMPLE_DATETIME}"}}'
    mapping = expect_mapping(data, path, example)
    errors = ErrorCollector(path)
    check_keys(
        mapping,
        ("mode", "until", "note"),
        ("mode", "until"),
        errors,
        {"mode": "closed", "until": _EXAMPLE_DATETIME},
    )
    mode = None
    if "mode" in mapping:
        mode = errors.attempt("mode", expect_enum, OverrideMode, mapping["mode"], "", "closed")
    until = None
    if "until" in mapping:
        until = errors.attempt(
            "until", parse_aware_datetime, mapping["until"], "", _EXAMPLE_DATETIME
        )
        if until is not None and now is not None and until <= now:
            errors.add(
                "until",
                f"{until.isoformat()} is not in the future; an override must end later than now",
                (now + timedelta(hours=1)).replace(microsecond=0).isoformat(),
            )
    note: str | None = ""
    if "note" in mapping:
        note = errors.attempt("note", _note_from_json, mapping["note"], "storm warning")
    errors.raise_if_any()
    assert mode is not None and until is not None and note is not None
    try:
        return Override(mode, until, note)
    except ValidationError as error:
        raise error.at(path) from None


def override_to_dict(override: Override) -> dict[str, Any]:
    return {
        "mode": override.mode.value,
        "until": format_datetime(override.until),
        "note": override.note,
    }


def calendar_from_dict(
    data: object,
    *,
    path: str = "",
    statutory: StatutorySource | None = None,
    now: datetime | None = None,
) -> BusinessCalendar:
    """``{"schedule": {...}, "exceptions": [...], "override": {...} | null}``.

    ``exceptions`` and ``override`` may be left out. Field paths are
    ``schedule.weekly[2].end``, ``exceptions[0].date``, ``override.until``.
    """
    mapping = expect_mapping(data, path, '{"schedule": {...}, "exceptions": [], "override": null}')
    errors = ErrorCollector(path)
    check_keys(
        mapping,
        ("schedule", "exceptions", "override"),
        ("schedule",),
        errors,
        {"schedule": '{"timezone": "Asia/Shanghai", "weekly": [...]}'},
    )
    schedule = None
    if "schedule" in mapping:
        schedule = errors.attempt("", schedule_from_dict, mapping["schedule"], path="schedule")
    exceptions: tuple[DateException, ...] | None = ()
    if "exceptions" in mapping:
        exceptions = errors.attempt("", exceptions_from_list, mapping["exceptions"])
    override = None
    if mapping.get("override") is not None:
        override = errors.attempt(
            "", override_from_dict, mapping["override"], path="override", now=now
        )
    errors.raise_if_any()
    assert schedule is not None and exceptions is not None
    return BusinessCalendar(schedule, exceptions, override, statutory)


def calendar_to_dict(calendar: BusinessCalendar) -> dict[str, Any]:
    return {
        "schedule": schedule_to_dict(calendar.schedule),
        "exceptions": exceptions_to_list(calendar.exceptions),
        "override": None if calendar.override is None else override_to_dict(calendar.override),
    }
