"""The complaint register in PostgreSQL: create, read, edit, the workflow, replies,
extensions, and the overdue rules in SQL.

Every change takes the complaint's row lock (``SELECT … FOR UPDATE``) and writes
a ``complaint_events`` row in the same transaction, so of two clients moving one
complaint at once exactly one wins and the other sees the new state. Refusals
raise :class:`Refused` (the API's 409) before anything is written.

:func:`overdue_condition` states :func:`hotline_pbx.domain.complaint_sla.overdue_stages`
in SQL (``?overdue=true``, the gauge, the digest); a test checks they agree.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, false, func, insert, or_, select, tuple_, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline_pbx.domain.calendar import BusinessCalendar
from hotline_pbx.domain.complaint_sla import check_extension, deadlines_for, visit_due_after
from hotline_pbx.domain.complaints import (
    UNRESOLVED_STATES,
    ComplaintState,
    EventKind,
    ReplyKind,
    Severity,
    Stage,
    VisitState,
    allowed_next,
)
from hotline_pbx.store.complaint_visit_repo import queue_visit
from hotline_pbx.store.models import complaint_events, complaints

Cursor = tuple[datetime, int]
c = complaints.c
S = ComplaintState

#: The paper forms' fields a PATCH may change (never the state or the deadlines).
FORM_FIELDS = ("customer_name", "account", "phone", "channel", "received_by", "content",
               "category", "verification", "solution", "department_manager",
               "callback_result", "handler", "handled_at", "explanation", "pm_opinion",
               "pm_signed_by", "pm_signed_at")


class Refused(Exception):
    """The complaint cannot do that now (409): ``detail`` says why, ``allowed`` the
    states it may move to."""

    def __init__(self, row: Row[Any], detail: str) -> None:
        super().__init__(detail)
        self.row = row
        self.detail = detail
        self.allowed = [s.value for s in allowed_next(S(row.state), row.found_true)]


@dataclass(frozen=True, slots=True)
class VisitPolicy:
    by_dialer: bool
    scale: int


# -- create and read ---------------------------------------------------------------------


async def create(conn: AsyncConnection, fields: Mapping[str, Any], *, actor: str,
                 calendar: BusinessCalendar) -> Row[Any]:
    """Register a complaint (``fields``: the form's, ``received_at`` and
    ``severity`` included); its deadlines are computed here, once."""
    deadlines = deadlines_for(calendar, fields["received_at"], Severity(fields["severity"]))
    row: Row[Any] = (await conn.execute(
        insert(complaints).values(
            **fields, created_by=actor, first_reply_due=deadlines.first_reply_due,
            progress_reply_due=deadlines.progress_reply_due,
            resolve_target=deadlines.resolve_target, resolve_hard_max=deadlines.resolve_hard_max,
            resolve_due=deadlines.resolve_target)
        .returning(complaints))).one()
    await _event(conn, row.id, actor, EventKind.REGISTERED, None, S.REGISTERED,
                 {"severity": row.severity, "department": row.department})
    return row


async def get(conn: AsyncConnection, complaint_id: int, *, lock: bool = False
              ) -> Row[Any] | None:
    query = select(complaints).where(c.id == complaint_id)
    if lock:
        query = query.with_for_update()
    row: Row[Any] | None = (await conn.execute(query)).first()
    return row


async def events_of(conn: AsyncConnection, complaint_id: int) -> list[Row[Any]]:
    e = complaint_events.c
    return list((await conn.execute(select(complaint_events).where(e.complaint_id == complaint_id)
                                    .order_by(e.at, e.id))).all())


async def complaints_of_call(conn: AsyncConnection, call_id: int) -> list[Row[Any]]:
    query: Any = select(c.id, c.state, c.severity, c.received_at).where(c.call_id == call_id)
    return list((await conn.execute(query.order_by(c.id))).all())


@dataclass(frozen=True, slots=True)
class ComplaintFilter:
    state: str | None = None
    department: str | None = None
    severity: str | None = None
    category: str | None = None
    overdue_at: datetime | None = None
    start: datetime | None = None
    end: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        for name in ("state", "department", "severity", "category"):
            value = getattr(self, name)
            if value is not None:
                found.append(c[name] == value)
        if self.overdue_at is not None:
            found.append(overdue_anywhere(self.overdue_at))
        if self.start is not None:
            found.append(c.received_at >= self.start)
        if self.end is not None:
            found.append(c.received_at < self.end)
        return found


async def list_complaints(conn: AsyncConnection, flt: ComplaintFilter, *,
                          after: Cursor | None, limit: int
                          ) -> tuple[list[Row[Any]], Cursor | None]:
    """Newest first (received_at, id), ``limit`` a page, and the next page's cursor."""
    query = select(complaints).where(*flt.conditions())
    if after is not None:
        query = query.where(tuple_(c.received_at, c.id) < tuple_(*after))
    rows = (await conn.execute(query.order_by(c.received_at.desc(), c.id.desc())
                               .limit(limit + 1))).all()
    if len(rows) <= limit:
        return list(rows), None
    page = list(rows[:limit])
    return page, (page[-1].received_at, int(page[-1].id))


