"""Queries behind the REST API: tokens, audit log, calls and notes, faults,
blocked outbound attempts, and the retention purge.

Every function takes the caller's connection, so a handler runs its read or
write and the audit row that records it in one transaction. Lists are
newest first with keyset pagination on ``(time, id)``: a page is one index
range scan however deep the client pages, and rows written meanwhile never
shift a page.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline_pbx.store import models

Cursor = tuple[datetime, int]

TOKEN_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
# last_used_at is a hint for operators ("is this token still used?"): writing
# it at most once a minute keeps an API poller from updating the row on
# every request.
_LAST_USED_RESOLUTION = "1 minute"


# -- tokens ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TokenRow:
    id: int
    name: str
    role: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenError(ValueError):
    """A token command that cannot be done; the message says why."""


async def create_token(conn: AsyncConnection, name: str, role: str, token_hash: str) -> int:
    if TOKEN_NAME.fullmatch(name) is None:
        raise TokenError(f"{name!r} is not a valid token name; use 1-64 letters, digits, "
                         "'.', '_', '@' or '-', e.g. alice or grafana-reader")
    if role not in ("admin", "supervisor", "viewer"):
        raise TokenError(f"unknown role {role!r}; use admin, supervisor or viewer")
    existing = await conn.execute(select(models.api_tokens.c.id).where(
        models.api_tokens.c.name == name, models.api_tokens.c.revoked_at.is_(None)))
    if existing.first() is not None:
        raise TokenError(f"a token named {name!r} already exists; revoke it first "
                         f"(`hotline-pbx token revoke {name}`) or choose another name")
    result = await conn.execute(insert(models.api_tokens).values(
        name=name, role=role, token_hash=token_hash).returning(models.api_tokens.c.id))
    return int(result.scalar_one())


async def list_tokens(conn: AsyncConnection) -> list[TokenRow]:
    t = models.api_tokens
    rows = await conn.execute(select(t.c.id, t.c.name, t.c.role, t.c.created_at,
                                     t.c.last_used_at, t.c.revoked_at).order_by(t.c.id))
    return [TokenRow(*row) for row in rows]


async def revoke_token(conn: AsyncConnection, name_or_id: str) -> TokenRow | None:
    """Revoke the active token with this name (or id); None if there is none."""
    t = models.api_tokens
    match: ColumnElement[bool] = t.c.name == name_or_id
    if name_or_id.isdigit() and len(name_or_id) < 10:
        match = or_(match, t.c.id == int(name_or_id))
    result = await conn.execute(
        update(t).where(match, t.c.revoked_at.is_(None)).values(revoked_at=func.now())
        .returning(t.c.id, t.c.name, t.c.role, t.c.created_at, t.c.last_used_at,
                   t.c.revoked_at))
    rows = result.all()
    return TokenRow(*rows[0]) if rows else None


async def authenticate(conn: AsyncConnection, token_hash: str) -> tuple[int, str, str] | None:
    """(id, name, role) of the active token with this hash, or None.

    Run it in a transaction of its own, committed before the request's work
    starts: the touch of ``last_used_at`` then locks the token's row for one
    statement, not for the life of a request (an export runs for minutes).
    ``SKIP LOCKED``: when another request of the same token is touching the
    row right now, this one leaves the touch to it instead of waiting.
    """
    t = models.api_tokens
    stale = or_(t.c.last_used_at.is_(None), t.c.last_used_at
                < func.now() - literal_column(f"interval '{_LAST_USED_RESOLUTION}'"))
    row = (await conn.execute(
        select(t.c.id, t.c.name, t.c.role, stale.label("stale"))
        .where(t.c.token_hash == token_hash, t.c.revoked_at.is_(None)))).first()
    if row is None:
        return None
    if row.stale:
        free = (select(t.c.id).where(t.c.id == row.id, stale)
                .with_for_update(skip_locked=True).scalar_subquery())
        await conn.execute(update(t).where(t.c.id == free).values(last_used_at=func.now()))
    return int(row.id), str(row.name), str(row.role)


# -- audit -------------------------------------------------------------------------


async def record_audit(conn: AsyncConnection, *, actor: str, action: str, target: str = "",
                       before: Any = None, after: Any = None, client: str = "") -> None:
    """``at`` is when the change took effect: the clock at this insert, after
    the writer took its document's lock, not the transaction's start
    (``now()``), which may come before a wait for that lock. So the log in
    time order reads as the chain of ``before`` and ``after`` it records."""
    await conn.execute(insert(models.audit_log).values(
        at=func.clock_timestamp(), actor=actor, action=action, target=target, before=before,
        after=after, client=client))


@dataclass(frozen=True, slots=True)
class TimeFilter:
    """``[start, end)`` on the list's time column; either end may be open."""

    start: datetime | None = None
    end: datetime | None = None


