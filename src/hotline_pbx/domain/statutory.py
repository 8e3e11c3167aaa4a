"""China's statutory holidays and make-up working days (调休) as a StatutorySource.

The data comes from the ``chinese_calendar`` package, which is pure data.
Version 1.11.0 covers 2004-2026; its own functions raise
``NotImplementedError`` for any other year. This module never calls them: it
copies the package's tables once and answers from them, so

* a date in a covered year: :attr:`DayKind.HOLIDAY` for a statutory holiday,
  :attr:`DayKind.WORKDAY` for a make-up working day (always a Saturday or
  Sunday), None for an ordinary day;
* a date in a year the package has no data for: None (routing falls back to
  the weekly rules) and ``covers(year)`` is False, so the application can warn
  and admins can enter that year's dates as dated exceptions
  (:meth:`BusinessCalendar.missing_statutory_years
  <hotline_pbx.domain.calendar.BusinessCalendar.missing_statutory_years>`).

A year counts as covered when it lies between the first and the last year of
the package's holiday table (that is the package's own rule).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from functools import cache

import chinese_calendar

from .calendar import DayKind

__all__ = [
    "TableStatutorySource",
    "chinese_statutory_source",
]


class TableStatutorySource:
    """A StatutorySource backed by two tables: holidays and make-up working days.

    ``holidays`` and ``workdays`` map a date to a name (e.g. ``National
    Day``); ``years`` are the years the tables are complete for. A date listed
    outside ``years`` is ignored.
    """

    __slots__ = ("_days", "_names", "_years")

    def __init__(
        self,
        holidays: Mapping[date, str],
        workdays: Mapping[date, str],
        years: Iterable[int],
    ) -> None:
        self._years = frozenset(years)
        both = set(holidays) & set(workdays)
        if both:
            raise ValueError(
                "a date cannot be both a holiday and a working day: "
                + ", ".join(sorted(d.isoformat() for d in both))
            )
        days: dict[date, DayKind] = {}
        names: dict[date, str] = {}
        for table, kind in ((holidays, DayKind.HOLIDAY), (workdays, DayKind.WORKDAY)):
            for day, name in table.items():
                if day.year in self._years:
                    days[day] = kind
                    names[day] = str(name)
        self._days = days
        self._names = names

    @property
    def years(self) -> frozenset[int]:
        """The years this source has data for."""
        return self._years

    def covers(self, year: int) -> bool:
        return year in self._years

    def day_kind(self, day: date) -> DayKind | None:
        """HOLIDAY, WORKDAY (make-up working day) or None (ordinary day or unknown year)."""
        return self._days.get(day)

    def name(self, day: date) -> str | None:
        """The holiday's name for a holiday or a make-up working day, else None."""
        return self._names.get(day)

    def missing_years(self, years: Iterable[int]) -> tuple[int, ...]:
        """Those of ``years`` (sorted, without repeats) this source has no data for."""
        return tuple(sorted({y for y in years if y not in self._years}))

    def __repr__(self) -> str:
        if not self._years:
            return "TableStatutorySource(no years)"
        return (
            f"TableStatutorySource({min(self._years)}-{max(self._years)}, {len(self._days)} days)"
        )


@cache
def chinese_statutory_source() -> TableStatutorySource:
    """China's statutory calendar from the installed ``chinese_calendar`` package
    (built once, then shared; it is immutable)."""
    holidays: dict[date, str] = dict(chinese_calendar.holidays)
    workdays: dict[date, str] = dict(chinese_calendar.workdays)
    if not holidays:
        return TableStatutorySource({}, {}, ())
    first = min(holidays).year
    last = max(holidays).year
    return TableStatutorySource(holidays, workdays, range(first, last + 1))
