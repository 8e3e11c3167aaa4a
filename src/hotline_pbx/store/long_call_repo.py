"""The ``long_call`` flag of a call already stored (issue 12).

The flag normally travels with the call's record (the tracker marks the call in
progress, :func:`~hotline_pbx.domain.call_record.record_of` copies it). When
the tracker no longer holds the call (its record already handed to the
writer), the long-call service sets it here instead: an idempotent update,
retried until the row exists.
"""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline_pbx.store.models import calls


async def mark_long_call(conn: AsyncConnection, call_key: str) -> bool:
    """Set ``calls.long_call`` of ``call_key``; False while no such row exists yet."""
    result = await conn.execute(
        update(calls).where(calls.c.call_key == call_key).values(long_call=True)
        .returning(calls.c.id))
    return result.first() is not None
