"""Emergency notification campaigns (issue 12): a list of customers phoned with a
message and "press 1 to confirm", with live progress and the three result lists.

``POST /api/v1/campaigns`` (admin) — JSON or a ``text/csv`` upload
(:mod:`hotline_pbx.api.schemas.campaigns`), up to ``dialer.max_import_bytes``
(413 beyond) and 100,000 rows. Every row is checked
(:mod:`hotline_pbx.domain.campaign_import`); refusals are listed with their line
(at most :data:`MAX_LISTED_ERRORS`, and how many there were). With
``partial: false`` (the default) one refusal stores nothing (422); with
``partial: true`` the valid rows are stored and the refusals reported (201).
The job and its targets are written in one transaction, which wakes the dialer.

``GET /api/v1/campaigns`` — the campaigns, newest first, with counts.
``GET /api/v1/campaigns/{id}`` — progress (targets by state) and the lists
``notified``, ``not_reached`` (with attempts) and ``no_number``, each its first
:data:`LIST_LIMIT` targets (``listed_at_most``; the export has them all).
``GET /api/v1/campaigns/{id}/export?list=notified|not_reached|no_number`` — CSV.
``DELETE /api/v1/campaigns/{id}`` (admin) — cancel: no new attempt from now
(calls in flight may finish), pending targets become ``cancelled``.
A viewer reads every phone number masked.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import csv
import io
import json
import uuid
from collections.abc import Sequence
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from sqlalchemy.engine import Row

from hotline_pbx.api.context import Call, Endpoint, json_response
from hotline_pbx.api.params import parse_id
from hotline_pbx.api.problems import (
    STREAMING,
    ClientGone,
    Problem,
    bad_query,
    invalid,
    not_found,
)
from hotline_pbx.api.routes_calls import csv_safe
from hotline_pbx.api.schemas.campaigns import CampaignForm, TooManyRows, from_csv, from_json
from hotline_pbx.config import Settings
from hotline_pbx.domain.campaign_import import MAX_ROWS, check_rows
from hotline_pbx.domain.contract import AccessRole
from hotline_pbx.domain.dialer import DialogType, JobType
from hotline_pbx.domain.errors import ValidationError
from hotline_pbx.store import campaign_repo, dialer_repo
from hotline_pbx.store.api_repo import record_audit

API = "/api/v1"
#: Refusals listed in one answer (the count says how many there were in all).
MAX_LISTED_ERRORS = 1000
#: Seconds a campaign upload may take: 100,000 rows are read, checked and stored.
POST_DEADLINE = 180.0
#: Targets of each list in ``GET /campaigns/{id}``: a finished 100,000-target
#: campaign was a 15 MB answer built in memory for any viewer; the whole list
#: is ``/export``'s (streamed, its downloads limited by ``http.max_exports``).
LIST_LIMIT = 1000


# -- POST ------------------------------------------------------------------------------


def upload_limit(settings: Settings) -> Middleware:
    """A campaign upload may be up to ``dialer.max_import_bytes`` (the app-wide
    ``http.max_body_bytes`` is for small documents): its request is handed on
    with that limit, before the connection guard reads the body."""
    limit = settings.dialer.max_import_bytes

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.method == "POST" and request.path == f"{API}/campaigns":
            if request.content_length is not None and request.content_length > limit:
                raise _too_large(limit)
            request = request.clone(client_max_size=limit)
        return await handler(request)

    return middleware


async def _read_limited(call: Call) -> bytes:
    """The body (read within ``http.body_timeout`` by the connection guard)."""
    try:
        return await call.request.read()
    except web.HTTPRequestEntityTooLarge:
        raise _too_large(call.api.settings.dialer.max_import_bytes) from None
    except ConnectionError as exc:
        raise ClientGone(str(exc)) from None


def _too_large(limit: int) -> Problem:
    return Problem(413, "too-large", "Request body too large",
                   f"a campaign upload may have at most {limit} bytes "
                   f"(dialer.max_import_bytes) and {MAX_ROWS} rows: split the list",
                   errors=[ValidationError("(body)", "is too large",
                                           f"at most {MAX_ROWS} rows")])


def _form(call: Call, data: bytes) -> CampaignForm:
    kind = call.request.content_type
    try:
        if kind == "application/json":
            try:
                body = json.loads(data.decode("utf-8"))
            except (UnicodeError, ValueError, RecursionError) as exc:
                raise invalid(ValidationError("(body)", f"is not valid UTF-8 JSON ({exc})",
                                              '{"name": …, "rows": […]}'), status=400) from None
            return from_json(body)
        if kind in ("text/csv", "application/csv"):
            return from_csv(data, call.query)
    except TooManyRows as exc:
        raise Problem(413, "too-large", "Too many rows", f"{exc}: split the list",
                      errors=[ValidationError("rows", str(exc), f"at most {MAX_ROWS}")]) \
            from None
    raise Problem(415, "unsupported-media-type", "Unsupported media type",
                  f"send the list as application/json or text/csv, not {kind!r}",
                  errors=[ValidationError("Content-Type", "must be application/json or "
                                          "text/csv", "text/csv")])


def _refusals(errors: Sequence[ValidationError]) -> list[dict[str, str]]:
    return [e.as_dict() for e in errors[:MAX_LISTED_ERRORS]]


async def post_campaign(call: Call) -> web.StreamResponse:
    if call.request.content_type == "application/json" and call.query:
        raise bad_query(next(iter(call.query)), "a JSON upload takes its fields in the body",
                        "")
    form = _form(call, await _read_limited(call))
    own = tuple(n for n in (call.api.settings.line.test_number,) if n)
    checked = await asyncio.to_thread(check_rows, form.rows, own_numbers=own)
    errors = sorted([*form.row_errors, *checked.errors], key=_line_of)
    if errors and not form.partial:
        problem = invalid(errors[:MAX_LISTED_ERRORS], what="the customer list")
        problem.detail = (f"{len(errors)} row(s) refused, nothing stored (send partial: "
                          f"true to keep the valid rows); the first: {errors[0].field} "
                          f"{errors[0].reason}")
        raise problem
    if not checked.targets:
        raise invalid(ValidationError("rows", "no valid row left to call or list",
                                      "name,account,phone"), what="the customer list")
    options: dict[str, Any] = {"message_text": form.message_text}
    if form.message_wav is not None:
        options["message_wav"] = base64.b64encode(form.message_wav).decode("ascii")
    if form.max_attempts is not None:
        options["max_attempts"] = form.max_attempts
    async with call.api.transaction(POST_DEADLINE) as conn:
        job_id = await dialer_repo.create_job(
            conn, job_key=f"campaign:{uuid.uuid4().hex}", job_type=JobType.EMERGENCY,
            dialog=DialogType.CONFIRM, targets=checked.targets, name=form.name,
            options=options, created_by=call.principal.actor)
        no_number = sum(1 for t in checked.targets if t.phone is None)
        summary = {"id": job_id, "name": form.name, "targets": len(checked.targets),
                   "no_number": no_number, "refused_count": len(errors),
                   "max_attempts": form.max_attempts}
        await record_audit(conn, actor=call.principal.actor, action="campaign.create",
                           target=f"campaign:{job_id}", after=summary, client=call.client)
        await dialer_repo.wake_dialer(conn)
    return json_response({**summary, "refused": _refusals(errors)}, status=201)


def _line_of(error: ValidationError) -> int:
    head = error.field.split(".", 1)[0]
    digits = head.removeprefix("line ")
    return int(digits) if digits.isdigit() else 0


# -- reads ------------------------------------------------------------------------------


def _campaign_json(call: Call, row: Row[Any], counts: dict[str, int]) -> dict[str, Any]:
    done = sum(counts.get(s, 0) for s in ("done", "unreached", "no_number", "cancelled"))
    return {"id": row.id, "name": call.shown(row.name), "state": row.state,
            "created_at": call.local(row.created_at), "created_by": row.created_by,
            "cancelled_at": call.local(row.cancelled_at),
            "finished_at": call.local(row.finished_at), "max_attempts": row.max,
            "counts": counts, "total": sum(counts.values()), "final": done}


def _target_json(call: Call, row: Row[Any]) -> dict[str, Any]:
    return {"line": row.line_no, "name": call.shown(row.name),
            "account": call.shown(row.account),
            "phone": None if row.phone is None else call.shown_number(row.phone),
            "attempts": row.attempts, "result": row.result,
            "last_attempt_at": call.local(row.last_attempt_at)}


async def list_campaigns(call: Call) -> web.StreamResponse:
    rows = await campaign_repo.campaigns(call.conn)
    counts = await campaign_repo.counts(call.conn, [r.id for r in rows])
    await call.audit_read("campaigns.list", "campaigns", len(rows))
    return json_response({"campaigns": [_campaign_json(call, r, counts[r.id]) for r in rows]})


async def get_campaign(call: Call) -> web.StreamResponse:
    job_id = parse_id(call.request, what="campaign")
    row = await campaign_repo.campaign(call.conn, job_id)
    if row is None:
        raise not_found(f"there is no campaign {job_id}")
    counts = (await campaign_repo.counts(call.conn, [job_id]))[job_id]
    body = _campaign_json(call, row, counts)
    for name in campaign_repo.LISTS:
        body[name] = await _first_of_list(call, job_id, name)
    body["listed_at_most"] = LIST_LIMIT
    await call.audit_read("campaign.read", f"campaign:{job_id}")
    return json_response(body)


async def _first_of_list(call: Call, job_id: int, name: str) -> list[dict[str, Any]]:
    """A list's first :data:`LIST_LIMIT` targets in line order (the counts give the
    totals, ``/export`` the whole list)."""
    listed: list[dict[str, Any]] = []
    async with contextlib.aclosing(campaign_repo.list_pages(call.conn, job_id, name)) as pages:
        async for page in pages:
            listed.extend(_target_json(call, t) for t in page[:LIST_LIMIT - len(listed)])
            if len(listed) >= LIST_LIMIT:
                break
    return listed


EXPORT_COLUMNS = ("line", "name", "account", "phone", "attempts", "result", "last_attempt_at")


async def export_campaign(call: Call) -> web.StreamResponse:
    job_id = parse_id(call.request, what="campaign")
    which = call.query.get("list", "")
    if which not in campaign_repo.LISTS:
        raise bad_query("list", "must be one of " + ", ".join(campaign_repo.LISTS), "notified")
    async with call.api.exports.download():
        async with call.api.transaction() as conn:
            if await campaign_repo.campaign(conn, job_id) is None:
                raise not_found(f"there is no campaign {job_id}")
            await record_audit(conn, actor=call.principal.actor, action="campaign.export",
                               target=f"campaign:{job_id}", after={"list": which},
                               client=call.client)
        async with call.api.transaction() as conn:
            pages = [list(page) async for page in campaign_repo.list_pages(conn, job_id, which)]
        response = web.StreamResponse(headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="campaign-{job_id}-{which}.csv"'})
        await response.prepare(call.request)
        call.request[STREAMING] = True
        await response.write(b"\xef\xbb\xbf" + _csv([EXPORT_COLUMNS]))
        for page in pages:
            await response.write(_csv([_export_row(call, row) for row in page]))
        await response.write_eof()
        return response


def _export_row(call: Call, row: Row[Any]) -> list[str]:
    item = _target_json(call, row)
    return [str(item["line"]), csv_safe(item["name"]), csv_safe(item["account"]),
            csv_safe(item["phone"] or ""), str(item["attempts"]), item["result"] or "",
            item["last_attempt_at"] or ""]


def _csv(rows: Sequence[Sequence[str]]) -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode("utf-8")


async def cancel_campaign(call: Call) -> web.StreamResponse:
    job_id = parse_id(call.request, what="campaign")
    if await campaign_repo.campaign(call.conn, job_id) is None:
        raise not_found(f"there is no campaign {job_id}")
    cancelled = await dialer_repo.cancel_job(call.conn, job_id, by=call.principal.actor)
    await dialer_repo.wake_dialer(call.conn)
    row = await campaign_repo.campaign(call.conn, job_id)
    assert row is not None  # read in this transaction just above
    counts = (await campaign_repo.counts(call.conn, [job_id]))[job_id]
    body = _campaign_json(call, row, counts)
    await call.audit("campaign.cancel", f"campaign:{job_id}",
                     after={"targets_cancelled": cancelled, "state": row.state})
    return json_response({**body, "targets_cancelled": cancelled})


ENDPOINTS = (
    Endpoint("GET", f"{API}/campaigns", list_campaigns, AccessRole.VIEWER),
    Endpoint("POST", f"{API}/campaigns", post_campaign, AccessRole.ADMIN,
             frozenset({"name", "message_text", "partial", "max_attempts"}),
             deadline=POST_DEADLINE, streams=True),
    Endpoint("GET", f"{API}/campaigns/{{id}}", get_campaign, AccessRole.VIEWER,
             deadline=60.0),
    Endpoint("GET", f"{API}/campaigns/{{id}}/export", export_campaign, AccessRole.VIEWER,
             frozenset({"list"}), deadline=120.0, streams=True),
    Endpoint("DELETE", f"{API}/campaigns/{{id}}", cancel_campaign, AccessRole.ADMIN),
)
