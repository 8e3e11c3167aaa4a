"""A stand-in for the queue watch (issue 12, part C): the queue's members as
AMI's ``QueueStatus`` lists them at each login, as the dialer's free agents.

Temporary: the integrator replaces it with ``ami/queue_watch.py``, which knows
who is free *now*. Until then a member counts as free unless it was paused at
the last login (the dialer itself never gives one agent two calls at once).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from hotline_pbx.ami.supervisor import AmiSupervisor, AmiUnavailable

log = logging.getLogger(__name__)


class QueueMembers:
    def __init__(self, queue: str) -> None:
        self._queue = queue
        self._members: tuple[str, ...] = ()

    def free(self) -> Sequence[str]:
        return self._members

    async def refresh(self, ami: AmiSupervisor) -> None:
        try:
            entries: Any = await ami.action({"Action": "QueueStatus", "Queue": self._queue},
                                            as_list=True)
        except (TimeoutError, AmiUnavailable) as exc:
            log.warning("dialer: cannot read the members of queue %s: %s", self._queue,
                        exc or "timeout")
            return
        self._members = tuple(
            str(entry.get("Location") or entry.get("Interface"))
            for entry in entries or ()
            if entry.get("Event") == "QueueMember" and str(entry.get("Paused", "0")) == "0"
            and (entry.get("Location") or entry.get("Interface")))
