"""Fan AMI events out to the parts that need them (call tracker, outbound guard).

The supervisor hands each event to :meth:`EventDispatcher.dispatch` as it
reads it, and the dispatcher hands it to every subscriber in turn.
Subscribers are synchronous and quick (they update in-memory state; anything
slow, such as an AMI action or a database write, they schedule as a task or
put on their own bounded queue), so one slow part can never hold up another.
A subscriber that raises is logged and counted, and the next event still
reaches everyone.

There is no queue and no task of its own: one held parsed events until a
task took them (a wake-up per read, and 20 MB at the burst of 2,000 calls
ending; docs/performance.md). While the subscribers work, the loop reads no
more: the rest waits in the socket and in Asterisk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from hotline_pbx.ami.supervisor import AmiEvent

log = logging.getLogger(__name__)

Subscriber = Callable[[AmiEvent], None]


class EventDispatcher:
    def __init__(self) -> None:
        self._subscribers: list[tuple[str, Subscriber]] = []
        self.failures = 0

    def subscribe(self, name: str, subscriber: Subscriber) -> None:
        self._subscribers.append((name, subscriber))

    def dispatch(self, event: AmiEvent) -> None:
        for name, subscriber in self._subscribers:
            try:
                subscriber(event)
            except Exception:
                self.failures += 1
                log.exception("AMI subscriber %s failed on %s", name, event.get("Event"))
