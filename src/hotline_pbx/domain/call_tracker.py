"""The call tracker: one state machine per hotline call, fed by typed AMI events.

Pure and synchronous: no I/O, no clock, no asyncio. The daemon feeds it the
live stream (:mod:`hotline_pbx.ami.normalise` turns raw AMI into
:mod:`~hotline_pbx.domain.call_events`), the tests feed it captures of the
real sandbox, and both run exactly this code.

A call is keyed by the **Linkedid** of its channels, which is the uniqueid of
the inbound channel (the *root*) and the ``HOTLINE_CALL_ID`` ``/route`` hands
out. Every other channel of the call (queue agents, mobiles, both halves of a
Local channel) only adds facts to it; none is ever reported as a party of its
own.

States: ``offered`` (the inbound channel exists) → ``routed`` (a period and a
route are known) → ``queued`` / ``ringing`` → ``answered`` → ``ended``.

Outcomes are decided from the events that say what happened, not from
``Newstate`` (chan_pjsip changes no channel state on a 183):

* **answered**: ``AgentConnect`` (queue), or ``DialEnd`` with ``ANSWER`` on the
  root's own ``Dial`` (mobiles), or, failing both, the root entering a bridge
  with another channel of the call. Answer time = that moment.
* the **caller hung up first**: a ``HangupRequest`` (not a soft one) on the
  root before any answer: the caller's side sent CANCEL/BYE. A
  ``DialEnd CANCEL`` on a forward ``Dial`` counts too. ``QueueCallerAbandon``
  alone does *not*: Asterisk 22 also sends it when the queue times out.
* **missed**: nobody answered and the caller did not hang up first: the
  closed message started (``HOTLINE_CLOSED``), or the PBX ended the call.

The tracker only gathers these facts on a typed :class:`Call`; the stored
record (outcome, wait, hang-up side, ``details``) is made from the finished call
by :func:`~hotline_pbx.domain.call_record.record_of`.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from .call_events import (
    AMI_EVENTS,
    AgentCalled,
    AgentComplete,
    AgentConnect,
    AgentRingNoAnswer,
    BlindTransfer,
    BridgeEnter,
    BridgeLeave,
    CallEvent,
    ChannelSnapshot,
    DialBegin,
    DialEnd,
    DialState,
    Hangup,
    HangupRequest,
    LocalBridge,
    NewChannel,
    QueueCallerAbandon,
    QueueCallerJoin,
    QueueCallerLeave,
    QueueEntry,
    Reconnected,
    SnapshotComplete,
    VarSet,
)
from .call_record import AnswerTime, HangupSide, JoinedBy, UnseenEnd
from .contract import FAILSAFE_ROUTE, DialplanVar, Period, Route

__all__ = [
    "HOTLINE_CONTEXTS",
    "INBOUND_CONTEXTS",
    "Call",
    "CallState",
    "CallTracker",
    "RouteInfo",
    "RouteTarget",
    "TrackerObserver",
]

#: Where calls from the 400 trunk start (dialplan/extensions_hotline.conf).
INBOUND_CONTEXTS = frozenset({"hotline-inbound"})
#: Every context a hotline call runs in, for recognising calls after a reconnect.
HOTLINE_CONTEXTS = frozenset({
    "hotline-inbound", "hotline-route-queue", "hotline-route-forward",
    "hotline-route-closed", "hotline-failsafe",
})

_TARGET_AT = len(DialplanVar.TARGET)  # HOTLINE_TARGET_<n>: where n starts
_ROUTED_PERIODS = {p.value: p for p in Period if p is not Period.UNROUTED}


class CallState(StrEnum):
    OFFERED = "offered"
    ROUTED = "routed"
    QUEUED = "queued"
    RINGING = "ringing"
    ANSWERED = "answered"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class RouteTarget:
    role: str  # supervisor | deputy
    person_id: str
    name: str
    dial_string: str


@dataclass(frozen=True, slots=True)
class RouteInfo:
    """What ``/route`` decided, heard in-process (names and roles AMI cannot carry)."""

    call_id: str
    period: str
    route: str
    decided_at: float
    targets: tuple[RouteTarget, ...] = ()
    caller: str = ""
    caller_name: str = ""
    dnid: str = ""


@dataclass(slots=True)
class Attempt:
    """One forward target dialled by the root's ``Dial``."""

    target: str
    started: float
    try_index: int | None
    status: str | None = None
    early_media: bool = False


