"""The pack's pure rules: which months and days may be asked for, the day marks
of the statutory calendar, a purpose's service target, visit score sums, the
line's downtime."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline_pbx.domain.calendar import BusinessCalendar
from hotline_pbx.domain.errors import ValidationError
from hotline_pbx.domain.monthly import (
    DayMark,
    downtime_seconds,
    mark_day,
    meets_floor,
    met_target,
    parse_day,
    parse_month,
    score_summary,
)
from hotline_pbx.domain.statutory import chinese_statutory_source

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)


@given(st.integers(2025, 2026), st.integers(1, 12))
def test_a_begun_month_within_retention_covers_its_days(year: int, month: int) -> None:
    if (year, month) > (2026, 12):
        return
    parsed = parse_month(f"{year}-{month:02d}", ZONE, NOW, retention_days=730)
    days = parsed.days()
    assert days[0] == date(year, month, 1) and (days[-1] + timedelta(days=1)).day == 1
    assert parsed.end - parsed.start == timedelta(days=len(days))


@pytest.mark.parametrize("text", ["2027-01", "2026-13", "2026-00", "26-01", "2026-1", "",
                                  "2026-11-01", "2023-11"])
def test_other_months_are_refused_naming_month(text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_month(text, ZONE, NOW, retention_days=730)
    assert caught.value.field == "month"


def test_the_month_is_local() -> None:
    # 2026-12-01 00:30 in Shanghai is still November in UTC
    now = datetime(2026, 11, 30, 16, 30, tzinfo=UTC)
    assert parse_month("2026-12", ZONE, now, retention_days=30).label == "2026-12"


def test_statutory_days_are_marked() -> None:
    calendar = BusinessCalendar(statutory=chinese_statutory_source())
    assert mark_day(calendar, date(2026, 9, 20)) is DayMark.MAKE_UP_WORKDAY  # a Sunday
    assert mark_day(calendar, date(2026, 10, 1)) is DayMark.STATUTORY_HOLIDAY
    assert mark_day(calendar, date(2026, 9, 21)) is DayMark.WORKING
    assert mark_day(calendar, date(2026, 9, 19)) is DayMark.NON_WORKING


@given(st.floats(0, 600), st.floats(0, 600), st.floats(1, 60))
def test_a_target_is_met_only_when_answered_in_time(wait: float, talk: float,
                                                    level: float) -> None:
    assert met_target(60.0, answered=True, wait=wait, talk=talk,
                      service_level_seconds=level) is (talk <= 60)
    # "answered at once": within the service level, whatever the talk
    assert met_target(0.0, answered=True, wait=wait, talk=talk,
                      service_level_seconds=level) is (wait <= level)
    for target in (0.0, 60.0, None):
        assert not met_target(target, answered=False, wait=wait, talk=None,
                              service_level_seconds=level)
    assert not met_target(None, answered=True, wait=wait, talk=talk,
                          service_level_seconds=level)


def test_the_floor() -> None:
    assert meets_floor(None) is None
    assert meets_floor(0.85) is True and meets_floor(0.8499) is False


@given(st.lists(st.sampled_from([2, 5]).flatmap(
    lambda scale: st.tuples(st.just(scale), st.integers(1, scale)))))
def test_score_summaries_add_up(scores: list[tuple[int, int]]) -> None:
    summary = score_summary(scores)
    assert sum(s["count"] for s in summary) == len(scores)
    for item in summary:
        mine = [score for scale, score in scores if scale == item["scale"]]
        assert sum(item["distribution"].values()) == len(mine)
        assert item["mean"] == pytest.approx(sum(mine) / len(mine), abs=1e-3)
        assert list(item["distribution"]) == [str(i) for i in range(1, item["scale"] + 1)]


@pytest.mark.parametrize(("text", "ok"), [
    ("2026-12-02", True), ("2026-12-01", True), ("2024-12-03", True),  # 730 days kept
    ("2026-12-03", False),  # not begun: NOW is 11:00 on the 2nd in Shanghai
    ("2026-02-29", False), ("2026-13-01", False), ("2026-12-2", False), ("", False),
    ("2026-12", False), ("2024-12-01", False), ("2026-12-02T00:00", False)])
def test_a_day_is_a_begun_local_day_within_retention(text: str, ok: bool) -> None:
    if not ok:
        with pytest.raises(ValidationError) as refused:
            parse_day(text, ZONE, NOW, retention_days=730)
        assert refused.value.field == "day"
        return
    day = parse_day(text, ZONE, NOW, retention_days=730)
    assert day.days() == [date.fromisoformat(text)] and day.label == text
    assert day.end - day.start == timedelta(days=1) and day.start.tzinfo == ZONE


def test_the_day_is_local() -> None:
    late = datetime(2026, 12, 2, 17, 0, tzinfo=UTC)  # 01:00 on the 3rd in Shanghai
    assert parse_day("2026-12-03", ZONE, late, retention_days=730).label == "2026-12-03"
    with pytest.raises(ValidationError):
        parse_day("2026-12-03", ZoneInfo("Europe/Berlin"), late, retention_days=730)


_START = datetime(2026, 9, 1, tzinfo=UTC)
_END = datetime(2026, 10, 1, tzinfo=UTC)
_hours = st.integers(-48, 30 * 24 + 48)


@given(st.lists(st.tuples(_hours, st.integers(0, 72)), max_size=12), _hours)
def test_downtime_is_the_union_of_faults_within_the_span(faults: list[tuple[int, int]],
                                                        now_hour: int) -> None:
    now = _START + timedelta(hours=now_hour)
    spans = [(_START + timedelta(hours=h), _START + timedelta(hours=h + length)
              if length else None) for h, length in faults]
    spans = [(began, ended) for began, ended in spans if ended is None or ended >= began]
    down = downtime_seconds(spans, _START, _END, now)
    # the reference: every hour of the span that some fault covers, until now
    covered = {hour for hour in range(30 * 24)
               if _START + timedelta(hours=hour) < now
               and any(began <= _START + timedelta(hours=hour) < (ended or now)
                       for began, ended in spans)}
    assert down == len(covered) * 3600.0
    assert 0 <= down <= max(0.0, (min(_END, now) - _START).total_seconds())
