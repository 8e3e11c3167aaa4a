"""``dialer_jobs``, ``dialer_targets``, ``dialer_attempts``: the dialer's persistent work.

A job and its targets are written in one transaction by :func:`create_job`
(idempotent on ``job_key``): a job either exists whole or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline_pbx.domain.dialer import DialogType, JobType, TargetSpec, TargetState
from hotline_pbx.store.models import dialer_jobs, dialer_targets


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
