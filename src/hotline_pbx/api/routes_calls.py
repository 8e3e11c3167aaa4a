"""The call register: list, one call with its timeline and notes, notes added
after the call, and the CSV export a supervisor files instead of the paper
register.

Every read of customer data (a list, one call, an export) is itself written
to the audit log, in the same transaction as the read (the export's is
committed before its first byte): if the access cannot be recorded, it does
not happen. Viewers see every phone number masked
(``*******8000``; :mod:`hotline_pbx.domain.masking`) in every field a person
or a caller could have written - caller, caller name, notes, timeline and
details (keys and numbers too), the CSV - and cannot look calls up by a
caller's number.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Any

from aiohttp import web
from sqlalchemy.engine import Row

from hotline_pbx.api.auth import require
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
    parse_text,
    read_json,
    time_filter,
)
from hotline_pbx.api.problems import STREAMING, not_found
from hotline_pbx.api.routes_callbacks import task_summary
from hotline_pbx.api.routes_complaints import complaint_summary
from hotline_pbx.api.routes_purposes import check_purpose  # call purposes (issue 13)
from hotline_pbx.domain.contract import (
    COUNTED_PERIODS,
    MAX_CALL_NOTE_LENGTH,
    AccessRole,
    Outcome,
)
from hotline_pbx.store import api_repo, callback_repo, complaint_repo
from hotline_pbx.store.purpose_repo import set_call_purpose  # call purposes (issue 13)

API = "/api/v1"
CALLER_PATTERN = r"\+?[0-9*#]{1,32}"
MAX_EXPORT_ROWS = 100_000
EXPORT_PAGE_ROWS = 500  # read per short transaction
EXPORT_DEADLINE = 300.0  # seconds for a whole download
LIST_QUERY = frozenset({"from", "to", "period", "outcome", "caller", "include_test"})
CSV_COLUMNS = ("date", "time", "caller", "period", "outcome", "wait_seconds", "talk_seconds",
               "answered_by", "notes",
               "purpose")  # call purposes (issue 13): the last column


def call_filter(call: Call) -> api_repo.CallFilter:
    query = call.query
    caller = parse_text(query, "caller", CALLER_PATTERN, "13800138000",
                        "a phone number (digits, optionally a leading +)")
    if caller is not None:
        require(call.principal, AccessRole.SUPERVISOR, "looking calls up by caller number")
    period = parse_enum(COUNTED_PERIODS, query, "period")
    outcome = parse_enum(Outcome, query, "outcome")
    return api_repo.CallFilter(
        window=time_filter(query, call.zone),
        period=None if period is None else period.value,
        outcome=None if outcome is None else outcome.value,
        caller=caller, include_test=parse_bool(query, "include_test"))


def call_json(call: Call, row: Row[Any]) -> dict[str, Any]:
    shown = call.shown
    return {
        "id": row.id, "call_key": row.call_key,
        "caller": call.shown_number(row.caller),
        "caller_name": shown(row.caller_name), "dnid": shown(row.dnid),
        "started_at": call.local(row.started_at), "routed_at": call.local(row.routed_at),
        "answered_at": call.local(row.answered_at), "ended_at": call.local(row.ended_at),
        "period": row.period, "route": row.route, "outcome": row.outcome,
        "wait_seconds": row.wait_seconds, "talk_seconds": row.talk_seconds,
        "answered_by": shown(row.answered_by),
        "answered_role": row.answered_role, "failover_attempts": row.failover_attempts,
        "hangup_side": row.hangup_side, "hangup_cause": shown(row.hangup_cause),
        "is_test": row.is_test, "needs_callback": row.needs_callback,
        "note_count": row.note_count,
        # -- call purposes (issue 13) --
        "purpose": row.purpose, "purpose_set_by": shown(row.purpose_set_by) or None,
        # -- end call purposes --
    }


def note_json(call: Call, row: Row[Any]) -> dict[str, Any]:
    return {"id": row.id, "author": call.shown(row.author), "body": call.shown(row.body),
            "created_at": call.local(row.created_at)}


def timeline(call: Call, row: Row[Any]) -> list[dict[str, Any]]:
    """The tracker's timeline if it stored one, else the call's milestones."""
    stored = row.details.get("timeline") if isinstance(row.details, dict) else None
    if isinstance(stored, list):
        items = [item if isinstance(item, dict) else {"event": str(item)} for item in stored]
        return [call.shown(item) for item in items]
    milestones = (("started", row.started_at), ("routed", row.routed_at),
                  ("answered", row.answered_at), ("ended", row.ended_at))
    return [{"at": call.local(at), "event": event} for event, at in milestones if at is not None]


async def list_calls(call: Call) -> web.StreamResponse:
    flt = call_filter(call)
    limit = parse_int(call.query, "limit", default=50, low=1, high=500)
    rows, cursor = await api_repo.list_calls(call.conn, flt, after=decode_cursor(call.query),
                                            limit=limit)
    await call.audit_read("calls.list", "calls", count=len(rows))
    return json_response({"items": [call_json(call, row) for row in rows],
                          "next_cursor": encode_cursor(cursor)})


async def get_call(call: Call) -> web.StreamResponse:
    call_id = parse_id(call.request)
    row = await api_repo.get_call(call.conn, call_id)
    if row is None:
        raise not_found(f"there is no call {call_id}")
    notes = await api_repo.call_notes(call.conn, call_id)
    tasks = await callback_repo.tasks_of_call(call.conn, row.call_key)
    complaints = await complaint_repo.complaints_of_call(call.conn, call_id)  # issue 13
    await call.audit("call.read", f"call:{call_id}")
    details = row.details if isinstance(row.details, dict) else {}
    return json_response({**call_json(call, row), "timeline": timeline(call, row),
                          "details": call.shown(details),
                          "notes": [note_json(call, n) for n in notes],
                          "callbacks": [task_summary(call, t) for t in tasks],
                          "complaints": [complaint_summary(call, c) for c in complaints]})


async def post_note(call: Call) -> web.StreamResponse:
    call_id = parse_id(call.request)
    body = expect_object(await read_json(call.request), ("body", "purpose"), ("body",),
                         {"body": "called back, customer satisfied"})
    text = check_body_text(body["body"], "body", "called back, customer satisfied",
                           MAX_CALL_NOTE_LENGTH)
    # -- call purposes (issue 13) --
    purpose = None if "purpose" not in body else await check_purpose(call, body["purpose"])
    # -- end call purposes --
    if await api_repo.get_call(call.conn, call_id) is None:
        raise not_found(f"there is no call {call_id}")
    note = await api_repo.add_note(call.conn, call_id, call.principal.name, text)
    created = note_json(call, note)
    # -- call purposes (issue 13) --
    if purpose is not None:
        await set_call_purpose(call.conn, call_id, purpose, by=call.principal.name)
        created["purpose"] = purpose
    # -- end call purposes --
    await call.audit("call.note", f"call:{call_id}", after=created)
    return json_response(created, status=201)


# -- CSV export ------------------------------------------------------------------------

_FORMULA = re.compile(r"^[=+\-@\t\r]")
_NUMBER = re.compile(r"\+?[0-9]+")


def csv_safe(value: str) -> str:
    """A cell a spreadsheet will not run as a formula (caller ids are chosen by
    the caller); plain numbers such as +8613800138000 stay as they are."""
    if _FORMULA.match(value) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def register_row(call: Call, row: Row[Any]) -> list[str]:
    local = row.started_at.astimezone(call.zone)
    caller = call.shown_number(row.caller)
    answered_by, notes = call.shown(row.answered_by or ""), call.shown(row.notes or "")
    return [local.date().isoformat(), local.strftime("%H:%M:%S"), csv_safe(caller),
            row.period, row.outcome, _seconds(row.wait_seconds), _seconds(row.talk_seconds),
            csv_safe(answered_by), csv_safe(notes),
            row.purpose or ""]  # call purposes (issue 13)


def _seconds(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


def _csv_lines(rows: Iterable[Sequence[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


async def export_calls(call: Call) -> web.StreamResponse:
    """Streamed page by page: each page is read in a short transaction of its
    own and then written to the client, so a slow download holds no database
    connection, only the page being sent. Calls recorded while a download runs
    may appear in it; no call is repeated or skipped."""
    flt = call_filter(call)
    limit = parse_int(call.query, "limit", default=MAX_EXPORT_ROWS, low=1, high=MAX_EXPORT_ROWS)
    async with call.api.exports.download():
        # Committed before the first byte leaves: a download cut short by the
        # client still leaves the access on record.
        async with call.api.transaction() as conn:
            await api_repo.record_audit(conn, actor=call.principal.actor,
                                        action="calls.export", target="calls",
                                        after={"query": dict(call.query)}, client=call.client)
        pages = _register_pages(call, flt, limit)
        # Read before the answer starts: a database error is still a problem+json.
        first: list[Row[Any]] = await anext(pages, [])
        response = web.StreamResponse(headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": 'attachment; filename="hotline-calls.csv"'})
        await response.prepare(call.request)
        call.request[STREAMING] = True
        # The byte-order mark makes spreadsheet programs read the UTF-8 (Chinese
        # names and notes) correctly.
        await response.write(b"\xef\xbb\xbf" + _csv_lines([CSV_COLUMNS])
                             + _csv_lines(register_row(call, row) for row in first))
        async for page in pages:
            await response.write(_csv_lines(register_row(call, row) for row in page))
        await response.write_eof()
        return response


async def _register_pages(call: Call, flt: api_repo.CallFilter, limit: int
                          ) -> AsyncIterator[list[Row[Any]]]:
    after: api_repo.Cursor | None = None
    while limit > 0:
        async with (asyncio.timeout(call.api.deadline), call.api.exports.reading(),
                    call.api.transaction() as conn):
            page = await api_repo.register_page(conn, flt, after=after,
                                                limit=min(EXPORT_PAGE_ROWS, limit))
        if not page:
            return
        yield page
        limit -= len(page)
        after = (page[-1].started_at, int(page[-1].id))


ENDPOINTS = (
    Endpoint("GET", f"{API}/calls", list_calls, AccessRole.VIEWER,
             LIST_QUERY | {"limit", "cursor"}),
    # 100 000 rows to a slow client take longer than one query's deadline.
    Endpoint("GET", f"{API}/calls.csv", export_calls, AccessRole.VIEWER, LIST_QUERY | {"limit"},
             deadline=EXPORT_DEADLINE, streams=True),
    Endpoint("GET", f"{API}/calls/{{id}}", get_call, AccessRole.VIEWER),
    Endpoint("POST", f"{API}/calls/{{id}}/notes", post_note, AccessRole.SUPERVISOR),
)
