"""Routing configuration: schedule, dated exceptions, override, roster.

Reads return exactly the documents a write accepts, so GET → edit → PUT
round-trips. Each write validates through the domain, stores, records the
audit row (before and after) and sends ``NOTIFY hotline_config`` in one
transaction; a write of a singleton (schedule, override, roster) first takes
that document's lock, so concurrent writers are served one after the other
(the last one wins, each gets 200) and each audit ``before`` is what the
previous writer left (:mod:`hotline_pbx.store.config_repo`): every running daemon
routes by the change within a second, and a refused write (any 4xx) changes
neither the stored data nor routing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hotline_pbx.api.context import Call, Endpoint, json_response
from hotline_pbx.api.params import parse_int, read_json
from hotline_pbx.api.problems import Problem, bad_query, conflict, not_found
from hotline_pbx.api.schemas.exceptions import stored_date_from_text
from hotline_pbx.api.schemas.roster import roster_from_dict
from hotline_pbx.api.schemas.schedule import schedule_from_dict, schedule_to_dict
from hotline_pbx.domain.contract import MAX_YEAR, MIN_YEAR, AccessRole
from hotline_pbx.domain.errors import ValidationError
from hotline_pbx.domain.line_health import check_roster_spares
from hotline_pbx.store import config_repo

API = "/api/v1"


# -- schedule ---------------------------------------------------------------------


async def _schedule(call: Call) -> Any:
    documents = await config_repo.read_documents(call.conn, call.api.settings.routing.timezone)
    try:
        return schedule_to_dict(schedule_from_dict(documents["schedule"]))
    except ValidationError:
        # Stored by hand or by an older version: shown as stored (and audited
        # as the "before" of the PUT that replaces it), never a refusal.
        return documents["schedule"]


async def get_schedule(call: Call) -> web.StreamResponse:
    return json_response(await _schedule(call))


async def put_schedule(call: Call) -> web.StreamResponse:
    body = await read_json(call.request)
    await config_repo.lock_document(call.conn, "schedule")
    before = await _schedule(call)
    await config_repo.save_schedule(call.conn, body, call.principal.actor)
    after = await _schedule(call)
    await call.audit("schedule.update", "schedule", before=before, after=after)
    return json_response(after)


# -- exceptions --------------------------------------------------------------------


async def get_exceptions(call: Call) -> web.StreamResponse:
    year = parse_int(call.query, "year", default=0, low=MIN_YEAR, high=MAX_YEAR) or None
    documents = await config_repo.read_documents(call.conn, call.api.settings.routing.timezone)
    items = [{**e, "note": call.shown(e.get("note"))} for e in documents["exceptions"]
             if year is None or e["date"].startswith(f"{year}-")]
    return json_response({"items": items})


async def post_exception(call: Call) -> web.StreamResponse:
    body = await read_json(call.request)
    try:
        doc = await config_repo.add_exception(call.conn, body, call.principal.actor)
    except config_repo.ExceptionExists as exists:
        raise conflict(exists) from None
    await call.audit("exception.create", f"exception:{doc['date']}", after=doc)
    return json_response(doc, status=201,
                         headers={"Location": f"{API}/exceptions/{doc['date']}"})


async def _delete_exception(call: Call, raw: str, field: str) -> web.StreamResponse:
    try:
        day = stored_date_from_text(raw, field)
    except ValidationError as error:
        raise bad_query(error.field, error.reason, error.example) from None
    removed = await config_repo.delete_exception(call.conn, day, call.principal.actor)
    if removed is None:
        raise not_found(f"there is no exception for {day}; GET /api/v1/exceptions lists them")
    await call.audit("exception.delete", f"exception:{day}", before=removed)
    return web.Response(status=204)


async def delete_exception_by_query(call: Call) -> web.StreamResponse:
    if "date" not in call.query:
        raise bad_query("date", "is required: which date's exception to delete", "2026-10-01")
    return await _delete_exception(call, call.query["date"], "date")


async def delete_exception(call: Call) -> web.StreamResponse:
    return await _delete_exception(call, call.request.match_info["date"], "date")


# -- override ----------------------------------------------------------------------


async def _override(call: Call) -> dict[str, Any]:
    stored = await config_repo.read_override(call.conn)
    if stored is None:
        return {"override": None, "active": False}
    return {"override": {**stored, "until": call.local(stored["until"]),
                         "set_at": call.local(stored["set_at"])},
            "active": config_repo.override_in_force(stored, datetime.now(UTC))}


async def get_override(call: Call) -> web.StreamResponse:
    state = await _override(call)
    if state["override"] is not None:
        state["override"]["note"] = call.shown(state["override"]["note"])
    return json_response(state)


async def put_override(call: Call) -> web.StreamResponse:
    body = await read_json(call.request)
    if body is None:
        raise Problem(422, "validation", "Invalid input",
                      "to remove the override, send DELETE /api/v1/override",
                      errors=[ValidationError("(body)", "must be an object",
                                              '{"mode": "closed", "until": '
                                              '"2026-10-01T08:30:00+08:00"}')])
    await config_repo.lock_document(call.conn, "override")
    before = await _override(call)
    await config_repo.save_override(call.conn, body, call.principal.actor)
    after = await _override(call)
    await call.audit("override.set", "override", before=before["override"],
                     after=after["override"])
    return json_response(after)


async def delete_override(call: Call) -> web.StreamResponse:
    await config_repo.lock_document(call.conn, "override")
    before = await _override(call)
    await config_repo.save_override(call.conn, None, call.principal.actor)
    await call.audit("override.clear", "override", before=before["override"])
    return web.Response(status=204)


# -- roster ------------------------------------------------------------------------


async def _roster(call: Call) -> Any:
    documents = await config_repo.read_documents(call.conn, call.api.settings.routing.timezone)
    roster = documents["roster"]
    if not isinstance(roster, dict):  # a people document stored by hand: as stored
        return roster
    absences = [{**absence, "from": call.local(absence["from"]), "to": call.local(absence["to"])}
                for absence in roster["absences"]]
    return {"supervisor": roster.get("supervisor"), "deputies": list(roster.get("deputies", [])),
            "absences": absences}


def _shown_roster(call: Call, roster: Any) -> Any:
    if not isinstance(roster, dict):
        return call.shown(roster)

    def person(p: Any) -> Any:
        if not isinstance(p, dict) or not isinstance(p.get("mobile"), str):
            return call.shown(p)  # stored by hand: shown as stored, masked
        return {**call.shown(p), "mobile": call.shown_number(p["mobile"])}

    return {"supervisor": person(roster["supervisor"]),
            "deputies": [person(p) for p in roster["deputies"]],
            "absences": call.shown(roster["absences"])}


async def get_roster(call: Call) -> web.StreamResponse:
    roster = await _roster(call)
    await call.audit_read("roster.read", "roster")  # staff mobiles and absences
    return json_response(_shown_roster(call, roster))


async def put_roster(call: Call) -> web.StreamResponse:
    body = await read_json(call.request)
    line = call.api.settings.line
    if line.enabled:  # the monitor's test number is nobody's mobile
        check_roster_spares(roster_from_dict(body), line.test_number)
    await config_repo.lock_document(call.conn, "roster")
    before = await _roster(call)
    await config_repo.save_roster(call.conn, body, call.principal.actor)
    after = await _roster(call)
    await call.audit("roster.update", "roster", before=before, after=after)
    return json_response(after)


ENDPOINTS = (
    Endpoint("GET", f"{API}/schedule", get_schedule, AccessRole.VIEWER),
    Endpoint("PUT", f"{API}/schedule", put_schedule, AccessRole.ADMIN),
    Endpoint("GET", f"{API}/exceptions", get_exceptions, AccessRole.VIEWER, frozenset({"year"})),
    Endpoint("POST", f"{API}/exceptions", post_exception, AccessRole.ADMIN),
    Endpoint("DELETE", f"{API}/exceptions", delete_exception_by_query, AccessRole.ADMIN,
             frozenset({"date"})),
    Endpoint("DELETE", f"{API}/exceptions/{{date}}", delete_exception, AccessRole.ADMIN),
    Endpoint("GET", f"{API}/override", get_override, AccessRole.VIEWER),
    Endpoint("PUT", f"{API}/override", put_override, AccessRole.ADMIN),
    Endpoint("DELETE", f"{API}/override", delete_override, AccessRole.ADMIN),
    Endpoint("GET", f"{API}/roster", get_roster, AccessRole.VIEWER),
    Endpoint("PUT", f"{API}/roster", put_roster, AccessRole.SUPERVISOR),
)
