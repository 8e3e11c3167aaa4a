"""The complaint clock (``complaints.py``) against real PostgreSQL: the overdue
gauge per stage agrees with ``overdue_stages`` row by row, and the daily digest
is written once per working day - whoever comes first, across restarts - with
no customer data in it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from hotline_pbx.complaints import ComplaintClock, stored_digest
from hotline_pbx.config import ComplaintSettings
from hotline_pbx.domain.calendar import BusinessCalendar, Schedule
from hotline_pbx.domain.complaint_sla import Clock, overdue_stages
from hotline_pbx.domain.complaints import ComplaintState, Stage, VisitState
from hotline_pbx.domain.statutory import chinese_statutory_source
from hotline_pbx.metrics import REGISTRY
from hotline_pbx.store.database import Database
from hotline_pbx.store.models import complaint_digests, complaints
from tests.integration.complaint_rows import add_complaint

COMPANY = BusinessCalendar(Schedule(), statutory=chinese_statutory_source())
#: Thursday 2026-03-05 09:00 in Shanghai (01:00 UTC): a working day, after 08:30.
NOW = datetime(2026, 3, 5, 1, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def gauge(stage: Stage) -> float | None:
    return REGISTRY.get_sample_value("hotline_complaints_overdue", {"stage": stage.value})


def clock_of(db: Database, now: datetime = NOW, **settings: object) -> ComplaintClock:
    return ComplaintClock(ComplaintSettings(**settings),  # type: ignore[arg-type]
                          engine=db.engine, calendar=lambda: COMPANY, clock=lambda: now)


async def _add_mix(db: Database) -> None:
    past, future = NOW - HOUR, NOW + HOUR
    async with db.engine.begin() as conn:
        await add_complaint(conn, state="registered", first_reply_due=past,
                            resolve_target=past, resolve_due=past, resolve_hard_max=future)
        await add_complaint(conn, state="assigned", progress_reply_due=past,
                            first_reply_at=past)
        await add_complaint(conn, state="resolved", resolved_at=past, first_reply_at=past,
                            resolve_target=past, resolve_due=past, resolve_hard_max=past,
                            progress_reply_due=past, visit_state="queued", visit_due=past)
        await add_complaint(conn, state="archived", first_reply_due=past, resolve_due=past,
                            resolve_target=past, resolve_hard_max=past)
        await add_complaint(conn, state="verified", first_reply_at=past)  # nothing overdue


async def test_the_gauge_counts_each_stage_as_overdue_stages_decides(db: Database) -> None:
    await _add_mix(db)
    counts = await clock_of(db).refresh_overdue()
    async with db.engine.connect() as conn:
        rows = (await conn.execute(select(complaints))).all()
    expected = dict.fromkeys(Stage, 0)
    for row in rows:
        for stage in overdue_stages(Clock(
                ComplaintState(row.state), row.first_reply_due, row.first_reply_at,
                row.progress_reply_due, row.progress_reply_at, row.resolve_due,
                VisitState(row.visit_state), row.visit_due), NOW):
            expected[stage] += 1
    assert counts == expected
    assert expected == {Stage.FIRST_REPLY: 1, Stage.PROGRESS_REPLY: 1, Stage.RESOLUTION: 1,
                        Stage.VISIT: 1}
    assert {stage: gauge(stage) for stage in Stage} == {s: float(n) for s, n in expected.items()}


async def test_the_digest_is_written_once_a_day_by_whoever_comes_first(db: Database) -> None:
    await _add_mix(db)
    a, b = clock_of(db), clock_of(db)
    written = await asyncio.gather(a.digest_if_due(), b.digest_if_due())
    assert sorted(written) == [False, True]
    assert await clock_of(db).digest_if_due() is False  # a restart: already stored
    async with db.engine.connect() as conn:
        digest = await stored_digest(conn, NOW.astimezone(COMPANY.zone).date())
        assert (await conn.execute(select(func.count()).select_from(complaint_digests))
                ).scalar_one() == 1
    assert digest is not None
    assert digest["counts"] == {"first_reply": 1, "progress_reply": 1, "resolution": 1,
                                "visit": 1}
    assert {item["stage"] for item in digest["items"]} == {s.value for s in Stage}
    flat = repr(digest)
    assert "13800138000" not in flat and "张三" not in flat  # no customer data


async def test_no_digest_before_its_time_nor_on_a_day_off(db: Database) -> None:
    early = datetime(2026, 3, 5, 0, 0, tzinfo=UTC)  # 08:00 local, before 08:30
    saturday = datetime(2026, 3, 7, 2, 0, tzinfo=UTC)
    assert await clock_of(db, early).digest_if_due() is False
    assert await clock_of(db, saturday).digest_if_due() is False
    assert await clock_of(db, early, digest_time="07:59").digest_if_due() is True
    async with db.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(complaint_digests))
                ).scalar_one() == 1
