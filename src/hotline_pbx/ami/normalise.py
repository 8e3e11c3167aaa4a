"""Raw AMI events (``dict[str, str]``) → the tracker's typed events.

The AMI stream is input from outside: a field can be missing, a number can be
text, an event can be one we never heard of, a line can be cut in half by a
reconnect. :class:`Normaliser` never raises: an event we do not use is
*ignored* (counted), an event we use but cannot read is *malformed* (counted,
logged at most every few seconds with the reason), and either way the next
event goes through as usual, so the calls around a bad event lose nothing.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any

from hotline_pbx.domain.call_events import (
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
    EventKind,
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
from hotline_pbx.domain.contract import is_tracked_variable

log = logging.getLogger(__name__)

_LOG_INTERVAL = 10.0
_ABSENT = "<unknown>"  # Asterisk's spelling of "no caller id"


class Malformed(ValueError):
    """An event we use, missing or garbling a field we need."""


def _text(raw: Mapping[str, str], key: str) -> str:
    value = raw.get(key)
    if not isinstance(value, str) or not value:
        raise Malformed(f"no {key}")
    return value


def _opt(raw: Mapping[str, str], key: str) -> str:
    value = raw.get(key, "")
    if not isinstance(value, str) or value == _ABSENT:
        return ""
    return value


def _cause(raw: Mapping[str, str]) -> int | None:
    value = raw.get("Cause")
    if isinstance(value, str) and value.isdigit() and len(value) < 6:
        return int(value)
    return None


def _seconds(value: str) -> float:
    """``Duration`` is ``HH:MM:SS``; ``Wait`` is whole seconds."""
    parts = value.split(":")
    if not 1 <= len(parts) <= 3 or not all(p.isdigit() and len(p) < 9 for p in parts):
        raise Malformed(f"bad duration {value[:20]!r}")
    total = 0
    for part in parts:
        total = total * 60 + int(part)
    return float(total)


def _optional_seconds(raw: Mapping[str, str], key: str) -> float | None:
    """A duration that only adds to an event: garbled or absent is None, not Malformed."""
    value = raw.get(key)
    try:
        return _seconds(value) if isinstance(value, str) and value else None
    except Malformed:
        return None


def _channel_fields(raw: Mapping[str, str], ts: float) -> tuple[float, str, str, str]:
    return ts, _text(raw, "Uniqueid"), _text(raw, "Linkedid"), _opt(raw, "Channel")


def _dial_fields(raw: Mapping[str, str], ts: float) -> tuple[float, str, str, str, str, str]:
    return (*_channel_fields(raw, ts), _opt(raw, "DestUniqueid"), _opt(raw, "DestChannel"))


def _member(raw: Mapping[str, str]) -> str:
    return _opt(raw, "MemberName") or _opt(raw, "Interface") or "unknown agent"


def _new_channel(raw: Mapping[str, str], ts: float) -> CallEvent:
    return NewChannel(*_channel_fields(raw, ts), _opt(raw, "Context"), _opt(raw, "Exten"),
                      _opt(raw, "CallerIDNum"), _opt(raw, "CallerIDName"))


def _var_set(raw: Mapping[str, str], ts: float) -> CallEvent | None:
    if raw.get("Channel", "none") == "none" and not raw.get("Linkedid"):
        return None  # a global variable: not about a call
    name = _text(raw, "Variable")
    if not is_tracked_variable(name):
        return None  # one the tracker never reads (manager.conf's filter drops them too)
    return VarSet(*_channel_fields(raw, ts), name, _opt(raw, "Value"))


def _originated(raw: Mapping[str, str]) -> bool:
    """A dial with no calling channel: an originate (the dialer's, the line
    monitor's), which Asterisk reports with the destination's fields only. Not a
    hotline call's dial, and not malformed either."""
    return not raw.get("Uniqueid") and bool(raw.get("DestUniqueid"))


def _dial_begin(raw: Mapping[str, str], ts: float) -> CallEvent | None:
    if _originated(raw):
        return None
    return DialBegin(*_dial_fields(raw, ts), _opt(raw, "DialString"))


def _dial_state(raw: Mapping[str, str], ts: float) -> CallEvent | None:
    if _originated(raw):
        return None
    return DialState(*_dial_fields(raw, ts), _opt(raw, "DialStatus"))


def _dial_end(raw: Mapping[str, str], ts: float) -> CallEvent | None:
    if _originated(raw):
        return None
    return DialEnd(*_dial_fields(raw, ts), _text(raw, "DialStatus"))


def _bridge_enter(raw: Mapping[str, str], ts: float) -> CallEvent:
    return BridgeEnter(*_channel_fields(raw, ts), _text(raw, "BridgeUniqueid"))


def _bridge_leave(raw: Mapping[str, str], ts: float) -> CallEvent:
    return BridgeLeave(*_channel_fields(raw, ts), _text(raw, "BridgeUniqueid"))


def _local_bridge(raw: Mapping[str, str], ts: float) -> CallEvent:
    return LocalBridge(ts, _text(raw, "LocalOneLinkedid"), _text(raw, "LocalOneUniqueid"),
                       _text(raw, "LocalTwoUniqueid"))


def _hangup_request(raw: Mapping[str, str], ts: float) -> CallEvent:
    return HangupRequest(*_channel_fields(raw, ts), _cause(raw), False)


def _soft_hangup_request(raw: Mapping[str, str], ts: float) -> CallEvent:
    return HangupRequest(*_channel_fields(raw, ts), _cause(raw), True)


def _hangup(raw: Mapping[str, str], ts: float) -> CallEvent:
    return Hangup(*_channel_fields(raw, ts), _cause(raw))


def _queue_join(raw: Mapping[str, str], ts: float) -> CallEvent:
    return QueueCallerJoin(*_channel_fields(raw, ts), _opt(raw, "Queue"))


def _queue_leave(raw: Mapping[str, str], ts: float) -> CallEvent:
    return QueueCallerLeave(*_channel_fields(raw, ts), _opt(raw, "Queue"))


def _queue_abandon(raw: Mapping[str, str], ts: float) -> CallEvent:
    return QueueCallerAbandon(*_channel_fields(raw, ts), _opt(raw, "Queue"))


def _agent(cls: type[AgentCalled | AgentRingNoAnswer | AgentConnect]
           ) -> Callable[[Mapping[str, str], float], CallEvent]:
    def parse(raw: Mapping[str, str], ts: float) -> CallEvent:
        return cls(*_channel_fields(raw, ts), _opt(raw, "Queue"), _opt(raw, "DestUniqueid"),
                   _member(raw))
    return parse


def _agent_complete(raw: Mapping[str, str], ts: float) -> CallEvent:
    # Asterisk leaves the caller's channel out of AgentComplete when that channel
    # is already gone (the caller hung up first; seen under queue load, and in
    # asterisk/asterisk#393's log): the member's channel belongs to the same
    # call, so its DestLinkedid finds it.
    channel = (_channel_fields(raw, ts) if "Uniqueid" in raw or "DestLinkedid" not in raw
               else (ts, "", _text(raw, "DestLinkedid"), ""))
    return AgentComplete(*channel, _opt(raw, "Queue"),
                         _opt(raw, "DestUniqueid"), _member(raw), _opt(raw, "Reason"),
                         _optional_seconds(raw, "TalkTime"))


def _blind_transfer(raw: Mapping[str, str], ts: float) -> CallEvent:
    destination = f"{_opt(raw, 'Extension')}@{_opt(raw, 'Context')}"
    return BlindTransfer(ts, _text(raw, "TransfereeLinkedid"), _text(raw, "TransfereeUniqueid"),
                         _opt(raw, "TransfererUniqueid"), destination,
                         raw.get("Result") == "Success")


def _queue_entry(raw: Mapping[str, str], ts: float) -> CallEvent:
    return QueueEntry(ts, _text(raw, "Uniqueid"), _opt(raw, "Queue"),
                      _seconds(raw.get("Wait") or "0"))


def snapshot_from(raw: Mapping[str, str], ts: float,
                  variables: Mapping[str, str] | None = None) -> ChannelSnapshot:
    """A ``CoreShowChannel`` line (raises :class:`Malformed`)."""
    return ChannelSnapshot(
        ts=ts,
        uniqueid=_text(raw, "Uniqueid"),
        linkedid=_text(raw, "Linkedid"),
        channel=_opt(raw, "Channel"),
        context=_opt(raw, "Context"),
        exten=_opt(raw, "Exten"),
        caller=_opt(raw, "CallerIDNum"),
        caller_name=_opt(raw, "CallerIDName"),
        up=raw.get("ChannelState") == "6",
        bridge=_opt(raw, "BridgeId"),
        application=_opt(raw, "Application"),
        duration=_seconds(raw.get("Duration") or "0"),
        variables=tuple(sorted((variables or {}).items())),
    )


#: Where hotline_pbx.ami.reconcile puts the HOTLINE_* values it read with Getvar.
VARIABLE_PREFIX = "X-Hotline-Var-"


def _core_show_channel(raw: Mapping[str, str], ts: float) -> CallEvent:
    variables = {key[len(VARIABLE_PREFIX):]: value for key, value in raw.items()
                 if key.startswith(VARIABLE_PREFIX) and isinstance(value, str)}
    return snapshot_from(raw, ts, variables)


def _reconnected(raw: Mapping[str, str], ts: float) -> CallEvent:
    return Reconnected(ts)


def _snapshot_complete(raw: Mapping[str, str], ts: float) -> CallEvent:
    return SnapshotComplete(ts)


Parser = Callable[[Mapping[str, str], float], "CallEvent | None"]

#: How each typed event is read from its AMI fields (which names give it: AMI_EVENTS).
_READERS: dict[type[CallEvent], Parser] = {
    NewChannel: _new_channel,
    VarSet: _var_set,
    DialBegin: _dial_begin,
    DialState: _dial_state,
    DialEnd: _dial_end,
    BridgeEnter: _bridge_enter,
    BridgeLeave: _bridge_leave,
    LocalBridge: _local_bridge,
    HangupRequest: _hangup_request,
    Hangup: _hangup,
    QueueCallerJoin: _queue_join,
    QueueCallerLeave: _queue_leave,
    QueueCallerAbandon: _queue_abandon,
    AgentCalled: _agent(AgentCalled),
    AgentRingNoAnswer: _agent(AgentRingNoAnswer),
    AgentConnect: _agent(AgentConnect),
    AgentComplete: _agent_complete,
    BlindTransfer: _blind_transfer,
    ChannelSnapshot: _core_show_channel,
    SnapshotComplete: _snapshot_complete,
    QueueEntry: _queue_entry,
    Reconnected: _reconnected,
}


def _parser(kind: EventKind) -> Parser:
    return _soft_hangup_request if kind.soft else _READERS[kind.type]


#: The parser of every event name the tracker reads; any other event is ignored.
PARSERS: dict[str, Parser] = {name: _parser(kind) for name, kind in AMI_EVENTS.items()}


def event_time(raw: Mapping[str, str], received_at: float | None) -> float:
    """The event's own ``Timestamp``; the arrival time if Asterisk sent none."""
    stamp = raw.get("Timestamp")
    if isinstance(stamp, str) and 0 < len(stamp) < 32:
        try:
            ts = float(stamp)
        except ValueError:
            ts = math.nan
        if math.isfinite(ts) and ts > 0:
            return ts
    if received_at is None:
        raise Malformed(f"no usable Timestamp ({str(stamp)[:32]!r})")
    return received_at


class Normaliser:
    """Counts what it passes, ignores and refuses; logs refusals, rate-limited."""

    def __init__(self) -> None:
        self.passed = 0
        self.ignored = 0
        self.malformed = 0
        self._last_log = -math.inf
        self._unlogged = 0

    def __call__(self, raw: Any, received_at: float | None = None) -> CallEvent | None:
        try:
            name = raw.get("Event")
            parser = PARSERS.get(name) if isinstance(name, str) else None
            if parser is None:
                self.ignored += 1
                return None
            event = parser(raw, event_time(raw, received_at))
        except Exception as exc:  # Malformed, or anything a hostile input provokes
            self._refuse(raw, exc)
            return None
        if event is None:
            self.ignored += 1
        else:
            self.passed += 1
        return event

    def _refuse(self, raw: Any, exc: Exception) -> None:
        self.malformed += 1
        self._unlogged += 1
        now = time.monotonic()
        if now - self._last_log < _LOG_INTERVAL:
            return
        self._last_log = now
        try:
            name = str(raw.get("Event"))[:40]
        except Exception:
            name = type(raw).__name__
        log.warning("malformed AMI event %s skipped (%s); %d skipped since the last "
                    "message, %d in all", name, str(exc)[:120] or type(exc).__name__,
                    self._unlogged, self.malformed)
        self._unlogged = 0
