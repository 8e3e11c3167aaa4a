"""Records into PostgreSQL: one batching writer for every kind, never lost, never written twice.

A :class:`BatchWriter` serves one :class:`RecordKind` (calls, blocked outbound
attempts, and every later record type): the kind says how a record becomes a
row and a spool line and back, and which unique column is its idempotent key.

Producers call :meth:`BatchWriter.submit`, which only appends to an in-memory
queue (it never blocks the event loop). One task writes the queue in batches:
``batch_size`` rows, or whatever is pending ``flush_interval`` seconds after
the first one arrived, in one transaction.

When PostgreSQL does not answer (down, unreachable, a write timing out), the
batch goes to an **append-only spool** in ``<spool_root>/<kind>/`` instead
(JSON lines, fsynced, in segments of ``segment_records``), and so does every
later record, so their order is kept. Every ``retry_interval`` the writer
tries the database again; when it answers, the spool is replayed oldest
segment first, each segment deleted once all its rows are in, then writing
goes direct again. At shutdown, what cannot be written in time is spooled
(fsynced) for the next start, never only logged.

**Idempotent**: every row carries the kind's key and is inserted with
``ON CONFLICT (key) DO NOTHING`` (the key may span columns: a call's node and
Linkedid). A replay cut short by a crash (rows in,
segment not yet deleted) or a batch retried after a lost reply inserts
nothing twice.

**Bounded, and a record is never dropped**: at most ``max_pending`` records
wait in memory. When the queue is full (the database is slow rather than
down) the writer task moves the whole queue to the spool at once, which is on
disk and bounded only by the disk; later records go behind it. ``submit``
still never blocks and never refuses. ``hotline_db_pending_records`` and
``hotline_db_spooled_records`` are the sums over every writer.

A row the database refuses for its content (a constraint, a bad value) cannot
be fixed by retrying: it is written to ``<kind>/rejected.jsonl`` with the
reason and logged, so it can never block the records behind it.

**One connection while busy**: the writer keeps the pooled connection it
wrote with while records keep coming, and gives it back after ``hold_idle``
seconds with nothing to write. A kind whose batch is one INSERT writes it in
autocommit (the statement is its own transaction): one round trip a batch,
where checking a connection out of the pool for each (its pre-ping, BEGIN,
COMMIT, the reset on return) was four and 0.94 ms of CPU (0.31 now, 3 rows;
bench/writer_bench.py). A held connection found closed (PostgreSQL restarted,
or ended its session) is dropped and the batch tried once more on a fresh,
pre-pinged one: what the pool's pre-ping did for such a connection. Any other
failure (a timeout, ours or the server's) is the database's answer at once.

**Private**: records hold caller numbers. Spool directories are 0700 and
spool files 0600 whatever the umask; existing ones are corrected at start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import sqlalchemy.exc
from sqlalchemy import Table, func
from sqlalchemy.dialects.postgresql import Insert
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline_pbx.lifecycle import BackgroundTask, Readiness
from hotline_pbx.logs import Verbatim
from hotline_pbx.metrics import DB_PENDING, DB_SPOOLED

log = logging.getLogger(__name__)

T = TypeVar("T")

REJECTED = "rejected.jsonl"
DIR_MODE = 0o700
FILE_MODE = 0o600


@dataclass(frozen=True, slots=True)
class RecordKind(Generic[T]):
    """What the writer needs to know about one kind of record."""

    name: str  # the spool directory and segment prefix: <spool_root>/<name>/<name>-N.jsonl
    noun: str  # "call record": for log lines
    table: Table
    key_column: str  # the unique column of the idempotent key
    key: Callable[[T], str]
    row: Callable[[T], dict[str, Any]]  # the table row
    to_json: Callable[[T], dict[str, Any]]  # the spool line (JSON-safe)
    from_json: Callable[[Mapping[str, Any]], T]  # its reverse; KeyError/ValueError/TypeError
    # Columns a later record of the same key updates (where it has a value): a
    # record kind whose rows change once (a line fault's end). Empty: a key is
    # written once and a replay of it skipped.
    merge: tuple[str, ...] = ()
    # A kind whose records are not plain rows (callback tasks open a task and its
    # dialer job, or close a caller's tasks): its own idempotent write of a batch,
    # in the writer's transaction, instead of the insert. None: the insert.
    write: Callable[[AsyncConnection, Sequence[T]], Awaitable[None]] | None = None
    # The columns of the unique key when it is more than ``key_column`` (calls:
    # node and call_key); ``key`` then returns a string unique across all of them.
    unique_columns: tuple[str, ...] = ()

    @property
    def conflict_columns(self) -> list[str]:
        return list(self.unique_columns or (self.key_column,))

    def insert_statement(self) -> Insert:
        insert = pg_insert(self.table)
        if not self.merge:
            return insert.on_conflict_do_nothing(index_elements=self.conflict_columns)
        return insert.on_conflict_do_update(
            index_elements=self.conflict_columns,
            set_={name: func.coalesce(insert.excluded[name], self.table.c[name])
                  for name in self.merge})

    def rows(self, records: Sequence[T]) -> list[dict[str, Any]]:
        """The rows of a batch; with ``merge``, one per key (the last record of a
        key holds its whole state), so that no statement touches a row twice."""
        if not self.merge:
            return [self.row(r) for r in records]
        latest = {self.key(r): r for r in records}
        return [self.row(r) for r in latest.values()]


async def insert_batch(conn: AsyncConnection, kind: RecordKind[T], records: Sequence[T]) -> None:
    """Insert the records in ``conn``'s transaction, skipping keys already stored."""
    if records and kind.write is not None:
        await kind.write(conn, records)
    elif records:
        await conn.execute(kind.insert_statement(), kind.rows(records))


