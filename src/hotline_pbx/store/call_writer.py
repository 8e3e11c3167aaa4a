"""Call records into PostgreSQL: batched, never lost, never written twice.

The tracker hands each ended call to :meth:`CallWriter.submit`, which only
appends to an in-memory pending list (it never blocks the event loop). One
task writes the pending records in batches: ``batch_size`` rows, or whatever
is pending ``flush_interval`` seconds after the first one arrived.

When PostgreSQL does not answer (down, unreachable, a write timing out), the
batch goes to an **append-only spool** in ``<data_dir>/spool`` instead (JSON
lines, fsynced, in segments of ``segment_records``), and so does every later
record, so their order is kept. Every ``retry_interval`` the writer tries the
database again; when it answers, the spool is replayed oldest segment first,
each segment deleted once all its rows are in, then writing goes direct again.

**Idempotent**: every row carries ``calls.call_key`` and is inserted with
``ON CONFLICT (call_key) DO NOTHING``. A replay cut short by a crash (rows in,
segment not yet deleted) inserts nothing twice the next time.

**Bounded**: at most ``max_pending`` records wait in memory. Beyond that (the
database is slow rather than down), the whole pending list is moved to the
spool, which is on disk and bounded only by the disk: a record is never
dropped. ``hotline_db_pending_records`` and ``hotline_db_spooled_records``
show both.

A row the database refuses for its content (a constraint, a bad value) cannot
be fixed by retrying: it is written to ``spool/rejected.jsonl`` with the
reason and logged, so it can never block the records behind it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import sqlalchemy.exc
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline_pbx.domain.call_record import CallRecord
from hotline_pbx.metrics import DB_PENDING, DB_SPOOLED
from hotline_pbx.store import models

log = logging.getLogger(__name__)

SEGMENT_PREFIX = "calls-"
REJECTED = "rejected.jsonl"
_INSERT = pg_insert(models.calls).on_conflict_do_nothing(index_elements=["call_key"])

OnCommitted = Callable[[Sequence[CallRecord]], None]


class DatabaseDown(RuntimeError):
    """PostgreSQL did not take the batch; try again later."""


def record_row(record: CallRecord) -> dict[str, Any]:
    """The ``calls`` row of a record."""
    return {
        "call_key": record.call_key, "linkedid": record.linkedid, "uniqueid": record.uniqueid,
        "caller": record.caller, "caller_name": record.caller_name, "dnid": record.dnid,
        "started_at": record.started_at, "routed_at": record.routed_at,
        "answered_at": record.answered_at, "ended_at": record.ended_at,
        "period": record.period.value, "route": record.route, "outcome": record.outcome.value,
        "wait_seconds": record.wait_seconds, "talk_seconds": record.talk_seconds,
        "answered_by": record.answered_by, "answered_role": record.answered_role,
        "failover_attempts": record.failover_attempts,
        "hangup_side": None if record.hangup_side is None else record.hangup_side.value,
        "hangup_cause": record.hangup_cause, "is_test": record.is_test,
        "needs_callback": record.needs_callback, "details": dict(record.details),
    }


def _is_unavailable(exc: BaseException) -> bool:
    """Connection or server trouble (keep the rows, retry later), as opposed to
    rows the database refuses for what they contain (retrying cannot help)."""
    if isinstance(exc, (OSError, TimeoutError, sqlalchemy.exc.TimeoutError)):
        return True
    if not isinstance(exc, sqlalchemy.exc.DBAPIError):
        return False  # e.g. a value that cannot be serialised: the row's fault
    if isinstance(exc, (sqlalchemy.exc.IntegrityError, sqlalchemy.exc.DataError)):
        return False
    # SQLSTATE class 22 (data exception) and 23 (integrity) are about the rows, and
    # asyncpg refuses a value it cannot encode before sending it ("out of int16
    # range"). Anything else (connection lost, server shutting down, a schema not
    # migrated yet) is about the database.
    sqlstate = str(getattr(exc.orig, "sqlstate", "") or "")
    if sqlstate[:2] in ("22", "23"):
        return False
    return "invalid input for query argument" not in str(exc.orig)


class Spool:
    """The append-only spool directory. Blocking: call it through ``asyncio.to_thread``."""

    def __init__(self, directory: Path, segment_records: int = 5000) -> None:
        self.directory = directory
        self.segment_records = segment_records
        self._tail_count = 0  # lines in the newest segment

    def segments(self) -> list[Path]:
        return sorted(self.directory.glob(f"{SEGMENT_PREFIX}*.jsonl"))

    def open(self) -> int:
        """Create the directory; return how many records wait in it."""
        self.directory.mkdir(parents=True, exist_ok=True)
        total = 0
        segments = self.segments()
        for segment in segments:
            total += self._count(segment)
        self._tail_count = self._count(segments[-1]) if segments else 0
        return total

    @staticmethod
    def _count(path: Path) -> int:
        with path.open("rb") as handle:
            return sum(1 for line in handle if line.strip())

    def append(self, records: Sequence[CallRecord]) -> None:
        """Append and fsync: once this returns, the records survive a crash."""
        lines = [json.dumps(r.to_dict(), ensure_ascii=False, separators=(",", ":"),
                            default=str) + "\n" for r in records]
        while lines:
            segments = self.segments()
            if not segments or self._tail_count >= self.segment_records:
                number = int(segments[-1].stem[len(SEGMENT_PREFIX):]) + 1 if segments else 1
                target = self.directory / f"{SEGMENT_PREFIX}{number:010d}.jsonl"
                self._tail_count = 0
            else:
                target = segments[-1]
            room = self.segment_records - self._tail_count
            chunk, lines = lines[:room], lines[room:]
            with target.open("a", encoding="utf-8") as handle:
                handle.writelines(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            self._tail_count += len(chunk)

    def read(self, segment: Path) -> list[CallRecord]:
        """The records of a segment, in order; a damaged line is logged and skipped
        (only the last line can be: a crash in the middle of an append)."""
        records = []
        with segment.open(encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    records.append(CallRecord.from_dict(json.loads(line)))
                except (ValueError, KeyError, TypeError) as exc:
                    log.error("spool %s line %d is not a call record (%s); skipped",
                              segment.name, number, exc)
        return records

    def remove(self, segment: Path) -> None:
        segment.unlink(missing_ok=True)
        if not self.segments():
            self._tail_count = 0

    def reject(self, record: CallRecord, reason: str) -> None:
        with (self.directory / REJECTED).open("a", encoding="utf-8") as handle:
            handle.write(json.dumps({"reason": reason, "record": record.to_dict()},
                                    ensure_ascii=False, default=str) + "\n")


class CallWriter:
    def __init__(
        self,
        engine: AsyncEngine,
        spool_dir: Path,
        *,
        batch_size: int = 200,
        flush_interval: float = 0.25,
        max_pending: int = 10_000,
        write_timeout: float = 5.0,
        retry_interval: float = 2.0,
        segment_records: int = 5000,
        on_committed: OnCommitted | None = None,
    ) -> None:
        self._engine = engine
        self._spool = Spool(spool_dir, segment_records)
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_pending = max_pending
        self.write_timeout = write_timeout
        self.retry_interval = retry_interval
        self._on_committed = on_committed
        self._pending: deque[CallRecord] = deque()
        self._in_flight = 0
        self._first_pending_at: float | None = None
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._next_retry = 0.0
        self.spooled = 0
        self.written = 0
        self.rejected = 0
        self.down_since: float | None = None

    @property
    def spool_dir(self) -> Path:
        return self._spool.directory

    @property
    def pending(self) -> int:
        return len(self._pending) + self._in_flight

    # -- lifecycle --------------------------------------------------------------

    async def start(self) -> None:
        self.spooled = await asyncio.to_thread(self._spool.open)
        if self.spooled:
            log.warning("%d call records in the spool %s from an earlier run; replaying",
                        self.spooled, self.spool_dir)
        self._update_gauges()
        self._task = asyncio.create_task(self._run(), name="call-writer")

    async def stop(self, timeout: float = 10.0) -> None:
        """Write (or spool) everything pending, then stop."""
        if self._task is None:
            return
        self._stopping = True
        self._wakeup.set()
        try:
            async with asyncio.timeout(timeout):
                await asyncio.shield(self._task)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            await self._spill(list(self._pending))  # the database hung: keep them on disk
            self._pending.clear()
        self._task = None
        self._update_gauges()
        log.info("call writer stopped: %d written, %d in the spool", self.written, self.spooled)

    # -- input ------------------------------------------------------------------

    def submit(self, record: CallRecord) -> None:
        """Queue one record; returns at once (the writer task does the I/O)."""
        if not self._pending:
            self._first_pending_at = time.monotonic()
        self._pending.append(record)
        DB_PENDING.set(self.pending)
        if len(self._pending) >= self.batch_size:
            self._wakeup.set()
        elif len(self._pending) == 1:
            self._wakeup.set()  # start the flush_interval clock

    # -- the task -----------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            await self._next_batch_due()
            if self._stopping:
                await self._drain_for_stop()
                return
            if len(self._pending) > self.max_pending:
                log.warning("%d call records pending (limit %d): PostgreSQL is slow; "
                            "moving them to the spool", len(self._pending), self.max_pending)
                await self._spill(self._take(len(self._pending)))
            if self.spooled and time.monotonic() >= self._next_retry:
                await self._replay()
            batch = self._take(self.batch_size)
            if batch:
                await self._deliver(batch)

    async def _next_batch_due(self) -> None:
        """Wait until a batch is full, the oldest pending record is flush_interval
        old, a spool retry is due, or we are stopping."""
        while not self._stopping:
            now = time.monotonic()
            if len(self._pending) >= self.batch_size:
                return
            deadlines = []
            if self._pending and self._first_pending_at is not None:
                deadlines.append(self._first_pending_at + self.flush_interval)
            if self.spooled:
                deadlines.append(self._next_retry)
            if deadlines and min(deadlines) <= now:
                return
            self._wakeup.clear()
            timeout = min(deadlines) - now if deadlines else None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wakeup.wait()

    def _take(self, count: int) -> list[CallRecord]:
        batch = [self._pending.popleft() for _ in range(min(count, len(self._pending)))]
        self._first_pending_at = time.monotonic() if self._pending else None
        return batch

    async def _deliver(self, batch: list[CallRecord]) -> None:
        """Straight to the database, or behind the spool if it is not empty or not answering."""
        if self.spooled:
            await self._spill(batch)
            return
        self._in_flight = len(batch)
        try:
            await self._insert(batch)
        except DatabaseDown as exc:
            self._went_down(exc)
            await self._spill(batch)
        finally:
            self._in_flight = 0
            self._update_gauges()

    async def _drain_for_stop(self) -> None:
        while self._pending:
            batch = self._take(self.batch_size)
            if not self.spooled:
                with contextlib.suppress(DatabaseDown):
                    await self._insert(batch)
                    continue
            await self._spill(batch)
            self._update_gauges()
        self._update_gauges()

    # -- database -----------------------------------------------------------------

    async def _insert(self, batch: Sequence[CallRecord]) -> None:
        """Insert a batch in one transaction (rows already there are skipped)."""
        try:
            async with asyncio.timeout(self.write_timeout):
                async with self._engine.begin() as conn:
                    await conn.execute(_INSERT, [record_row(r) for r in batch])
        except Exception as exc:
            if _is_unavailable(exc):
                raise DatabaseDown(_reason(exc)) from exc
            await self._insert_one_by_one(batch, exc)
            return
        self._committed(batch)

    async def _insert_one_by_one(self, batch: Sequence[CallRecord], first: Exception) -> None:
        """The batch was refused for its content: find the bad rows, keep the rest."""
        log.error("PostgreSQL refused a batch of %d call records (%s); writing them one "
                  "by one", len(batch), _reason(first))
        for record in batch:
            try:
                async with asyncio.timeout(self.write_timeout):
                    async with self._engine.begin() as conn:
                        await conn.execute(_INSERT, [record_row(record)])
            except Exception as exc:
                if _is_unavailable(exc):
                    raise DatabaseDown(_reason(exc)) from exc
                self.rejected += 1
                log.error("call record %s rejected by PostgreSQL (%s); kept in %s",
                          record.call_key, _reason(exc), self.spool_dir / REJECTED)
                await asyncio.to_thread(self._spool.reject, record, _reason(exc))
            else:
                self._committed([record])

    def _committed(self, batch: Sequence[CallRecord]) -> None:
        self.written += len(batch)
        if self.down_since is not None:
            log.warning("PostgreSQL takes call records again (after %.0fs)",
                        time.monotonic() - self.down_since)
            self.down_since = None
        if self._on_committed is not None:
            try:
                self._on_committed(batch)
            except Exception:
                log.exception("on_committed hook failed")

    def _went_down(self, exc: BaseException) -> None:
        self._next_retry = time.monotonic() + self.retry_interval
        if self.down_since is None:
            self.down_since = time.monotonic()
            log.error("PostgreSQL does not take call records (%s): spooling to %s and "
                      "retrying every %ss", exc, self.spool_dir, self.retry_interval)

    # -- spool ----------------------------------------------------------------------

    async def _spill(self, records: Iterable[CallRecord]) -> None:
        batch = list(records)
        if not batch:
            return
        await asyncio.to_thread(self._spool.append, batch)
        if not self.spooled:
            self._next_retry = time.monotonic() + self.retry_interval
        self.spooled += len(batch)
        self._update_gauges()

    async def _replay(self) -> None:
        """Everything in the spool, oldest first, before anything newer."""
        while True:
            segments = await asyncio.to_thread(self._spool.segments)
            if not segments:
                break
            records = await asyncio.to_thread(self._spool.read, segments[0])
            for start in range(0, len(records), self.batch_size):
                try:
                    await self._insert(records[start:start + self.batch_size])
                except DatabaseDown as exc:
                    self._went_down(exc)
                    return
                if len(self._pending) > self.max_pending:
                    # Keep memory bounded during a long replay; they go behind the spool.
                    await self._spill(self._take(len(self._pending)))
            await asyncio.to_thread(self._spool.remove, segments[0])
            self.spooled = max(0, self.spooled - len(records))
            self._update_gauges()
        self.spooled = 0
        self._update_gauges()
        log.warning("call record spool replayed; writing directly again")

    def _update_gauges(self) -> None:
        DB_PENDING.set(self.pending)
        DB_SPOOLED.set(self.spooled)


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
