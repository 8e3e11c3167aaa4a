"""What the hotline queues look like now: callers waiting, members, connected calls.

Pure state rules, no I/O: :mod:`hotline_pbx.ami.queue_watch` translates AMI
events into the facts below and applies them here. Every rule is total: an
event for a caller, member or call not known (joined mid-stream, events lost in
an AMI gap, arrived out of order) is ignored or adopts what it names, never
raises, and no count can go negative (counts are the sizes of sets, never
counters). :meth:`QueueState.reconcile` replaces everything with a snapshot
(the ``QueueStatus`` listing after every AMI login: a gap loses events).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import IntEnum


class DeviceState(IntEnum):
    """A queue member's device state (``Status`` of AMI's queue member events)."""

    UNKNOWN = 0
    NOT_INUSE = 1
    INUSE = 2
    BUSY = 3
    INVALID = 4
    UNAVAILABLE = 5
    RINGING = 6
    RINGINUSE = 7
    ONHOLD = 8

    @classmethod
    def parse(cls, value: str) -> DeviceState:
        try:
            return cls(int(value))
        except ValueError:
            return cls.UNKNOWN


@dataclass(frozen=True, slots=True)
class Waiting:
    """A caller waiting in a queue."""

    queue: str
    uniqueid: str
    channel: str
    caller: str
    joined_at: float


@dataclass(frozen=True, slots=True)
class Member:
    """A queue member: ``interface`` is dialable (``Local/agent1@hotline-agents``)."""

    queue: str
    interface: str
    name: str = ""
    state: DeviceState = DeviceState.UNKNOWN
    paused: bool = False
    ringing: bool = False  # AgentCalled seen, no connect or ring-no-answer yet
    in_call: bool = False  # AgentConnect seen, no AgentComplete yet

    @property
    def free(self) -> bool:
        """Would take a call now: not in use, not paused, not ringing."""
        return (self.state is DeviceState.NOT_INUSE and not self.paused
                and not self.ringing and not self.in_call)


@dataclass(frozen=True, slots=True)
class ConnectedCall:
    """A caller connected to a queue member (``AgentConnect``, until ``AgentComplete``)."""

    queue: str
    member_interface: str
    agent_channel: str
    caller_channel: str
    caller_number: str
    linkedid: str
    uniqueid: str  # the caller's channel
    connected_at: float
    agent_uniqueid: str = ""  # the member's channel (ARI's channel id)


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A complete picture (``QueueStatus`` + connected calls found in the channel list)."""

    waiting: tuple[Waiting, ...] = ()
    members: tuple[Member, ...] = ()
    connected: tuple[ConnectedCall, ...] = ()


