"""The statistics pack's operations sections: after-hours calls and who took
them, failovers, blocked outbound attempts, line faults and downtime, callbacks
against their deadlines, long calls and the longest waits.

Each reads one table for the span ``[start, end)`` of the pack (a call by its
``started_at``, a fault by any overlap, a callback by ``created_at``, a blocked
attempt by ``occurred_at``). No caller's number or name is in any section: the
longest waits list times, waits and outcomes only. docs/kpi.md ("The monthly
pack") defines them.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline_pbx.domain.contract import Period
from hotline_pbx.domain.monthly import Span, downtime_seconds
from hotline_pbx.store.models import blocked_outbound, callbacks, calls, line_faults, line_tests

LONGEST_WAITS = 5  # calls listed under "longest waits"
_OFFERED = and_(calls.c.is_test.is_(False), calls.c.period != Period.UNROUTED.value)


def _in_span(column: Any, span: Span) -> Any:
    return and_(column >= span.start, column < span.end)


async def operations_summary(conn: AsyncConnection, span: Span, now: datetime
                             ) -> dict[str, Any]:
    return {
        "after_hours": await after_hours(conn, span),
        "failovers": await failovers(conn, span),
        "blocked_outbound": await blocked_attempts(conn, span),
        "line": await line_summary(conn, span, now),
        "callbacks": await callback_summary(conn, span, now),
        "long_calls": await long_calls(conn, span),
        "longest_waits": await longest_waits(conn, span),
    }


async def after_hours(conn: AsyncConnection, span: Span) -> dict[str, Any]:
    """Offered calls outside the open period (closed, override, fail-safe) and who
    answered them: the supervisor or which deputy (``answered_by``)."""
    c = calls.c
    rows = (await conn.execute(
        select(c.period, c.answered_role, c.answered_by, c.outcome, func.count().label("n"))
        .where(_in_span(c.started_at, span), _OFFERED, c.period != Period.OPEN.value)
        .group_by(c.period, c.answered_role, c.answered_by, c.outcome))).all()
    by_period: Counter[str] = Counter()
    taken: Counter[tuple[str, str]] = Counter()
    answered = 0
    for row in rows:
        by_period[row.period] += row.n
        if row.outcome == "answered":
            answered += row.n
            taken[(row.answered_role or "unknown", row.answered_by or "")] += row.n
    total = sum(by_period.values())
    return {"calls": total, "answered": answered, "not_answered": total - answered,
            "by_period": dict(sorted(by_period.items())),
            "taken_by": [{"role": role, "person": person, "calls": n}
                         for (role, person), n in sorted(taken.items())]}


async def failovers(conn: AsyncConnection, span: Span) -> dict[str, Any]:
    """Calls that rang more than the first person (``failover_attempts`` > 0)."""
    c = calls.c
    row = (await conn.execute(
        select(func.count().label("calls"),
               func.coalesce(func.sum(c.failover_attempts), 0).label("attempts"),
               func.count().filter(c.outcome == "answered").label("answered"))
        .where(_in_span(c.started_at, span), _OFFERED, c.failover_attempts > 0))).one()
    return {"calls": int(row.calls), "attempts": int(row.attempts),
            "answered": int(row.answered)}


async def blocked_attempts(conn: AsyncConnection, span: Span) -> dict[str, Any]:
    b = blocked_outbound.c
    rows = (await conn.execute(
        select(b.action, func.count().label("n"))
        .where(_in_span(b.occurred_at, span)).group_by(b.action))).all()
    by_action = {row.action: int(row.n) for row in rows}
    return {"count": sum(by_action.values()), "by_action": dict(sorted(by_action.items()))}


async def line_summary(conn: AsyncConnection, span: Span, now: datetime) -> dict[str, Any]:
    """Faults that overlap the span (count by cause of those that began in it) and
    the time the line was down within it, overlaps counted once."""
    f = line_faults.c
    faults = (await conn.execute(
        select(f.cause, f.started_at, f.ended_at)
        .where(f.started_at < span.end,
               or_(f.ended_at.is_(None), f.ended_at > span.start)))).all()
    began = Counter(row.cause for row in faults if row.started_at >= span.start)
    t = line_tests.c
    tests = (await conn.execute(
        select(func.count().label("n"), func.count().filter(t.passed).label("passed"))
        .where(_in_span(t.started_at, span)))).one()
    down = downtime_seconds(((r.started_at, r.ended_at) for r in faults), span.start,
                            span.end, now)
    return {"faults": sum(began.values()), "by_cause": dict(sorted(began.items())),
            "still_open": sum(1 for r in faults if r.ended_at is None),
            "downtime_seconds": round(down, 1),
            "tests": int(tests.n), "tests_passed": int(tests.passed)}


async def callback_summary(conn: AsyncConnection, span: Span, now: datetime
                           ) -> dict[str, Any]:
    """Callback tasks opened in the span: done, done by their deadline, still open
    past it."""
    cb = callbacks.c
    rows = (await conn.execute(
        select(cb.reason, cb.state, cb.due_at, cb.done_at)
        .where(_in_span(cb.created_at, span)))).all()
    done = [r for r in rows if r.state == "done"]
    on_time = sum(1 for r in done if r.done_at is not None and r.done_at <= r.due_at)
    overdue = sum(1 for r in rows if r.state in ("open", "dialling") and r.due_at < now)
    return {"opened": len(rows), "done": len(done), "done_by_deadline": on_time,
            "on_time_rate": on_time / len(done) if done else None,
            "cancelled": sum(1 for r in rows if r.state == "cancelled"),
            "overdue": overdue,
            "by_reason": dict(sorted(Counter(r.reason for r in rows).items()))}


async def long_calls(conn: AsyncConnection, span: Span) -> dict[str, Any]:
    c = calls.c
    row = (await conn.execute(
        select(func.count().label("n"), func.max(c.talk_seconds).label("longest"))
        .where(_in_span(c.started_at, span), _OFFERED, c.long_call.is_(True)))).one()
    return {"count": int(row.n),
            "longest_talk_seconds": None if row.longest is None else float(row.longest)}


async def longest_waits(conn: AsyncConnection, span: Span) -> list[dict[str, Any]]:
    """The :data:`LONGEST_WAITS` offered calls that waited longest, any outcome."""
    c = calls.c
    rows = (await conn.execute(
        select(c.id, c.started_at, c.wait_seconds, c.outcome, c.period)
        .where(_in_span(c.started_at, span), _OFFERED, c.wait_seconds.is_not(None))
        .order_by(c.wait_seconds.desc(), c.id).limit(LONGEST_WAITS))).all()
    return [{"call_id": r.id, "started_at": r.started_at.astimezone(span.zone).isoformat(),
             "wait_seconds": float(r.wait_seconds), "outcome": r.outcome, "period": r.period}
            for r in rows]
