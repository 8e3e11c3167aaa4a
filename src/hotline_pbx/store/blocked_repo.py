"""``blocked_outbound``: every outbound attempt on the 400 trunk, written.

Writing goes through :class:`BlockedWriter`, so the AMI event path never
waits for PostgreSQL: ``submit`` only appends to a bounded in-memory queue
and a writer task inserts in batches. Each row has an idempotent
``event_key`` (``INSERT … ON CONFLICT DO NOTHING``): a batch retried after a
lost reply is never written twice.

When PostgreSQL is down the batch stays queued and is retried with backoff
(0.5 s doubling to 15 s) until it is written. When the queue is full
(``capacity``, 10,000 by default: hours of a toll-fraud flood) new records
are refused: ``submit`` returns False, they are counted in ``dropped`` and
logged at error level with their content, so the daemon log still holds
them. The oldest records — the first evidence — are kept. The
``hotline_outbound_blocked_total`` counter and the alert do not depend on
this queue. At shutdown the queue gets ``drain_seconds`` to flush; whatever
is left is logged the same way.

Reading is not here: the one listing of these rows is
:func:`hotline_pbx.store.api_repo.list_blocked`, the query behind
``GET /api/v1/blocked-outbound`` (the API's shared time filter and keyset
paging).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline_pbx.domain.contract import BlockedAction, BlockedMethod
from hotline_pbx.logs import Verbatim
from hotline_pbx.store.models import blocked_outbound

log = logging.getLogger(__name__)

METHODS = tuple(method.value for method in BlockedMethod)
ACTIONS = tuple(action.value for action in BlockedAction)

RETRY_FIRST = 0.5
RETRY_MAX = 15.0


@dataclass(frozen=True, slots=True)
class BlockedRecord:
    """One row to write (``occurred_at`` must be timezone-aware)."""

    event_key: str
    occurred_at: datetime
    method: str
    action: str
    source_channel: str = ""
    source: str = ""
    dialled_number: str = ""
    reaction_ms: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, not {self.method!r}")
        if self.action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}, not {self.action!r}")

    def row(self) -> dict[str, Any]:
        return {
            "event_key": self.event_key, "occurred_at": self.occurred_at,
            "source_channel": self.source_channel, "source": self.source,
            "dialled_number": self.dialled_number, "method": self.method,
            "action": self.action, "reaction_ms": self.reaction_ms,
            "details": dict(self.details),
        }

    def log_fields(self) -> dict[str, Any]:
        return {**self.row(), "occurred_at": self.occurred_at.isoformat()}

    def as_log(self) -> Verbatim:
        """The whole record for a log line that is its last copy (not masked, not cut)."""
        return Verbatim(json.dumps(self.log_fields(), ensure_ascii=False, default=str))


async def insert_blocked(conn: AsyncConnection, records: Sequence[BlockedRecord]) -> int:
    """Insert the records, skipping event keys already stored; returns how many were new."""
    if not records:
        return 0
    stmt = (pg_insert(blocked_outbound).values([r.row() for r in records])
            .on_conflict_do_nothing(index_elements=["event_key"])
            .returning(blocked_outbound.c.id))
    result = await conn.execute(stmt)
    return len(result.all())


class BlockedWriter:
    """The bounded, retrying queue between the outbound guard and PostgreSQL."""

    def __init__(self, engine: AsyncEngine, *, capacity: int = 10_000, batch_size: int = 200,
                 command_timeout: float = 10.0) -> None:
        self._engine = engine
        self._queue: collections.deque[BlockedRecord] = collections.deque()
        self.capacity = capacity
        self._batch_size = batch_size
        self._timeout = command_timeout
        self._wake = asyncio.Event()  # something was queued
        self._retry_now = asyncio.Event()  # a flush wants the backoff cut short
        self._task: asyncio.Task[None] | None = None
        self.written = 0
        self.dropped = 0
        self.failures = 0
        self._failing_since: float | None = None

    @property
    def pending(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="blocked-outbound-writer")

    def submit(self, record: BlockedRecord) -> bool:
        """Queue a record; never blocks. False when the queue is full (see module doc)."""
        if len(self._queue) >= self.capacity:
            self.dropped += 1
            log.error("blocked_outbound queue full (%d): record not stored, kept here: %s",
                      self.capacity, record.as_log())
            return False
        self._queue.append(record)
        self._wake.set()
        return True

    async def flush(self, timeout: float) -> bool:
        """Wait until everything queued is written (True) or ``timeout`` passes (False)."""
        deadline = time.monotonic() + timeout
        while self._queue and time.monotonic() < deadline:
            self._wake.set()
            self._retry_now.set()
            await asyncio.sleep(0.02)
        return not self._queue

    async def stop(self, drain_seconds: float = 5.0) -> None:
        """Flush within ``drain_seconds``, stop, and log whatever could not be written."""
        if self._task is not None:
            await self.flush(drain_seconds)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        for record in self._queue:
            log.error("blocked_outbound record not stored before shutdown: %s", record.as_log())
        self._queue.clear()

    async def _run(self) -> None:
        delay = RETRY_FIRST
        while True:
            if not self._queue:
                self._wake.clear()
                await self._wake.wait()
            batch = [self._queue[i] for i in range(min(self._batch_size, len(self._queue)))]
            try:
                await self._write(batch)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # PostgreSQL down or slow: keep the batch, retry later
                self._note_failure(exc)
                self._retry_now.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(delay):
                        await self._retry_now.wait()
                delay = min(delay * 2, RETRY_MAX)
                continue
            for _ in batch:
                self._queue.popleft()
            delay = RETRY_FIRST
            if self._failing_since is not None:
                log.info("blocked_outbound writes resumed after %.1fs",
                         time.monotonic() - self._failing_since)
                self._failing_since = None

    async def _write(self, batch: Sequence[BlockedRecord]) -> None:
        async with asyncio.timeout(self._timeout):
            async with self._engine.begin() as conn:
                await insert_blocked(conn, batch)
        self.written += len(batch)

    def _note_failure(self, exc: Exception) -> None:
        self.failures += 1
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if self._failing_since is None:
            self._failing_since = time.monotonic()
            log.warning("blocked_outbound: cannot write %d record(s), retrying: %s",
                        len(self._queue), reason)

