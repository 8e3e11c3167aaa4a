"""After every AMI (re)connect: tell the call tracker what Asterisk has right now.

Calls in progress must be neither lost (the daemon restarted mid-call, or
AMI was away while they started) nor counted twice (we knew them already),
and calls that ended while AMI was away must be closed. The answer comes in
order *through the event stream itself*, so the tracker applies it after
every event that arrived before it:

1. a ``HotlineReconnected`` marker: every call known so far becomes *stale*;
2. one ``QueueEntry`` per caller waiting in a queue (``QueueStatus``);
3. one ``CoreShowChannel`` per channel (``CoreShowChannels``), each root
   channel with its :data:`VARIABLES` read by ``Getvar``;
4. ``CoreShowChannelsComplete``: stale calls absent from the list ended
   during the gap; a known call whose root is now bridged with another channel
   of the call was answered during the gap; root channels of hotline calls we
   did not know are adopted.

Action replies carry an ActionID, so panoramisk hands them to the action and
not to the event callback: we hand them on ourselves (``supervisor.deliver``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping

from hotline_pbx.ami.normalise import VARIABLE_PREFIX
from hotline_pbx.ami.supervisor import AmiEvent, AmiSupervisor, describe
from hotline_pbx.domain.call_events import (
    CHANNEL_SNAPSHOT,
    QUEUE_ENTRY,
    RECONNECTED,
    SNAPSHOT_COMPLETE,
)
from hotline_pbx.domain.contract import DialplanVar

log = logging.getLogger(__name__)

#: Read from each root channel (the tracker needs these to resume a call). What was
#: answered while AMI was away: HOTLINE_ANSWERED_AT (the dialplan's [hotline-answered]
#: subroutine), HOTLINE_TRY (which forward target), MEMBERNAME (queues.conf
#: setinterfacevar: which agent).
VARIABLES = (DialplanVar.PERIOD, DialplanVar.ROUTE, DialplanVar.CLOSED, DialplanVar.DNID,
             DialplanVar.ANSWERED_AT, DialplanVar.TRY, "MEMBERNAME")


def mark_reconnected(supervisor: AmiSupervisor) -> None:
    """Step 1, at once on login: every call known so far becomes stale."""
    supervisor.deliver({"Event": RECONNECTED, "Timestamp": f"{time.time():.6f}"})


async def snapshot(supervisor: AmiSupervisor, *, timeout: float = 5.0,
                   concurrency: int = 8) -> bool:
    """Steps 2-4; False (logged) when Asterisk did not answer in time, e.g. while it
    is still booting: the caller tries again."""
    try:
        async with asyncio.timeout(timeout):
            entries = await _listed(supervisor, "QueueStatus", QUEUE_ENTRY, timeout)
            channels = await _listed(supervisor, "CoreShowChannels", CHANNEL_SNAPSHOT, timeout)
            variables = await _read_variables(supervisor, channels, concurrency, timeout)
    except Exception as exc:
        log.warning("AMI reconcile: no snapshot from Asterisk (%s)", describe(exc))
        return False
    received = f"{time.time():.6f}"
    for entry in entries:
        supervisor.deliver({**entry, "Timestamp": entry.get("Timestamp") or received})
    for channel in channels:
        extra = {f"{VARIABLE_PREFIX}{k}": v
                 for k, v in variables.get(channel.get("Uniqueid", ""), {}).items()}
        supervisor.deliver({**channel, **extra,
                            "Timestamp": channel.get("Timestamp") or received})
    supervisor.deliver({"Event": SNAPSHOT_COMPLETE, "Timestamp": received})
    roots = sum(1 for c in channels if c.get("Uniqueid") == c.get("Linkedid"))
    log.info("AMI reconcile: %d channels (%d calls), %d callers queued",
             len(channels), roots, len(entries))
    return True


async def reconcile(supervisor: AmiSupervisor, *, timeout: float = 5.0,
                    retry_interval: float = 2.0, attempts: int = 15) -> bool:
    """Steps 2-4 after :func:`mark_reconnected`, retried while Asterisk is still
    booting (an AMI login can succeed seconds before app_queue answers). Run it
    as a task of its own: it must not hold up the connection's other work."""
    for attempt in range(attempts):
        if attempt:
            await asyncio.sleep(retry_interval)
        if not supervisor.connected.is_set():
            return False  # the next login starts a new reconcile
        if await snapshot(supervisor, timeout=timeout):
            return True
    log.error("AMI reconcile gave up after %d attempts: calls that ended while AMI was "
              "away are closed by the sweep after 10 minutes of silence", attempts)
    return False


async def _listed(supervisor: AmiSupervisor, action: str, name: str,
                  timeout: float) -> list[AmiEvent]:
    """The ``name`` events of an event-list action, as plain dicts."""
    events: list[AmiEvent] = []
    await supervisor.listing({"Action": action},
                             lambda e: events.append(e) if e.get("Event") == name else None,
                             timeout=timeout)
    return events


async def _read_variables(supervisor: AmiSupervisor, channels: list[AmiEvent],
                          concurrency: int, timeout: float) -> dict[str, dict[str, str]]:
    """The HOTLINE_* variables of every root channel (one whose Uniqueid is its Linkedid)."""
    gate = asyncio.Semaphore(concurrency)

    async def read(channel: Mapping[str, str]) -> tuple[str, dict[str, str]]:
        values: dict[str, str] = {}
        async with gate:
            for name in VARIABLES:
                reply = await supervisor.action(
                    {"Action": "Getvar", "Channel": channel["Channel"], "Variable": name},
                    timeout=timeout)
                value = reply.get("Value") if hasattr(reply, "get") else None
                if value and value != "(null)":
                    values[name] = str(value)
        return channel["Uniqueid"], values

    # Every root channel: a hotline call may have left our contexts (a transfer).
    roots = [c for c in channels if c.get("Uniqueid") and c.get("Channel")
             and c.get("Uniqueid") == c.get("Linkedid")]
    results = await asyncio.gather(*(read(c) for c in roots))
    return dict(results)

