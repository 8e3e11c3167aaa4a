"""Emergency campaigns as the API reads them: ``dialer_jobs`` of type emergency,
their targets' counts by state and the three result lists."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline_pbx.domain.dialer import JobType, TargetState
from hotline_pbx.store.models import dialer_attempts, dialer_jobs, dialer_targets

#: The result lists of a campaign, by the target states they hold.
LISTS: dict[str, tuple[TargetState, ...]] = {
    "notified": (TargetState.DONE,),
    "not_reached": (TargetState.UNREACHED,),
    "no_number": (TargetState.NO_NUMBER,),
}
PAGE_ROWS = 5000


async def campaign(conn: AsyncConnection, job_id: int) -> Any | None:
    j = dialer_jobs
    return (await conn.execute(
        select(j.c.id, j.c.name, j.c.state, j.c.created_at, j.c.created_by, j.c.cancelled_at,
               j.c.cancelled_by, j.c.finished_at, j.c.options["max_attempts"].label("max"))
        .where(j.c.id == job_id, j.c.job_type == JobType.EMERGENCY.value))).one_or_none()


async def campaigns(conn: AsyncConnection, *, limit: int = 200) -> Sequence[Any]:
    j = dialer_jobs
    return (await conn.execute(
        select(j.c.id, j.c.name, j.c.state, j.c.created_at, j.c.created_by, j.c.cancelled_at,
               j.c.finished_at, j.c.options["max_attempts"].label("max"))
        .where(j.c.job_type == JobType.EMERGENCY.value)
        .order_by(j.c.id.desc()).limit(limit))).all()


async def counts(conn: AsyncConnection, job_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Targets by state, per job (every state present, zeros included)."""
    t = dialer_targets
    found: dict[int, dict[str, int]] = {job: {s.value: 0 for s in TargetState} for job in job_ids}
    if not job_ids:
        return found
    rows = await conn.execute(select(t.c.job_id, t.c.state, func.count())
                              .where(t.c.job_id.in_(job_ids)).group_by(t.c.job_id, t.c.state))
    for job_id, state, count in rows:
        found[job_id][state] = int(count)
    return found


async def list_pages(conn: AsyncConnection, job_id: int, name: str
                     ) -> AsyncGenerator[Sequence[Any], None]:
    """One result list, in line order, a page at a time, each target with the
    times of its attempts."""
    t, a = dialer_targets, dialer_attempts
    after = 0
    while True:
        page = (await conn.execute(
            select(t.c.id, t.c.line_no, t.c.name, t.c.account, t.c.phone, t.c.state, t.c.result,
                   t.c.attempts, t.c.dtmf, t.c.score, t.c.updated_at,
                   select(func.max(a.c.ended_at)).where(a.c.target_id == t.c.id)
                   .scalar_subquery().label("last_attempt_at"))
            .where(t.c.job_id == job_id, t.c.state.in_([s.value for s in LISTS[name]]),
                   t.c.line_no > after)
            .order_by(t.c.line_no).limit(PAGE_ROWS))).all()
        if not page:
            return
        yield page
        after = page[-1].line_no