def _time_window(column: Any, window: TimeFilter) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if window.start is not None:
        where.append(column >= window.start)
    if window.end is not None:
        where.append(column < window.end)
    return where


def _page(query: Select[Any], time_col: Any, id_col: Any, after: Cursor | None,
          limit: int) -> Select[Any]:
    if after is not None:
        query = query.where(tuple_(time_col, id_col) < tuple_(*after))
    return query.order_by(time_col.desc(), id_col.desc()).limit(limit + 1)


def _split_page(rows: Sequence[Row[Any]], limit: int, time_key: str) -> tuple[
        list[Row[Any]], Cursor | None]:
    """The page and the cursor of its last row, if there is a next page."""
    if len(rows) <= limit:
        return list(rows), None
    page = list(rows[:limit])
    last = page[-1]
    return page, (getattr(last, time_key), int(last.id))


async def list_audit(conn: AsyncConnection, window: TimeFilter, *, actor: str | None,
                     action: str | None, after: Cursor | None,
                     limit: int) -> tuple[list[Row[Any]], Cursor | None]:
    a = models.audit_log
    query = select(a).where(*_time_window(a.c.at, window))
    if actor is not None:
        query = query.where(a.c.actor == actor)
    if action is not None:
        query = query.where(a.c.action == action)
    rows = (await conn.execute(_page(query, a.c.at, a.c.id, after, limit))).all()
    return _split_page(rows, limit, "at")


# -- calls and notes ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CallFilter:
    window: TimeFilter = TimeFilter()
    period: str | None = None
    outcome: str | None = None
    caller: str | None = None
    include_test: bool = False

    def conditions(self) -> list[ColumnElement[bool]]:
        c = models.calls.c
        where = _time_window(c.started_at, self.window)
        if self.period is not None:
            where.append(c.period == self.period)
        if self.outcome is not None:
            where.append(c.outcome == self.outcome)
        if self.caller is not None:
            where.append(c.caller == self.caller)
        if not self.include_test:
            where.append(c.is_test.is_(False))
        return where


def _note_count() -> Any:
    n = models.call_notes
    return (select(func.count()).where(n.c.call_id == models.calls.c.id)
            .scalar_subquery().label("note_count"))


async def list_calls(conn: AsyncConnection, flt: CallFilter, *, after: Cursor | None,
                     limit: int) -> tuple[list[Row[Any]], Cursor | None]:
    c = models.calls
    query = select(c, _note_count()).where(*flt.conditions())
    rows = (await conn.execute(_page(query, c.c.started_at, c.c.id, after, limit))).all()
    return _split_page(rows, limit, "started_at")


async def get_call(conn: AsyncConnection, call_id: int) -> Row[Any] | None:
    c = models.calls
    return (await conn.execute(select(c, _note_count()).where(c.c.id == call_id))).first()


async def call_notes(conn: AsyncConnection, call_id: int) -> list[Row[Any]]:
    n = models.call_notes
    return list((await conn.execute(
        select(n).where(n.c.call_id == call_id).order_by(n.c.created_at, n.c.id))).all())


async def add_note(conn: AsyncConnection, call_id: int, author: str, body: str) -> Row[Any]:
    """Append a note (notes are never edited: a correction is another note)."""
    n = models.call_notes
    result = await conn.execute(insert(n).values(call_id=call_id, author=author, body=body)
                                .returning(*n.c))
    return result.one()


