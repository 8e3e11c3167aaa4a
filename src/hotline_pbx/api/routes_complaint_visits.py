"""A person's callback visit of a resolved complaint.

``POST /api/v1/complaints/{id}/visit`` (supervisor) — ``{"score": 4, "result":
"satisfied with the repair", "note": "…"}``: the customer's score on the
complaint's scale (``complaints.visit_scale``, else ``complaints.visit_scale``
of the settings: 1-5, or 1 satisfied / 2 not), what they said, a note. 404 for
no such complaint; 409 when it is not resolved (or its customer informed) yet,
or its visit is done already (by the dialer or a person: the first result
stands); 422 for a score off the scale or a bad field, nothing stored. A
dialer job still placing the visit is cancelled. Audited with before and after.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.engine import Row

from hotline_pbx.api.context import Call, Endpoint, json_response
from hotline_pbx.api.params import check_body_text, expect_object, parse_id, read_json
from hotline_pbx.api.problems import Problem, invalid, not_found
from hotline_pbx.domain.contract import MAX_CALL_NOTE_LENGTH, AccessRole
from hotline_pbx.domain.errors import ValidationError
from hotline_pbx.store import complaint_visit_repo as visits

API = "/api/v1"
VISIT_EXAMPLE = {"score": "4", "result": "satisfied with the repair",
                 "note": "asked for a written confirmation"}


def visit_json(call: Call, row: Row[Any]) -> dict[str, Any]:
    return {"id": row.id, "state": row.state, "visit_state": row.visit_state,
            "visit_by": call.shown(row.visit_by), "visit_score": row.visit_score,
            "visit_scale": row.visit_scale, "visit_result": call.shown(row.visit_result),
            "visit_note": call.shown(row.visit_note), "visit_attempts": row.visit_attempts,
            "visited_at": call.local(row.visited_at), "dialer_job_id": row.dialer_job_id}


def _score(value: Any, scale: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= scale:
        meaning = "1 satisfied, 2 not" if scale == 2 else f"1 (worst) to {scale} (best)"
        raise invalid(ValidationError("score", f"must be a whole number on the complaint's "
                                      f"scale: {meaning}", VISIT_EXAMPLE["score"]))
    return value


def _text(fields: dict[str, Any], name: str) -> str:
    value = fields.get(name, "")
    return "" if value == "" else check_body_text(value, name, VISIT_EXAMPLE[name],
                                                  MAX_CALL_NOTE_LENGTH)


async def post_visit(call: Call) -> web.StreamResponse:
    complaint_id = parse_id(call.request, what="complaint")
    fields = expect_object(await read_json(call.request), ("score", "result", "note"),
                           ("score",), VISIT_EXAMPLE)
    row = await visits.lock_complaint(call.conn, complaint_id)
    if row is None:
        raise not_found(f"there is no complaint {complaint_id}")
    scale = int(row.visit_scale or call.api.settings.complaints.visit_scale)
    visit = visits.VisitResult(by=call.principal.name, actor=call.principal.actor,
                               score=_score(fields["score"], scale),
                               result=_text(fields, "result"), note=_text(fields, "note"))
    try:
        changed = await visits.record_person_visit(call.conn, complaint_id, visit)
    except visits.VisitRefused as refused:
        raise _refusal(refused.row) from None
    assert changed is not None  # locked above
    before, after = (visit_json(call, r) for r in changed)
    await call.audit("complaint.visit", f"complaint:{complaint_id}", before=before, after=after)
    return json_response(after)


def _refusal(row: Row[Any]) -> Problem:
    if row.visit_state == "done":
        why = (f"complaint {row.id}'s visit is done already (by {row.visit_by or 'nobody'}, "
               f"score {row.visit_score}); the first result stands")
    else:
        why = (f"complaint {row.id} is {row.state}: a visit is recorded once it is resolved "
               "or its customer informed")
    return Problem(409, "visit-refused", "Visit not possible now", why)


ENDPOINTS = (
    Endpoint("POST", f"{API}/complaints/{{id}}/visit", post_visit, AccessRole.SUPERVISOR),
)
