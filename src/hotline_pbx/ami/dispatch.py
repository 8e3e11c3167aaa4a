"""Fan AMI events out to the parts that need them (call tracker, outbound guard).

One consumer task drains the supervisor's bounded queue and hands each event
to every subscriber in turn. Subscribers are synchronous and quick (they
update in-memory state; anything slow, such as an AMI action or a database
write, they schedule as a task or put on their own bounded queue), so one
slow part can never hold up another. A subscriber that raises is logged and
counted, and the next event still reaches everyone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from hotline_pbx.ami.supervisor import AmiEvent
from hotline_pbx.lifecycle import BackgroundTask, Readiness

log = logging.getLogger(__name__)

Subscriber = Callable[[AmiEvent], None]


class EventDispatcher:
    def __init__(self, source: asyncio.Queue[AmiEvent]) -> None:
        self._source = source
        self._subscribers: list[tuple[str, Subscriber]] = []
        self.failures = 0
        self.name = "AMI event dispatcher"
        self._task = BackgroundTask("ami-events", self.run)

    def subscribe(self, name: str, subscriber: Subscriber) -> None:
        self._subscribers.append((name, subscriber))

    def dispatch(self, event: AmiEvent) -> None:
        for name, subscriber in self._subscribers:
            try:
                subscriber(event)
            except Exception:
                self.failures += 1
                log.exception("AMI subscriber %s failed on %s", name, event.get("Event"))

    async def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

    def readiness(self) -> Readiness:
        return self._task.readiness()

    async def run(self) -> None:
        source = self._source
        while True:
            self.dispatch(await source.get())
            # What arrived meanwhile, without a round through the loop for each.
            while not source.empty():
                self.dispatch(source.get_nowait())
