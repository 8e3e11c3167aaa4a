"""Callback tasks: the list (due, overdue, done…), one task, a person marking one done.

``GET /api/v1/callbacks`` (viewer) — newest first, filters ``state``,
``due=true`` (still waiting and due by now), ``overdue=true`` (still waiting and
past due), ``done=true``, ``from``/``to`` (when the task was opened), paged like
``/calls``. ``GET /api/v1/callbacks/{id}`` (viewer). Both are reads of customer
data: audited, the caller masked for viewers (as ``/calls``).

``POST /api/v1/callbacks/{id}/done`` (supervisor) — ``{"result": "reached",
"note": "…"}``, ``result`` one of :data:`~hotline_pbx.domain.callbacks.MANUAL_RESULTS`;
404 for no such task, 409 when it is settled already (done or cancelled: of
clients marking the same task at once exactly one wins), 422 for a body that
names a bad field, 400 for one that is not JSON. A task being dialled is taken
from the dialer (its job cancelled).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from sqlalchemy.engine import Row

from hotline_pbx.api.context import Call, Endpoint, json_response
from hotline_pbx.api.params import (
    check_body_text,
    decode_cursor,
    encode_cursor,
    expect_object,
    parse_bool,
    parse_enum,
    parse_id,
    parse_int,
    read_json,
    time_filter,
)
from hotline_pbx.api.problems import Problem, invalid, not_found
from hotline_pbx.domain.callbacks import MANUAL_RESULTS, CallbackResult, CallbackState
from hotline_pbx.domain.contract import MAX_CALL_NOTE_LENGTH, AccessRole
from hotline_pbx.domain.errors import ValidationError
from hotline_pbx.store import callback_repo

API = "/api/v1"
LIST_QUERY = frozenset({"state", "due", "overdue", "done", "from", "to", "limit", "cursor"})
DONE_EXAMPLE = {"result": "reached", "note": "called back, customer satisfied"}


def task_json(call: Call, row: Row[Any], now: datetime) -> dict[str, Any]:
    waiting = row.state in callback_repo.PENDING_STATES
    return {
        "id": row.id, "call_id": row.call_id, "call_key": row.call_key,
        "caller": call.shown_number(row.caller), "reason": row.reason, "state": row.state,
        "created_at": call.local(row.created_at), "due_at": call.local(row.due_at),
        "overdue": waiting and row.due_at < now, "result": row.result,
        "note": call.shown(row.note), "done_at": call.local(row.done_at),
        "done_by": call.shown(row.done_by) or None, "score": row.score,
        "attempts": row.attempts, "dialer_job_id": row.dialer_job_id,
    }


def task_summary(call: Call, row: Row[Any]) -> dict[str, Any]:
    """A task as ``GET /calls/{id}`` lists it."""
    return {"id": row.id, "reason": row.reason, "state": row.state,
            "due_at": call.local(row.due_at), "result": row.result,
            "done_at": call.local(row.done_at)}


def task_filter(call: Call, now: datetime) -> callback_repo.TaskFilter:
    query = call.query
    state = parse_enum(CallbackState, query, "state")
    window = time_filter(query, call.zone)
    return callback_repo.TaskFilter(
        state=None if state is None else state.value,
        due_by=now if parse_bool(query, "due") else None,
        overdue_at=now if parse_bool(query, "overdue") else None,
        done=parse_bool(query, "done"), start=window.start, end=window.end)


async def list_callbacks(call: Call) -> web.StreamResponse:
    now = datetime.now(UTC)
    flt = task_filter(call, now)
    limit = parse_int(call.query, "limit", default=50, low=1, high=500)
    rows, cursor = await callback_repo.list_tasks(call.conn, flt, after=decode_cursor(call.query),
                                                  limit=limit)
    await call.audit_read("callbacks.list", "callbacks", count=len(rows))
    return json_response({"items": [task_json(call, row, now) for row in rows],
                          "next_cursor": encode_cursor(cursor)})


async def get_callback(call: Call) -> web.StreamResponse:
    task_id = parse_id(call.request, what="callback task")
    row = await callback_repo.get_task(call.conn, task_id)
    if row is None:
        raise not_found(f"there is no callback task {task_id}")
    await call.audit("callback.read", f"callback:{task_id}")
    return json_response(task_json(call, row, datetime.now(UTC)))


def _done_body(body: Any) -> tuple[CallbackResult, str]:
    fields = expect_object(body, ("result", "note"), ("result",), DONE_EXAMPLE)
    allowed = [r.value for r in MANUAL_RESULTS]
    result = fields["result"]
    if not isinstance(result, str) or result not in allowed:
        raise invalid(ValidationError("result", "must be one of " + ", ".join(allowed),
                                      DONE_EXAMPLE["result"]))
    note = fields.get("note", "")
    if note != "":
        note = check_body_text(note, "note", DONE_EXAMPLE["note"], MAX_CALL_NOTE_LENGTH)
    return CallbackResult(result), note


async def post_done(call: Call) -> web.StreamResponse:
    task_id = parse_id(call.request, what="callback task")
    result, note = _done_body(await read_json(call.request))
    try:
        changed = await callback_repo.mark_done(call.conn, task_id, result=result, note=note,
                                                actor=call.principal.actor)
    except callback_repo.AlreadyDone as done:
        row = done.row
        raise Problem(409, "callback-settled", "Task already settled",
                      f"callback task {task_id} is {row.state} already (result "
                      f"{row.result}, by {row.done_by or 'nobody'}); add a note to its "
                      "call instead") from None
    if changed is None:
        raise not_found(f"there is no callback task {task_id}")
    now = datetime.now(UTC)
    before, after = (task_json(call, row, now) for row in changed)
    await call.audit("callback.done", f"callback:{task_id}", before=before, after=after)
    return json_response(after)


ENDPOINTS = (
    Endpoint("GET", f"{API}/callbacks", list_callbacks, AccessRole.VIEWER, LIST_QUERY),
    Endpoint("GET", f"{API}/callbacks/{{id}}", get_callback, AccessRole.VIEWER),
    Endpoint("POST", f"{API}/callbacks/{{id}}/done", post_done, AccessRole.SUPERVISOR),
)
