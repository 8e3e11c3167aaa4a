"""The dialer's reads and writes against real PostgreSQL (store/dialer_repo.py):
an attempt is on record before it is placed, a target is claimed once, the retry
policy moves it on, a cancelled job's targets are never set pending again."""

from __future__ import annotations

import time

from sqlalchemy import select, text

from hotline_pbx.domain.dialer import (
    AttemptResult,
    DialogType,
    JobType,
    RetryDelays,
    TargetSpec,
    TargetState,
)
from hotline_pbx.store import dialer_repo, models
from hotline_pbx.store.database import Database
from hotline_pbx.store.dialer_repo import AttemptEnd

DELAYS = RetryDelays(60, 30, 10, 120, 5)


async def _job(db: Database, *phones: str | None, job_type: JobType = JobType.EMERGENCY,
               key: str = "j1") -> int:
    async with db.engine.begin() as conn:
        return await dialer_repo.create_job(
            conn, job_key=key, job_type=job_type, dialog=DialogType.CONFIRM,
            targets=[TargetSpec(i + 1, p, name=f"n{i}") for i, p in enumerate(phones)],
            options={"max_attempts": 2})


async def _due(db: Database, now: float, *kinds: JobType) -> list[dialer_repo.DueTarget]:
    async with db.engine.connect() as conn:
        return await dialer_repo.due_targets(conn, now=now, job_types=kinds or tuple(JobType),
                                             limit=100)


async def _targets(db: Database) -> list[tuple[str, int, str | None]]:
    t = models.dialer_targets
    async with db.engine.connect() as conn:
        rows = await conn.execute(select(t.c.state, t.c.attempts, t.c.result).order_by(t.c.id))
        return [tuple(r) for r in rows]  # type: ignore[misc]


async def test_a_target_is_claimed_once_and_moved_on_by_the_retry_policy(db: Database) -> None:
    await _job(db, "13800138000", None)
    now = time.time()
    [due] = await _due(db, now)
    assert due.phone == "13800138000" and due.options == {"max_attempts": 2}
    async with db.engine.begin() as conn:
        assert await dialer_repo.begin_attempt(conn, target_id=due.target_id, attempt_key="a1",
                                               started_at=now, details={})
        # Claimed: a second claim (another loop, a replay) dials nothing.
        assert not await dialer_repo.begin_attempt(conn, target_id=due.target_id,
                                                   attempt_key="a2", started_at=now, details={})
    assert await _due(db, now) == []
    async with db.engine.begin() as conn:
        assert [a.attempt_key for a in await dialer_repo.in_flight(conn)] == ["a1"]
        finished = await dialer_repo.finish_attempt(
            conn, AttemptEnd("a1", AttemptResult.BUSY, now + 1, hangup_cause=17),
            max_attempts=3, delays=DELAYS)
    assert finished is None
    assert (await _targets(db))[0] == ("pending", 1, "busy")
    assert await _due(db, now + 2) == []  # the busy delay first
    [again] = await _due(db, now + 32)
    async with db.engine.begin() as conn:
        await dialer_repo.begin_attempt(conn, target_id=again.target_id, attempt_key="a3",
                                        started_at=now + 32, details={})
        finished = await dialer_repo.finish_attempt(
            conn, AttemptEnd("a3", AttemptResult.NO_ANSWER, now + 40, hangup_cause=19),
            max_attempts=3, delays=DELAYS)
        # Closed twice (a replay): left as it is.
        assert await dialer_repo.finish_attempt(
            conn, AttemptEnd("a3", AttemptResult.CONFIRMED, now + 41), max_attempts=3,
            delays=DELAYS) is None
    assert finished is not None and finished.state is TargetState.UNREACHED  # job's max: 2
    assert finished.attempts == 2 and finished.job_type is JobType.EMERGENCY
    assert await _targets(db) == [("unreached", 2, "no_answer"), ("no_number", 0, None)]
    j = models.dialer_jobs
    async with db.engine.connect() as conn:
        assert (await conn.execute(select(j.c.state))).scalar_one() == "done"


async def test_a_confirmation_finishes_the_target_with_its_keys(db: Database) -> None:
    await _job(db, "13800138000")
    now = time.time()
    [due] = await _due(db, now)
    async with db.engine.begin() as conn:
        await dialer_repo.begin_attempt(conn, target_id=due.target_id, attempt_key="k",
                                        started_at=now, details={"job_type": "emergency"})
        finished = await dialer_repo.finish_attempt(
            conn, AttemptEnd("k", AttemptResult.CONFIRMED, now + 9, answered_at=now + 2,
                             dtmf="1", details={"x": 1}), max_attempts=3, delays=DELAYS)
    assert finished is not None and finished.state is TargetState.DONE and finished.dtmf == "1"
    a = models.dialer_attempts
    async with db.engine.connect() as conn:
        row = (await conn.execute(select(a))).one()
    assert row.result == "confirmed" and row.duration_seconds == 7.0
    assert row.details == {"job_type": "emergency", "x": 1}


async def test_cancelling_stops_new_attempts_and_an_attempt_in_flight_ends_cancelled(
        db: Database) -> None:
    job = await _job(db, "13800138000", "13900139000")
    now = time.time()
    first, _second = await _due(db, now)
    async with db.engine.begin() as conn:
        await dialer_repo.begin_attempt(conn, target_id=first.target_id, attempt_key="f",
                                        started_at=now, details={})
        assert await dialer_repo.cancel_job(conn, job, by="token:alice") == 1
        assert await dialer_repo.cancel_job(conn, job, by="token:bob") == 0
        assert await dialer_repo.cancel_job(conn, job + 99, by="x") is None
    assert await _due(db, now) == []
    async with db.engine.begin() as conn:
        finished = await dialer_repo.finish_attempt(
            conn, AttemptEnd("f", AttemptResult.BUSY, now + 1), max_attempts=3, delays=DELAYS)
    assert finished is not None and finished.state is TargetState.CANCELLED
    j = models.dialer_jobs
    async with db.engine.connect() as conn:
        state, by = (await conn.execute(select(j.c.state, j.c.cancelled_by))).one()
    assert (state, by) == ("cancelled", "token:alice")


async def test_callbacks_wait_for_working_time_emergencies_do_not(db: Database) -> None:
    await _job(db, "13800138000", key="e")
    await _job(db, "13900139000", job_type=JobType.CALLBACK, key="c")
    now = time.time()
    assert [d.job_type for d in await _due(db, now, JobType.EMERGENCY)] == [JobType.EMERGENCY]
    assert {d.job_type for d in await _due(db, now)} == {JobType.EMERGENCY, JobType.CALLBACK}
    async with db.engine.connect() as conn:
        assert await dialer_repo.next_due_at(conn) is not None


async def test_jobs_take_turns_and_each_keeps_its_list_order(db: Database) -> None:
    await _job(db, *(f"1380013{i:04d}" for i in range(5)), key="big")
    await _job(db, "13900139000", "13900139001", job_type=JobType.CALLBACK, key="cb")
    due = await _due(db, time.time())
    assert [d.phone for d in due] == ["13800130000", "13900139000", "13800130001",
                                      "13900139001", "13800130002", "13800130003",
                                      "13800130004"]
    async with db.engine.connect() as conn:
        few = await dialer_repo.due_targets(conn, now=time.time(), job_types=tuple(JobType),
                                            limit=3)
        index = (await conn.execute(text(
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_dialer_targets_job_pending'"
        ))).scalar_one()
    assert [d.phone for d in few] == ["13800130000", "13900139000", "13800130001"]
    assert "next_attempt_at NULLS FIRST, line_no" in index and "WHERE" in index
