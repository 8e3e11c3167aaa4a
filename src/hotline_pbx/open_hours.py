"""``hotline_open_hours``: whether the business calendar says the hotline is open now.

Alerts that only make sense in open hours (no call for an hour, the line down)
join on it; the calendar (weekly periods, the lunch break, dated exceptions,
statutory holidays, an override) is the routing snapshot's, so the gauge says
exactly what ``/route`` would decide. Every instance exports it.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from hotline_pbx.domain.routing import SnapshotSource
from hotline_pbx.lifecycle import BackgroundTask, Readiness
from hotline_pbx.metrics import OPEN_HOURS

#: Seconds between updates: an alert's ``for:`` is minutes long.
UPDATE_SECONDS = 15.0


def is_open_at(routing: SnapshotSource, epoch: float) -> bool:
    """Is the hotline open at ``epoch`` by the routing snapshot in force?"""
    return routing.snapshot.calendar.state_at(datetime.fromtimestamp(epoch, UTC)).is_open


class OpenHoursGauge:
    def __init__(self, routing: SnapshotSource, *, every: float = UPDATE_SECONDS) -> None:
        self.name = "open-hours gauge"
        self._routing = routing
        self._every = every
        self._task = BackgroundTask("open-hours-gauge", self._run)

    async def start(self) -> None:
        self._update()
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

    def readiness(self) -> Readiness:
        return self._task.readiness()

    def _update(self) -> None:
        now = datetime.now(UTC).timestamp()
        OPEN_HOURS.set(1.0 if is_open_at(self._routing, now) else 0.0)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._every)
            self._update()
