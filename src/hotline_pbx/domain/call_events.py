"""Typed AMI events: what the call tracker understands, nothing more.

:mod:`hotline_pbx.ami.normalise` turns Asterisk's raw ``dict[str, str]`` events
into these values (and drops what is malformed or of no interest), so the
tracker never parses a string and never meets a missing key. Times are the
event's own ``Timestamp`` (``timestampevents = yes``): Unix seconds as a float,
so a replayed capture gives the same waits and talk times as the live stream.

Every channel event carries the channel's ``uniqueid`` and the ``linkedid`` of
the call it belongs to: the inbound channel's uniqueid, which is also the call
id ``/route`` hands out (``HOTLINE_CALL_ID``).

:data:`AMI_EVENTS` is the one list of the AMI events the tracker reads: the
normaliser accepts exactly these names, the tracker dispatches by it, and the
shipped ``manager.conf`` event filter is tested against it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

__all__ = [
    "AMI_EVENTS",
    "CHANNEL_SNAPSHOT",
    "QUEUE_ENTRY",
    "RECONNECTED",
    "SNAPSHOT_COMPLETE",
    "AgentCalled",
    "AgentComplete",
    "AgentConnect",
    "AgentRingNoAnswer",
    "BlindTransfer",
    "BridgeEnter",
    "BridgeLeave",
    "CallEvent",
    "ChannelSnapshot",
    "DialBegin",
    "DialEnd",
    "DialState",
    "EventKind",
    "Hangup",
    "HangupRequest",
    "LocalBridge",
    "NewChannel",
    "QueueCallerAbandon",
    "QueueCallerJoin",
    "QueueCallerLeave",
    "QueueEntry",
    "Reconnected",
    "SnapshotComplete",
    "VarSet",
]


@dataclass(frozen=True, slots=True)
class CallEvent:
    """Any event the tracker reads; ``ts`` is when it happened (Unix seconds)."""

    ts: float


@dataclass(frozen=True, slots=True)
class _ChannelEvent(CallEvent):
    uniqueid: str
    linkedid: str
    channel: str


@dataclass(frozen=True, slots=True)
class NewChannel(_ChannelEvent):
    context: str
    exten: str
    caller: str
    caller_name: str


@dataclass(frozen=True, slots=True)
class VarSet(_ChannelEvent):
    """A ``HOTLINE_*`` dialplan variable set on a channel (the AMI filter passes only those)."""

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class _DialEvent(_ChannelEvent):
    dest_uniqueid: str
    dest_channel: str


@dataclass(frozen=True, slots=True)
class DialBegin(_DialEvent):
    dial_string: str


@dataclass(frozen=True, slots=True)
class DialState(_DialEvent):
    """RINGING or PROGRESS (a 183 sends PROGRESS, never a channel state change)."""

    status: str


@dataclass(frozen=True, slots=True)
class DialEnd(_DialEvent):
    """``DialStatus``: ANSWER, NOANSWER, BUSY, CONGESTION, CHANUNAVAIL, CANCEL…"""

    status: str


@dataclass(frozen=True, slots=True)
class BridgeEnter(_ChannelEvent):
    bridge: str


@dataclass(frozen=True, slots=True)
class BridgeLeave(_ChannelEvent):
    bridge: str


@dataclass(frozen=True, slots=True)
class LocalBridge(CallEvent):
    """The two halves (``;1`` and ``;2``) of one Local channel."""

    linkedid: str
    one_uniqueid: str
    two_uniqueid: str


@dataclass(frozen=True, slots=True)
class HangupRequest(_ChannelEvent):
    """``soft`` False: the channel's driver asked (the far end sent BYE/CANCEL);
    ``soft`` True: Asterisk itself (dialplan ``Hangup()``, a bridge ending, AMI)."""

    cause: int | None
    soft: bool


@dataclass(frozen=True, slots=True)
class Hangup(_ChannelEvent):
    cause: int | None


@dataclass(frozen=True, slots=True)
class QueueCallerJoin(_ChannelEvent):
    queue: str


@dataclass(frozen=True, slots=True)
class QueueCallerLeave(_ChannelEvent):
    queue: str


@dataclass(frozen=True, slots=True)
class QueueCallerAbandon(_ChannelEvent):
    """Sent when a caller leaves the queue unanswered: by hanging up, but also
    (Asterisk 22) when the queue times out. Not proof of a hang-up on its own."""

    queue: str


@dataclass(frozen=True, slots=True)
class _AgentEvent(_ChannelEvent):
    queue: str
    dest_uniqueid: str
    member: str  # MemberName, or the Interface when the member has no name


@dataclass(frozen=True, slots=True)
class AgentCalled(_AgentEvent):
    pass


@dataclass(frozen=True, slots=True)
class AgentRingNoAnswer(_AgentEvent):
    pass


@dataclass(frozen=True, slots=True)
class AgentConnect(_AgentEvent):
    pass


@dataclass(frozen=True, slots=True)
class AgentComplete(_AgentEvent):
    reason: str  # caller | agent | transfer
    talk_time: float | None = None  # whole seconds from the answer to the end


@dataclass(frozen=True, slots=True)
class BlindTransfer(CallEvent):
    linkedid: str  # the transferee's call
    transferee_uniqueid: str
    transferer_uniqueid: str
    destination: str  # exten@context
    success: bool


@dataclass(frozen=True, slots=True)
class ChannelSnapshot(CallEvent):
    """One ``CoreShowChannel`` line of a reconcile after an AMI (re)connect."""

    uniqueid: str
    linkedid: str
    channel: str
    context: str
    exten: str
    caller: str
    caller_name: str
    up: bool  # ChannelState 6
    bridge: str  # BridgeId: "" when in no bridge
    application: str
    duration: float  # seconds since the channel was created
    variables: tuple[tuple[str, str], ...] = ()  # read with Getvar (root channels only)

    @property
    def bridged(self) -> bool:
        return bool(self.bridge)

    @property
    def created_at(self) -> float:
        return self.ts - self.duration


@dataclass(frozen=True, slots=True)
class QueueEntry(CallEvent):
    """One caller waiting in a queue (``QueueStatus``) at reconcile time."""

    uniqueid: str
    queue: str
    wait: float


@dataclass(frozen=True, slots=True)
class Reconnected(CallEvent):
    """The AMI connection is back after a gap; a snapshot follows (reconcile)."""


@dataclass(frozen=True, slots=True)
class SnapshotComplete(CallEvent):
    """End of a reconcile snapshot: every channel Asterisk has was listed."""


# -- the registry ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventKind:
    """What one AMI event becomes and which tracker step applies it."""

    type: type[CallEvent]
    handler: str  # the CallTracker method ``_<handler>`` that takes a ``type``
    soft: bool = False  # a HangupRequest that Asterisk itself made (SoftHangupRequest)


#: The marker hotline_pbx.ami.reconcile puts first into the stream after a (re)connect
#: (made by the daemon: Asterisk never sends it).
RECONNECTED: Final = "HotlineReconnected"
#: The reconcile's snapshot, replies to QueueStatus and CoreShowChannels that
#: hotline_pbx.ami.reconcile puts into the event stream in order.
QUEUE_ENTRY: Final = "QueueEntry"
CHANNEL_SNAPSHOT: Final = "CoreShowChannel"
SNAPSHOT_COMPLETE: Final = "CoreShowChannelsComplete"

#: Every AMI event the tracker reads, by its ``Event`` name.
AMI_EVENTS: Final[Mapping[str, EventKind]] = MappingProxyType({
    "Newchannel": EventKind(NewChannel, "new_channel"),
    "VarSet": EventKind(VarSet, "var_set"),
    "DialBegin": EventKind(DialBegin, "dial_begin"),
    "DialState": EventKind(DialState, "dial_state"),
    "DialEnd": EventKind(DialEnd, "dial_end"),
    "BridgeEnter": EventKind(BridgeEnter, "bridge_enter"),
    "BridgeLeave": EventKind(BridgeLeave, "bridge_leave"),
    "LocalBridge": EventKind(LocalBridge, "local_bridge"),
    "HangupRequest": EventKind(HangupRequest, "hangup_request"),
    "SoftHangupRequest": EventKind(HangupRequest, "hangup_request", soft=True),
    "Hangup": EventKind(Hangup, "hangup"),
    "QueueCallerJoin": EventKind(QueueCallerJoin, "queue_join"),
    "QueueCallerLeave": EventKind(QueueCallerLeave, "queue_leave"),
    "QueueCallerAbandon": EventKind(QueueCallerAbandon, "queue_abandon"),
    "AgentCalled": EventKind(AgentCalled, "agent_called"),
    "AgentRingNoAnswer": EventKind(AgentRingNoAnswer, "agent_ring_no_answer"),
    "AgentConnect": EventKind(AgentConnect, "agent_connect"),
    "AgentComplete": EventKind(AgentComplete, "agent_complete"),
    "BlindTransfer": EventKind(BlindTransfer, "blind_transfer"),
    QUEUE_ENTRY: EventKind(QueueEntry, "queue_entry"),
    CHANNEL_SNAPSHOT: EventKind(ChannelSnapshot, "snapshot_line"),
    SNAPSHOT_COMPLETE: EventKind(SnapshotComplete, "snapshot_complete"),
    RECONNECTED: EventKind(Reconnected, "reconnected"),
})
