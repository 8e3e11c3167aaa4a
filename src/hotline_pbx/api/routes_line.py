"""The line: its health now, a test call on demand, the fault form.

``GET /api/v1/line`` — ``{up, last_test_at, last_result, open_fault, open_faults}``
from the records the line monitor wrote (any instance answers the same).
``up`` is ``null`` until anything is known (no test yet, no fault ever).

``POST /api/v1/line/test`` (admin) — asks the instance that runs the monitor
(``NOTIFY hotline_line``) for a test call now and waits for its result (200).
Requests that arrive while a test runs are all answered by the next one.
409 when the line monitor is disabled here (``line.enabled = false``: nothing
is wrong with the server, it is not configured to test), 503 when no instance
ran the test in time (none holds the monitor's lock, or cannot write to
PostgreSQL).

``PATCH /api/v1/faults/{id}`` (supervisor) — the paper fault form: who reported
it to the technical department and when, when it was repaired, a note.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from aiohttp import web
from sqlalchemy.engine import Row

from hotline_pbx.api.context import Call, Endpoint, json_response
from hotline_pbx.api.params import parse_id, read_json
from hotline_pbx.api.problems import Problem, not_found
from hotline_pbx.api.routes_reports import fault_json
from hotline_pbx.api.schemas.fault_form import fault_form_from_dict
from hotline_pbx.domain.contract import AccessRole
from hotline_pbx.domain.line_health import TEST_TIMEOUT_RANGE
from hotline_pbx.line_monitor import ARRIVAL_GRACE, notify_line
from hotline_pbx.store import line_repo
from hotline_pbx.store.api_repo import record_audit

API = "/api/v1"
#: How often a waiting POST /line/test looks for its result.
POLL_SECONDS = 0.25


def test_json(call: Call, row: Row[Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {"started_at": call.local(row.started_at), "ended_at": call.local(row.ended_at),
            "passed": row.passed, "cause": row.cause,
            "round_trip_seconds": row.round_trip_seconds,
            "requested_by": row.requested_by or None,
            "detail": call.shown((row.details or {}).get("detail", ""))}


async def get_line(call: Call) -> web.StreamResponse:
    last = await line_repo.last_test(call.conn)
    faults = await line_repo.open_fault_rows(call.conn)
    up = None if last is None and not faults else not faults
    await call.audit_read("line.read", "line")
    return json_response({
        "monitor": "enabled" if call.api.settings.line.enabled else "disabled",
        "up": up,
        "last_test_at": None if last is None else call.local(last.started_at),
        "last_result": test_json(call, last),
        "open_fault": fault_json(call, faults[0]) if faults else None,
        "open_faults": [fault_json(call, row) for row in faults],
    })


def _wait_budget(call: Call) -> float:
    """A test running when the request came, then the request's own test."""
    return wait_budget(call.api.settings.line.test_timeout)


def wait_budget(test_timeout: float) -> float:
    return 2 * (test_timeout + ARRIVAL_GRACE) + 5.0


async def post_line_test(call: Call) -> web.StreamResponse:
    line = call.api.settings.line
    if not line.enabled:
        raise Problem(409, "line-monitor-disabled", "Line monitor disabled",
                      "this instance has line.enabled = false: no test calls are placed "
                      "(set [line] enabled, test_number and test_caller, and ARI)")
    key = uuid.uuid4().hex
    async with call.api.transaction() as conn:  # on record before the test is asked for
        await record_audit(conn, actor=call.principal.actor, action="line.test",
                           target="line", after={"request": key}, client=call.client)
    await notify_line(call.api.engine, {"run": key, "by": call.principal.actor})
    deadline = time.monotonic() + _wait_budget(call)
    while time.monotonic() < deadline:
        await asyncio.sleep(POLL_SECONDS)
        async with call.api.transaction() as conn:
            row = await line_repo.test_serving(conn, key)
        if row is not None:
            return json_response(test_json(call, row))
    raise Problem(503, "line-monitor-unavailable", "No line monitor answered",
                  f"no instance ran the test within {_wait_budget(call):.0f}s: none holds "
                  "the line monitor (GET /readyz, component line, on each instance), or it "
                  "cannot write to PostgreSQL; the request is dropped, ask again later",
                  headers={"Retry-After": str(int(line.retest_every))})


async def patch_fault(call: Call) -> web.StreamResponse:
    fault_id = parse_id(call.request, what="fault")
    changes = fault_form_from_dict(await read_json(call.request))
    changed = await line_repo.update_fault_form(call.conn, fault_id, changes)
    if changed is None:
        raise not_found(f"there is no line fault {fault_id}")
    before, after = (fault_json(call, row) for row in changed)
    await call.audit("fault.update", f"fault:{fault_id}", before=before, after=after)
    return json_response(after)


ENDPOINTS = (
    Endpoint("GET", f"{API}/line", get_line, AccessRole.VIEWER),
    # Waits for the test call: longer than a query's deadline, and holds no
    # transaction while it waits (short ones of its own).
    Endpoint("POST", f"{API}/line/test", post_line_test, AccessRole.ADMIN, streams=True,
             deadline=wait_budget(TEST_TIMEOUT_RANGE[1]) + 10),
    Endpoint("PATCH", f"{API}/faults/{{id}}", patch_fault, AccessRole.SUPERVISOR),
)
