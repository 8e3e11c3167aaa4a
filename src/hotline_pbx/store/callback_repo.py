"""``callbacks``: the callback tasks.

:func:`open_task` is idempotent on ``task_key`` (a replayed record or a second
instance never opens a second task for the same call).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline_pbx.domain.callbacks import CallbackReason
from hotline_pbx.store.models import callbacks


async def open_task(conn: AsyncConnection, *, task_key: str, call_key: str | None,
                    caller: str, reason: CallbackReason, due_at: datetime) -> int | None:
    """Open a task (in the caller's transaction); its id, or None when a task of
    this key exists already."""
    inserted = await conn.execute(
        insert(callbacks)
        .values(task_key=task_key, call_key=call_key, caller=caller, reason=reason.value,
                due_at=due_at)
        .on_conflict_do_nothing(index_elements=["task_key"])
        .returning(callbacks.c.id))
    task_id = inserted.scalar_one_or_none()
    return None if task_id is None else int(task_id)