class DatabaseDown(RuntimeError):
    """PostgreSQL did not take the batch; try again later."""


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


def _is_closed_connection(exc: BaseException) -> bool:
    """The error says the connection itself is gone (SQLAlchemy saw the driver's
    connection closed), not that a statement on it failed."""
    return isinstance(exc, ConnectionError) or bool(
        getattr(exc, "connection_invalidated", False))


def _private_dir(path: Path) -> None:
    path.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    os.chmod(path, DIR_MODE)  # mkdir's mode goes through the umask, and the folder may be old


def _append_private(path: Path, lines: Sequence[str]) -> None:
    """Append and fsync; a file it creates is 0600 (and its name fsynced in the folder)."""
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, FILE_MODE)
    with open(fd, "a", encoding="utf-8") as handle:
        if created:
            os.fchmod(fd, FILE_MODE)  # the umask may have taken bits off, never added
        handle.writelines(lines)
        handle.flush()
        os.fsync(fd)
    if created:
        _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Spool(Generic[T]):
    """The append-only spool of one kind. Blocking: call it through ``asyncio.to_thread``.

    Segments are ``<root>/<kind>/<kind>-NNNNNNNNNN.jsonl``. Segments of the
    layout before one directory per kind (``<root>/<kind>-N.jsonl``, the call
    spool of earlier versions) are read first, as they are older, and deleted
    once replayed; nothing new is ever written there.
    """

    def __init__(self, root: Path, kind: RecordKind[T], segment_records: int = 5000) -> None:
        self.root = root
        self.kind = kind
        self.directory = root / kind.name
        self.segment_records = segment_records
        self._prefix = f"{kind.name}-"
        self._tail_count = 0  # lines in the newest segment of self.directory

    def _own_segments(self) -> list[Path]:
        return sorted(self.directory.glob(f"{self._prefix}*.jsonl"))

    def segments(self) -> list[Path]:
        """Every segment waiting, oldest first."""
        return sorted(self.root.glob(f"{self._prefix}*.jsonl")) + self._own_segments()

    def open(self) -> int:
        """Create the directory, make everything in it private; return how many records wait."""
        _private_dir(self.root)
        _private_dir(self.directory)
        for path in [*self.root.glob("*.jsonl"), *self.directory.glob("*.jsonl")]:
            os.chmod(path, FILE_MODE)
        own = self._own_segments()
        self._tail_count = self._count(own[-1]) if own else 0
        return sum(self._count(segment) for segment in self.segments())

    @staticmethod
    def _count(path: Path) -> int:
        with path.open("rb") as handle:
            return sum(1 for line in handle if line.strip())

    def append(self, records: Sequence[T]) -> None:
        """Append and fsync: once this returns, the records survive a crash."""
        lines = [json.dumps(self.kind.to_json(r), ensure_ascii=False, separators=(",", ":"),
                            default=str) + "\n" for r in records]
        while lines:
            own = self._own_segments()
            if not own or self._tail_count >= self.segment_records:
                number = int(own[-1].stem[len(self._prefix):]) + 1 if own else 1
                target = self.directory / f"{self._prefix}{number:010d}.jsonl"
                self._tail_count = 0
            else:
                target = own[-1]
            room = self.segment_records - self._tail_count
            chunk, lines = lines[:room], lines[room:]
            _append_private(target, chunk)
            self._tail_count += len(chunk)

    def read(self, segment: Path) -> list[T]:
        """The records of a segment, in order; a damaged line is logged and skipped
        (only the last line can be: a crash in the middle of an append)."""
        records = []
        with segment.open(encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    records.append(self.kind.from_json(json.loads(line)))
                except (ValueError, KeyError, TypeError) as exc:
                    log.error("spool %s line %d is not a %s (%s); skipped",
                              segment.name, number, self.kind.noun, exc)
        return records

    def remove(self, segment: Path) -> None:
        segment.unlink(missing_ok=True)
        if not self._own_segments():
            self._tail_count = 0

    def reject(self, record: T, reason: str) -> None:
        line = json.dumps({"reason": reason, "record": self.kind.to_json(record)},
                          ensure_ascii=False, default=str) + "\n"
        _append_private(self.directory / REJECTED, [line])


class BatchWriter(Generic[T]):
    """The one writer between producers and PostgreSQL (see the module doc)."""

    def __init__(
        self,
        engine: AsyncEngine,
        kind: RecordKind[T],
        spool_root: Path,
        *,
        batch_size: int = 200,
        flush_interval: float = 0.25,
        max_pending: int = 10_000,
        write_timeout: float = 5.0,
        retry_interval: float = 2.0,
        segment_records: int = 5000,
        stop_timeout: float = 10.0,
        hold_idle: float = 5.0,
        on_committed: Callable[[Sequence[T]], None] | None = None,
    ) -> None:
        self._engine = engine
        self.kind = kind
        self.name = f"{kind.name} writer"
        self._statement = kind.insert_statement()
        self._spool = Spool(spool_root, kind, segment_records)
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.max_pending = max_pending
        self.write_timeout = write_timeout
        self.retry_interval = retry_interval
        self.stop_timeout = stop_timeout
        self.hold_idle = hold_idle
        self._on_committed = on_committed
        self._conn: AsyncConnection | None = None  # held while busy (see the module doc)
        # When the held connection last wrote; 0 while it has not (a fresh one's
        # failure is the database's answer, not a connection gone stale).
        self._last_write = 0.0
        self._writing = False
        self._pending: deque[T] = deque()
        self._in_flight: list[T] = []  # taken from the queue, not yet committed or spooled
        self._first_pending_at: float | None = None
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._task = BackgroundTask(f"{kind.name}-writer", self._run)
        self._next_retry = 0.0
        self._reported = (0, 0)  # (pending, spooled) in the process-wide gauges
        self.spooled = 0
        self.written = 0
        self.rejected = 0
        self.down_since: float | None = None

    @property
    def spool_dir(self) -> Path:
        return self._spool.directory

    @property
    def pending(self) -> int:
        return len(self._pending) + len(self._in_flight)

    # -- lifecycle --------------------------------------------------------------

    async def start(self) -> None:
        self.spooled = await asyncio.to_thread(self._spool.open)
        if self.spooled:
            log.warning("%d %ss in the spool %s from an earlier run; replaying",
                        self.spooled, self.kind.noun, self.spool_dir)
        self._update_gauges()
        self._task.start()

    async def stop(self, timeout: float | None = None) -> None:
        """Write what is pending within ``timeout`` (default ``stop_timeout``);
        spool (fsynced) whatever is left."""
        if not self._task.active:
            return
        self._stopping = True
        self._wakeup.set()
        await self._task.stop(grace=self.stop_timeout if timeout is None else timeout)
        await self._keep_at_shutdown([*self._in_flight, *self._pending])
        await self._release()
        log.info("%s writer stopped: %d written, %d in the spool", self.kind.name,
                 self.written, self.spooled)
        self._reported = self._report(0, 0)  # a stopped writer counts for nothing

    def readiness(self) -> Readiness:
        """Ready while its task runs (PostgreSQL being down is the database's report)."""
        return self._task.readiness()

    async def _keep_at_shutdown(self, left: list[T]) -> None:
        """What the task could not write or spool: the database hung (the batch in
        flight may have been committed just now; its key makes the replay skip it)
        or the disk failed while draining."""
        self._in_flight = []
        self._pending.clear()
        if not left:
            return
        try:
            await self._spill(left)
        except OSError:  # the disk failed: the log is the last place left
            log.exception("could not spool %d %ss at shutdown; they follow", len(left),
                          self.kind.noun)
            for record in left:
                # Verbatim: the log is this record's last copy, so it is not masked or cut.
                log.error("%s not stored: %s", self.kind.noun, Verbatim(json.dumps(
                    self.kind.to_json(record), ensure_ascii=False, default=str)))

    # -- input ------------------------------------------------------------------

    def submit(self, record: T) -> None:
        """Queue one record; returns at once (the writer task does the I/O, see the
        module doc for what happens when the queue is full)."""
        if not self._pending:
            self._first_pending_at = time.monotonic()
        self._pending.append(record)
        self._update_gauges()
        count = len(self._pending)
        if count == 1 or count >= self.batch_size or count >= self.max_pending:
            self._wakeup.set()  # a batch, the queue full, or the flush_interval clock

    # -- the task -----------------------------------------------------------------

    async def _run(self) -> None:
        while True:
            try:
                if await self._step():
                    return
            except OSError:
                # The spool's disk failed (full, read-only, gone): keep the records in
                # memory, in order, and try again; ``stop`` has the last word.
                log.exception("cannot spool %ss in %s; %d kept in memory, retrying in %ss",
                              self.kind.noun, self.spool_dir, self.pending,
                              self.retry_interval)
                self._pending.extendleft(reversed(self._in_flight))
                self._in_flight = []
                self._first_pending_at = self._first_pending_at or time.monotonic()
                if self._stopping:
                    return
                await asyncio.sleep(self.retry_interval)

    async def _step(self) -> bool:
        """One round of the writer task; True once it has drained for a stop."""
        await self._next_batch_due()
        if self._stopping:
            await self._drain_for_stop()
            return True
        if len(self._pending) >= self.max_pending:
            log.warning("%d %ss pending (limit %d): PostgreSQL is slow; moving them to "
                        "the spool", len(self._pending), self.kind.noun, self.max_pending)
            await self._spill_taken(self._take(len(self._pending)))
        if self.spooled and time.monotonic() >= self._next_retry:
            await self._replay()
        batch = self._take(self.batch_size)
        if batch:
            await self._deliver(batch)
        return False

    async def _next_batch_due(self) -> None:
        """Wait until a batch is full, the queue is full, the oldest pending record
        is flush_interval old, a spool retry is due, or we are stopping."""
        while not self._stopping:
            now = time.monotonic()
            if len(self._pending) >= min(self.batch_size, self.max_pending):
                return
            deadlines = []
            if self._pending and self._first_pending_at is not None:
                deadlines.append(self._first_pending_at + self.flush_interval)
            if self.spooled:
                deadlines.append(self._next_retry)
            if deadlines and min(deadlines) <= now:
                return
            if self._conn is not None and not self._pending:
                if now - self._last_write >= self.hold_idle:
                    await self._release()  # quiet: the pool has it back
                    continue
                deadlines.append(self._last_write + self.hold_idle)
            self._wakeup.clear()
            timeout = min(deadlines) - now if deadlines else None
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._wakeup.wait()

    def _take(self, count: int) -> list[T]:
        """Move up to ``count`` records from the queue to in flight (still counted
        as pending, and spooled by ``stop`` if the task is cancelled with them)."""
        batch = [self._pending.popleft() for _ in range(min(count, len(self._pending)))]
        self._in_flight = batch
        self._first_pending_at = time.monotonic() if self._pending else None
        return batch

    async def _deliver(self, batch: list[T]) -> None:
        """Straight to the database, or behind the spool if it is not empty or not answering."""
        if not self.spooled:
            try:
                await self._insert(batch)
            except DatabaseDown as exc:
                self._went_down(exc)
            else:
                self._in_flight = []
                self._update_gauges()
                return
        await self._spill_taken(batch)

    async def _drain_for_stop(self) -> None:
        while self._pending:
            batch = self._take(self.batch_size)
            if not self.spooled:
                with contextlib.suppress(DatabaseDown):
                    await self._insert(batch)
                    self._in_flight = []
                    continue
            await self._spill_taken(batch)
        self._update_gauges()

    # -- database -----------------------------------------------------------------

    async def _insert(self, batch: Sequence[T]) -> None:
        """Insert a batch in one transaction (rows already there are skipped)."""
        try:
            try:
                await self._write_held(batch)
            except Exception as exc:
                # A connection that had written and is now closed: PostgreSQL
                # restarted or ended its session while it waited. Not a timeout,
                # ours or the server's (statement_timeout, lock_timeout): on a
                # connection still open, a retry would only wait a second time.
                stale = self._last_write > 0.0 and _is_closed_connection(exc)
                await self._release()
                if not stale:
                    raise
                await self._write_held(batch)  # once more, on a fresh connection
        except Exception as exc:
            await self._release()
            if _is_unavailable(exc):
                raise DatabaseDown(_reason(exc)) from exc
            await self._insert_one_by_one(batch, exc)
            return
        self._committed(batch)

    async def _write_held(self, batch: Sequence[T]) -> None:
        """Write the batch on the held connection, taking one from the pool first
        when none is held."""
        self._writing = True  # until it returns: a cut-short write leaves it unusable
        async with asyncio.timeout(self.write_timeout):
            conn = self._conn
            if conn is None:
                conn = self._conn = await self._engine.connect()
                if self.kind.write is None:  # one INSERT: its own transaction
                    conn = self._conn = await conn.execution_options(
                        isolation_level="AUTOCOMMIT")
            if self.kind.write is None:
                await self._write(conn, batch)
            else:
                async with conn.begin():
                    await self._write(conn, batch)
        self._writing = False
        self._last_write = time.monotonic()

    async def _release(self) -> None:
        """Give the held connection back to the pool; one whose write failed or was
        cut short (a timeout, a cancel at stop) is closed: its state is unknown."""
        conn, self._conn = self._conn, None
        failed, self._writing = self._writing, False
        self._last_write = 0.0
        if conn is None:
            return
        try:
            async with asyncio.timeout(self.write_timeout):
                if failed:
                    await conn.invalidate()
                await conn.close()
        except Exception as exc:  # the database is gone: nothing left to give back
            log.debug("%s: closing its connection: %s", self.name, _reason(exc))

    async def _insert_one_by_one(self, batch: Sequence[T], first: Exception) -> None:
        """The batch was refused for its content: find the bad rows, keep the rest."""
        log.error("PostgreSQL refused a batch of %d %ss (%s); writing them one by one",
                  len(batch), self.kind.noun, _reason(first))
        for record in batch:
            try:
                async with asyncio.timeout(self.write_timeout):
                    async with self._engine.begin() as conn:
                        await self._write(conn, [record])
            except Exception as exc:
                if _is_unavailable(exc):
                    raise DatabaseDown(_reason(exc)) from exc
                self.rejected += 1
                log.error("%s %s rejected by PostgreSQL (%s); kept in %s", self.kind.noun,
                          self.kind.key(record), _reason(exc), self.spool_dir / REJECTED)
                await asyncio.to_thread(self._spool.reject, record, _reason(exc))
            else:
                self._committed([record])

    async def _write(self, conn: AsyncConnection, batch: Sequence[T]) -> None:
        if self.kind.write is not None:
            await self.kind.write(conn, batch)
        else:
            await conn.execute(self._statement, self.kind.rows(batch))

    def _committed(self, batch: Sequence[T]) -> None:
        self.written += len(batch)
        if self.down_since is not None:
            log.warning("PostgreSQL takes %ss again (after %.0fs)", self.kind.noun,
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
            log.error("PostgreSQL does not take %ss (%s): spooling to %s and retrying "
                      "every %ss", self.kind.noun, exc, self.spool_dir, self.retry_interval)

    # -- spool ----------------------------------------------------------------------

    async def _spill_taken(self, batch: list[T]) -> None:
        """Spool the records in flight; they are no longer pending once on disk."""
        await self._spill(batch)
        self._in_flight = []
        self._update_gauges()

    async def _spill(self, records: Iterable[T]) -> None:
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
                if len(self._pending) >= self.max_pending:
                    # Keep memory bounded during a long replay; they go behind the spool.
                    await self._spill_taken(self._take(len(self._pending)))
            await asyncio.to_thread(self._spool.remove, segments[0])
            self.spooled = max(0, self.spooled - len(records))
            self._update_gauges()
        self.spooled = 0
        self._update_gauges()
        log.warning("%s spool replayed; writing directly again", self.kind.name)

    # -- gauges ---------------------------------------------------------------------

    def _update_gauges(self) -> None:
        self._reported = self._report(self.pending, self.spooled)

    def _report(self, pending: int, spooled: int) -> tuple[int, int]:
        """Move this writer's share of the process-wide gauges to (pending, spooled)."""
        old_pending, old_spooled = self._reported
        if pending != old_pending:
            DB_PENDING.inc(pending - old_pending)
        if spooled != old_spooled:
            DB_SPOOLED.inc(spooled - old_spooled)
        return pending, spooled


def _reason(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]
