"""The call purposes and departments (``call_purposes``, one validated document).

:func:`load_catalogue` reads the stored document through
:func:`~hotline_pbx.domain.purposes.parse_catalogue`, the one validation the
API also stores through; no document stored means
:data:`~hotline_pbx.domain.purposes.DEFAULT_CATALOGUE`. A stored document that
no longer parses (written by hand, or by an older version) is logged and the
default used: a bad catalogue never breaks a note, a report or a complaint.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline_pbx.domain.errors import ValidationError
from hotline_pbx.domain.purposes import DEFAULT_CATALOGUE, Catalogue, parse_catalogue
from hotline_pbx.store.models import call_purposes, calls, complaints

log = logging.getLogger(__name__)


async def load_catalogue(conn: AsyncConnection) -> Catalogue:
    """The stored catalogue, or the default one when none is stored or it does not load."""
    document = (await conn.execute(
        select(call_purposes.c.document).where(call_purposes.c.id == 1))).scalar_one_or_none()
    if document is None:
        return DEFAULT_CATALOGUE
    try:
        return parse_catalogue(document)
    except ValidationError as exc:
        log.error("the stored call purposes do not load (%s %s); using the default "
                  "catalogue until an admin stores a valid one (PUT /api/v1/purposes)",
                  exc.field, exc.reason)
        return DEFAULT_CATALOGUE


async def save(conn: AsyncConnection, catalogue: Catalogue, *, by: str) -> None:
    """Store ``catalogue`` (already parsed) as the one document."""
    document = catalogue.as_document()
    stmt = insert(call_purposes).values(id=1, document=document, updated_by=by)
    await conn.execute(stmt.on_conflict_do_update(
        index_elements=[call_purposes.c.id],
        set_={"document": document, "updated_by": by, "updated_at": func.now()}))


async def used_purposes(conn: AsyncConnection, ids: set[str]) -> dict[str, int]:
    """How many stored calls and complaints use each of the purpose ``ids``."""
    if not ids:
        return {}
    counts: dict[str, int] = {}
    for column in (calls.c.purpose, complaints.c.category):
        rows = await conn.execute(select(column, func.count()).where(column.in_(ids))
                                  .group_by(column))
        for value, count in rows.all():
            counts[value] = counts.get(value, 0) + int(count)
    return counts


async def used_departments(conn: AsyncConnection, ids: set[str]) -> dict[str, int]:
    """How many stored complaints name each of the department ``ids``."""
    if not ids:
        return {}
    column = complaints.c.department
    rows = await conn.execute(select(column, func.count()).where(column.in_(ids))
                              .group_by(column))
    return {value: int(count) for value, count in rows.all()}


async def set_call_purpose(conn: AsyncConnection, call_id: int, purpose: str, *,
                           by: str) -> Any:
    """Set a call's purpose; its row before, or None when there is no such call."""
    before = (await conn.execute(select(calls.c.purpose, calls.c.purpose_set_by)
                                 .where(calls.c.id == call_id).with_for_update())).first()
    if before is None:
        return None
    await conn.execute(calls.update().where(calls.c.id == call_id)
                       .values(purpose=purpose, purpose_set_by=by))
    return before
