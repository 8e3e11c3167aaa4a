"""``callbacks``: the callback tasks.

Tasks are opened and closed by :class:`CallbackRecord`\\ s written through
their own ``BatchWriter`` (:data:`CALLBACK_RECORDS`): a call that failed its
caller opens one, a later answered call of the same caller closes theirs, and
neither is lost while PostgreSQL is down (spooled, replayed in order). Both
are idempotent: :func:`open_task` on ``task_key`` (a replayed record or a
second instance never opens a second task for the same call), a close only
touches tasks still open whose call failed before the answered call began.

With ``callbacks.auto_dial`` an opened task gets its dialer job in the same
transaction (:func:`start_dialling`); the dialer reports its end through
:func:`record_dialer_result`. People settle a task through the API
(:func:`mark_done`, under a row lock: of ten clients at once, one wins).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, case, func, literal, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline_pbx.domain.callbacks import CallbackReason, CallbackResult, CallbackState
from hotline_pbx.domain.dialer import (
    DialogType,
    FinishedTarget,
    JobState,
    JobType,
    TargetSpec,
    TargetState,
    normalise_phone,
)
from hotline_pbx.store.batch_writer import RecordKind
from hotline_pbx.store.dialer_repo import cancel_job, create_job, wake_dialer
from hotline_pbx.store.models import callbacks, calls, dialer_jobs

#: States in which a task still waits for someone (the partial indexes' condition).
PENDING_STATES = (CallbackState.OPEN.value, CallbackState.DIALLING.value)


def _instant(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


async def open_task(conn: AsyncConnection, *, task_key: str, call_key: str | None,
                    caller: str, reason: CallbackReason, due_at: datetime,
                    caller_key: str = "", failed_at: datetime | None = None) -> int | None:
    """Open a task (in the caller's transaction); its id, or None when a task of
    this key exists already."""
    inserted = await conn.execute(
        insert(callbacks)
        .values(task_key=task_key, call_key=call_key, caller=caller, reason=reason.value,
                due_at=due_at, caller_key=caller_key, failed_at=failed_at)
        .on_conflict_do_nothing(index_elements=["task_key"])
        .returning(callbacks.c.id))
    task_id = inserted.scalar_one_or_none()
    return None if task_id is None else int(task_id)


async def start_dialling(conn: AsyncConnection, task_id: int, caller: str) -> int:
    """Hand a task to the dialer (agent first, then the customer): its job (idempotent
    on ``callback:<id>``), the task ``dialling``; the dialer is woken at commit."""
    job_id = await create_job(
        conn, job_key=f"callback:{task_id}", job_type=JobType.CALLBACK,
        dialog=DialogType.AGENT_BRIDGE, name=f"callback task {task_id}",
        # As the dialer dials it: "+86 138 0013 8000" was refused as not digits.
        targets=[TargetSpec(1, normalise_phone(caller), ref=str(task_id))])
    await conn.execute(
        update(callbacks)
        .where(callbacks.c.id == task_id, callbacks.c.state == CallbackState.OPEN.value)
        .values(dialer_job_id=job_id, state=CallbackState.DIALLING.value,
                updated_at=func.now()))
    await wake_dialer(conn)
    return job_id


async def close_for_caller(conn: AsyncConnection, caller_key: str, *, answered_call: str,
                           before: datetime) -> list[int]:
    """The caller was answered on a call that began at ``before``: close their tasks
    still waiting whose call had failed by then (result ``caller_called_back``, done
    by ``system``) and cancel the dialer jobs of those being dialled. The ids closed."""
    closed = await conn.execute(
        update(callbacks)
        .where(callbacks.c.caller_key == caller_key, callbacks.c.state.in_(PENDING_STATES),
               func.coalesce(callbacks.c.failed_at, callbacks.c.created_at) <= before)
        .values(state=CallbackState.DONE.value,
                result=CallbackResult.CALLER_CALLED_BACK.value, done_by="system",
                done_at=func.now(), updated_at=func.now(),
                note=_appended(callbacks.c.note, "answered when the caller called in "
                               f"again (call {answered_call})"))
        .returning(callbacks.c.id, callbacks.c.dialer_job_id))
    rows = closed.all()
    jobs = [row.dialer_job_id for row in rows if row.dialer_job_id is not None]
    if jobs:
        await conn.execute(
            update(dialer_jobs)
            .where(dialer_jobs.c.id.in_(jobs), dialer_jobs.c.state == JobState.ACTIVE.value)
            .values(state=JobState.CANCELLED.value, cancelled_at=func.now(),
                    cancelled_by="system"))
        await wake_dialer(conn)
    return [int(row.id) for row in rows]


def _appended(note: ColumnElement[str], line: str) -> ColumnElement[str]:
    """The note with a line added (a note is never replaced)."""
    return case((note == "", literal(line)), else_=note + literal("\n" + line))


async def record_dialer_result(conn: AsyncConnection, target: FinishedTarget, *,
                               visit_scale: int | None = None) -> None:
    """The dialer's finish handler for ``JobType.CALLBACK`` (in its transaction).

    DONE: the task is done, ``reached``, with the attempts; with ``visit_scale``
    (``callbacks.satisfaction_visit``) a satisfaction visit of the customer is
    queued (:func:`start_visit`). Anything else (every attempt failed, the job
    cancelled): the task is ``open`` again with result ``not_reached``, so people
    call. A task settled meanwhile (the caller called in, a person marked it) is
    left as it is; the note is never touched.
    """
    try:
        task_id = int(target.ref)
    except ValueError:
        return  # not a task of ours: nothing to record
    reached = target.state is TargetState.DONE
    values: dict[str, Any] = {"attempts": target.attempts, "updated_at": func.now()}
    if reached:
        values.update(state=CallbackState.DONE.value, result=CallbackResult.REACHED.value,
                      done_at=_instant(target.finished_at), done_by="dialer",
                      score=target.score)
    else:
        values.update(state=CallbackState.OPEN.value,
                      result=CallbackResult.NOT_REACHED.value)
    settled = await conn.execute(update(callbacks)
                                 .where(callbacks.c.id == task_id,
                                        callbacks.c.state.in_(PENDING_STATES))
                                 .values(**values).returning(callbacks.c.id))
    if reached and visit_scale is not None and target.phone and settled.first() is not None:
        await start_visit(conn, task_id, target.phone, scale=visit_scale)


#: ``dialer_targets.ref`` of a satisfaction visit after a callback.
VISIT_REF_PREFIX = "callback:"


async def start_visit(conn: AsyncConnection, task_id: int, phone: str, *, scale: int) -> int:
    """Queue the satisfaction visit of a reached callback (idempotent on
    ``visit:callback:<id>``); the dialer places it in working time."""
    job_id = await create_job(
        conn, job_key=f"visit:callback:{task_id}", job_type=JobType.VISIT,
        dialog=DialogType.SATISFACTION, name=f"satisfaction visit, callback task {task_id}",
        targets=[TargetSpec(1, phone, ref=f"{VISIT_REF_PREFIX}{task_id}")],
        options={"scale": scale})
    await wake_dialer(conn)
    return job_id


async def record_visit_result(conn: AsyncConnection, target: FinishedTarget) -> None:
    """The dialer's finish handler for ``JobType.VISIT``: the score of a callback's
    satisfaction visit onto its task (None when the customer gave none). Visits of
    other things (complaints) are not ours."""
    if not target.ref.startswith(VISIT_REF_PREFIX):
        return
    try:
        task_id = int(target.ref.removeprefix(VISIT_REF_PREFIX))
    except ValueError:
        return
    await conn.execute(update(callbacks).where(callbacks.c.id == task_id)
                       .values(score=target.score, updated_at=func.now()))


# -- the record kind: tasks opened and closed through the batch writer ---------------------


OPEN = "open"
CLOSE = "close"


@dataclass(frozen=True, slots=True)
class CallbackRecord:
    """Open a task for a failed call, or close a caller's tasks after an answered one.

    ``key``: the task key (open) or ``close:<call_key>`` (close); ``at``: when
    the failed call ended (open) or the answered one began (close), epoch seconds.
    """

    action: str  # OPEN | CLOSE
    key: str
    call_key: str
    caller: str
    caller_key: str
    at: float
    reason: CallbackReason | None = None
    due_at: float | None = None
    auto_dial: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"action": self.action, "key": self.key, "call_key": self.call_key,
                "caller": self.caller, "caller_key": self.caller_key, "at": self.at,
                "reason": None if self.reason is None else self.reason.value,
                "due_at": self.due_at, "auto_dial": self.auto_dial}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CallbackRecord:
        action = str(data["action"])
        if action not in (OPEN, CLOSE):
            raise ValueError(f"unknown callback action {action!r}")
        reason, due = data["reason"], data["due_at"]
        if action == OPEN and (reason is None or due is None):
            raise ValueError("an opening without its reason or due time")
        return cls(action=action, key=str(data["key"]), call_key=str(data["call_key"]),
                   caller=str(data["caller"]), caller_key=str(data["caller_key"]),
                   at=float(data["at"]),
                   reason=None if reason is None else CallbackReason(reason),
                   due_at=None if due is None else float(due),
                   auto_dial=bool(data["auto_dial"]))


async def write_records(conn: AsyncConnection, records: Sequence[CallbackRecord]) -> None:
    """The batch, in order, in the writer's transaction.

    Every answered call brings a close, and almost no caller has a task waiting:
    each run of closes first asks, in one query, which of its callers have one,
    and updates only theirs (a close opens nothing, so the answer holds for
    the whole run).
    """
    start = 0
    while start < len(records):
        if records[start].action == OPEN:
            await open_from(conn, records[start])
            start += 1
            continue
        end = start
        while end < len(records) and records[end].action != OPEN:
            end += 1
        closes = records[start:end]
        waiting = await callers_waiting(conn, {record.caller_key for record in closes})
        for record in closes:
            if record.caller_key in waiting:
                await close_for_caller(conn, record.caller_key, answered_call=record.call_key,
                                       before=_instant(record.at))
        start = end


async def callers_waiting(conn: AsyncConnection, caller_keys: set[str]) -> set[str]:
    """Which of these callers have a task still to be called back."""
    if not caller_keys:
        return set()
    result = await conn.execute(
        select(callbacks.c.caller_key).distinct()
        .where(callbacks.c.caller_key.in_(sorted(caller_keys)),
               callbacks.c.state.in_(PENDING_STATES)))
    return {str(row[0]) for row in result}


async def open_from(conn: AsyncConnection, record: CallbackRecord) -> int | None:
    assert record.reason is not None and record.due_at is not None  # from_dict checks
    task_id = await open_task(conn, task_key=record.key, call_key=record.call_key,
                              caller=record.caller, reason=record.reason,
                              due_at=_instant(record.due_at), caller_key=record.caller_key,
                              failed_at=_instant(record.at))
    if task_id is not None and record.auto_dial:
        await start_dialling(conn, task_id, record.caller)
    return task_id


def _record_key(record: CallbackRecord) -> str:
    return record.key


def _record_row(record: CallbackRecord) -> dict[str, Any]:  # pragma: no cover - write is used
    raise NotImplementedError("callback records are written by write_records")


CALLBACK_RECORDS: RecordKind[CallbackRecord] = RecordKind(
    name="callbacks", noun="callback record", table=callbacks, key_column="task_key",
    key=_record_key, row=_record_row, to_json=CallbackRecord.to_dict,
    from_json=CallbackRecord.from_dict, write=write_records,
)


# -- reads and the API's writes ----------------------------------------------------------

Cursor = tuple[datetime, int]


@dataclass(frozen=True, slots=True)
class TaskFilter:
    state: str | None = None
    due_by: datetime | None = None  # still waiting and due by then (due=true: now)
    overdue_at: datetime | None = None  # still waiting and past due then (overdue=true)
    done: bool = False
    start: datetime | None = None  # created_at window [start, end)
    end: datetime | None = None
    call_key: str | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        c = callbacks.c
        where: list[ColumnElement[bool]] = []
        if self.state is not None:
            where.append(c.state == self.state)
        if self.due_by is not None:
            where += [c.state.in_(PENDING_STATES), c.due_at <= self.due_by]
        if self.overdue_at is not None:
            where += [c.state.in_(PENDING_STATES), c.due_at < self.overdue_at]
        if self.done:
            where.append(c.state == CallbackState.DONE.value)
        if self.start is not None:
            where.append(c.created_at >= self.start)
        if self.end is not None:
            where.append(c.created_at < self.end)
        if self.call_key is not None:
            where.append(c.call_key == self.call_key)
        return where


def _with_call_id() -> Select[Any]:
    call_id = (select(calls.c.id).where(calls.c.call_key == callbacks.c.call_key)
               .scalar_subquery().label("call_id"))
    return select(callbacks, call_id)


async def list_tasks(conn: AsyncConnection, flt: TaskFilter, *, after: Cursor | None,
                     limit: int) -> tuple[list[Row[Any]], Cursor | None]:
    """Newest first (created_at, id), ``limit`` a page, and the next page's cursor."""
    c = callbacks.c
    query = _with_call_id().where(*flt.conditions())
    if after is not None:
        query = query.where(tuple_(c.created_at, c.id) < tuple_(*after))
    rows = (await conn.execute(query.order_by(c.created_at.desc(), c.id.desc())
                               .limit(limit + 1))).all()
    if len(rows) <= limit:
        return list(rows), None
    page = list(rows[:limit])
    return page, (page[-1].created_at, int(page[-1].id))


async def get_task(conn: AsyncConnection, task_id: int, *, lock: bool = False
                   ) -> Row[Any] | None:
    query = _with_call_id().where(callbacks.c.id == task_id)
    if lock:
        query = query.with_for_update(of=callbacks)
    row: Row[Any] | None = (await conn.execute(query)).first()
    return row


async def tasks_of_call(conn: AsyncConnection, call_key: str) -> list[Row[Any]]:
    c = callbacks.c
    query: Select[Any] = (select(c.id, c.reason, c.state, c.due_at, c.result, c.done_at)
                          .where(c.call_key == call_key).order_by(c.id))
    return list((await conn.execute(query)).all())


async def mark_done(conn: AsyncConnection, task_id: int, *, result: CallbackResult,
                    note: str, actor: str) -> tuple[Row[Any], Row[Any]] | None:
    """A person settles a task (under a row lock): (before, after), or None when there
    is no such task. Raises :class:`AlreadyDone` when it is done or cancelled already."""
    before = await get_task(conn, task_id, lock=True)
    if before is None:
        return None
    if before.state not in PENDING_STATES:
        raise AlreadyDone(before)
    values: dict[str, Any] = {"state": CallbackState.DONE.value, "result": result.value,
                              "done_at": func.now(), "done_by": actor,
                              "updated_at": func.now()}
    if note:
        values["note"] = note if not before.note else f"{before.note}\n{note}"
    await conn.execute(update(callbacks).where(callbacks.c.id == task_id).values(**values))
    if before.dialer_job_id is not None:
        # cancel_job, not the job alone: its pending target becomes cancelled
        # too (left pending, it sat in a cancelled job for ever).
        await cancel_job(conn, before.dialer_job_id, by=actor)
        await wake_dialer(conn)
    after = await get_task(conn, task_id)
    assert after is not None
    return before, after


class AlreadyDone(Exception):
    """The task was settled before this request."""

    def __init__(self, row: Row[Any]) -> None:
        super().__init__(f"task {row.id} is {row.state} already")
        self.row = row


async def count_overdue(conn: AsyncConnection) -> int:
    """Tasks still waiting and past due now: one COUNT on the partial index."""
    c = callbacks.c
    found = await conn.execute(select(func.count()).select_from(callbacks)
                               .where(c.state.in_(PENDING_STATES), c.due_at < func.now()))
    return int(found.scalar_one())
