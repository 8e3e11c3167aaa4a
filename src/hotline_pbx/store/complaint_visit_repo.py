"""A resolved complaint's callback visit, by the dialer or by a person.

:func:`queue_visit` is called by the complaint register in the transaction
that resolves a complaint. With ``complaints.visit_by = "dialer"`` it creates a
satisfaction job (``JobType.VISIT``, idempotent on ``visit:complaint:<id>``,
target ref ``complaint:<id>``), placed in working time within the dialer's
retry rules; the result reaches the complaint through the dialer's finish
handler for visits. With ``"person"`` the complaint waits for a person's
result through the API.
"""

from __future__ import annotations

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline_pbx.domain.complaints import VISIT_REF_PREFIX, VisitState
from hotline_pbx.domain.dialer import DialogType, JobType, TargetSpec
from hotline_pbx.store.dialer_repo import create_job, wake_dialer
from hotline_pbx.store.models import complaints


async def queue_visit(conn: AsyncConnection, complaint_id: int, phone: str | None, *,
                      by_dialer: bool, scale: int) -> int | None:
    """Mark the complaint's visit ``queued``; with ``by_dialer`` and a phone, create
    its satisfaction job and return the job's id (None otherwise). A complaint
    without a contact phone is queued for a person even with ``by_dialer``."""
    job_id: int | None = None
    if by_dialer and phone:
        job_id = await create_job(
            conn, job_key=f"visit:{VISIT_REF_PREFIX}{complaint_id}", job_type=JobType.VISIT,
            dialog=DialogType.SATISFACTION, name=f"callback visit, complaint {complaint_id}",
            targets=[TargetSpec(1, phone, ref=f"{VISIT_REF_PREFIX}{complaint_id}")],
            options={"scale": scale})
        await wake_dialer(conn)
    await conn.execute(
        update(complaints).where(complaints.c.id == complaint_id)
        .values(visit_state=VisitState.QUEUED.value, visit_scale=scale,
                visit_by="dialer" if job_id is not None else "",
                dialer_job_id=job_id, updated_at=func.now()))
    return job_id