# -- changes -------------------------------------------------------------------------------


async def edit(conn: AsyncConnection, complaint_id: int, changes: Mapping[str, Any], *,
               actor: str, version: int) -> tuple[Row[Any], Row[Any]] | None:
    """Change form fields; (before, after), None for no such complaint;
    :class:`Refused` when ``version`` is not the stored one (someone else changed it)."""
    before = await get(conn, complaint_id, lock=True)
    if before is None:
        return None
    if before.version != version:
        raise Refused(before, f"complaint {complaint_id} is at version {before.version}, not "
                      f"{version}: it was changed meanwhile; read it again and repeat")
    after = await _update(conn, complaint_id, dict(changes))
    changed = {k: [_plain(before._mapping[k]), _plain(v)] for k, v in changes.items()
               if before._mapping[k] != v}
    await _event(conn, complaint_id, actor, EventKind.EDIT, None, None, {"changed": changed})
    return before, after


async def transition(conn: AsyncConnection, complaint_id: int, to: ComplaintState,
                     fields: Mapping[str, Any], *, actor: str, now: datetime,
                     calendar: BusinessCalendar, visit: VisitPolicy
                     ) -> tuple[Row[Any], Row[Any]] | None:
    """Move a complaint to ``to`` with the fields that step records; (before,
    after), None for no such complaint; :class:`Refused` for a step out of order
    (or to ``visited`` before the visit is recorded)."""
    before = await get(conn, complaint_id, lock=True)
    if before is None:
        return None
    state = S(before.state)
    if to not in allowed_next(state, before.found_true):
        raise Refused(before, f"complaint {complaint_id} is {state.value}: it cannot go to "
                      f"{to.value}")
    if to is S.VISITED and before.visit_state != VisitState.DONE.value:
        raise Refused(before, f"complaint {complaint_id}'s visit is {before.visit_state}: "
                      "record it first (POST /api/v1/complaints/{id}/visit, or the dialer's)")
    values = dict(fields, state=to.value)
    values.update(_stamps(to, now))
    if to is S.RESOLVED:
        values["visit_due"] = visit_due_after(calendar, now)
    after = await _update(conn, complaint_id, values)
    if to is S.RESOLVED:
        await queue_visit(conn, complaint_id, before.phone, by_dialer=visit.by_dialer,
                          scale=visit.scale)
        queued = await get(conn, complaint_id)
        assert queued is not None  # locked above
        after = queued
    await _event(conn, complaint_id, actor, EventKind.TRANSITION, state, to,
                 {k: _plain(v) for k, v in fields.items()})
    return before, after


def _stamps(to: ComplaintState, now: datetime) -> dict[str, datetime]:
    column = {S.RESOLVED: "resolved_at", S.CUSTOMER_INFORMED: "informed_at",
              S.ARCHIVED: "archived_at"}.get(to)
    return {} if column is None else {column: now}


async def reply(conn: AsyncConnection, complaint_id: int, kind: ReplyKind, note: str, *,
                actor: str, now: datetime) -> tuple[Row[Any], Row[Any]] | None:
    """Record the first or a progress reply to the customer; a second first reply,
    or a progress reply once resolved, is refused."""
    before = await get(conn, complaint_id, lock=True)
    if before is None:
        return None
    if kind is ReplyKind.FIRST and before.first_reply_at is not None:
        raise Refused(before, f"complaint {complaint_id} had its first reply at "
                      f"{before.first_reply_at.isoformat()}; record a progress reply")
    if kind is ReplyKind.PROGRESS and S(before.state) not in UNRESOLVED_STATES:
        raise Refused(before, f"complaint {complaint_id} is {before.state}: a progress "
                      "reply is for complaints not resolved yet")
    column = "first_reply_at" if kind is ReplyKind.FIRST else "progress_reply_at"
    after = await _update(conn, complaint_id, {column: now})
    await _event(conn, complaint_id, actor, EventKind.REPLY, None, None,
                 {"kind": kind.value, "note": note})
    return before, after


