"""A resolved complaint's callback visit, by the dialer or by a person.

:func:`queue_visit` is called by the complaint register in the transaction
that resolves a complaint. With ``complaints.visit_by = "dialer"`` it creates a
satisfaction job (``JobType.VISIT``, idempotent on ``visit:complaint:<id>``,
target ref ``complaint:<id>``), placed in working time within the dialer's
retry rules; the result reaches the complaint through the dialer's finish
handler for visits. With ``"person"`` the complaint waits for a person's
result through the API.

:func:`record_visit_result` is the dialer's finish handler for those jobs
(``callback_repo.record_visit_result`` ignores them); :func:`record_person_visit`
is a person's result (``POST /api/v1/complaints/{id}/visit``), which takes the
visit from the dialer. Either way the first result wins: a visit ``done`` is
never overwritten, and a complaint whose customer was informed moves on to
``visited`` (a transition event besides the ``visit`` one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline_pbx.domain.complaints import (
    VISIT_REF_PREFIX,
    ComplaintState,
    EventKind,
    VisitState,
)
from hotline_pbx.domain.dialer import DialogType, FinishedTarget, JobType, TargetSpec, TargetState
from hotline_pbx.store.dialer_repo import cancel_job, create_job, wake_dialer
from hotline_pbx.store.models import complaint_events, complaints

DIALER = "dialer"
#: States in which a complaint can be visited: resolved, or its customer informed.
VISITABLE = (ComplaintState.RESOLVED.value, ComplaintState.CUSTOMER_INFORMED.value)


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


@dataclass(frozen=True, slots=True)
class VisitResult:
    by: str  # "dialer" or a person's name
    actor: str  # as the event log names them
    score: int | None
    result: str = ""
    note: str = ""
    attempts: int | None = None  # None: keep the stored count
    at: datetime | None = None  # None: now


def complaint_of(ref: str) -> int | None:
    """The complaint id of a visit target's ref (``complaint:<id>``), None if not one."""
    if not ref.startswith(VISIT_REF_PREFIX):
        return None
    tail = ref.removeprefix(VISIT_REF_PREFIX)
    return int(tail) if tail.isdigit() else None


async def record_visit_result(conn: AsyncConnection, target: FinishedTarget) -> None:
    """The dialer's finish handler for ``JobType.VISIT`` (in its transaction).

    DONE with a score: the visit is done (by ``dialer``, the score, the attempts,
    when) - see :func:`_record`. DONE without a score (answered, no valid key),
    UNREACHED: ``unreached``; CANCELLED: ``cancelled``; the attempts are kept
    (each one is in ``dialer_attempts``). Only a visit still ``queued`` changes."""
    complaint_id = complaint_of(target.ref)
    if complaint_id is None:
        return
    at = datetime.fromtimestamp(target.finished_at, UTC)
    if target.state is TargetState.DONE and target.score is not None:
        await _record(conn, complaint_id, VisitResult(
            by=DIALER, actor=DIALER, score=target.score, result=target.result or "",
            attempts=target.attempts, at=at))
        return
    state = VisitState.CANCELLED if target.state is TargetState.CANCELLED \
        else VisitState.UNREACHED
    await conn.execute(
        update(complaints)
        .where(complaints.c.id == complaint_id,
               complaints.c.visit_state == VisitState.QUEUED.value)
        .values(visit_state=state.value, visit_attempts=target.attempts,
                visit_result=target.result or "", updated_at=func.now()))


class VisitRefused(Exception):
    """A person's visit that cannot be recorded; ``row`` is the complaint as it is."""

    def __init__(self, row: Row[Any]) -> None:
        super().__init__(f"complaint {row.id} is {row.state}, visit {row.visit_state}")
        self.row = row


async def lock_complaint(conn: AsyncConnection, complaint_id: int) -> Row[Any] | None:
    return (await conn.execute(select(complaints).where(complaints.c.id == complaint_id)
                               .with_for_update())).first()


async def record_person_visit(conn: AsyncConnection, complaint_id: int, visit: VisitResult
                              ) -> tuple[Row[Any], Row[Any]] | None:
    """A person's visit: the complaint before and after, None for no such complaint;
    :class:`VisitRefused` unless it is resolved or informed and its visit not done.
    A dialer job still placing the visit is cancelled."""
    before = await lock_complaint(conn, complaint_id)
    if before is None:
        return None
    if before.state not in VISITABLE or before.visit_state == VisitState.DONE.value:
        raise VisitRefused(before)
    if before.dialer_job_id is not None:
        await cancel_job(conn, int(before.dialer_job_id), by=visit.actor)
        await wake_dialer(conn)
    await _record(conn, complaint_id, visit)
    after = await lock_complaint(conn, complaint_id)
    assert after is not None
    return before, after


async def _record(conn: AsyncConnection, complaint_id: int, visit: VisitResult) -> None:
    c = complaints
    values: dict[str, Any] = {
        "visit_state": VisitState.DONE.value, "visit_by": visit.by,
        "visit_score": visit.score, "visit_result": visit.result, "visit_note": visit.note,
        "visited_at": visit.at or func.now(), "updated_at": func.now(),
        "version": c.c.version + 1}
    if visit.attempts is not None:
        values["visit_attempts"] = visit.attempts
    row = (await conn.execute(
        update(c).where(c.c.id == complaint_id, c.c.visit_state != VisitState.DONE.value)
        .values(**values).returning(c.c.state, c.c.visit_scale))).first()
    if row is None:
        return  # no such complaint, or visited already: the first result stands
    details = {"by": visit.by, "score": visit.score, "scale": row.visit_scale,
               "result": visit.result, "note": visit.note, "attempts": visit.attempts}
    events: list[dict[str, Any]] = [
        {"complaint_id": complaint_id, "actor": visit.actor, "kind": EventKind.VISIT.value,
         "from_state": None, "to_state": None, "details": details}]
    if row.state == ComplaintState.CUSTOMER_INFORMED.value:
        await conn.execute(update(c).where(c.c.id == complaint_id)
                           .values(state=ComplaintState.VISITED.value))
        events.append({"complaint_id": complaint_id, "actor": visit.actor,
                       "kind": EventKind.TRANSITION.value,
                       "from_state": ComplaintState.CUSTOMER_INFORMED.value,
                       "to_state": ComplaintState.VISITED.value,
                       "details": {"reason": "callback visit recorded"}})
    await conn.execute(insert(complaint_events), events)
