"""``dialer_jobs``, ``dialer_targets``, ``dialer_attempts``: the dialer's persistent work.

A job and its targets are written in one transaction by :func:`create_job`
(idempotent on ``job_key``): a job either exists whole or not at all.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import case, cast, func, or_, select, text, true, update
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline_pbx.domain.dialer import (
    AttemptResult,
    DialogType,
    FinishedTarget,
    JobState,
    JobType,
    RetryDelays,
    TargetSpec,
    TargetState,
    after_attempt,
)
from hotline_pbx.store.models import dialer_attempts, dialer_jobs, dialer_targets


async def create_job(conn: AsyncConnection, *, job_key: str, job_type: JobType,
                     dialog: DialogType, targets: Sequence[TargetSpec], name: str = "",
                     options: Mapping[str, Any] | None = None,
                     created_by: str = "system") -> int:
    """Store a job with its targets (in the caller's transaction) and return its id;
    a job of the same ``job_key`` already stored is returned as it is."""
    inserted = await conn.execute(
        insert(dialer_jobs)
        .values(job_key=job_key, job_type=job_type.value, dialog=dialog.value, name=name,
                options=dict(options or {}), created_by=created_by)
        .on_conflict_do_nothing(index_elements=["job_key"])
        .returning(dialer_jobs.c.id))
    job_id = inserted.scalar_one_or_none()
    if job_id is None:
        existing = await conn.execute(select(dialer_jobs.c.id)
                                      .where(dialer_jobs.c.job_key == job_key))
        return int(existing.scalar_one())
    if targets:
        await conn.execute(insert(dialer_targets), [_target_row(job_id, t) for t in targets])
    return int(job_id)


def _target_row(job_id: int, target: TargetSpec) -> dict[str, Any]:
    state = TargetState.PENDING if target.phone else TargetState.NO_NUMBER
    return {"job_id": job_id, "line_no": target.line_no, "name": target.name,
            "account": target.account, "phone": target.phone or None, "ref": target.ref,
            "state": state.value}


#: NOTIFY channel: new or changed dialer work; the running dialer looks at once.
DIALER_CHANNEL = "hotline_dialer"


async def wake_dialer(conn: AsyncConnection) -> None:
    """Tell the running dialer (on whichever instance) that work changed; sent when
    the caller's transaction commits."""
    await conn.execute(text("SELECT pg_notify(:channel, '')"), {"channel": DIALER_CHANNEL})


# -- the dialer's reads and writes (hotline_pbx.dialer) ---------------------------------


@dataclass(frozen=True, slots=True)
class DueTarget:
    """A target that may be dialled now, with what its job says."""

    target_id: int
    job_id: int
    job_type: JobType
    dialog: DialogType
    options: Mapping[str, Any]
    phone: str
    ref: str
    attempts: int


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


async def due_targets(conn: AsyncConnection, *, now: float, job_types: Sequence[JobType],
                      limit: int) -> list[DueTarget]:
    """Pending targets of active jobs of ``job_types`` whose next attempt is due:
    each job's in its list order, the jobs taking turns (a 100,000-target
    campaign does not hold a callback back until it ends)."""
    if not job_types:
        return []
    t, j = dialer_targets, dialer_jobs
    jobs = (select(j.c.id, j.c.job_type, j.c.dialog, j.c.options)
            .where(j.c.state == JobState.ACTIVE.value,
                   j.c.job_type.in_([jt.value for jt in job_types]))
            .order_by(j.c.id).subquery("jobs"))
    targets = (select(t.c.id, t.c.phone, t.c.ref, t.c.attempts, t.c.next_attempt_at,
                      t.c.line_no)
               .where(t.c.job_id == jobs.c.id, t.c.state == TargetState.PENDING.value,
                      t.c.phone.is_not(None),
                      or_(t.c.next_attempt_at.is_(None), t.c.next_attempt_at <= _utc(now)))
               .order_by(t.c.next_attempt_at.nulls_first(), t.c.line_no)
               .limit(limit).lateral("targets"))
    rows = await conn.execute(
        select(jobs.c.id.label("job_id"), jobs.c.job_type, jobs.c.dialog, jobs.c.options,
               targets.c.id, targets.c.phone, targets.c.ref, targets.c.attempts)
        .select_from(jobs.join(targets, true()))
        .order_by(jobs.c.id, targets.c.next_attempt_at.nulls_first(), targets.c.line_no))
    per_job: dict[int, list[DueTarget]] = {}
    for r in rows:
        per_job.setdefault(r.job_id, []).append(DueTarget(
            r.id, r.job_id, JobType(r.job_type), DialogType(r.dialog), dict(r.options or {}),
            r.phone, r.ref, r.attempts))
    turns = itertools.chain.from_iterable(itertools.zip_longest(*per_job.values()))
    return [target for target in turns if target is not None][:limit]


async def next_due_at(conn: AsyncConnection) -> float | None:
    """When the earliest pending target of an active job falls due (epoch)."""
    t, j = dialer_targets, dialer_jobs
    value = (await conn.execute(
        select(func.min(func.coalesce(t.c.next_attempt_at, func.now())))
        .join(j, j.c.id == t.c.job_id)
        .where(j.c.state == JobState.ACTIVE.value, t.c.state == TargetState.PENDING.value,
               t.c.phone.is_not(None)))).scalar_one_or_none()
    return None if value is None else value.timestamp()


async def begin_attempt(conn: AsyncConnection, *, target_id: int, attempt_key: str,
                        started_at: float, details: Mapping[str, Any]) -> bool:
    """Record an attempt before it is placed and set its target ``dialling``, in
    one transaction; False (nothing written) when the target is no longer pending
    (cancelled, done meanwhile): it must not be dialled."""
    if not await _move_pending(conn, dialer_targets.c.id == target_id, TargetState.DIALLING):
        return False
    await conn.execute(insert(dialer_attempts).values(
        attempt_key=attempt_key, target_id=target_id, started_at=_utc(started_at),
        details=dict(details)))
    return True


@dataclass(frozen=True, slots=True)
class AttemptEnd:
    """How an attempt ended, as the dialer stores it."""

    attempt_key: str
    result: AttemptResult
    ended_at: float
    answered_at: float | None = None
    hangup_cause: int | None = None
    dtmf: str = ""
    score: int | None = None
    details: Mapping[str, Any] = field(default_factory=dict)


async def finish_attempt(conn: AsyncConnection, end: AttemptEnd, *, max_attempts: int,
                         delays: RetryDelays) -> FinishedTarget | None:
    """Close the attempt and move its target on (the retry policy of
    :func:`~hotline_pbx.domain.dialer.after_attempt`); a cancelled job's target
    is never set pending again. Returns the target when it reached a final state
    (for the job type's finish handler, in this transaction), else None. An
    attempt already closed is left as it is (None)."""
    a, t, j = dialer_attempts, dialer_targets, dialer_jobs
    started = (await conn.execute(
        update(a).where(a.c.attempt_key == end.attempt_key,
                        a.c.result == AttemptResult.IN_FLIGHT.value)
        .values(result=end.result.value, ended_at=_utc(end.ended_at),
                answered_at=None if end.answered_at is None else _utc(end.answered_at),
                hangup_cause=end.hangup_cause, dtmf=end.dtmf,
                duration_seconds=None if end.answered_at is None
                else max(0.0, end.ended_at - end.answered_at),
                details=a.c.details.op("||")(cast(dict(end.details), JSONB)))
        .returning(a.c.target_id))).scalar_one_or_none()
    if started is None:
        return None
    target = (await conn.execute(
        select(t.c.id, t.c.job_id, t.c.attempts, t.c.phone, t.c.ref, j.c.job_type, j.c.state,
               j.c.options)
        .join(j, j.c.id == t.c.job_id).where(t.c.id == started).with_for_update(of=t))).one()
    limit = int((target.options or {}).get("max_attempts") or max_attempts)
    step = after_attempt(end.result, attempts_before=target.attempts, max_attempts=limit,
                         delays=delays)
    state = step.state
    if state is TargetState.PENDING and target.state != JobState.ACTIVE.value:
        state = TargetState.CANCELLED
    values: dict[str, Any] = {
        "state": state.value, "attempts": step.attempts, "result": end.result.value,
        "next_attempt_at": None if step.retry_in is None or state.is_final
        else _utc(end.ended_at + step.retry_in), "updated_at": func.now()}
    if end.dtmf:
        values["dtmf"] = end.dtmf
    if end.score is not None:
        values["score"] = end.score
    await conn.execute(update(t).where(t.c.id == target.id).values(**values))
    if not state.is_final:
        return None
    await _finish_job_if_done(conn, target.job_id)
    return FinishedTarget(job_id=target.job_id, job_type=JobType(target.job_type),
                          target_id=target.id, ref=target.ref, phone=target.phone, state=state,
                          result=end.result.value, attempts=step.attempts, dtmf=end.dtmf,
                          score=end.score, finished_at=end.ended_at)


async def _finish_job_if_done(conn: AsyncConnection, job_id: int) -> None:
    t = dialer_targets
    open_left = (await conn.execute(
        select(func.count()).where(t.c.job_id == job_id, t.c.state.in_(
            [TargetState.PENDING.value, TargetState.DIALLING.value])))).scalar_one()
    if open_left == 0:
        await conn.execute(
            update(dialer_jobs)
            .where(dialer_jobs.c.id == job_id, dialer_jobs.c.state == JobState.ACTIVE.value)
            .values(state=JobState.DONE.value, finished_at=func.now()))


@dataclass(frozen=True, slots=True)
class InFlight:
    attempt_key: str
    target_id: int
    started_at: float
    details: Mapping[str, Any]


async def in_flight(conn: AsyncConnection) -> list[InFlight]:
    """Attempts a dialer placed and never closed (it stopped or died meanwhile)."""
    a = dialer_attempts
    rows = await conn.execute(select(a.c.attempt_key, a.c.target_id, a.c.started_at,
                                     a.c.details)
                              .where(a.c.result == AttemptResult.IN_FLIGHT.value)
                              .order_by(a.c.id))
    return [InFlight(r.attempt_key, r.target_id, r.started_at.timestamp(), dict(r.details or {}))
            for r in rows]


async def job_options(conn: AsyncConnection, job_id: int) -> Mapping[str, Any] | None:
    value = (await conn.execute(select(dialer_jobs.c.options)
                                .where(dialer_jobs.c.id == job_id))).scalar_one_or_none()
    return None if value is None else dict(value)


async def cancel_job(conn: AsyncConnection, job_id: int, *, by: str) -> int | None:
    """Cancel a job: no new attempt from now; its pending targets become
    ``cancelled`` (attempts in flight may finish). The number of targets
    cancelled, or None when there is no such job. Cancelling twice is harmless."""
    # Only an active job is cancelled (SET reads the row as it was): a finished
    # one keeps its state and gets no cancelled_at/by it was never cancelled at.
    active = dialer_jobs.c.state == JobState.ACTIVE.value
    job = (await conn.execute(
        update(dialer_jobs).where(dialer_jobs.c.id == job_id)
        .values(state=case((active, JobState.CANCELLED.value), else_=dialer_jobs.c.state),
                cancelled_at=case((active, func.now()), else_=dialer_jobs.c.cancelled_at),
                cancelled_by=case((active, by), else_=dialer_jobs.c.cancelled_by))
        .returning(dialer_jobs.c.id))).scalar_one_or_none()
    if job is None:
        return None
    return len(await _move_pending(conn, dialer_targets.c.job_id == job_id,
                                   TargetState.CANCELLED))


async def _move_pending(conn: AsyncConnection, where: Any, state: TargetState) -> list[int]:
    """Targets matching ``where`` that are still pending, moved to ``state``; their ids."""
    moved = await conn.execute(
        update(dialer_targets)
        .where(where, dialer_targets.c.state == TargetState.PENDING.value)
        .values(state=state.value, updated_at=func.now())
        .returning(dialer_targets.c.id))
    return [int(i) for i in moved.scalars()]
