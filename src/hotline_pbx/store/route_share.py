"""``/route`` decisions shared between the daemons of a cluster, over LISTEN/NOTIFY.

With several daemons behind ``hagi://`` (``cluster.enabled``), Asterisk asks
any of them where a call goes, while every daemon follows the node's calls on
AMI. The route and the targets (their dial strings, names and roles) come
only from the decision (the shipped event filter keeps their VarSets out of
the AMI stream, and AMI cannot carry names): each daemon publishes its
decisions on :data:`ROUTES_CHANNEL` and applies everybody else's to its tracker.

The publisher never blocks routing: :meth:`RoutePublisher.publish` appends to
a bounded queue; one task sends what is queued in as few NOTIFYs as fit
PostgreSQL's payload limit, on a connection of its own. A full queue drops
its oldest decision (logged, counted in :attr:`RoutePublisher.dropped`): a
call whose decision was lost is recorded with its period and outcome (from
AMI) but without its route and its targets' names, as one routed by another
daemon on a database outage is; the call record itself is never dropped.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from hotline_pbx.domain.call_tracker import RouteInfo, RouteTarget
from hotline_pbx.lifecycle import BackgroundTask, Readiness, describe
from hotline_pbx.store.models import ROUTES_CHANNEL
from hotline_pbx.store.pg_session import keep_connected

log = logging.getLogger(__name__)

#: PostgreSQL refuses a NOTIFY payload of 8,000 bytes or more; stay well below.
MAX_PAYLOAD = 7500
MAX_QUEUED = 10_000


def route_to_json(info: RouteInfo) -> dict[str, Any]:
    return {"call_id": info.call_id, "period": info.period, "route": info.route,
            "decided_at": info.decided_at,
            "targets": [[t.role, t.person_id, t.name, t.dial_string] for t in info.targets],
            "caller": info.caller, "caller_name": info.caller_name, "dnid": info.dnid}


def route_from_json(data: Mapping[str, Any]) -> RouteInfo:
    """Raises KeyError/TypeError/ValueError on anything but a published decision."""
    texts = {name: data[name] for name in ("call_id", "period", "route", "caller",
                                            "caller_name", "dnid")}
    if not all(isinstance(value, str) for value in texts.values()):
        raise TypeError("a route's fields are strings")
    decided_at = data["decided_at"]
    if isinstance(decided_at, bool) or not isinstance(decided_at, (int, float)):
        raise TypeError("decided_at is a number")
    targets = []
    for target in data["targets"]:
        if not (isinstance(target, list) and len(target) == 4
                and all(isinstance(part, str) for part in target)):
            raise TypeError("a target is four strings")
        targets.append(RouteTarget(*target))
    return RouteInfo(decided_at=float(decided_at), targets=tuple(targets), **texts)


def encode_batches(sender: str, routes: Iterable[RouteInfo]) -> list[str]:
    """The payloads that carry ``routes``, each under :data:`MAX_PAYLOAD` bytes. A
    decision too big for a payload on its own (hundreds of targets) is left out."""
    payloads: list[str] = []
    batch: list[str] = []
    size = 0
    frame = len(json.dumps({"from": sender, "routes": []}).encode())
    for info in routes:
        item = json.dumps(route_to_json(info), ensure_ascii=False, separators=(",", ":"))
        item_size = len(item.encode()) + 1
        if frame + item_size > MAX_PAYLOAD:
            log.warning("route of call %s too large to share (%d bytes); left out",
                        info.call_id, item_size)
            continue
        if batch and frame + size + item_size > MAX_PAYLOAD:
            payloads.append(_payload(sender, batch))
            batch, size = [], 0
        batch.append(item)
        size += item_size
    if batch:
        payloads.append(_payload(sender, batch))
    return payloads


def _payload(sender: str, items: list[str]) -> str:
    return f'{{"from":{json.dumps(sender)},"routes":[{",".join(items)}]}}'


def decode_payload(payload: str, *, own: str) -> list[RouteInfo]:
    """The decisions of another instance in a payload ([] for our own, or for
    anything malformed, which is logged: a bad message never stops the listener)."""
    try:
        message = json.loads(payload)
        if message["from"] == own:
            return []
        return [route_from_json(item) for item in message["routes"]]
    except (ValueError, KeyError, TypeError) as exc:
        log.warning("%s: a malformed message skipped (%s)", ROUTES_CHANNEL, exc)
        return []


class RoutePublisher:
    """Sends this instance's decisions on :data:`ROUTES_CHANNEL` (see module doc)."""

    def __init__(self, dsn: str, sender: str, *, connect_timeout: float = 5.0,
                 send_timeout: float = 5.0, retry_seconds: float = 1.0,
                 max_queued: int = MAX_QUEUED) -> None:
        self._dsn = dsn
        self.sender = sender
        self._connect_timeout = connect_timeout
        self._send_timeout = send_timeout
        self._retry_seconds = retry_seconds
        self._queue: deque[RouteInfo] = deque()
        self._max_queued = max_queued
        self._wakeup = asyncio.Event()
        self.dropped = 0
        self.sent = 0
        self.name = "route publisher"
        self._task = BackgroundTask("route-publisher", self._run)

    def publish(self, info: RouteInfo) -> None:
        """Queue a decision (never blocks; a full queue drops its oldest, logged)."""
        if len(self._queue) >= self._max_queued:
            self._queue.popleft()
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 1000 == 0:
                log.warning("route publisher: %d decisions dropped so far (PostgreSQL not "
                            "taking NOTIFYs); their calls are recorded without route and "
                            "target names", self.dropped)
        self._queue.append(info)
        self._wakeup.set()

    async def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

    def readiness(self) -> Readiness:
        return self._task.readiness()

    async def _run(self) -> None:
        await keep_connected(self._dsn, self._send_while_connected,
                             connect_timeout=self._connect_timeout,
                             retry_seconds=self._retry_seconds, failed=self._failed)

    def _failed(self, exc: Exception) -> None:
        log.warning("route publisher: %s; retrying in %ss", describe(exc), self._retry_seconds)

    async def _send_while_connected(self, connection: Any) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                pending = list(self._queue)
                self._queue.clear()
                try:
                    for payload in encode_batches(self.sender, pending):
                        async with asyncio.timeout(self._send_timeout):
                            await connection.execute("SELECT pg_notify($1, $2)",
                                                     ROUTES_CHANNEL, payload)
                except BaseException:
                    # Not sent (perhaps in part: a repeat is harmless, the tracker
                    # applies a decision once): back at the head, for the next try.
                    self._queue.extendleft(reversed(pending))
                    while len(self._queue) > self._max_queued:
                        self._queue.popleft()
                        self.dropped += 1
                    raise
                self.sent += len(pending)


def route_receiver(own: str, apply: Callable[[RouteInfo], None]) -> Callable[[str], None]:
    """A :class:`~hotline_pbx.store.notify.ConfigListener` payload handler that
    applies the other instances' decisions."""

    def receive(payload: str) -> None:
        for info in decode_payload(payload, own=own):
            apply(info)

    return receive
