"""One ended hotline call, as stored in ``calls`` and counted in the KPIs.

The vocabulary is DESIGN.md's ("Call outcomes and KPIs"); docs/kpi.md and
docs/call-tracking.md give the definitions with examples.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

__all__ = [
    "AnswerTime",
    "CallPeriod",
    "CallRecord",
    "HangupSide",
    "JoinedBy",
    "Outcome",
    "UnseenEnd",
    "to_datetime",
]


class CallPeriod(StrEnum):
    """The period a call is counted in.

    ``open``/``closed``/``override`` come from ``/route`` (``HOTLINE_PERIOD``).
    ``failsafe``: the daemon could not answer and the dialplan's static route
    took the call. ``unrouted``: the caller hung up before any route was taken
    (during the AGI step); such a call was never offered and is kept only for
    the record.
    """

    OPEN = "open"
    CLOSED = "closed"
    OVERRIDE = "override"
    FAILSAFE = "failsafe"
    UNROUTED = "unrouted"


class Outcome(StrEnum):
    ANSWERED = "answered"
    ABANDONED = "abandoned"
    SHORT_ABANDONED = "short_abandoned"
    MISSED = "missed"


class AnswerTime(StrEnum):
    """How ``answered_at`` is known (``details.answer_time`` when not ``event``)."""

    EVENT = "event"  # the answer's own AMI event (AgentConnect, DialEnd, BridgeEnter)
    DIALPLAN = "dialplan"  # HOTLINE_ANSWERED_AT, set by the dialplan at the answer,
    #                        read after an AMI gap hid the event: exact to the millisecond
    APPROXIMATE = "approximate"  # the earliest moment the evidence allows (AMI gap,
    #                              daemon restart, AgentComplete's whole-second TalkTime)


class JoinedBy(StrEnum):
    """How the tracker came to know a call whose ``Newchannel`` it never saw
    (``details.joined``)."""

    ROUTING = "routing"  # /route's HOTLINE_* variables on the root channel
    RECONCILE = "reconcile"  # adopted from the snapshot after an AMI (re)connect


class UnseenEnd(StrEnum):
    """Why a call was closed without its ``Hangup`` (the ``details`` key set to true)."""

    ENDED_DURING_AMI_GAP = "ended_during_ami_gap"  # absent from the reconnect's snapshot
    LOST_TRACK = "lost_track"  # silent too long (swept), or evicted to stay within bounds


class HangupSide(StrEnum):
    CALLER = "caller"  # the caller's side hung up (BYE or CANCEL from the carrier)
    CALLEE = "callee"  # the person who answered hung up
    SYSTEM = "system"  # the PBX ended the call (dialplan, timeout, restart)


def to_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


@dataclass(frozen=True, slots=True)
class CallRecord:
    """Everything stored about one call; field names are the ``calls`` columns."""

    call_key: str
    linkedid: str
    uniqueid: str
    caller: str
    caller_name: str
    dnid: str
    started_at: datetime
    routed_at: datetime | None
    answered_at: datetime | None
    ended_at: datetime
    period: CallPeriod
    route: str | None
    outcome: Outcome
    wait_seconds: float
    talk_seconds: float | None
    answered_by: str | None
    answered_role: str | None
    failover_attempts: int
    hangup_side: HangupSide | None
    hangup_cause: int | None
    is_test: bool = False
    needs_callback: bool = False
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def offered(self) -> bool:
        """Counted in the KPIs: it reached routing and is no line-monitor test call."""
        return self.period is not CallPeriod.UNROUTED and not self.is_test

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (the spool's line format); :meth:`from_dict` reverses it."""
        out: dict[str, Any] = {}
        for name in self.__slots__:
            value = getattr(self, name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, StrEnum):
                value = value.value
            elif name == "details":
                value = dict(value)
            out[name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CallRecord:
        """Raises KeyError/ValueError/TypeError on a line that is not a record."""
        values = dict(data)
        for name in ("started_at", "routed_at", "answered_at", "ended_at"):
            raw = values[name]
            values[name] = None if raw is None else datetime.fromisoformat(raw)
        values["period"] = CallPeriod(values["period"])
        values["outcome"] = Outcome(values["outcome"])
        side = values["hangup_side"]
        values["hangup_side"] = None if side is None else HangupSide(side)
        unknown = set(values) - set(cls.__slots__)
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}")
        return cls(**values)
