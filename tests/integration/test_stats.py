"""KPIs in SQL (store/stats.py) against the definition in Python (domain/kpi.py)."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.dialects.postgresql import insert as pg_insert

from hotline_pbx.domain.call_record import CallRecord
from hotline_pbx.domain.contract import Outcome, Period
from hotline_pbx.domain.kpi import kpis_from_records
from hotline_pbx.store import models
from hotline_pbx.store.call_writer import record_row
from hotline_pbx.store.database import Database
from hotline_pbx.store.stats import compute_stats
from tests.integration.test_call_writer import make_record

SHANGHAI = "Asia/Shanghai"
T0 = datetime(2026, 11, 3, 2, 0, tzinfo=UTC)  # Tuesday 10:00 in Shanghai


async def store(db: Database, records: list[CallRecord]) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(pg_insert(models.calls), [record_row(r) for r in records])


def call(n: int, outcome: Outcome, wait: float, *, at: datetime = T0,
         period: Period = Period.OPEN, talk: float | None = None,
         is_test: bool = False) -> CallRecord:
    answered = outcome is Outcome.ANSWERED
    return make_record(
        n, started_at=at, routed_at=at, ended_at=at + timedelta(seconds=wait + (talk or 0)),
        answered_at=at + timedelta(seconds=wait) if answered else None, outcome=outcome,
        wait_seconds=wait, talk_seconds=talk if answered else None, period=period,
        is_test=is_test)


async def test_the_worked_example_of_docs_kpi(db: Database) -> None:
    # docs/kpi.md "Worked example": 18 calls, Tuesday 10:00-10:15, period open.
    waits = [4, 6, 8, 10, 12, 15, 18, 20, 27, 30]
    talks = [120, 95, 300, 240, 180, 60, 400, 210, 150, 245]
    records = [call(i, Outcome.ANSWERED, w, talk=t)
               for i, (w, t) in enumerate(zip(waits, talks, strict=True))]
    records += [call(10 + i, Outcome.ABANDONED, w) for i, w in enumerate([9, 25, 40, 61])]
    records += [call(20 + i, Outcome.SHORT_ABANDONED, w) for i, w in enumerate([2, 3, 4.5])]
    records += [call(30, Outcome.MISSED, 120)]
    await store(db, records)
    async with db.engine.connect() as conn:
        stats = await compute_stats(conn, T0, T0 + timedelta(minutes=15), "open")
    k = stats.total
    assert (k.offered, k.answered, k.abandoned, k.short_abandoned, k.missed) == (18, 10, 4, 3, 1)
    assert k.countable == 15
    assert k.answer_rate == pytest.approx(10 / 15)
    assert k.service_level == pytest.approx(8 / 15)  # a wait of exactly 20 s is within
    assert k.abandon_rate == pytest.approx(4 / 15)
    assert k.asa_seconds == pytest.approx(15.0)
    assert k.mean_talk_seconds == pytest.approx(200.0)
    assert [d.day for d in stats.days] == [date(2026, 11, 3)]


async def test_closed_failsafe_and_unrouted_calls_never_touch_the_open_hours_kpis(
        db: Database) -> None:
    await store(db, [
        call(1, Outcome.ANSWERED, 5),
        call(2, Outcome.ABANDONED, 30),
        call(3, Outcome.MISSED, 20, period=Period.CLOSED),
        call(4, Outcome.MISSED, 20, period=Period.FAILSAFE),
        call(5, Outcome.ABANDONED, 9, period=Period.UNROUTED),
        call(6, Outcome.MISSED, 3, is_test=True),
    ])
    async with db.engine.connect() as conn:
        window = (T0 - timedelta(hours=1), T0 + timedelta(hours=1))
        open_hours = await compute_stats(conn, *window, "open")
        everything = await compute_stats(conn, *window)
        closed = await compute_stats(conn, *window, "closed")
    assert (open_hours.total.offered, open_hours.total.answer_rate) == (2, 0.5)
    assert (everything.total.offered, everything.total.missed) == (4, 2)
    assert everything.total.answer_rate == 0.25
    assert (everything.unrouted, everything.test_calls) == (1, 1)
    assert (closed.total.offered, closed.total.answer_rate) == (1, 0.0)
    assert open_hours.to_dict()["period"] == "open" and everything.to_dict()["period"] == "all"


async def test_no_countable_call_has_no_rate(db: Database) -> None:
    await store(db, [call(1, Outcome.SHORT_ABANDONED, 1)])
    async with db.engine.connect() as conn:
        stats = await compute_stats(conn, T0, T0 + timedelta(minutes=1))
        empty = await compute_stats(conn, T0 - timedelta(days=2), T0 - timedelta(days=1))
    assert (stats.total.offered, stats.total.answer_rate, stats.total.asa_seconds) == (1, None,
                                                                                      None)
    assert empty.total.offered == 0 and empty.days == ()


async def test_days_are_local_days_of_the_configured_zone(db: Database) -> None:
    # 23:59:59 and 00:00:00 Shanghai time are different days; UTC would put both on the 3rd.
    late = datetime(2026, 11, 3, 15, 59, 59, tzinfo=UTC)  # 23:59:59 on the 3rd in Shanghai
    early = datetime(2026, 11, 3, 16, 0, 0, tzinfo=UTC)  # 00:00:00 on the 4th
    await store(db, [call(1, Outcome.ANSWERED, 3, at=late, talk=10),
                     call(2, Outcome.MISSED, 10, at=early, period=Period.CLOSED)])
    async with db.engine.connect() as conn:
        stats = await compute_stats(conn, late - timedelta(hours=1), early + timedelta(hours=1),
                                    timezone=SHANGHAI)
        utc = await compute_stats(conn, late - timedelta(hours=1), early + timedelta(hours=1),
                                  timezone="UTC")
    assert [(d.day, d.kpis.offered, d.kpis.answer_rate) for d in stats.days] == [
        (date(2026, 11, 3), 1, 1.0), (date(2026, 11, 4), 1, 0.0)]
    assert [d.day for d in utc.days] == [date(2026, 11, 3)]
    # The window is half-open: a call starting exactly at `to` is not in it.
    async with db.engine.connect() as conn:
        assert (await compute_stats(conn, late, early)).total.offered == 1


async def test_sql_agrees_with_the_python_definition_on_random_mixes(db: Database) -> None:
    rng = random.Random(20261103)
    records = []
    for n in range(600):
        outcome = rng.choice(list(Outcome))
        wait = round(rng.choice([rng.uniform(0, 40), 20.0, 5.0]), 3)
        start = T0 + timedelta(seconds=rng.uniform(-3 * 86400, 3 * 86400))
        records.append(call(n, outcome, wait, at=start, talk=round(rng.uniform(1, 600), 3),
                            period=rng.choice(list(Period)), is_test=rng.random() < 0.05))
    await store(db, records)
    windows = [(T0 - timedelta(days=3), T0 + timedelta(days=3)),
               (T0 - timedelta(hours=7), T0 + timedelta(hours=13)),
               (T0, T0 + timedelta(minutes=15))]
    async with db.engine.connect() as conn:
        for start, end in windows:
            for period in (None, "open", "closed", "override", "failsafe"):
                for sl in (20.0, 5.0):
                    stats = await compute_stats(conn, start, end, period,
                                                service_level_seconds=sl)
                    chosen = [r for r in records if start <= r.started_at < end
                              and (period is None or r.period.value == period)]
                    expected = kpis_from_records(chosen, sl)
                    assert _rounded(stats.total) == _rounded(expected), (start, period, sl)


def _rounded(kpis: object) -> dict[str, object]:
    return {k: round(v, 6) if isinstance(v, float) else v
            for k, v in dataclasses.asdict(kpis).items()}  # type: ignore[call-overload]


async def test_bad_windows_and_periods_are_refused(db: Database) -> None:
    async with db.engine.connect() as conn:
        with pytest.raises(ValueError, match="must be after"):
            await compute_stats(conn, T0, T0)
        with pytest.raises(ValueError, match="time zone"):
            await compute_stats(conn, T0.replace(tzinfo=None), T0 + timedelta(hours=1))
        with pytest.raises(ValueError, match="period must be one of"):
            await compute_stats(conn, T0, T0 + timedelta(hours=1), "unrouted")
        with pytest.raises(ValueError, match="unknown time zone"):
            await compute_stats(conn, T0, T0 + timedelta(hours=1), timezone="Mars/Olympus")


def test_the_report_command_prints_the_same_numbers(
        pg_dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
        tmp_path: object) -> None:
    import asyncio
    import json

    from hotline_pbx.cli import main
    from hotline_pbx.config import DatabaseSettings, Secret
    from hotline_pbx.store.database import open_database
    from tests.conftest import truncate_all

    truncate_all(pg_dsn)

    async def seed() -> None:
        db = await open_database(DatabaseSettings(dsn=Secret(pg_dsn)), tmp_path)  # type: ignore[arg-type]
        try:
            await store(db, [call(1, Outcome.ANSWERED, 4, talk=30),
                             call(2, Outcome.ABANDONED, 12), call(3, Outcome.SHORT_ABANDONED, 1),
                             call(4, Outcome.MISSED, 9, period=Period.CLOSED)])
        finally:
            await db.close()

    asyncio.run(seed())
    for key in [k for k in __import__("os").environ if k.startswith("HOTLINE_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOTLINE_DATABASE_DSN", pg_dsn)
    monkeypatch.setenv("HOTLINE_AMI_ENABLED", "false")
    assert main(["report", "--from", "2026-11-03", "--to", "2026-11-03", "--period", "open",
                 "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert (body["offered"], body["answered"], body["answer_rate"]) == (3, 1, 0.5)
    assert body["days"][0]["day"] == "2026-11-03"
    assert main(["report", "--from", "2026-11-03", "--to", "2026-11-03"]) == 0
    text = capsys.readouterr().out
    assert "period: all" in text and "total            4" in text
    assert main(["report", "--from", "2026-11-05", "--to", "2026-11-01"]) == 2
    assert "must be after" in capsys.readouterr().out
