"""The complaint register's daemon side: the overdue gauge and the daily digest.

:class:`ComplaintClock` is what ``app.py`` wires in. Every
``complaints.check_every`` seconds it counts the complaints overdue per stage
(``store/complaint_repo.overdue_counts``, the SQL twin of
:func:`hotline_pbx.domain.complaint_sla.overdue_stages`) into
``hotline_complaints_overdue{stage}``; PostgreSQL down keeps the last values.

Once a working day, from ``complaints.digest_time`` (local time of
``routing.timezone``) on, it writes the **digest** of what must be chased: the
overdue complaints per stage (ids, severity, department, the deadline missed;
never a name or a phone number) into ``complaint_digests``, keyed by the local
date, and logs its counts. The row's key makes it once per day across restarts
and several instances (whoever inserts first); a daemon that was down at
``digest_time`` writes it when it comes back the same day.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from datetime import time as clock_time
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline_pbx.config import ComplaintSettings
from hotline_pbx.domain.calendar import BusinessCalendar
from hotline_pbx.domain.complaints import Stage
from hotline_pbx.lifecycle import BackgroundTask, Readiness
from hotline_pbx.metrics import COMPLAINTS_OVERDUE
from hotline_pbx.store import complaint_repo
from hotline_pbx.store.models import complaint_digests

log = logging.getLogger(__name__)


def digest_time_of(settings: ComplaintSettings) -> clock_time:
    hours, minutes = settings.digest_time.split(":")  # validated HH:MM (config.py)
    return clock_time(int(hours), int(minutes))


def digest_day(calendar: BusinessCalendar, at_time: clock_time, now: datetime) -> date | None:
    """The local working day whose digest is due at ``now`` (None before
    ``digest_time`` and on a day without working time)."""
    local = now.astimezone(calendar.zone)
    if local.time() < at_time or not calendar.plan_for(local.date()).periods:
        return None
    return local.date()


def digest_items(rows: dict[Stage, list[Any]]) -> list[dict[str, Any]]:
    """What the digest keeps of each overdue complaint: no customer data."""
    return [{"stage": stage.value, "id": row.id, "state": row.state,
             "severity": row.severity, "department": row.department,
             "due": _due_of(stage, row)}
            for stage, stage_rows in rows.items() for row in stage_rows]


def _due_of(stage: Stage, row: Any) -> str | None:
    column = {Stage.FIRST_REPLY: "first_reply_due", Stage.PROGRESS_REPLY: "progress_reply_due",
              Stage.RESOLUTION: "resolve_due", Stage.VISIT: "visit_due"}[stage]
    value = getattr(row, column, None)
    return None if value is None else value.astimezone(UTC).isoformat()


async def write_digest(conn: AsyncConnection, day: date, now: datetime) -> bool:
    """Store the digest of ``day`` unless one is stored already; True if written."""
    rows = await complaint_repo.digest(conn, now)
    counts = {stage.value: len(rows.get(stage, [])) for stage in Stage}
    inserted = await conn.execute(
        insert(complaint_digests)
        .values(day=day, generated_at=now, counts=counts, items=digest_items(rows))
        .on_conflict_do_nothing(index_elements=["day"]).returning(complaint_digests.c.day))
    if inserted.first() is None:
        return False
    log.info("complaints digest %s: %s", day.isoformat(),
             ", ".join(f"{stage} {count}" for stage, count in counts.items()))
    return True


async def stored_digest(conn: AsyncConnection, day: date) -> dict[str, Any] | None:
    row = (await conn.execute(select(complaint_digests)
                              .where(complaint_digests.c.day == day))).first()
    if row is None:
        return None
    return {"day": row.day.isoformat(), "generated_at": row.generated_at.isoformat(),
            "counts": row.counts, "items": row.items}


class ComplaintClock:
    def __init__(self, settings: ComplaintSettings, *, engine: AsyncEngine,
                 calendar: Callable[[], BusinessCalendar], timeout: float = 5.0,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.settings = settings
        self._engine = engine
        self._calendar = calendar  # the routing snapshot's, read at each round
        self._timeout = timeout
        self._now = clock
        self._digest_at = digest_time_of(settings)
        self._written: date | None = None  # the last day whose digest is known stored
        self.name = "complaints"
        self._task = BackgroundTask("complaints-clock", self._run_forever)
        self.last_counts: dict[Stage, int] | None = None

    async def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

    def readiness(self) -> Readiness:
        return self._task.readiness()

    async def refresh_overdue(self) -> dict[Stage, int]:
        async with asyncio.timeout(self._timeout), self._engine.connect() as conn:
            counts = await complaint_repo.overdue_counts(conn, self._now())
        for stage in Stage:
            COMPLAINTS_OVERDUE.labels(stage.value).set(counts.get(stage, 0))
        self.last_counts = counts
        return counts

    async def digest_if_due(self) -> bool:
        """Write today's digest if it is due and not yet stored; True if this call wrote it."""
        now = self._now()
        day = digest_day(self._calendar(), self._digest_at, now)
        if day is None or day == self._written:
            return False
        async with asyncio.timeout(self._timeout), self._engine.begin() as conn:
            written = await write_digest(conn, day, now)
        self._written = day
        return written

    async def _run_forever(self) -> None:
        failing_since: float | None = None
        while True:
            try:
                await self.refresh_overdue()
                await self.digest_if_due()
                failing_since = None
            except Exception as exc:  # PostgreSQL down: the gauge keeps its last values
                if failing_since is None:
                    failing_since = time.monotonic()
                    log.warning("complaints: overdue count or digest not done (%s); retried "
                                "every %.0f s", exc or "timeout", self.settings.check_every)
            await asyncio.sleep(self.settings.check_every)
