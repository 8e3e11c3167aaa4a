"""Small helpers shared by the domain tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from hotline_pbx.domain.calendar import DayKind
from hotline_pbx.domain.errors import ValidationError

SHANGHAI = ZoneInfo("Asia/Shanghai")
NEW_YORK = ZoneInfo("America/New_York")
BERLIN = ZoneInfo("Europe/Berlin")


def sh(text: str) -> datetime:
    """``sh("2026-03-02 08:30")`` -> aware datetime in Asia/Shanghai."""
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def fields_of(error: ValidationError) -> list[str]:
    return [e.field for e in error.errors]


def raises_on(call: Callable[[], object], *fields: str) -> ValidationError:
    """Assert that ``call`` raises a ValidationError whose problems name exactly
    ``fields`` (in order), each with a reason and an example."""
    with pytest.raises(ValidationError) as info:
        call()
    error = info.value
    assert fields_of(error) == list(fields), str(error)
    for problem in error.errors:
        assert problem.reason, problem
        assert problem.example, problem
    return error


class FakeStatutory:
    """A StatutorySource from explicit sets, covering the given years."""

    def __init__(
        self,
        holidays: set[date] | None = None,
        workdays: set[date] | None = None,
        years: set[int] | None = None,
    ) -> None:
        self.holidays = holidays or set()
        self.workdays = workdays or set()
        self.years = years if years is not None else {2026}

    def covers(self, year: int) -> bool:
        return year in self.years

    def day_kind(self, day: date) -> DayKind | None:
        if day in self.holidays:
            return DayKind.HOLIDAY
        if day in self.workdays:
            return DayKind.WORKDAY
        return None