@dataclass(slots=True)
class Call:
    """One hotline call in progress."""

    linkedid: str
    uniqueid: str
    channel: str
    started_at: float
    caller: str = ""
    caller_name: str = ""
    dnid: str = ""
    state: CallState = CallState.OFFERED
    period: Period = Period.UNROUTED
    route: str | None = None
    routed_at: float | None = None
    queue: str | None = None
    queued_at: float | None = None
    in_queue: bool = False
    answered_at: float | None = None
    answered_by: str | None = None
    answered_role: str | None = None
    answer_time: AnswerTime = AnswerTime.EVENT  # how answered_at is known
    missed_at: float | None = None  # the closed message started
    hung_up_at: float | None = None  # the caller hung up before answer
    ended_at: float | None = None
    hangup_cause: int | None = None
    is_test: bool = False
    offered: bool = False
    targets: dict[int, str] = field(default_factory=dict)  # HOTLINE_TARGET_<n>
    try_index: int | None = None  # HOTLINE_TRY
    route_info: RouteInfo | None = None
    attempts: list[Attempt] = field(default_factory=list)
    agent_no_answer: int = 0
    transfers: list[str] = field(default_factory=list)
    complete_reason: str | None = None  # AgentComplete Reason
    root_request_soft: bool | None = None  # the root's first hangup request
    end_side: HangupSide | None = None  # who asked first to end an answered call
    answer_leg: set[str] = field(default_factory=set)  # uniqueids on the answering side
    local_pairs: dict[str, str] = field(default_factory=dict)
    bridge: str | None = None  # the root's current bridge
    last_event_at: float = 0.0
    stale: bool = False  # not confirmed since the AMI connection was lost
    lost_at: float | None = None
    joined_by: JoinedBy | None = None  # None: seen from its Newchannel
    unseen_end: UnseenEnd | None = None  # None: closed by its own Hangup
    left_queue_unanswered: bool = False  # QueueCallerAbandon (a hang-up or a queue timeout)
    dialled_after_answer: list[str] = field(default_factory=list)  # Dial strings, in order
    transfer_answered: bool = False  # a transfer's target answered
    long_call: bool = False  # flagged by the long-call service (issue 12)


class TrackerObserver(Protocol):
    def call_offered(self, call: Call) -> None: ...

    def call_ended(self, call: Call) -> None:
        """``call`` has ended (``state`` ENDED); the tracker never touches it again."""


class _NoObserver:
    def call_offered(self, call: Call) -> None:
        pass

    def call_ended(self, call: Call) -> None:
        pass


