"""Callback tasks, assembled: ended calls → tasks opened and closed, the overdue gauge.

:class:`CallbackService` is what ``app.py`` wires in: an observer of
:class:`~hotline_pbx.call_tracking.CallTracking`'s ended calls (synchronous and
quick: it decides with :func:`hotline_pbx.domain.callbacks.action_for`, computes
the due time in working time and submits a record to its ``BatchWriter``, which
never blocks and never loses it), the long-call helper's way to open a task
(:meth:`CallbackService.open_for_long_call`), and a background task refreshing
``hotline_callbacks_overdue`` from PostgreSQL every :data:`OVERDUE_REFRESH`
seconds (one COUNT on the partial index; never per scrape).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from hotline_pbx.config import CallbackSettings
from hotline_pbx.domain.calendar import BusinessCalendar
from hotline_pbx.domain.calendar.working_time import NoWorkingTime, add_working_time
from hotline_pbx.domain.call_record import CallRecord
from hotline_pbx.domain.callbacks import (
    CallbackReason,
    CloseTasks,
    OpenTask,
    action_for,
    normalise_caller,
    task_key_for,
)
from hotline_pbx.lifecycle import BackgroundTask, Readiness
from hotline_pbx.logs import Identifier
from hotline_pbx.metrics import CALLBACKS_OVERDUE
from hotline_pbx.store import callback_repo
from hotline_pbx.store.batch_writer import BatchWriter
from hotline_pbx.store.callback_repo import CLOSE, OPEN, CallbackRecord

log = logging.getLogger(__name__)

#: Seconds between two refreshes of hotline_callbacks_overdue (and of the
#: wallboard's tile, which shows the same count): Prometheus's scrape interval
#: (docker/prometheus/prometheus.yml); a task is overdue for hours, and the count
#: was the largest part of a quiet daemon's CPU at every 5 s.
OVERDUE_REFRESH = 15.0


class CallbackService:
    def __init__(self, settings: CallbackSettings, writer: BatchWriter[CallbackRecord], *,
                 engine: AsyncEngine, calendar: Callable[[], BusinessCalendar],
                 timeout: float = 5.0) -> None:
        self.settings = settings
        self.writer = writer
        self._engine = engine
        self._calendar = calendar  # the routing snapshot's, read at each call
        self._timeout = timeout
        self.name = "callbacks"
        self._gauge = BackgroundTask("callbacks-overdue", self._refresh_forever)
        self.last_count: int | None = None

    # -- the lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        self._gauge.start()

    async def stop(self) -> None:
        await self._gauge.stop()

    def readiness(self) -> Readiness:
        return self._gauge.readiness()

    # -- inputs ------------------------------------------------------------------------

    def on_call_ended(self, record: CallRecord) -> None:
        """CallTracking observer: open a task for a failed call, close the caller's
        tasks after an answered one."""
        if not self.settings.enabled:
            return
        action = action_for(record)
        if isinstance(action, OpenTask):
            self.writer.submit(self._opening(
                task_key_for(record.call_key, action.reason), record.call_key, record.caller,
                action.reason, record.ended_at))
            log.info("call %s: callback task opened (%s)", Identifier(record.call_key),
                     action.reason.value)
        elif isinstance(action, CloseTasks):
            # The answered call began at started_at: tasks of calls that failed
            # before it are settled by it (never a task of a later failed call).
            self.writer.submit(CallbackRecord(
                action=CLOSE, key=f"close:{record.call_key}", call_key=record.call_key,
                caller=record.caller, caller_key=action.caller_key,
                at=record.started_at.timestamp()))

    async def open_for_long_call(self, call_key: str, caller: str, at: float) -> int | None:
        """A long call the agent continues from another line (reason ``long_call``):
        the task's id, or None when it exists already or PostgreSQL did not answer
        in time (then the opening is spooled by the writer and stored later)."""
        record = self._opening(task_key_for(call_key, CallbackReason.LONG_CALL), call_key,
                               caller, CallbackReason.LONG_CALL, datetime.fromtimestamp(at, UTC))
        try:
            async with asyncio.timeout(self._timeout), self._engine.begin() as conn:
                return await callback_repo.open_from(conn, record)
        except (OSError, TimeoutError) as exc:
            log.warning("call %s: long-call task handed to the writer (PostgreSQL: %s)",
                        Identifier(call_key), exc or "timeout")
        except Exception as exc:  # never lose it: the writer retries or keeps it
            log.warning("call %s: long-call task handed to the writer (%s)",
                        Identifier(call_key), exc)
        self.writer.submit(record)
        return None

    def _opening(self, task_key: str, call_key: str, caller: str, reason: CallbackReason,
                 failed_at: datetime) -> CallbackRecord:
        return CallbackRecord(
            action=OPEN, key=task_key, call_key=call_key, caller=caller,
            caller_key=normalise_caller(caller), at=failed_at.timestamp(), reason=reason,
            due_at=self.due_at(failed_at).timestamp(), auto_dial=self.settings.auto_dial)

    def due_at(self, failed_at: datetime) -> datetime:
        """``callbacks.due_within`` of working time after the call failed; a calendar
        without any working time gives the same span of plain time (and a warning)."""
        within = timedelta(seconds=self.settings.due_within)
        try:
            return add_working_time(self._calendar(), failed_at, within)
        except NoWorkingTime as exc:
            log.warning("callback due time counted in plain time: %s", exc)
            return failed_at + within

    # -- the gauge --------------------------------------------------------------------------

    async def refresh_overdue(self) -> int:
        async with asyncio.timeout(self._timeout), self._engine.connect() as conn:
            count = await callback_repo.count_overdue(conn)
        CALLBACKS_OVERDUE.set(count)
        self.last_count = count
        return count

    async def _refresh_forever(self) -> None:
        failing_since: float | None = None
        while True:
            try:
                await self.refresh_overdue()
                failing_since = None
            except Exception as exc:  # PostgreSQL down: keep the last value
                if failing_since is None:
                    failing_since = time.monotonic()
                    log.warning("hotline_callbacks_overdue not refreshed (%s); it keeps its "
                                "last value until PostgreSQL answers", exc or "timeout")
            await asyncio.sleep(OVERDUE_REFRESH)
