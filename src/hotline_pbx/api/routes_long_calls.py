"""Long calls: the queues now, and "continue from another line" (issue 12).

``GET /api/v1/long-calls`` — callers waiting, the longest wait, the free agents,
and every call connected to an agent with its duration and whether it is
flagged long. Live state of this instance's queue watch (every instance sees
the same AMI events), not the database; caller numbers masked for a viewer.

``POST /api/v1/long-calls/{linkedid}/callback`` (supervisor) — opens a callback
task (reason ``long_call``) for the caller, plays the apology and hangs the
caller up. 404 when no such call is connected to an agent now; 409 when it is
not flagged long, unless ``?force=true`` (a supervisor may end any connected
call this way: the agent asked before the threshold). Idempotent for the task:
a second POST for the same call opens no second task (``task_id`` null).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from hotline_pbx.api.context import Call, Endpoint, json_response
from hotline_pbx.api.problems import Problem, not_found
from hotline_pbx.domain.contract import AccessRole
from hotline_pbx.long_calls import LongCallService, NoSuchCall, NotLong

API = "/api/v1"
MAX_LINKEDID = 64


def _service(call: Call) -> LongCallService | None:
    return call.api.long_calls


def _shown_entry(call: Call, entry: dict[str, Any]) -> dict[str, Any]:
    shown = dict(entry)
    shown["caller"] = call.shown_number(entry["caller"])
    shown["connected_at"] = call.local(datetime.fromtimestamp(entry["connected_at"], UTC))
    return shown


async def get_long_calls(call: Call) -> web.StreamResponse:
    service = _service(call)
    if service is None:
        body: dict[str, Any] = {"watching": False, "callers_waiting": 0,
                                "longest_wait_seconds": 0.0, "free_agents": [],
                                "threshold_seconds": call.api.settings.long_call.threshold,
                                "calls": []}
    else:
        body = {"watching": True, **service.listing()}
        body["calls"] = [_shown_entry(call, entry) for entry in body["calls"]]
    await call.audit_read("long_calls.read", "long-calls", count=len(body["calls"]))
    return json_response(body)


def _force(call: Call) -> bool:
    value = call.query.get("force", "false")
    if value not in ("true", "false"):
        raise Problem(400, "invalid-query", "Invalid query parameter",
                      f"force must be true or false, not {value[:20]!r}")
    return value == "true"


async def post_long_call_callback(call: Call) -> web.StreamResponse:
    linkedid = call.request.match_info["linkedid"]
    force = _force(call)
    service = _service(call)
    if service is None or not linkedid or len(linkedid) > MAX_LINKEDID:
        raise not_found(f"no call {linkedid[:MAX_LINKEDID]!r} is connected to an agent "
                        "(GET /api/v1/long-calls lists them)")
    try:
        done = await service.continue_elsewhere(linkedid, force=force)
    except NoSuchCall:
        raise not_found(f"no call {linkedid!r} is connected to an agent now (it ended, or "
                        "never reached one; GET /api/v1/long-calls lists them)") from None
    except NotLong:
        raise Problem(409, "not-long", "Not a long call",
                      f"call {linkedid!r} is not flagged long (connected less than "
                      f"{service.settings.threshold:g}s, or nobody waited); "
                      "add ?force=true to end it with a callback task anyway") from None
    result = {"linkedid": done.linkedid, "task_id": done.task_id,
              "apology_played": done.apology_played, "hung_up": done.hung_up}
    await call.audit("long_call.callback", f"call:{linkedid}", after=result)
    return json_response(result)


ENDPOINTS = (
    Endpoint("GET", f"{API}/long-calls", get_long_calls, AccessRole.VIEWER),
    # Plays the apology before the hang-up: up to APOLOGY_TIMEOUT beyond a query.
    Endpoint("POST", f"{API}/long-calls/{{linkedid}}/callback", post_long_call_callback,
             AccessRole.SUPERVISOR, frozenset({"force"}), deadline=30.0),
)
