"""The complaint register: register (by hand or from a call), list, read, edit,
the workflow's transitions, replies to the customer, extensions, the digest.

``POST /api/v1/complaints`` and ``POST /api/v1/calls/{id}/complaint``
(supervisor) register one; ``GET /api/v1/complaints`` (viewer; ``state``,
``department``, ``severity``, ``category``, ``overdue=true``, ``from``/``to``
on the receipt time, paged) and ``GET /api/v1/complaints/{id}`` (with its SLA
block, the states it may go to and every event) read them; ``PATCH …/{id}``
changes the forms' fields (with the ``version`` read); ``POST …/{id}/transitions``,
``…/replies``, ``…/extensions`` move it on; ``GET /api/v1/complaints/digest`` is
what must be chased now. An illegal transition is a 409 naming the allowed next
states (``allowed``); bad input a 422 naming the field; nothing is changed by a
refusal. Viewers see phone numbers and names masked; every read is audited,
every change audited with before and after. docs/complaints.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
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
    parse_instant,
    parse_int,
    parse_text,
    read_json,
    time_filter,
)
from hotline_pbx.api.problems import Problem, invalid, not_found
from hotline_pbx.domain.calendar import BusinessCalendar
from hotline_pbx.domain.complaint_sla import Clock, overdue_stages
from hotline_pbx.domain.complaints import (
    Channel,
    ComplaintState,
    ReplyKind,
    Severity,
    Stage,
    VisitState,
    allowed_next,
)
from hotline_pbx.domain.contract import MAX_CALL_NOTE_LENGTH, AccessRole
from hotline_pbx.domain.dialer import normalise_phone, phone_problem
from hotline_pbx.domain.errors import ValidationError
from hotline_pbx.domain.purposes import COMPLAINT, Catalogue
from hotline_pbx.store import api_repo, complaint_repo, purpose_repo
from hotline_pbx.store.config_repo import business_calendar

API = "/api/v1"
LIST_QUERY = frozenset({"state", "department", "severity", "category", "overdue", "from",
                        "to", "limit", "cursor"})
MAX_NAME = 200
_WORD = r"[a-z][a-z0-9_]{0,39}"
EXAMPLE = {"customer_name": "张三", "account": "A-1024", "phone": "138 0013 8000",
           "channel": "hotline", "received_by": "王芳", "content": "the repair came late",
           "category": COMPLAINT, "department": "customer_service", "severity": "general",
           "received_at": "2026-11-02T10:00:00+08:00"}
#: What a person writes on the forms (free text, at most the note length).
LONG_TEXT = ("content", "verification", "solution", "callback_result", "explanation",
             "pm_opinion")
NAMES = ("customer_name", "account", "received_by", "department_manager", "handler",
         "pm_signed_by")
#: The fields each transition takes (required ones first in REQUIRED).
STEP_FIELDS: dict[ComplaintState, tuple[str, ...]] = {
    ComplaintState.ASSIGNED: ("department", "handler"),
    ComplaintState.VERIFIED: ("found_true", "verification"),
    ComplaintState.RESOLVED: ("solution", "department_manager", "handler"),
    ComplaintState.CUSTOMER_INFORMED: ("callback_result", "explanation"),
    ComplaintState.VISITED: (),
    ComplaintState.ARCHIVED: ("pm_opinion", "pm_signed_by"),
}
REQUIRED: dict[ComplaintState, tuple[str, ...]] = {
    ComplaintState.VERIFIED: ("found_true", "verification"),
    ComplaintState.RESOLVED: ("solution",),
    ComplaintState.ARCHIVED: ("pm_opinion", "pm_signed_by"),
}
EDITABLE = ("customer_name", "account", "phone", "channel", "received_by", "content",
            "category", "department_manager", "handler", "verification", "solution",
            "callback_result", "explanation", "pm_opinion")


# -- the answer ---------------------------------------------------------------------------


def clock_of(row: Row[Any]) -> Clock:
    return Clock(ComplaintState(row.state), row.first_reply_due, row.first_reply_at,
                 row.progress_reply_due, row.progress_reply_at, row.resolve_due,
                 VisitState(row.visit_state), row.visit_due)


def sla_json(call: Call, row: Row[Any], now: datetime) -> dict[str, Any]:
    overdue = overdue_stages(clock_of(row), now)
    resolved = row.resolved_at

    def deadline(stage: Stage, due: datetime | None, done: datetime | None) -> dict[str, Any]:
        return {"due": call.local(due), "done_at": call.local(done),
                "met": None if done is None or due is None else done <= due,
                "overdue": stage in overdue}

    return {
        "first_reply": deadline(Stage.FIRST_REPLY, row.first_reply_due, row.first_reply_at),
        "progress_reply": deadline(Stage.PROGRESS_REPLY, row.progress_reply_due,
                                   row.progress_reply_at),
        "resolution": {**deadline(Stage.RESOLUTION, row.resolve_due, resolved),
                       "target": call.local(row.resolve_target),
                       "hard_max": call.local(row.resolve_hard_max),
                       "extended": row.resolve_due != row.resolve_target},
        "visit": deadline(Stage.VISIT, row.visit_due, row.visited_at),
        "overdue": sorted(stage.value for stage in overdue),
    }


def complaint_json(call: Call, row: Row[Any], now: datetime) -> dict[str, Any]:
    shown = call.shown
    return {
        "id": row.id, "call_id": row.call_id, "received_at": call.local(row.received_at),
        "customer_name": call.shown_name(row.customer_name), "account": shown(row.account),
        "phone": None if row.phone is None else call.shown_number(row.phone),
        "channel": row.channel, "received_by": shown(row.received_by),
        "content": shown(row.content), "category": row.category,
        "department": row.department, "severity": row.severity, "state": row.state,
        "allowed_next": [s.value for s in allowed_next(ComplaintState(row.state),
                                                       row.found_true)],
        "found_true": row.found_true, "verification": shown(row.verification),
        "solution": shown(row.solution), "department_manager": shown(row.department_manager),
        "callback_result": shown(row.callback_result), "handler": shown(row.handler),
        "handled_at": call.local(row.handled_at), "explanation": shown(row.explanation),
        "pm_opinion": shown(row.pm_opinion), "pm_signed_by": shown(row.pm_signed_by),
        "pm_signed_at": call.local(row.pm_signed_at),
        "resolved_at": call.local(row.resolved_at), "informed_at": call.local(row.informed_at),
        "archived_at": call.local(row.archived_at),
        "visit_state": row.visit_state, "visit_by": shown(row.visit_by),
        "visit_score": row.visit_score, "visit_scale": row.visit_scale,
        "visit_result": shown(row.visit_result), "visited_at": call.local(row.visited_at),
        "sla": sla_json(call, row, now),
        "created_by": shown(row.created_by), "created_at": call.local(row.created_at),
        "updated_at": call.local(row.updated_at), "version": row.version,
    }


def event_json(call: Call, row: Row[Any]) -> dict[str, Any]:
    return {"at": call.local(row.at), "actor": call.shown(row.actor), "kind": row.kind,
            "from": row.from_state, "to": row.to_state,
            "details": call.shown(_names_hidden(call, row.details))}


def _names_hidden(call: Call, details: Any) -> Any:
    """An edit's details hold the customer's name before and after: a viewer sees
    them masked as on the complaint itself (numbers are masked by ``call.shown``)."""
    if not call.principal.masked or not isinstance(details, dict):
        return details
    changed = details.get("changed")
    if not isinstance(changed, dict) or "customer_name" not in changed:
        return details
    names = changed["customer_name"]
    hidden = [call.shown_name(n) if isinstance(n, str) else n for n in names] \
        if isinstance(names, list) else names
    return {**details, "changed": {**changed, "customer_name": hidden}}


def complaint_summary(call: Call, row: Row[Any]) -> dict[str, Any]:
    """A complaint as ``GET /calls/{id}`` lists it."""
    return {"id": row.id, "state": row.state, "severity": row.severity,
            "received_at": call.local(row.received_at)}


def refused(error: complaint_repo.Refused) -> Problem:
    allowed = ", ".join(error.allowed) or "none (it is archived)"
    return Problem(409, "complaint-transition", "Not possible in this state",
                   f"{error.detail}; allowed next: {allowed}", extra={"allowed": error.allowed})


# -- reading bodies ------------------------------------------------------------------------


def _text(fields: Mapping[str, Any], name: str, *, required: bool = False) -> str | None:
    if name not in fields:
        if required:
            raise invalid(ValidationError(name, "is required", str(EXAMPLE.get(name, "…"))))
        return None
    longest = MAX_CALL_NOTE_LENGTH if name in LONG_TEXT else MAX_NAME
    if not required and fields[name] == "":
        return ""
    return check_body_text(fields[name], name, str(EXAMPLE.get(name, "…")), longest).strip()


def _choice(fields: Mapping[str, Any], name: str, allowed: list[str]) -> str | None:
    return None if name not in fields else _required_choice(fields, name, allowed)


def _required_choice(fields: Mapping[str, Any], name: str, allowed: list[str]) -> str:
    if name not in fields:
        raise invalid(ValidationError(name, "is required", allowed[0]))
    value = fields[name]
    if not isinstance(value, str) or value not in allowed:
        raise invalid(ValidationError(name, f"must be one of {', '.join(allowed)}",
                                      allowed[0]))
    return value


def _phone(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise invalid(ValidationError("phone", "must be a string of digits",
                                      EXAMPLE["phone"]))
    phone = normalise_phone(value)
    problem = phone_problem(phone)
    if problem is not None:
        raise invalid(ValidationError("phone", problem, EXAMPLE["phone"]))
    return phone


def _catalogue_id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise invalid(ValidationError(name, "must be an id of the catalogue "
                                      "(GET /api/v1/purposes)", str(EXAMPLE[name])))
    return value


def _catalogue_checks(fields: dict[str, Any], catalogue: Catalogue) -> None:
    department, category = fields.get("department"), fields.get("category")
    if department is not None and catalogue.department(department) is None:
        raise invalid(ValidationError("department", "unknown department; known: " + ", ".join(
            d.id for d in catalogue.departments), "customer_service"))
    if category is not None and catalogue.purpose(category) is None:
        raise invalid(ValidationError("category", "unknown category; known: " + ", ".join(
            p.id for p in catalogue.purposes), COMPLAINT))


def _form(fields: Mapping[str, Any], names: tuple[str, ...], call: Call) -> dict[str, Any]:
    """The form fields among ``names`` that the body gives, checked."""
    found: dict[str, Any] = {}
    for name in names:
        if name not in fields:
            continue
        if name == "phone":
            found[name] = _phone(fields[name])
        elif name == "channel":
            found[name] = _choice(fields, name, [c.value for c in Channel])
        elif name == "severity":
            found[name] = _choice(fields, name, [s.value for s in Severity])
        elif name in ("department", "category"):
            found[name] = _catalogue_id(fields[name], name)
        elif name == "received_at":
            if not isinstance(fields[name], str):
                raise invalid(ValidationError(name, "must be an ISO 8601 time with offset",
                                              EXAMPLE[name]))
            found[name] = parse_instant(fields[name], name, call.zone)
        else:
            found[name] = _text(fields, name)
    return found


CREATE_FIELDS = ("received_at", "customer_name", "account", "phone", "channel", "received_by",
                 "content", "category", "department", "severity")


async def _new_fields(call: Call, body: Any, *, from_call: bool) -> dict[str, Any]:
    required = ("content", "department", "severity") + (() if from_call else ("channel",))
    fields = expect_object(body, CREATE_FIELDS, required, EXAMPLE)
    found = _form(fields, CREATE_FIELDS, call)
    found["content"] = _text(fields, "content", required=True)
    found.setdefault("category", COMPLAINT)
    _catalogue_checks(found, await purpose_repo.load_catalogue(call.conn))
    return found


async def _calendar(call: Call) -> BusinessCalendar:
    return await business_calendar(call.conn, call.api.settings, datetime.now(UTC))


# -- the handlers ----------------------------------------------------------------------------


#: How far a received_at may lie ahead of the server's clock (a client's clock skew).
MAX_CLOCK_SKEW = timedelta(minutes=5)


async def _register(call: Call, fields: dict[str, Any]) -> web.StreamResponse:
    now = datetime.now(UTC)
    fields.setdefault("received_at", now)
    if fields["received_at"] > now + MAX_CLOCK_SKEW:
        raise invalid(ValidationError("received_at", "must not be in the future (a complaint "
                                      "is registered once it was received)",
                                      EXAMPLE["received_at"]))
    fields.setdefault("received_by", call.principal.name)
    row = await complaint_repo.create(call.conn, fields, actor=call.principal.actor,
                                      calendar=await _calendar(call))
    created = complaint_json(call, row, datetime.now(UTC))
    await call.audit("complaint.create", f"complaint:{row.id}", after=created)
    return json_response(created, status=201)


async def post_complaint(call: Call) -> web.StreamResponse:
    return await _register(call, await _new_fields(call, await read_json(call.request),
                                                   from_call=False))


async def post_call_complaint(call: Call) -> web.StreamResponse:
    call_id = parse_id(call.request)
    fields = await _new_fields(call, await read_json(call.request), from_call=True)
    row = await api_repo.get_call(call.conn, call_id)
    if row is None:
        raise not_found(f"there is no call {call_id}")
    fields.update(call_id=call_id)
    fields.setdefault("received_at", row.started_at)
    fields.setdefault("channel", Channel.HOTLINE.value)
    if "phone" not in fields:
        fields["phone"] = _caller_phone(row.caller)
    await purpose_repo.set_call_purpose(call.conn, call_id, COMPLAINT, by=call.principal.actor)
    return await _register(call, fields)


def _caller_phone(caller: str) -> str | None:
    phone = normalise_phone(caller or "")
    return phone if phone and phone_problem(phone) is None else None


def complaint_filter(call: Call, now: datetime) -> complaint_repo.ComplaintFilter:
    query = call.query
    state = parse_enum(ComplaintState, query, "state")
    severity = parse_enum(Severity, query, "severity")
    window = time_filter(query, call.zone)
    return complaint_repo.ComplaintFilter(
        state=None if state is None else state.value,
        severity=None if severity is None else severity.value,
        department=parse_text(query, "department", _WORD, "customer_service", "a department id"),
        category=parse_text(query, "category", _WORD, COMPLAINT, "a category id"),
        overdue_at=now if parse_bool(query, "overdue") else None,
        start=window.start, end=window.end)


async def list_complaints(call: Call) -> web.StreamResponse:
    now = datetime.now(UTC)
    flt = complaint_filter(call, now)
    limit = parse_int(call.query, "limit", default=50, low=1, high=500)
    rows, cursor = await complaint_repo.list_complaints(
        call.conn, flt, after=decode_cursor(call.query), limit=limit)
    await call.audit_read("complaints.list", "complaints", count=len(rows))
    return json_response({"items": [complaint_json(call, row, now) for row in rows],
                          "next_cursor": encode_cursor(cursor)})


async def get_complaint(call: Call) -> web.StreamResponse:
    complaint_id = parse_id(call.request, what="complaint")
    row = await complaint_repo.get(call.conn, complaint_id)
    if row is None:
        raise not_found(f"there is no complaint {complaint_id}")
    events = await complaint_repo.events_of(call.conn, complaint_id)
    await call.audit("complaint.read", f"complaint:{complaint_id}")
    return json_response({**complaint_json(call, row, datetime.now(UTC)),
                          "events": [event_json(call, e) for e in events]})


async def _changed(call: Call, action: str, complaint_id: int,
                   changed: tuple[Row[Any], Row[Any]] | None) -> web.StreamResponse:
    if changed is None:
        raise not_found(f"there is no complaint {complaint_id}")
    now = datetime.now(UTC)
    before, after = (complaint_json(call, row, now) for row in changed)
    await call.audit(action, f"complaint:{complaint_id}", before=before, after=after)
    return json_response(after)


async def patch_complaint(call: Call) -> web.StreamResponse:
    complaint_id = parse_id(call.request, what="complaint")
    fields = expect_object(await read_json(call.request), ("version", *EDITABLE), ("version",),
                           {"version": "1", "account": "A-1024"})
    version = fields["version"]
    if isinstance(version, bool) or not isinstance(version, int):
        raise invalid(ValidationError("version", "must be the version you read (a whole "
                                      "number)", "1"))
    changes = _form(fields, EDITABLE, call)
    if "content" in changes and not changes["content"]:
        raise invalid(ValidationError("content", "must not be empty", EXAMPLE["content"]))
    _catalogue_checks(changes, await purpose_repo.load_catalogue(call.conn))
    try:
        changed = await complaint_repo.edit(call.conn, complaint_id, changes,
                                            actor=call.principal.actor, version=version)
    except complaint_repo.Refused as error:
        raise Problem(409, "complaint-version", "Changed meanwhile", error.detail) from None
    return await _changed(call, "complaint.edit", complaint_id, changed)


async def post_transition(call: Call) -> web.StreamResponse:
    complaint_id = parse_id(call.request, what="complaint")
    body = await read_json(call.request)
    to_name = _required_choice(
        body if isinstance(body, dict) else {}, "to",
        [s.value for s in ComplaintState if s is not ComplaintState.REGISTERED])
    to = ComplaintState(to_name)
    fields = expect_object(body, ("to", *STEP_FIELDS[to]), ("to", *REQUIRED.get(to, ())),
                           {"to": to.value})
    step = _step_fields(call, to, fields)
    _catalogue_checks(step, await purpose_repo.load_catalogue(call.conn))
    settings = call.api.settings.complaints
    row = await complaint_repo.get(call.conn, complaint_id)
    if (row is not None and to is ComplaintState.CUSTOMER_INFORMED
            and to in allowed_next(ComplaintState(row.state), row.found_true)):
        _check_informed(step, row.found_true)  # out of order: the store's 409 says so
    try:
        changed = await complaint_repo.transition(
            call.conn, complaint_id, to, step, actor=call.principal.actor,
            now=datetime.now(UTC), calendar=await _calendar(call),
            visit=complaint_repo.VisitPolicy(by_dialer=settings.visit_by == "dialer",
                                             scale=settings.visit_scale))
    except complaint_repo.Refused as error:
        raise refused(error) from None
    return await _changed(call, f"complaint.{to.value}", complaint_id, changed)


def _step_fields(call: Call, to: ComplaintState, fields: Mapping[str, Any]) -> dict[str, Any]:
    step: dict[str, Any] = {}
    for name in STEP_FIELDS[to]:
        if name not in fields:
            continue
        if name == "found_true":
            if not isinstance(fields[name], bool):
                raise invalid(ValidationError(name, "must be true or false", "true"))
            step[name] = fields[name]
        elif name == "department":
            step.update(_form(fields, ("department",), call))
        else:
            step[name] = _text(fields, name, required=name in REQUIRED.get(to, ()))
    now = datetime.now(UTC)
    if to is ComplaintState.RESOLVED:
        step["handled_at"] = now
    if to is ComplaintState.ARCHIVED:
        step["pm_signed_at"] = now
    return step


def _check_informed(step: dict[str, Any], found_true: bool | None) -> None:
    """Found true: what the customer was told of the solution; found untrue: the
    explanation given to the customer."""
    needed = "callback_result" if found_true else "explanation"
    if not step.get(needed):
        why = ("the complaint was found true: say what the customer was told"
               if found_true else "the complaint was found untrue: give the explanation")
        raise invalid(ValidationError(needed, f"is required ({why})",
                                      "told the customer the repair is done"))


async def post_reply(call: Call) -> web.StreamResponse:
    complaint_id = parse_id(call.request, what="complaint")
    fields = expect_object(await read_json(call.request), ("kind", "note"), ("kind",),
                           {"kind": "first", "note": "we are on it"})
    kind = ReplyKind(_required_choice(fields, "kind", [k.value for k in ReplyKind]))
    note = _text(fields, "note") or ""
    try:
        changed = await complaint_repo.reply(call.conn, complaint_id, kind, note,
                                             actor=call.principal.actor, now=datetime.now(UTC))
    except complaint_repo.Refused as error:
        raise Problem(409, "complaint-reply", "Reply not possible", error.detail) from None
    return await _changed(call, f"complaint.reply.{kind.value}", complaint_id, changed)


async def post_extension(call: Call) -> web.StreamResponse:
    complaint_id = parse_id(call.request, what="complaint")
    example = {"resolve_due": "2026-11-05T17:30:00+08:00", "reason": "waiting for a part"}
    fields = expect_object(await read_json(call.request), ("resolve_due", "reason"),
                           ("resolve_due",), example)
    if not isinstance(fields["resolve_due"], str):
        raise invalid(ValidationError("resolve_due", "must be an ISO 8601 time with offset",
                                      example["resolve_due"]))
    new_due = parse_instant(fields["resolve_due"], "resolve_due", call.zone)
    reason = _text(fields, "reason") or ""
    try:
        changed = await complaint_repo.extend(call.conn, complaint_id, new_due, reason,
                                              actor=call.principal.actor)
    except complaint_repo.Refused as error:
        raise Problem(409, "complaint-extension", "Extension not possible",
                      error.detail) from None
    except ValidationError as error:
        raise invalid(error) from None
    return await _changed(call, "complaint.extend", complaint_id, changed)


async def get_digest(call: Call) -> web.StreamResponse:
    now = datetime.now(UTC)
    rows = await complaint_repo.digest(call.conn, now)
    await call.audit_read("complaints.digest", "complaints",
                          count=sum(len(found) for found in rows.values()))
    return json_response({"at": call.local(now), "stages": {
        stage.value: [complaint_json(call, row, now) for row in found]
        for stage, found in rows.items()}})


ENDPOINTS = (
    Endpoint("POST", f"{API}/complaints", post_complaint, AccessRole.SUPERVISOR),
    Endpoint("GET", f"{API}/complaints", list_complaints, AccessRole.VIEWER, LIST_QUERY),
    Endpoint("GET", f"{API}/complaints/digest", get_digest, AccessRole.VIEWER),
    Endpoint("GET", f"{API}/complaints/{{id}}", get_complaint, AccessRole.VIEWER),
    Endpoint("PATCH", f"{API}/complaints/{{id}}", patch_complaint, AccessRole.SUPERVISOR),
    Endpoint("POST", f"{API}/complaints/{{id}}/transitions", post_transition,
             AccessRole.SUPERVISOR),
    Endpoint("POST", f"{API}/complaints/{{id}}/replies", post_reply, AccessRole.SUPERVISOR),
    Endpoint("POST", f"{API}/complaints/{{id}}/extensions", post_extension,
             AccessRole.SUPERVISOR),
    Endpoint("POST", f"{API}/calls/{{id}}/complaint", post_call_complaint,
             AccessRole.SUPERVISOR),
)
