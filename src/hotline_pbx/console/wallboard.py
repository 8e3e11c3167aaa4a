"""The wallboard's feed: one board for every viewer, pushed as server-sent events.

Every ``console.wallboard_interval`` seconds (and at once when a call ends) the
board is rebuilt from the daemon's memory (:func:`hotline_pbx.domain.wallboard.board`:
the tracker's calls, today's tally, the routing snapshot, the line monitor and
the complaint clock) and, if it changed, handed to each viewer's queue. A
viewer's queue holds ``console.wallboard_buffer`` boards: a viewer that stops
reading fills it and is dropped (its stream ends; a browser reconnects by
itself), so a stuck client never holds memory or slows the others. At most
``console.max_wallboards`` viewers at once; one more is refused (503).

Today's tally starts from one database query at start (the day's calls so
far); after that, no viewer and no tick touches the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncEngine

from hotline_pbx.domain.call_record import CallRecord
from hotline_pbx.domain.call_tracker import Call
from hotline_pbx.domain.monthly import Day
from hotline_pbx.domain.routing import SnapshotSource
from hotline_pbx.domain.wallboard import Board, TodayTally, board
from hotline_pbx.lifecycle import BackgroundTask, Readiness
from hotline_pbx.store.blocked_repo import BlockedRecord
from hotline_pbx.store.pack_operations import blocked_attempts
from hotline_pbx.store.stats import compute_stats

log = logging.getLogger(__name__)

#: How far ahead the board looks for the next open/closed change.
_HORIZON = timedelta(days=14)

class CallSource(Protocol):
    @property
    def calls(self) -> dict[str, Call]: ...


class LineStatus(Protocol):
    def status(self) -> tuple[bool | None, str | None]: ...


@dataclass(eq=False)
class Viewer:
    queue: asyncio.Queue[str]
    dropped: bool = False
    since: float = field(default_factory=time.monotonic)


class BlockedSink(Protocol):
    def submit(self, record: BlockedRecord) -> None: ...


class BlockedTee:
    """The outbound guard's sink: every blocked attempt goes to its writer, as
    before, and is counted on the board."""

    def __init__(self, writer: BlockedSink, board: Wallboard) -> None:
        self._writer = writer
        self._board = board

    def submit(self, record: BlockedRecord) -> None:
        self._writer.submit(record)
        self._board.blocked_attempt(record.occurred_at)


class Wallboard:
    def __init__(self, *, calls: CallSource, routing: SnapshotSource, zone: ZoneInfo,
                 service_level_seconds: float, interval: float, buffer: int,
                 max_viewers: int, clock: Callable[[], float] = time.time) -> None:
        self._calls = calls
        self._routing = routing
        self._zone = zone
        self._interval = interval
        self._buffer = buffer
        self.max_viewers = max_viewers
        self._clock = clock
        self.tally = TodayTally(self._today(), service_level_seconds)
        self.line: LineStatus | None = None
        self.complaints_overdue: Callable[[], int | None] = lambda: None
        self.callbacks_overdue: Callable[[], int | None] = lambda: None
        self._viewers: set[Viewer] = set()
        self._last: str = ""
        self.dropped = 0  # viewers dropped for not reading, since start
        self._wake = asyncio.Event()
        self.name = "wallboard"
        self._task = BackgroundTask("wallboard", self._run_forever)

    # -- inputs ----------------------------------------------------------------------

    def call_ended(self, record: CallRecord) -> None:
        """CallTracking observer: count the call today, and show it at once."""
        self.tally.add(record, record.started_at.astimezone(self._zone).date())
        self._show_soon()

    def blocked_attempt(self, occurred_at: datetime) -> None:
        """The outbound guard stopped a call on the 400 trunk."""
        self.tally.add_blocked(occurred_at.astimezone(self._zone).date())
        self._show_soon()

    def _show_soon(self) -> None:
        """Wake the board's task, if anyone watches (with nobody, a wake-up a call
        was most of its CPU)."""
        if self._viewers:
            self._wake.set()

    async def seed(self, engine: AsyncEngine, timeout: float) -> None:
        """Today's calls so far, from the database (once, at start), counted by the
        same SQL as ``/stats`` and the day's blocked attempts as the pack counts them."""
        today = Day(self._today(), self._zone)
        sl = self.tally.service_level_seconds
        async with asyncio.timeout(timeout), engine.connect() as conn:
            opened = await compute_stats(conn, today.start, today.end, "open",
                                         timezone=self._zone.key, service_level_seconds=sl)
            every = await compute_stats(conn, today.start, today.end, None,
                                        timezone=self._zone.key, service_level_seconds=sl)
            blocked = await blocked_attempts(conn, today)
        self.tally.seed(opened.total, every.total.offered, blocked["count"])

    # -- viewers -----------------------------------------------------------------------

    def join(self) -> Viewer | None:
        """A new viewer with the current board queued; None when full."""
        if len(self._viewers) >= self.max_viewers:
            return None
        viewer = Viewer(asyncio.Queue(self._buffer))
        if not self._viewers or not self._last:  # unwatched, the last board grows old
            self._last = self.render()
        viewer.queue.put_nowait(self._last)
        self._viewers.add(viewer)
        self._wake.set()  # the task sleeps while nobody watches
        return viewer

    def leave(self, viewer: Viewer) -> None:
        self._viewers.discard(viewer)

    @property
    def viewers(self) -> int:
        return len(self._viewers)

    def publish(self) -> None:
        if not self._viewers:  # nobody watching: join builds the board
            return
        payload = self.render()
        if payload == self._last:
            return
        self._last = payload
        for viewer in list(self._viewers):
            try:
                viewer.queue.put_nowait(payload)
            except asyncio.QueueFull:
                # A viewer this far behind has stopped reading: drop it rather
                # than queue boards it will never show.
                viewer.dropped = True
                self._viewers.discard(viewer)
                self.dropped += 1
                log.info("wallboard viewer dropped: %d boards unread", self._buffer)

    def render(self) -> str:
        return json.dumps(self.build().to_dict(), ensure_ascii=False, separators=(",", ":"))

    def build(self) -> Board:
        now = self._clock()
        at = datetime.fromtimestamp(now, UTC)
        snapshot = self._routing.snapshot
        calendar = snapshot.calendar
        line_up, fault = self.line.status() if self.line is not None else (None, None)
        local = at.astimezone(self._zone)
        self.tally.roll_to(local.date())  # past midnight with no call yet: a new day
        return board(calls=self._calls.calls.values(), now=now, local_now=local,
                     today=self.tally, state=calendar.state_at(at),
                     change=calendar.next_change(at, horizon=_HORIZON),
                     on_duty=snapshot.roster.on_duty(at), line_up=line_up,
                     open_fault=fault, complaints_overdue=self.complaints_overdue(),
                     callbacks_overdue=self.callbacks_overdue())

    # -- the service ---------------------------------------------------------------------

    async def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()
        for viewer in list(self._viewers):  # end every stream
            viewer.dropped = True
            with contextlib.suppress(asyncio.QueueFull):
                viewer.queue.put_nowait("")
        self._viewers.clear()

    def readiness(self) -> Readiness:
        return self._task.readiness()

    async def _run_forever(self) -> None:
        while True:
            if not self._viewers:  # nothing to show until someone joins
                await self._wake.wait()
            try:
                async with asyncio.timeout(self._interval):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()
            self.publish()

    def _today(self) -> date:
        return datetime.fromtimestamp(self._clock(), UTC).astimezone(self._zone).date()


