"""store/dialer_repo.py against the real schema (migration 0005)."""

from __future__ import annotations

from sqlalchemy import select

from hotline_pbx.domain.dialer import DialogType, JobType, TargetSpec
from hotline_pbx.store.database import Database
from hotline_pbx.store.dialer_repo import create_job
from hotline_pbx.store.models import dialer_targets

TARGETS = (TargetSpec(1, "13800000001", "Wang", "A-1"), TargetSpec(2, None, "Li", "A-2"))


async def test_a_job_is_stored_with_its_targets_and_a_row_without_phone_kept(db: Database) -> None:
    async with db.engine.begin() as conn:
        job_id = await create_job(conn, job_key="k1", job_type=JobType.EMERGENCY,
                                  dialog=DialogType.CONFIRM, targets=TARGETS, name="gas")
        rows = (await conn.execute(select(dialer_targets.c.line_no, dialer_targets.c.phone,
                                          dialer_targets.c.state)
                                   .where(dialer_targets.c.job_id == job_id)
                                   .order_by(dialer_targets.c.line_no))).all()
    assert [tuple(r) for r in rows] == [(1, "13800000001", "pending"), (2, None, "no_number")]


async def test_the_same_job_key_returns_the_stored_job_and_adds_no_target(db: Database) -> None:
    async with db.engine.begin() as conn:
        first = await create_job(conn, job_key="k2", job_type=JobType.CALLBACK,
                                 dialog=DialogType.AGENT_BRIDGE, targets=TARGETS[:1])
        again = await create_job(conn, job_key="k2", job_type=JobType.CALLBACK,
                                 dialog=DialogType.AGENT_BRIDGE, targets=TARGETS)
        count = (await conn.execute(select(dialer_targets.c.id))).all()
    assert first == again
    assert len(count) == 1


async def test_a_callback_task_opens_once_per_key(db: Database) -> None:
    from datetime import UTC, datetime

    from hotline_pbx.domain.callbacks import CallbackReason, task_key_for
    from hotline_pbx.store.callback_repo import open_task

    due = datetime(2026, 12, 2, 8, 0, tzinfo=UTC)
    key = task_key_for("call-1", CallbackReason.MISSED)
    async with db.engine.begin() as conn:
        first = await open_task(conn, task_key=key, call_key="call-1", caller="13800000001",
                                reason=CallbackReason.MISSED, due_at=due)
        again = await open_task(conn, task_key=key, call_key="call-1", caller="13800000001",
                                reason=CallbackReason.MISSED, due_at=due)
    assert first is not None and again is None