async def register_page(conn: AsyncConnection, flt: CallFilter, *, after: Cursor | None,
                        limit: int) -> list[Row[Any]]:
    """One page of the call register, oldest first, each call with its notes
    joined: the calls after ``after`` (started_at, id). An export reads page
    after page, each in a short transaction of its own, so a slow download
    never holds a connection or a snapshot while the client reads."""
    c, n = models.calls, models.call_notes
    separator: Any = aggregate_order_by(literal_column("' | '"), n.c.created_at, n.c.id)
    notes = (select(func.string_agg(n.c.author + literal_column("': '") + n.c.body, separator))
             .where(n.c.call_id == c.c.id).scalar_subquery().label("notes"))
    query: Select[Any] = (
        select(c.c.id, c.c.started_at, c.c.caller, c.c.period, c.c.outcome,
               c.c.wait_seconds, c.c.talk_seconds, c.c.answered_by, notes,
               c.c.purpose)  # call purposes (issue 13)
        .where(*flt.conditions()))
    if after is not None:
        query = query.where(tuple_(c.c.started_at, c.c.id) > tuple_(*after))
    return list((await conn.execute(
        query.order_by(c.c.started_at, c.c.id).limit(limit))).all())


async def count_calls(conn: AsyncConnection, flt: CallFilter) -> int:
    return int((await conn.execute(
        select(func.count()).select_from(models.calls).where(*flt.conditions()))).scalar_one())


# -- faults and blocked outbound ---------------------------------------------------


async def list_faults(conn: AsyncConnection, window: TimeFilter, *, cause: str | None,
                      after: Cursor | None, limit: int) -> tuple[list[Row[Any]], Cursor | None]:
    f = models.line_faults
    query = select(f).where(*_time_window(f.c.started_at, window))
    if cause is not None:
        query = query.where(f.c.cause == cause)
    rows = (await conn.execute(_page(query, f.c.started_at, f.c.id, after, limit))).all()
    return _split_page(rows, limit, "started_at")


async def list_blocked(conn: AsyncConnection, window: TimeFilter, *, after: Cursor | None,
                       limit: int) -> tuple[list[Row[Any]], Cursor | None]:
    b = models.blocked_outbound
    query = select(b).where(*_time_window(b.c.occurred_at, window))
    rows = (await conn.execute(_page(query, b.c.occurred_at, b.c.id, after, limit))).all()
    return _split_page(rows, limit, "occurred_at")


# -- retention ---------------------------------------------------------------------

# Which records the purge deletes, and which of their rows are old. Notes go
# with their call (ON DELETE CASCADE) and are counted first. A line fault
# that has not ended is current whatever its start, so it stays.
def _purged(cutoff: datetime) -> dict[str, tuple[Any, ColumnElement[bool]]]:
    c, b, f, a = models.calls, models.blocked_outbound, models.line_faults, models.audit_log
    cb, j = models.callbacks, models.dialer_jobs
    return {
        "calls": (c, c.c.started_at < cutoff),
        # Customers' numbers: settled tasks, and finished or cancelled dialer jobs
        # (their targets and attempts go with them, ON DELETE CASCADE).
        "callbacks": (cb, and_(cb.c.state.in_(("done", "cancelled")), cb.c.created_at < cutoff)),
        "dialer_jobs": (j, and_(j.c.state != "active", j.c.created_at < cutoff)),
        # Archived complaints (their events go with them) and old digests (issue 13).
        "complaints": (models.complaints, and_(models.complaints.c.state == "archived",
                                               models.complaints.c.archived_at < cutoff)),
        "complaint_digests": (models.complaint_digests,
                              models.complaint_digests.c.generated_at < cutoff),
        "blocked_outbound": (b, b.c.occurred_at < cutoff),
        "line_faults": (f, and_(f.c.ended_at.is_not(None), f.c.ended_at < cutoff)),
        "audit_log": (a, a.c.at < cutoff),
    }


async def purge(conn: AsyncConnection, cutoff: datetime, *, dry_run: bool = False
                ) -> dict[str, int]:
    """Delete (or only count) records older than ``cutoff``; rows per table."""
    c, n = models.calls, models.call_notes
    counts = {"call_notes": int((await conn.execute(
        select(func.count()).select_from(n.join(c, n.c.call_id == c.c.id))
        .where(c.c.started_at < cutoff))).scalar_one())}
    for name, (table, old) in _purged(cutoff).items():
        if dry_run:
            counts[name] = int((await conn.execute(
                select(func.count()).select_from(table).where(old))).scalar_one())
        else:
            result = await conn.execute(delete(table).where(old))
            counts[name] = int(result.rowcount)
    return counts

