"""The business calendar's values: opening hours, dated exceptions, the override.

Pure values: no clock, no I/O.

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

The company's written hours are :data:`DEFAULT_WEEKLY` in
:data:`~hotline_pbx.domain.contract.DEFAULT_TIMEZONE` (:func:`default_schedule`).
Every rule about a value is checked by its constructor; the JSON form is
:mod:`hotline_pbx.api.schemas`. How the values decide open or closed at an
instant is :mod:`.evaluation`.
"""

from __future__ import annotations

import functools
import zoneinfo
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import IntEnum, StrEnum
from typing import Protocol, runtime_checkable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .._parse import (
    MINUTES_PER_DAY,
    check_instant,
    check_year,
    expect_str,
    format_hhmm,
    parse_hhmm,
)
from ..contract import (
    DEFAULT_TIMEZONE,
    MAX_DAY_PERIODS,
    MAX_NOTE_LENGTH,
    MAX_WEEKLY_PERIODS,
)
from ..errors import ValidationError, raise_errors

__all__ = [
    "DEFAULT_WEEKLY",
    "DateException",
    "DayKind",
    "ExceptionKind",
    "Override",
    "OverrideMode",
    "Schedule",
    "StatutorySource",
    "TimeRange",
    "Weekday",
    "WeeklyPeriod",
    "add_exception",
    "canonical_zones",
    "check_override_ends_after",
    "default_schedule",
    "duplicate_dates",
    "exception_exists",
    "load_zone",
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
    unknown = ValidationError(
        field_name,
        f"{name!r} is not a known IANA time zone; use a name such as {example} "
        "or Europe/Berlin",
        example,
    )
    if name not in canonical_zones():
        raise unknown
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise unknown from None


# Files of the zone database that are not zones of a place, or whose meaning
# depends on the host: the host's own zone, the rules of POSIX TZ strings, the
# "Factory" placeholder, and the posix/ and right/ (leap-second) copies.
_HOST_DEPENDENT_ZONES = frozenset({"localtime", "posixrules", "Factory"})
_HOST_DEPENDENT_TREES = ("posix/", "right/")


@functools.cache
def canonical_zones() -> frozenset[str]:
    """The zone names a schedule or ``routing.timezone`` may use: the IANA
    names, without the host-dependent ones (read once from the zone database)."""
    return frozenset(
        zone
        for zone in zoneinfo.available_timezones()
        if zone not in _HOST_DEPENDENT_ZONES and not zone.startswith(_HOST_DEPENDENT_TREES)
    )


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


def default_schedule(timezone: str = DEFAULT_TIMEZONE) -> Schedule:
    """The company's written hours (Mon-Fri 08:30-12:00, 13:00-17:30) in ``timezone``
    (``routing.timezone``): what routing uses until an admin stores a schedule."""
    return Schedule(timezone, DEFAULT_WEEKLY)


def check_override_ends_after(override: Override, now: datetime) -> None:
    """A new override must end later than ``now`` (one that is over would decide
    nothing); a stored one that has expired still loads, and is ignored."""
    if override.until <= now:
        raise ValidationError(
            "until",
            f"{override.until.isoformat()} is not in the future; an override must end later "
            "than now",
            (now + timedelta(hours=1)).replace(microsecond=0).isoformat(),
        )


def duplicate_dates(
    indexed: Iterable[tuple[int, DateException]], path: str = "exceptions"
) -> list[ValidationError]:
    """An error for each exception whose date an earlier one already has; each
    comes with its position in the document (``exceptions[2].date``)."""
    errors: list[ValidationError] = []
    first_index: dict[date, int] = {}
    for index, exception in indexed:
        if exception.day in first_index:
            errors.append(
                _duplicate_exception(
                    exception.day, f"{path}[{index}].date", f"{path}[{first_index[exception.day]}]"
                )
            )
        else:
            first_index[exception.day] = index
    return errors


def _duplicate_exception(day: date, field_name: str, other: str) -> ValidationError:
    return ValidationError(
        field_name,
        f"there is already an exception for {day.isoformat()} ({other}); "
        "a date can have only one exception - edit or delete the existing one",
        (day + timedelta(days=1)).isoformat(),
    )


def exception_exists(day: date) -> ValidationError:
    """The refusal of a second exception for ``day`` (field ``date``)."""
    return ValidationError(
        "date",
        f"there is already an exception for {day.isoformat()}; "
        "a date can have only one exception - delete the existing one first",
        (day + timedelta(days=1)).isoformat(),
    )


def add_exception(
    existing: Iterable[DateException], new: DateException
) -> tuple[DateException, ...]:
    """``existing`` plus ``new``, sorted by date; a second exception for a date
    is rejected with a ValidationError on field ``date`` (for ``POST
    /api/v1/exceptions``)."""
    current = tuple(existing)
    if any(other.day == new.day for other in current):
        raise exception_exists(new.day)
    return tuple(sorted((*current, new), key=_exception_day))


def _exception_day(exception: DateException) -> date:
    return exception.day
