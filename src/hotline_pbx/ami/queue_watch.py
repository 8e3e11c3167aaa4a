"""The hotline queues as AMI shows them: callers waiting, free agents, connected calls.

An :class:`~hotline_pbx.ami.dispatch.EventDispatcher` subscriber (synchronous,
quick): each queue event becomes a fact of
:mod:`hotline_pbx.domain.queue_state` and is applied there. After every AMI
login :meth:`QueueWatch.reconcile` replaces the state with Asterisk's own
listing (``QueueStatus`` for callers and members, ``CoreShowChannels`` for the
calls connected to a member): events lost in a gap are never guessed at.

Read by the long-call service (connected calls, callers waiting) and the
dialer (its reserve: callers waiting; agent-first callbacks: free agents).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from hotline_pbx.ami.outbound_guard import AmiActions, _get, _seconds
from hotline_pbx.ami.supervisor import AmiError, AmiEvent, AmiUnavailable
from hotline_pbx.domain.queue_state import (
    ConnectedCall,
    DeviceState,
    ListedChannel,
    Member,
    QueueState,
    Snapshot,
    Waiting,
    connected_from_channels,
)

log = logging.getLogger(__name__)

#: Events kept while a reconcile's listings are on their way (replayed on top of
#: the snapshot); a burst beyond this is logged and the rest left to the next login.
MAX_JOURNAL = 10_000

__all__ = ["ConnectedCall", "QueueWatch"]

#: Member events that carry the member's whole state (interface, status, pause).
MEMBER_EVENTS = frozenset({"QueueMemberAdded", "QueueMemberStatus", "QueueMemberPause",
                           "QueueMemberPenalty", "QueueMemberRinginuse"})
#: Every event this watch reads (manager.conf's eventfilter must let them through).
EVENTS = frozenset({"QueueCallerJoin", "QueueCallerLeave", "QueueCallerAbandon",
                    "QueueMemberRemoved", "AgentCalled", "AgentRingNoAnswer", "AgentDump",
                    "AgentConnect", "AgentComplete", "Hangup", *MEMBER_EVENTS})


def _ts(event: Mapping[str, Any], clock: Callable[[], float]) -> float:
    try:
        return float(event.get("Timestamp") or clock())
    except ValueError:
        return clock()


def member_of(event: Mapping[str, Any]) -> Member:
    """A member from a member event or a ``QueueMember`` line of ``QueueStatus``
    (which names the interface ``Location`` and the name ``Name``)."""
    return Member(
        queue=_get(event, "Queue"),
        interface=_get(event, "Interface") or _get(event, "Location"),
        name=_get(event, "MemberName") or _get(event, "Name"),
        state=DeviceState.parse(_get(event, "Status")),
        paused=_get(event, "Paused") == "1",
    )


def connected_of(event: Mapping[str, Any], at: float) -> ConnectedCall:
    """``AgentConnect``: the caller's channel unprefixed, the member's ``Dest…``."""
    return ConnectedCall(
        queue=_get(event, "Queue"), member_interface=_get(event, "Interface"),
        agent_channel=_get(event, "DestChannel"), caller_channel=_get(event, "Channel"),
        caller_number=_get(event, "CallerIDNum"), linkedid=_get(event, "Linkedid"),
        uniqueid=_get(event, "Uniqueid"), connected_at=at,
        agent_uniqueid=_get(event, "DestUniqueid"),
    )


class QueueWatch:
    """The live state of the hotline queues (``queues``: their names)."""

    def __init__(self, queues: Iterable[str], *, clock: Callable[[], float] = time.time,
                 list_timeout: float = 10.0) -> None:
        self.state = QueueState(frozenset(queues))
        self._clock = clock
        self._list_timeout = list_timeout
        self.reconciled = 0  # completed reconciles (tests and logs)
        # Events dispatched while the listings are on their way: the snapshot may
        # predate them, so they are applied again on top of it (a caller who left
        # meanwhile must not come back as a ghost that waits for ever).
        self._journal: list[AmiEvent] | None = None

    # -- the public reading API ------------------------------------------------------------

    def callers_waiting(self) -> int:
        return self.state.callers_waiting()

    def longest_wait(self, now: float) -> float:
        """Seconds the longest-waiting caller has waited; 0 when nobody waits."""
        return self.state.longest_wait(now)

    def free_agents(self) -> tuple[str, ...]:
        """Dialable interfaces of members not in use, not paused, not ringing."""
        return self.state.free_agents()

    def connected_calls(self) -> tuple[ConnectedCall, ...]:
        return self.state.connected_calls()

    # -- the subscriber ----------------------------------------------------------------------

    def __call__(self, event: AmiEvent) -> None:
        name = event.get("Event", "")
        if name not in EVENTS:
            return
        journal = self._journal
        if journal is not None:
            if len(journal) < MAX_JOURNAL:
                journal.append(event)
            elif len(journal) == MAX_JOURNAL:
                journal.append(event)  # once: the marker of an overflow
                log.warning("queue watch: more than %d queue events during a reconcile; "
                            "the state may be stale until the next AMI login", MAX_JOURNAL)
        self._apply(event, name)

    def _apply(self, event: AmiEvent, name: str) -> None:
        state = self.state
        if name == "QueueCallerJoin":
            state.caller_joined(Waiting(_get(event, "Queue"), _get(event, "Uniqueid"),
                                        _get(event, "Channel"), _get(event, "CallerIDNum"),
                                        _ts(event, self._clock)))
        elif name in ("QueueCallerLeave", "QueueCallerAbandon"):
            state.caller_left(_get(event, "Uniqueid"))
        elif name in MEMBER_EVENTS:
            state.member_seen(member_of(event))
        elif name == "QueueMemberRemoved":
            state.member_removed(_get(event, "Queue"), _get(event, "Interface"))
        elif name == "AgentCalled":
            state.agent_called(_get(event, "Queue"), _get(event, "Interface"))
        elif name in ("AgentRingNoAnswer", "AgentDump"):
            state.agent_not_answered(_get(event, "Queue"), _get(event, "Interface"))
        elif name == "AgentConnect":
            state.agent_connected(connected_of(event, _ts(event, self._clock)))
        elif name == "AgentComplete":
            state.agent_completed(_get(event, "Uniqueid"))
        else:  # Hangup
            state.channel_gone(_get(event, "Uniqueid"))

    # -- after every AMI login -----------------------------------------------------------------

    async def reconcile(self, ami: AmiActions) -> bool:
        """Replace the state with Asterisk's listing; False (state kept) when AMI
        does not answer both listings."""
        self.begin_reconcile()
        status: list[AmiEvent] = []
        channels: list[AmiEvent] = []
        try:
            await ami.listing({"Action": "QueueStatus"}, status.append,
                              timeout=self._list_timeout)
            await ami.listing({"Action": "CoreShowChannels"}, channels.append,
                              timeout=self._list_timeout)
        except (AmiUnavailable, AmiError, TimeoutError) as exc:
            self._journal = None
            log.warning("queue watch: cannot list the queues after the AMI login: %s",
                        exc or "timeout")
            return False
        self.apply_listing(status, channels)
        return True

    def begin_reconcile(self) -> None:
        """From now on, keep the events to apply again on top of the listing."""
        self._journal = []

    def apply_listing(self, status: Sequence[Mapping[str, Any]],
                      channels: Sequence[Mapping[str, Any]]) -> None:
        """The snapshot of ``QueueStatus`` and ``CoreShowChannels`` replaces the state;
        the events seen since :meth:`begin_reconcile` are applied again on top."""
        journal, self._journal = self._journal or [], None
        self.state.reconcile(self._snapshot(status, channels))
        for event in journal[:MAX_JOURNAL]:
            self._apply(event, event.get("Event", ""))
        self.reconciled += 1
        log.info("queue watch reconciled: %d waiting, %d members (%d free), %d connected",
                 self.callers_waiting(), len(self.state.members), len(self.free_agents()),
                 len(self.state.connected))

    def _snapshot(self, status: Sequence[Mapping[str, Any]],
                  channels: Sequence[Mapping[str, Any]]) -> Snapshot:
        now = self._clock()
        members = tuple(member_of(m) for m in status if _get(m, "Event") == "QueueMember")
        waiting = tuple(
            Waiting(_get(e, "Queue"), _get(e, "Uniqueid"), _get(e, "Channel"),
                    _get(e, "CallerIDNum"), now - _number(_get(e, "Wait")))
            for e in status if _get(e, "Event") == "QueueEntry")
        listed = tuple(
            ListedChannel(_get(c, "Channel"), _get(c, "Uniqueid"), _get(c, "Linkedid"),
                          _get(c, "BridgeId"), _get(c, "CallerIDNum"),
                          now - _seconds(_get(c, "Duration")))
            for c in channels if _get(c, "Event") == "CoreShowChannel")
        in_call = [m for m in members if m.interface]
        return Snapshot(waiting, members, connected_from_channels(listed, in_call))


def _number(value: str) -> float:
    try:
        return max(0.0, float(value))
    except ValueError:
        return 0.0
