"""Typed AMI events: what the call tracker understands, nothing more.

:mod:`hotline_pbx.ami.normalise` turns Asterisk's raw ``dict[str, str]`` events
into these values (and drops what is malformed or of no interest), so the
tracker never parses a string and never meets a missing key. Times are the
event's own ``Timestamp`` (``timestampevents = yes``): Unix seconds as a float,
so a replayed capture gives the same waits and talk times as the live stream.

Every channel event carries the channel's ``uniqueid`` and the ``linkedid`` of
the call it belongs to: the inbound channel's uniqueid, which is also the call
id ``/route`` hands out (``HOTLINE_CALL_ID``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
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
class _ChannelEvent:
    ts: float
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
class LocalBridge:
    """The two halves (``;1`` and ``;2``) of one Local channel."""

    ts: float
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
class BlindTransfer:
    ts: float
    linkedid: str  # the transferee's call
    transferee_uniqueid: str
    transferer_uniqueid: str
    destination: str  # exten@context
    success: bool


@dataclass(frozen=True, slots=True)
class ChannelSnapshot:
    """One ``CoreShowChannel`` line of a reconcile after an AMI (re)connect."""

    ts: float
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
class QueueEntry:
    """One caller waiting in a queue (``QueueStatus``) at reconcile time."""

    ts: float
    uniqueid: str
    queue: str
    wait: float


@dataclass(frozen=True, slots=True)
class Reconnected:
    """The AMI connection is back after a gap; a snapshot follows (reconcile)."""

    ts: float


@dataclass(frozen=True, slots=True)
class SnapshotComplete:
    """End of a reconcile snapshot: every channel Asterisk has was listed."""

    ts: float


CallEvent = (
    NewChannel | VarSet | DialBegin | DialState | DialEnd | BridgeEnter | BridgeLeave
    | LocalBridge | HangupRequest | Hangup | QueueCallerJoin | QueueCallerLeave
    | QueueCallerAbandon | AgentCalled | AgentRingNoAnswer | AgentConnect | AgentComplete
    | BlindTransfer | ChannelSnapshot | QueueEntry | Reconnected | SnapshotComplete
)