class CallTracker:
    """Calls in progress, keyed by Linkedid; ended calls go to the observer
    (:func:`~hotline_pbx.domain.call_record.record_of` makes their records).

    Bounded: at most ``max_calls`` calls in progress (beyond, the one idle the
    longest is closed as lost), ``max_pending_routes`` routing decisions
    waiting for their call, and the last ``remember_ended`` ended call ids
    (so a late event or a reconcile can never open an ended call again).
    """

    def __init__(
        self,
        *,
        observer: TrackerObserver | None = None,
        inbound_contexts: Iterable[str] = INBOUND_CONTEXTS,
        hotline_contexts: Iterable[str] = HOTLINE_CONTEXTS,
        max_calls: int = 20_000,
        max_pending_routes: int = 5_000,
        remember_ended: int = 20_000,
    ) -> None:
        self.observer: TrackerObserver = observer or _NoObserver()
        self._inbound = frozenset(inbound_contexts)
        self._hotline = frozenset(hotline_contexts) | self._inbound
        self._max_calls = max_calls
        self._max_pending = max_pending_routes
        self._remember_ended = remember_ended
        self.calls: dict[str, Call] = {}
        self._pending_routes: OrderedDict[str, RouteInfo] = OrderedDict()
        self._ended: OrderedDict[str, None] = OrderedDict()
        self._snapshot: list[ChannelSnapshot] = []
        self._queue_entries: dict[str, QueueEntry] = {}
        self.lost_calls = 0  # closed without their hang-up (evicted, swept, gap)
        self.orphan_events = 0  # events for no call we track (other traffic, or joined late)
        self.last_event_at = 0.0  # the newest event time seen
        # One step per event type of the registry (AMI_EVENTS names each step).
        self._handlers: dict[type[CallEvent], Callable[[Any], None]] = {
            kind.type: getattr(self, f"_{kind.handler}") for kind in AMI_EVENTS.values()}

    @property
    def active(self) -> int:
        return len(self.calls)

    # -- input ---------------------------------------------------------------------

    def mark_long_call(self, linkedid: str) -> bool:
        """Flag the call in progress as long (its record will carry it); False when
        no such call is in progress (ended already, or never seen)."""
        call = self.calls.get(linkedid)
        if call is None:
            return False
        call.long_call = True
        return True

    def feed(self, event: CallEvent) -> None:
        self._handlers[type(event)](event)
        if event.ts > self.last_event_at:
            self.last_event_at = event.ts

    def route_decided(self, info: RouteInfo) -> None:
        """``/route`` answered for ``info.call_id`` (may come before or after its events)."""
        call = self.calls.get(info.call_id)
        if call is not None:
            self._apply_route(call, info)
        elif info.call_id not in self._ended:
            self._pending_routes[info.call_id] = info
            while len(self._pending_routes) > self._max_pending:
                self._pending_routes.popitem(last=False)

    def connection_lost(self, at: float) -> None:
        """The AMI stream stopped: what happens next is unknown until the reconcile."""
        for call in self.calls.values():
            if not call.stale:  # a second gap before any confirmation keeps the first
                call.stale = True
                call.lost_at = at
        self._snapshot.clear()
        self._queue_entries.clear()

    def sweep(self, now: float, *, stale_idle: float = 600.0, max_idle: float = 12 * 3600.0,
              pending_route_ttl: float = 600.0) -> None:
        """Close calls whose hang-up will never be seen: unconfirmed since an AMI gap
        (the reconcile failed) and silent for ``stale_idle`` s, or silent for
        ``max_idle`` s whatever happened (events lost without a gap)."""
        idle = [c for c in self.calls.values()
                if now - c.last_event_at > (stale_idle if c.stale else max_idle)]
        for call in idle:
            self._end_unseen(call, call.last_event_at, UnseenEnd.LOST_TRACK)
        while self._pending_routes:
            key, info = next(iter(self._pending_routes.items()))
            if now - info.decided_at <= pending_route_ttl:
                break
            del self._pending_routes[key]

    # -- calls ---------------------------------------------------------------------------

    def _call_for(self, linkedid: str, ts: float) -> Call | None:
        call = self.calls.get(linkedid)
        if call is None:
            self.orphan_events += 1
            return None
        call.last_event_at = ts
        call.stale = False
        return call

    def _open(self, linkedid: str, uniqueid: str, channel: str, ts: float,
              caller: str = "", caller_name: str = "") -> Call | None:
        if linkedid in self._ended or linkedid in self.calls:
            return None
        if len(self.calls) >= self._max_calls:
            idle = min(self.calls.values(), key=lambda c: c.last_event_at)
            self._end_unseen(idle, idle.last_event_at, UnseenEnd.LOST_TRACK)
        call = Call(linkedid=linkedid, uniqueid=uniqueid, channel=channel, started_at=ts,
                    caller=caller, caller_name=caller_name, last_event_at=ts)
        self.calls[linkedid] = call
        pending = self._pending_routes.pop(linkedid, None)
        if pending is not None:
            self._apply_route(call, pending)
        return call

    def _apply_route(self, call: Call, info: RouteInfo) -> None:
        call.route_info = info
        call.caller = call.caller or info.caller
        call.caller_name = call.caller_name or info.caller_name
        call.dnid = call.dnid or info.dnid
        if info.route == Route.TEST:  # before _routed: a test call is never offered
            call.is_test = True
        self._routed(call, info.period, info.decided_at)
        if info.route:
            call.route = info.route
        self._take_targets(call, info)

    def _take_targets(self, call: Call, info: RouteInfo) -> None:
        """The decision's dial strings are ``HOTLINE_TARGET_<n>`` (the shipped filter
        keeps those VarSets out of the stream). A decision heard after the root's
        Dial began (its AMI events read first; in a cluster, a NOTIFY that came
        late) names the attempts made so far, and who answered if one did."""
        for n, target in enumerate(info.targets, start=1):
            call.targets.setdefault(n, target.dial_string)
        for attempt in call.attempts:
            if attempt.try_index in call.targets \
                    and _same_target(call.targets[attempt.try_index], attempt.target):
                attempt.target = call.targets[attempt.try_index]
        if call.answered_at is None or call.answered_role is not None:
            return
        answered = next((a for a in reversed(call.attempts) if a.status == "ANSWER"), None)
        if answered is not None:
            call.answered_by = self._person(call, answered.target)
            call.answered_role = self._role(call, answered.target, answered)

    def _routed(self, call: Call, period: str, ts: float) -> None:
        known = _ROUTED_PERIODS.get(period)
        if known is None:
            return
        call.period = known
        if call.routed_at is None:
            call.routed_at = ts
        if call.state is CallState.OFFERED:
            call.state = CallState.ROUTED
        if not call.offered and not call.is_test:
            call.offered = True
            self.observer.call_offered(call)

    def _answer(self, call: Call, ts: float, by: str, role: str | None, leg: str,
                how: AnswerTime = AnswerTime.EVENT) -> None:
        if call.answered_at is not None:
            return
        call.answered_at = ts
        call.answered_by = by
        call.answered_role = role
        call.answer_time = how
        call.state = CallState.ANSWERED
        call.in_queue = False
        call.answer_leg = {leg}
        pair = call.local_pairs.get(leg)
        if pair is not None:
            call.answer_leg.add(pair)

    # -- event handlers ------------------------------------------------------------------

    def _new_channel(self, e: NewChannel) -> None:
        call = self.calls.get(e.linkedid)
        if call is not None:
            call.last_event_at = e.ts
            return
        if e.uniqueid == e.linkedid and e.context in self._inbound:
            opened = self._open(e.linkedid, e.uniqueid, e.channel, e.ts, e.caller, e.caller_name)
            if opened is not None:
                opened.dnid = e.exten
        else:
            self.orphan_events += 1

    def _var_set(self, e: VarSet) -> None:
        call = self._call_for(e.linkedid, e.ts)
        if call is None and e.uniqueid == e.linkedid and e.value and e.name in (
                DialplanVar.CALL_ID, DialplanVar.TEST_CALL, DialplanVar.PERIOD):
            # Joined after the Newchannel (lost or cut off): routing proves it is ours
            # (the test mark comes before the period: a test call is never offered).
            call = self._open(e.linkedid, e.uniqueid, e.channel, e.ts)
            if call is not None:
                call.joined_by = JoinedBy.ROUTING
        if call is None or e.uniqueid != call.uniqueid:
            return
        name, value = e.name, e.value
        if name == DialplanVar.PERIOD:
            self._routed(call, value, e.ts)
            if value == Period.FAILSAFE and not call.route:
                call.route = FAILSAFE_ROUTE
        elif name == DialplanVar.ROUTE:
            if value:
                call.route = value
        elif name == DialplanVar.TRY:
            call.try_index = _int_or_none(value)
        elif name.startswith(DialplanVar.TARGET) and name[_TARGET_AT:].isdigit():
            call.targets[int(name[_TARGET_AT:])] = value
        elif name == DialplanVar.CLOSED:
            if call.answered_at is None and call.missed_at is None:
                call.missed_at = e.ts
        elif name == DialplanVar.TEST_CALL:
            call.is_test = value.lower() in ("1", "yes", "true")
        elif name == DialplanVar.DNID and value:
            call.dnid = value

    def _queue_join(self, e: QueueCallerJoin) -> None:
        call = self._call_for(e.linkedid, e.ts)
        if call is None or e.uniqueid != call.uniqueid or call.answered_at is not None:
            return
        call.queue = e.queue
        call.queued_at = call.queued_at or e.ts
        call.in_queue = True
        call.state = CallState.QUEUED

    def _queue_leave(self, e: QueueCallerLeave) -> None:
        call = self._call_for(e.linkedid, e.ts)
        if call is not None and e.uniqueid == call.uniqueid:
            call.in_queue = False

    def _queue_abandon(self, e: QueueCallerAbandon) -> None:
        call = self._call_for(e.linkedid, e.ts)
        if call is not None and e.uniqueid == call.uniqueid:
            call.in_queue = False
            call.left_queue_unanswered = True

    def _agent_called(self, e: AgentCalled) -> None:
        call = self._call_for(e.linkedid, e.ts)
        if call is not None and call.answered_at is None:
            call.state = CallState.RINGING

    def _agent_ring_no_answer(self, e: AgentRingNoAnswer) -> None:
        call = self._call_for(e.linkedid, e.ts)
        if call is not None:
            call.agent_no_answer += 1

    def _agent_connect(self, e: AgentConnect) -> None:
        call = self._call_for(e.linkedid, e.ts)
        if call is None:
            return
        if call.answered_at is not None and call.answered_role is None:
            # The bridge fallback got there first; the queue names the agent.
            call.answered_by, call.answered_role = e.member, "agent"
        self._answer(call, e.ts, e.member, "agent", e.dest_uniqueid)

    def _agent_complete(self, e: AgentComplete) -> None:
        call = self._call_for(e.linkedid, e.ts)
        if call is None:
            return
        call.complete_reason = e.reason
        if call.answered_at is None and e.talk_time is not None:
            # Only a connected call completes: its AgentConnect was lost (an AMI gap
            # the reconcile could not close). TalkTime is in whole seconds.
            earliest = call.lost_at if call.lost_at is not None else call.started_at
            self._answer(call, max(earliest, e.ts - e.talk_time), e.member, "agent",
                         e.dest_uniqueid, AnswerTime.APPROXIMATE)

    def _dial_begin(self, e: DialBegin) -> None:
        call = self._call_for(e.linkedid, e.ts)
        if call is None or e.uniqueid != call.uniqueid:
            return  # a Local ;2 half dialling on: the root's own Dial tells the story
        if call.answered_at is not None:
            call.dialled_after_answer.append(e.dial_string)
        elif not call.in_queue:
            target = self._target_for(call, e.dial_string)
            call.attempts.append(Attempt(target, e.ts, call.try_index))
            call.state = CallState.RINGING

    def _dial_state(self, e: DialState) -> None:
        call = self._call_for(e.linkedid, e.ts)
        if call is None or e.uniqueid != call.uniqueid or call.answered_at is not None:
            return
        call.state = CallState.RINGING
        if e.status == "PROGRESS" and call.attempts and not call.in_queue:
            call.attempts[-1].early_media = True

    def _dial_end(self, e: DialEnd) -> None:
        call = self._call_for(e.linkedid, e.ts)
        if call is None or e.uniqueid != call.uniqueid:
            return
        if call.in_queue:
            return  # the queue's own events decide (DialEnd CANCEL also ends a timeout)
        attempt = call.attempts[-1] if call.attempts and call.attempts[-1].status is None \
            else None
        if attempt is not None:
            attempt.status = e.status
        if call.answered_at is not None:
            if e.status == "ANSWER" and call.transfers:
                call.transfer_answered = True
            return
        if e.status == "ANSWER":
            target = attempt.target if attempt else e.dest_channel
            self._answer(call, e.ts, self._person(call, target),
                         self._role(call, target, attempt), e.dest_uniqueid)
        elif e.status == "CANCEL" and call.missed_at is None and call.hung_up_at is None:
            call.hung_up_at = e.ts  # the caller hung up while the mobile rang

    def _bridge_enter(self, e: BridgeEnter) -> None:
        call = self._call_for(e.linkedid, e.ts)
        if call is None:
            return
        if e.uniqueid == call.uniqueid:
            call.bridge = e.bridge
            return
        if call.answered_at is not None:
            call.answer_leg.add(e.uniqueid)  # the far side of a Local pair, a transfer target
        elif call.bridge == e.bridge:
            # No AgentConnect/DialEnd seen (joined late): the bridge is the answer.
            self._answer(call, e.ts, e.channel, None, e.uniqueid)

    def _bridge_leave(self, e: BridgeLeave) -> None:
        call = self._call_for(e.linkedid, e.ts)
        if call is not None and e.uniqueid == call.uniqueid and call.bridge == e.bridge:
            call.bridge = None

    def _local_bridge(self, e: LocalBridge) -> None:
        call = self._call_for(e.linkedid, e.ts)
        if call is not None:
            call.local_pairs[e.one_uniqueid] = e.two_uniqueid
            call.local_pairs[e.two_uniqueid] = e.one_uniqueid

    def _hangup_request(self, e: HangupRequest) -> None:
        call = self._call_for(e.linkedid, e.ts)
        if call is None:
            return
        if e.uniqueid == call.uniqueid:
            if call.root_request_soft is None:
                call.root_request_soft = e.soft
            if e.soft:
                if call.answered_at is not None and call.end_side is None:
                    call.end_side = HangupSide.SYSTEM
            elif call.answered_at is not None:
                if call.end_side is None:
                    call.end_side = HangupSide.CALLER
            elif call.missed_at is None and call.hung_up_at is None:
                call.hung_up_at = e.ts
        elif call.answered_at is not None and call.end_side is None and (
                e.uniqueid in call.answer_leg
                or call.local_pairs.get(e.uniqueid) in call.answer_leg):
            call.end_side = HangupSide.CALLEE

    def _hangup(self, e: Hangup) -> None:
        call = self._call_for(e.linkedid, e.ts)
        if call is not None and e.uniqueid == call.uniqueid:
            self._end(call, e.ts, e.cause)

    def _blind_transfer(self, e: BlindTransfer) -> None:
        call = self._call_for(e.linkedid, e.ts)
        if call is None or e.transferee_uniqueid != call.uniqueid or not e.success:
            return
        call.transfers.append(e.destination)
        # The first answering side leaves; who ends the call is decided afresh.
        call.end_side = None
        call.answer_leg = set()

    # -- reconcile after an AMI (re)connect -----------------------------------------------

    def _reconnected(self, e: Reconnected) -> None:
        # The last event before the gap is when we lost sight of the calls.
        self.connection_lost(self.last_event_at or e.ts)

    def _snapshot_line(self, e: ChannelSnapshot) -> None:
        self._snapshot.append(e)

    def _queue_entry(self, e: QueueEntry) -> None:
        self._queue_entries[e.uniqueid] = e

    def _snapshot_complete(self, e: SnapshotComplete) -> None:
        snapshot, self._snapshot = self._snapshot, []
        entries, self._queue_entries = self._queue_entries, {}
        by_call: dict[str, list[ChannelSnapshot]] = {}
        for line in snapshot:
            by_call.setdefault(line.linkedid, []).append(line)
        for call in list(self.calls.values()):
            lines = by_call.get(call.linkedid)
            if lines is not None:
                self._resume(call, lines, e.ts)
            elif call.stale:
                # It ended while we could not see: close it at the moment we lost sight.
                self._end_unseen(call, call.lost_at if call.lost_at is not None else e.ts,
                                 UnseenEnd.ENDED_DURING_AMI_GAP)
        for snap in snapshot:
            if snap.uniqueid == snap.linkedid:
                self._adopt(snap, by_call[snap.linkedid], entries.get(snap.uniqueid), e.ts)

    def _resume(self, call: Call, lines: list[ChannelSnapshot], ts: float) -> None:
        """A call we knew is still up after a gap: take in what happened while we could
        not see (answered, the closed message started), never counting it twice."""
        call.stale = False
        root = next((s for s in lines if s.uniqueid == call.uniqueid), None)
        if root is not None:
            since = call.lost_at if call.lost_at is not None else call.started_at
            self._catch_up(call, root, lines, since, ts)

    def _catch_up(self, call: Call, root: ChannelSnapshot, lines: list[ChannelSnapshot],
                  since: float, ts: float) -> None:
        """What the root channel's snapshot says about a call we did not see since ``since``."""
        variables = dict(root.variables)
        if variables.get(DialplanVar.PERIOD) and call.routed_at is None:
            self._routed(call, variables[DialplanVar.PERIOD], since)
        if variables.get(DialplanVar.ROUTE) and not call.route:
            call.route = variables[DialplanVar.ROUTE]
        try_index = _int_or_none(variables.get(DialplanVar.TRY, ""))
        if try_index is not None:
            call.try_index = try_index
        if call.answered_at is not None or call.missed_at is not None:
            return
        if variables.get(DialplanVar.CLOSED):
            call.missed_at = ts
            return
        partner = _bridge_partner(root, lines)
        if partner is not None:
            self._answer_from_snapshot(call, root, partner, since)

    def _answer_from_snapshot(self, call: Call, root: ChannelSnapshot,
                              partner: ChannelSnapshot, since: float) -> None:
        """The root is bridged to a person: answered while we could not see it."""
        variables = dict(root.variables)
        mark = _float_or_none(variables.get(DialplanVar.ANSWERED_AT, ""))
        if mark is not None and mark >= call.started_at:
            at, how = mark, AnswerTime.DIALPLAN
        else:  # answered after we lost sight of the call and after the person's leg began
            at, how = max(since, partner.created_at), AnswerTime.APPROXIMATE
        interface = _interface(partner.channel)
        who: str
        role: str | None
        if call.queue or root.application == "Queue":
            who, role = variables.get("MEMBERNAME") or interface, "agent"
        else:
            target = self._target_for(call, interface)
            attempt = next((a for a in reversed(call.attempts)
                            if a.try_index == call.try_index), None)
            who, role = self._person(call, target), self._role(call, target, attempt)
        self._answer(call, at, who, role, partner.uniqueid, how)

    def _adopt(self, snap: ChannelSnapshot, lines: list[ChannelSnapshot],
               entry: QueueEntry | None, ts: float) -> None:
        """A call in progress that we have not seen start (daemon restart, AMI gap)."""
        variables = dict(snap.variables)
        ours = snap.context in self._hotline or any(v for k, v in variables.items()
                                                    if k in (DialplanVar.CALL_ID,
                                                             DialplanVar.PERIOD))
        if not ours:
            return
        call = self._open(snap.linkedid, snap.uniqueid, snap.channel,
                          snap.ts - snap.duration, snap.caller, snap.caller_name)
        if call is None:
            return
        call.last_event_at = ts
        call.joined_by = JoinedBy.RECONCILE
        call.dnid = variables.get(DialplanVar.DNID, "")
        if entry is not None:
            call.queue, call.in_queue = entry.queue, True
            call.queued_at = entry.ts - entry.wait
            call.state = CallState.QUEUED
        self._catch_up(call, snap, lines, call.started_at, ts)

    # -- ending ---------------------------------------------------------------------------

    def _end_unseen(self, call: Call, ts: float, why: UnseenEnd) -> None:
        """Close a call whose Hangup we will never see."""
        call.unseen_end = why
        self._end(call, ts, None)
        self.lost_calls += 1

    def _end(self, call: Call, ts: float, cause: int | None) -> None:
        del self.calls[call.linkedid]
        self._ended[call.linkedid] = None
        while len(self._ended) > self._remember_ended:
            self._ended.popitem(last=False)
        call.ended_at = ts
        call.hangup_cause = cause
        call.state = CallState.ENDED
        self.observer.call_ended(call)

    # -- names and roles --------------------------------------------------------------------

    @staticmethod
    def _target_for(call: Call, dial_string: str) -> str:
        """The full dial target (``HOTLINE_TARGET_<n>``) behind a DialBegin's DialString,
        which Asterisk gives without the technology (``Local/``, ``PJSIP/``)."""
        if call.try_index is not None and call.try_index in call.targets:
            return call.targets[call.try_index]
        for target in call.targets.values():
            if _same_target(target, dial_string):
                return target
        return dial_string

    @staticmethod
    def _route_target(call: Call, target: str, attempt: Attempt | None) -> RouteTarget | None:
        info = call.route_info
        if info is None or not info.targets:
            return None
        index = attempt.try_index if attempt is not None else None
        if index is not None and 1 <= index <= len(info.targets) \
                and info.targets[index - 1].dial_string == target:
            return info.targets[index - 1]
        return next((t for t in info.targets if t.dial_string == target), None)

    def _person(self, call: Call, target: str) -> str:
        found = self._route_target(call, target, call.attempts[-1] if call.attempts else None)
        return found.name if found is not None else target

    def _role(self, call: Call, target: str, attempt: Attempt | None) -> str | None:
        found = self._route_target(call, target, attempt)
        return found.role if found is not None else None


def _same_target(target: str, dial_string: str) -> bool:
    """``dial_string`` (a DialBegin's, without the technology) dials ``target``."""
    return target == dial_string or target.endswith("/" + dial_string)


def _int_or_none(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def _float_or_none(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _bridge_partner(root: ChannelSnapshot, lines: list[ChannelSnapshot]) -> ChannelSnapshot | None:
    """The person the root is talking to: another channel of the call in the root's bridge."""
    if not root.bridge:
        return None
    return next((s for s in lines if s.uniqueid != root.uniqueid and s.bridge == root.bridge),
                None)


_CHANNEL_SUFFIX = re.compile(r"-[0-9a-f]{8}(;[12])?$")


def _interface(channel: str) -> str:
    """``Local/agent1@hotline-agents-0000000a;1`` → ``Local/agent1@hotline-agents``."""
    return _CHANNEL_SUFFIX.sub("", channel)