async def extend(conn: AsyncConnection, complaint_id: int, new_due: datetime, reason: str, *,
                 actor: str) -> tuple[Row[Any], Row[Any]] | None:
    """Extend the resolution deadline (:func:`check_extension` decides; its
    ValidationError names the field); refused once the complaint is resolved."""
    before = await get(conn, complaint_id, lock=True)
    if before is None:
        return None
    if S(before.state) not in UNRESOLVED_STATES:
        raise Refused(before, f"complaint {complaint_id} is {before.state}: only an "
                      "unresolved complaint's deadline can be extended")
    check_extension(current_due=before.resolve_due, target=before.resolve_target,
                    hard_max=before.resolve_hard_max, new_due=new_due, reason=reason)
    after = await _update(conn, complaint_id, {"resolve_due": new_due})
    await _event(conn, complaint_id, actor, EventKind.EXTENSION, None, None,
                 {"from": before.resolve_due.isoformat(), "to": new_due.isoformat(),
                  "reason": reason.strip()})
    return before, after


async def _update(conn: AsyncConnection, complaint_id: int, values: dict[str, Any]) -> Row[Any]:
    row: Row[Any] = (await conn.execute(
        update(complaints).where(c.id == complaint_id)
        .values(**values, version=c.version + 1, updated_at=func.now())
        .returning(complaints))).one()
    return row


async def _event(conn: AsyncConnection, complaint_id: int, actor: str, kind: EventKind,
                 from_state: ComplaintState | None, to_state: ComplaintState | None,
                 details: Mapping[str, Any]) -> None:
    await conn.execute(insert(complaint_events).values(
        complaint_id=complaint_id, actor=actor, kind=kind.value,
        from_state=None if from_state is None else from_state.value,
        to_state=None if to_state is None else to_state.value, details=dict(details)))


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


# -- overdue, in SQL -------------------------------------------------------------------------

_UNRESOLVED = [s.value for s in UNRESOLVED_STATES]


def overdue_condition(stage: Stage, now: datetime) -> ColumnElement[bool]:
    """``overdue_stages`` of :mod:`hotline_pbx.domain.complaint_sla`, as SQL."""
    live = c.state != S.ARCHIVED.value
    unresolved = c.state.in_(_UNRESOLVED)
    if stage is Stage.FIRST_REPLY:
        return and_(live, c.first_reply_at.is_(None), c.first_reply_due < now)
    if stage is Stage.PROGRESS_REPLY:
        return and_(unresolved, c.progress_reply_at.is_(None), c.progress_reply_due < now)
    if stage is Stage.RESOLUTION:
        return and_(unresolved, c.resolve_due < now)
    if stage is Stage.VISIT:
        return and_(live, c.visit_state == VisitState.QUEUED.value, c.visit_due.is_not(None),
                    c.visit_due < now)
    return false()  # pragma: no cover - every Stage is handled above


def overdue_anywhere(now: datetime) -> ColumnElement[bool]:
    return or_(*(overdue_condition(stage, now) for stage in Stage))


async def overdue_counts(conn: AsyncConnection, now: datetime) -> dict[Stage, int]:
    """How many complaints are overdue for each stage (every stage, 0 included)."""
    columns = [func.count().filter(overdue_condition(stage, now)).label(stage.value)
               for stage in Stage]
    row = (await conn.execute(select(*columns).select_from(complaints))).one()
    return {stage: int(row._mapping[stage.value]) for stage in Stage}


DIGEST_LIMIT = 200  # per stage


async def digest(conn: AsyncConnection, now: datetime, *, limit: int = DIGEST_LIMIT
                 ) -> dict[Stage, list[Row[Any]]]:
    """What must be chased at ``now``, per stage, the longest overdue first."""
    due_column = {Stage.FIRST_REPLY: c.first_reply_due, Stage.PROGRESS_REPLY:
                  c.progress_reply_due, Stage.RESOLUTION: c.resolve_due,
                  Stage.VISIT: c.visit_due}
    found: dict[Stage, list[Row[Any]]] = {}
    for stage in Stage:
        rows = await conn.execute(select(complaints).where(overdue_condition(stage, now))
                                  .order_by(due_column[stage], c.id).limit(limit))
        found[stage] = list(rows.all())
    return found