@dataclass(slots=True)
class QueueState:
    """The state of the watched queues (``queues``; empty: every queue)."""

    queues: frozenset[str] = frozenset()
    waiting: dict[str, Waiting] = field(default_factory=dict)  # caller uniqueid →
    members: dict[tuple[str, str], Member] = field(default_factory=dict)  # (queue, iface) →
    connected: dict[str, ConnectedCall] = field(default_factory=dict)  # caller uniqueid →

    def watches(self, queue: str) -> bool:
        return not self.queues or queue in self.queues

    # -- callers -----------------------------------------------------------------------

    def caller_joined(self, caller: Waiting) -> None:
        if self.watches(caller.queue) and caller.uniqueid:
            # Waiting again (put back into the queue, or its AgentComplete was lost):
            # no longer with an agent.
            self.agent_completed(caller.uniqueid)
            # A caller who rejoined keeps the time it first joined this time round.
            known = self.waiting.get(caller.uniqueid)
            self.waiting[caller.uniqueid] = caller if known is None else replace(
                caller, joined_at=min(known.joined_at, caller.joined_at))

    def caller_left(self, uniqueid: str) -> None:
        """QueueCallerLeave or QueueCallerAbandon: no longer waiting."""
        self.waiting.pop(uniqueid, None)

    # -- members -----------------------------------------------------------------------

    def member_seen(self, member: Member) -> None:
        """QueueMemberAdded/Status/Pause: its device state and pause as Asterisk says;
        our ringing/in-call marks stay (device states of Local channels lag)."""
        if not self.watches(member.queue) or not member.interface:
            return
        key = (member.queue, member.interface)
        known = self.members.get(key)
        if known is not None:
            member = replace(member, ringing=known.ringing, in_call=known.in_call)
        self.members[key] = member

    def member_removed(self, queue: str, interface: str) -> None:
        self.members.pop((queue, interface), None)

    def _mark(self, queue: str, interface: str, *, ringing: bool, in_call: bool) -> None:
        key = (queue, interface)
        known = self.members.get(key)
        if known is not None:
            self.members[key] = replace(known, ringing=ringing, in_call=in_call)

    def agent_called(self, queue: str, interface: str) -> None:
        self._mark(queue, interface, ringing=True, in_call=False)

    def agent_not_answered(self, queue: str, interface: str) -> None:
        """AgentRingNoAnswer or AgentDump: ringing stopped without a connect."""
        self._mark(queue, interface, ringing=False, in_call=False)

    # -- connected calls ---------------------------------------------------------------

    def agent_connected(self, call: ConnectedCall) -> None:
        if not self.watches(call.queue) or not call.uniqueid:
            return
        self.waiting.pop(call.uniqueid, None)  # no longer waiting, whatever the order
        self.connected[call.uniqueid] = call
        self._mark(call.queue, call.member_interface, ringing=False, in_call=True)

    def agent_completed(self, uniqueid: str) -> None:
        call = self.connected.pop(uniqueid, None)
        if call is not None and not self._member_busy_elsewhere(call):
            self._mark(call.queue, call.member_interface, ringing=False, in_call=False)

    def channel_gone(self, uniqueid: str) -> None:
        """A Hangup: whatever that channel was, it is neither waiting nor connected."""
        self.caller_left(uniqueid)
        self.agent_completed(uniqueid)

    def _member_busy_elsewhere(self, ended: ConnectedCall) -> bool:
        return any(c.member_interface == ended.member_interface and c.queue == ended.queue
                   for c in self.connected.values())

    # -- the snapshot ------------------------------------------------------------------

    def reconcile(self, snapshot: Snapshot) -> None:
        """Replace everything with what Asterisk listed (marks included)."""
        self.waiting = {w.uniqueid: w for w in snapshot.waiting
                        if self.watches(w.queue) and w.uniqueid}
        self.members = {(m.queue, m.interface): m for m in snapshot.members
                        if self.watches(m.queue) and m.interface}
        self.connected = {c.uniqueid: c for c in snapshot.connected
                          if self.watches(c.queue) and c.uniqueid}
        for call in self.connected.values():
            self._mark(call.queue, call.member_interface, ringing=False, in_call=True)

    # -- reading -----------------------------------------------------------------------

    def callers_waiting(self) -> int:
        return len(self.waiting)

    def longest_wait(self, now: float) -> float:
        if not self.waiting:
            return 0.0
        return max(0.0, now - min(w.joined_at for w in self.waiting.values()))

    def free_agents(self) -> tuple[str, ...]:
        """Dialable interfaces of free members, each once, in a stable order. A
        member of several queues is free only if it is free in all of them, and a
        member we saw connected to a caller is not free until that call ends, whatever
        its device state says (a Local channel's state may lag the bridge, and the
        dialer must never ring an agent who is talking)."""
        talking = {call.member_interface for call in self.connected.values()}
        by_interface: dict[str, bool] = {}
        for member in self.members.values():
            by_interface[member.interface] = by_interface.get(member.interface, True) \
                and member.free
        return tuple(sorted(iface for iface, free in by_interface.items()
                            if free and iface not in talking))

    def connected_calls(self) -> tuple[ConnectedCall, ...]:
        return tuple(sorted(self.connected.values(), key=lambda c: (c.connected_at, c.uniqueid)))


@dataclass(frozen=True, slots=True)
class ListedChannel:
    """One line of a channel listing (AMI ``CoreShowChannel``)."""

    channel: str
    uniqueid: str
    linkedid: str
    bridge: str
    caller: str
    started_at: float  # now minus its Duration


def member_of_channel(channel: str, interfaces: Iterable[str]) -> str | None:
    """The member interface a channel belongs to: ``Local/agent1@hotline-agents-0000a;1``
    and ``PJSIP/1001-0000b`` are channels of ``Local/agent1@hotline-agents``, ``PJSIP/1001``."""
    for interface in interfaces:
        if channel.startswith(f"{interface}-"):
            return interface
    return None


def connected_from_channels(channels: Iterable[ListedChannel], members: Iterable[Member],
                            ) -> tuple[ConnectedCall, ...]:
    """Calls connected to a member, found in a channel listing: a member's channel
    and another channel in the same bridge (the caller). Used after an AMI gap,
    when the AgentConnect may have been lost; ``connected_at`` is then the member
    channel's start, an upper bound on the talk time."""
    queue_of = {m.interface: m.queue for m in members}
    by_bridge: dict[str, list[ListedChannel]] = {}
    for listed in channels:
        if listed.bridge:
            by_bridge.setdefault(listed.bridge, []).append(listed)
    found = []
    for bridged in by_bridge.values():
        agents = [(c, member_of_channel(c.channel, queue_of)) for c in bridged]
        agent = next(((c, i) for c, i in agents if i is not None), None)
        others = [c for c, i in agents if i is None]
        if agent is None or len(others) != 1:
            continue  # not a two-party call with one member: a conference, a transfer
        (agent_channel, interface), caller = agent, others[0]
        found.append(ConnectedCall(
            queue=queue_of[interface or ""], member_interface=interface or "",
            agent_channel=agent_channel.channel, caller_channel=caller.channel,
            caller_number=caller.caller, linkedid=caller.linkedid, uniqueid=caller.uniqueid,
            connected_at=agent_channel.started_at, agent_uniqueid=agent_channel.uniqueid))
    return tuple(found)
