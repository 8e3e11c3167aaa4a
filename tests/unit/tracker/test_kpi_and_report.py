"""The KPI definition in Python, the record's spool format, and the report's window."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from hotline_pbx.domain.call_record import CallRecord, HangupSide
from hotline_pbx.domain.contract import Outcome, Period
from hotline_pbx.domain.kpi import kpis_from_records
from hotline_pbx.report import ReportUsageError, render, window
from hotline_pbx.store.stats import DayKpis, Stats

SHANGHAI = ZoneInfo("Asia/Shanghai")
T = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)


def record(outcome: Outcome, wait: float, **changes: object) -> CallRecord:
    base = CallRecord(
        call_key="1.0", linkedid="1.0", uniqueid="1.0", caller="139", caller_name="",
        dnid="400", started_at=T, routed_at=T, answered_at=None, ended_at=T,
        period=Period.OPEN, route="queue", outcome=outcome, wait_seconds=wait,
        talk_seconds=60.0 if outcome is Outcome.ANSWERED else None, answered_by=None,
        answered_role=None, failover_attempts=0, hangup_side=HangupSide.CALLER,
        hangup_cause=16)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_record_survives_its_spool_line() -> None:
    original = record(Outcome.ANSWERED, 3.5, answered_at=T, routed_at=None,
                      details={"attempts": [{"target": "x", "status": "BUSY"}]})
    assert CallRecord.from_dict(original.to_dict()) == original
    with pytest.raises(ValueError):
        CallRecord.from_dict({**original.to_dict(), "outcome": "lost"})
    with pytest.raises(ValueError):
        CallRecord.from_dict({**original.to_dict(), "surprise": 1})


def test_kpis_follow_the_definitions() -> None:
    calls = [record(Outcome.ANSWERED, 20.0), record(Outcome.ANSWERED, 20.5),
             record(Outcome.ABANDONED, 30), record(Outcome.SHORT_ABANDONED, 2),
             record(Outcome.MISSED, 10),
             record(Outcome.ABANDONED, 9, period=Period.UNROUTED),  # never offered
             record(Outcome.MISSED, 1, is_test=True)]  # a line-monitor call
    k = kpis_from_records(calls, 20.0)
    assert (k.offered, k.countable, k.answered, k.short_abandoned) == (5, 4, 2, 1)
    assert (k.answer_rate, k.service_level, k.abandon_rate) == (0.5, 0.25, 0.25)
    assert k.asa_seconds == 20.25


def test_no_countable_call_no_rate() -> None:
    k = kpis_from_records([record(Outcome.SHORT_ABANDONED, 1)], 20.0)
    assert (k.answer_rate, k.service_level, k.abandon_rate, k.asa_seconds) == (None,) * 4


def test_report_window_days_are_local_and_to_is_inclusive() -> None:
    now = datetime(2026, 11, 3, 10, 0, tzinfo=SHANGHAI)
    start, end = window("2026-11-02", "2026-11-02", SHANGHAI, now)
    assert (start.isoformat(), end.isoformat()) == ("2026-11-02T00:00:00+08:00",
                                                    "2026-11-03T00:00:00+08:00")
    start, end = window(None, None, SHANGHAI, now)
    assert (start.isoformat(), end) == ("2026-11-03T00:00:00+08:00", now)
    start, end = window("2026-11-02T08:30", "2026-11-02T04:00:00+00:00", SHANGHAI, now)
    assert start == datetime(2026, 11, 2, 0, 30, tzinfo=UTC)
    assert end == datetime(2026, 11, 2, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize("start,end,message", [
    ("2026-11-05", "2026-11-02", "must be after"),
    ("2026-13-01", None, "is not a date"),
    ("yesterday", None, "neither a date"),
])
def test_report_window_refuses_nonsense(start: str, end: str | None, message: str) -> None:
    with pytest.raises(ReportUsageError, match=message):
        window(start, end, SHANGHAI, datetime(2026, 11, 3, tzinfo=SHANGHAI))


def test_report_renders_days_and_total() -> None:
    k = kpis_from_records([record(Outcome.ANSWERED, 4), record(Outcome.MISSED, 9)], 20.0)
    stats = Stats(T, T.replace(day=4), "open", "Asia/Shanghai", 20.0, k,
                  (DayKpis(T.date(), k),), unrouted=1, test_calls=0)
    text = render(stats, SHANGHAI)
    assert "period: open" in text
    assert "2026-11-03       2        1         0     0      1      50.0 %" in text
    assert "total" in text and "4.0 s" in text
    assert "1 callers who hung up before routing" in text
