"""Read-only lists: line faults, blocked outbound attempts, the audit log.

Each read is itself written to the audit log (``faults.list``,
``blocked_outbound.list``, ``audit.list``, with the query and the row count)
in the same transaction as the read."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.engine import Row

from hotline_pbx.api.context import Call, Endpoint, json_response
from hotline_pbx.api.params import (
    decode_cursor,
    encode_cursor,
    parse_int,
    parse_text,
    time_filter,
)
from hotline_pbx.domain.contract import AccessRole
from hotline_pbx.store import api_repo

API = "/api/v1"
PAGE_QUERY = frozenset({"from", "to", "limit", "cursor"})
_WORD = r"[A-Za-z0-9_.:@-]{1,100}"


def _limit(call: Call) -> int:
    return parse_int(call.query, "limit", default=50, low=1, high=500)


def _details(call: Call, value: Any) -> Any:
    return call.shown(value if isinstance(value, dict) else {})


def fault_json(call: Call, row: Row[Any]) -> dict[str, Any]:
    duration = None
    if row.ended_at is not None:
        duration = (row.ended_at - row.started_at).total_seconds()
    return {"id": row.id, "cause": row.cause, "source": row.source,
            "started_at": call.local(row.started_at), "ended_at": call.local(row.ended_at),
            "duration_seconds": duration, "details": _details(call, row.details),
            # the paper fault form (PATCH /api/v1/faults/{id})
            "reported_by": call.shown(row.reported_by), "reported_at": call.local(row.reported_at),
            "repaired_at": call.local(row.repaired_at), "note": call.shown(row.note),
            "updated_at": call.local(row.updated_at)}


async def list_faults(call: Call) -> web.StreamResponse:
    cause = parse_text(call.query, "cause", _WORD, "no_answer", "a fault cause")
    rows, cursor = await api_repo.list_faults(
        call.conn, time_filter(call.query, call.zone), cause=cause,
        after=decode_cursor(call.query), limit=_limit(call))
    await call.audit_read("faults.list", "faults", count=len(rows))
    return json_response({"items": [fault_json(call, row) for row in rows],
                          "next_cursor": encode_cursor(cursor)})


def blocked_json(call: Call, row: Row[Any]) -> dict[str, Any]:
    shown = call.shown
    return {"id": row.id, "occurred_at": call.local(row.occurred_at),
            "source_channel": shown(row.source_channel), "source": shown(row.source),
            "dialled_number": shown(row.dialled_number), "method": row.method,
            "action": row.action, "reaction_ms": row.reaction_ms,
            "details": _details(call, row.details)}


async def list_blocked(call: Call) -> web.StreamResponse:
    rows, cursor = await api_repo.list_blocked(
        call.conn, time_filter(call.query, call.zone), after=decode_cursor(call.query),
        limit=_limit(call))
    await call.audit_read("blocked_outbound.list", "blocked-outbound", count=len(rows))
    return json_response({"items": [blocked_json(call, row) for row in rows],
                          "next_cursor": encode_cursor(cursor)})


def audit_json(call: Call, row: Row[Any]) -> dict[str, Any]:
    return {"id": row.id, "at": call.local(row.at), "actor": row.actor, "action": row.action,
            "target": row.target, "before": row.before, "after": row.after,
            "client": row.client}


async def list_audit(call: Call) -> web.StreamResponse:
    rows, cursor = await api_repo.list_audit(
        call.conn, time_filter(call.query, call.zone),
        actor=parse_text(call.query, "actor", _WORD, "token:alice", "an actor name"),
        action=parse_text(call.query, "action", _WORD, "schedule.update", "an action name"),
        after=decode_cursor(call.query), limit=_limit(call))
    # The log holds customer data too (notes, the roster's mobiles): whoever
    # reads it is on record.
    await call.audit_read("audit.list", "audit", count=len(rows))
    return json_response({"items": [audit_json(call, row) for row in rows],
                          "next_cursor": encode_cursor(cursor)})


ENDPOINTS = (
    Endpoint("GET", f"{API}/faults", list_faults, AccessRole.VIEWER, PAGE_QUERY | {"cause"}),
    Endpoint("GET", f"{API}/blocked-outbound", list_blocked, AccessRole.VIEWER, PAGE_QUERY),
    Endpoint("GET", f"{API}/audit", list_audit, AccessRole.ADMIN, PAGE_QUERY | {"actor", "action"}),
)
