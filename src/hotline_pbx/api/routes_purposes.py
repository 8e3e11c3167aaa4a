"""The call purposes and departments, and a call's purpose.

``GET /api/v1/purposes`` (viewer) — the catalogue in force (the default until
an admin stores one). ``PUT /api/v1/purposes`` (admin) — a whole new catalogue,
validated by :func:`~hotline_pbx.domain.purposes.parse_catalogue` (422 naming
the field), audited with before and after. A purpose still used by stored
calls or complaints, or a department still named by a complaint, cannot be
removed (409 naming it and how many records use it): the monthly statistics
and the complaint register would otherwise show ids nobody can read. Rename
it instead (same id, new name).

``PUT /api/v1/calls/{id}/purpose`` (supervisor) — ``{"purpose": "query"}``;
``POST /api/v1/calls/{id}/notes`` accepts the same optional ``purpose``. An
unknown purpose is a 422 naming ``purpose``, and nothing is stored.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hotline_pbx.api.context import Call, Endpoint, json_response
from hotline_pbx.api.params import expect_object, parse_id, read_json
from hotline_pbx.api.problems import Problem, invalid, not_found
from hotline_pbx.domain.contract import AccessRole
from hotline_pbx.domain.errors import ValidationError
from hotline_pbx.domain.purposes import Catalogue, parse_catalogue
from hotline_pbx.store import purpose_repo

API = "/api/v1"
PURPOSE_EXAMPLE = {"purpose": "query"}


async def check_purpose(call: Call, value: Any) -> str:
    """``value`` if it is a purpose of the catalogue in force, else a 422 naming ``purpose``."""
    catalogue = await purpose_repo.load_catalogue(call.conn)
    if not isinstance(value, str) or catalogue.purpose(value) is None:
        known = ", ".join(p.id for p in catalogue.purposes)
        raise invalid(ValidationError("purpose", f"unknown purpose {value!r}; known: {known}",
                                      PURPOSE_EXAMPLE["purpose"]))
    return value


async def get_purposes(call: Call) -> web.StreamResponse:
    catalogue = await purpose_repo.load_catalogue(call.conn)
    return json_response(catalogue.as_document())


async def _refuse_removals(call: Call, before: Catalogue, after: Catalogue) -> None:
    gone = {p.id for p in before.purposes} - {p.id for p in after.purposes}
    for purpose, count in sorted((await purpose_repo.used_purposes(call.conn, gone)).items()):
        raise Problem(409, "in-use", "Still in use",
                      f"purposes: {purpose!r} is the purpose of {count} stored calls or "
                      "complaints and cannot be removed; keep it (you may rename it)",
                      errors=[ValidationError("purposes", f"{purpose!r} is in use", purpose)])
    gone = {d.id for d in before.departments} - {d.id for d in after.departments}
    for department, count in sorted(
            (await purpose_repo.used_departments(call.conn, gone)).items()):
        raise Problem(409, "in-use", "Still in use",
                      f"departments: {department!r} is responsible for {count} stored "
                      "complaints and cannot be removed; keep it (you may rename it)",
                      errors=[ValidationError("departments", f"{department!r} is in use",
                                              department)])


async def put_purposes(call: Call) -> web.StreamResponse:
    try:
        catalogue = parse_catalogue(await read_json(call.request))
    except ValidationError as exc:
        raise invalid(exc) from None
    before = await purpose_repo.load_catalogue(call.conn)
    await _refuse_removals(call, before, catalogue)
    await purpose_repo.save(call.conn, catalogue, by=call.principal.actor)
    after = catalogue.as_document()
    await call.audit("purposes.update", "purposes", before=before.as_document(), after=after)
    return json_response(after)


async def put_call_purpose(call: Call) -> web.StreamResponse:
    call_id = parse_id(call.request)
    body = expect_object(await read_json(call.request), ("purpose",), ("purpose",),
                         PURPOSE_EXAMPLE)
    purpose = await check_purpose(call, body["purpose"])
    before = await purpose_repo.set_call_purpose(call.conn, call_id, purpose,
                                                 by=call.principal.name)
    if before is None:
        raise not_found(f"there is no call {call_id}")
    after = {"id": call_id, "purpose": purpose, "purpose_set_by": call.principal.name}
    await call.audit("call.purpose", f"call:{call_id}",
                     before={"purpose": before.purpose, "purpose_set_by": before.purpose_set_by},
                     after=after)
    return json_response({**after, "purpose_set_by": call.shown(call.principal.name)})


ENDPOINTS = (
    Endpoint("GET", f"{API}/purposes", get_purposes, AccessRole.VIEWER),
    Endpoint("PUT", f"{API}/purposes", put_purposes, AccessRole.ADMIN),
    Endpoint("PUT", f"{API}/calls/{{id}}/purpose", put_call_purpose, AccessRole.SUPERVISOR),
)
