"""One ended hotline call, as stored in ``calls`` and counted in the KPIs.

The vocabulary is DESIGN.md's ("Call outcomes and KPIs"); docs/kpi.md and
docs/call-tracking.md give the definitions with examples. :func:`record_of`
turns the tracker's finished :class:`~hotline_pbx.domain.call_tracker.Call`
into its :class:`CallRecord`: the tracker reads events, this module decides
what is stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:  # the tracker's Call is built on this module's vocabulary
    from .call_tracker import Call

from .contract import Outcome, Period

__all__ = [
    "AnswerTime",
    "CallRecord",
    "HangupSide",
    "JoinedBy",
    "RecordSettings",
    "UnseenEnd",
    "record_of",
    "to_datetime",
]


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
    period: Period
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
    long_call: bool = False  # issue 12; last, so spool lines written before it still load
    node: str = ""  # the Asterisk node (cluster.node); after long_call for the same reason

    @property
    def offered(self) -> bool:
        """Counted in the KPIs: it reached routing and is no line-monitor test call."""
        return self.period is not Period.UNROUTED and not self.is_test

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
        values["period"] = Period(values["period"])
        values["outcome"] = Outcome(values["outcome"])
        side = values["hangup_side"]
        values["hangup_side"] = None if side is None else HangupSide(side)
        unknown = set(values) - set(cls.__slots__)
        if unknown:
            raise ValueError(f"unknown fields {sorted(unknown)}")
        return cls(**values)


# -- from a finished call to its record ------------------------------------------------------

#: Dial statuses of a forward target that failed (counted in ``failover_attempts``).
_FAILED_DIAL = frozenset({"NOANSWER", "BUSY", "CONGESTION", "CHANUNAVAIL", "DONTCALL",
                          "TORTURE", "INVALIDARGS"})


class RecordSettings(Protocol):
    """What :func:`record_of` reads from the settings (``config.KpiSettings`` has it)."""

    @property
    def short_abandon_seconds(self) -> float: ...


def record_of(call: Call, settings: RecordSettings, *, node: str = "") -> CallRecord:
    """The call's record (from Asterisk ``node``): for an ended call; for one in
    progress, as if it ended at its last event."""
    ended = call.ended_at if call.ended_at is not None else call.last_event_at
    outcome = _outcome(call, settings.short_abandon_seconds)
    wait_from = _wait_from(call)
    if outcome is Outcome.ANSWERED and call.answered_at is not None:
        wait_to = call.answered_at
    elif outcome is Outcome.MISSED and call.missed_at is not None:
        wait_to = call.missed_at
    elif call.hung_up_at is not None and outcome is not Outcome.MISSED:
        wait_to = call.hung_up_at
    else:
        wait_to = ended
    talk = None
    if call.answered_at is not None:
        talk = round(max(0.0, ended - call.answered_at), 3)
    return CallRecord(
        call_key=call.linkedid,
        linkedid=call.linkedid,
        uniqueid=call.uniqueid,
        caller=call.caller,
        caller_name=call.caller_name,
        dnid=call.dnid,
        started_at=to_datetime(call.started_at),
        routed_at=None if call.routed_at is None else to_datetime(call.routed_at),
        answered_at=None if call.answered_at is None else to_datetime(call.answered_at),
        ended_at=to_datetime(ended),
        period=call.period,
        route=call.route,
        outcome=outcome,
        wait_seconds=round(max(0.0, wait_to - wait_from), 3),
        talk_seconds=talk,
        answered_by=call.answered_by,
        answered_role=call.answered_role,
        failover_attempts=sum(1 for a in call.attempts if a.status in _FAILED_DIAL),
        hangup_side=_hangup_side(call),
        hangup_cause=call.hangup_cause,
        is_test=call.is_test,
        needs_callback=(outcome in (Outcome.ABANDONED, Outcome.MISSED)
                        and bool(call.caller) and not call.is_test),
        details=_details(call),
        long_call=call.long_call,
        node=node,
    )


def _wait_from(call: Call) -> float:
    """The wait starts at routing (the caller hears the hotline), or at the start."""
    return call.routed_at if call.routed_at is not None else call.started_at


def _outcome(call: Call, short_abandon_seconds: float) -> Outcome:
    if call.answered_at is not None:
        return Outcome.ANSWERED
    if call.missed_at is not None:
        return Outcome.MISSED
    if call.hung_up_at is not None:
        if call.hung_up_at - _wait_from(call) <= short_abandon_seconds:
            return Outcome.SHORT_ABANDONED
        return Outcome.ABANDONED
    return Outcome.MISSED


def _hangup_side(call: Call) -> HangupSide | None:
    if call.unseen_end is not None:
        return None  # who hung up happened where we could not see
    if call.answered_at is not None:
        if not call.transfers and call.complete_reason == "caller":
            return HangupSide.CALLER
        if not call.transfers and call.complete_reason == "agent":
            return HangupSide.CALLEE
        return call.end_side or HangupSide.SYSTEM
    if call.root_request_soft is False or call.hung_up_at is not None:
        return HangupSide.CALLER
    return HangupSide.SYSTEM


def _details(call: Call) -> dict[str, Any]:
    """The ``details`` JSON: its keys are read by the API and by rows stored long ago."""
    details: dict[str, Any] = {}
    if call.joined_by is not None:
        details["joined"] = call.joined_by.value
    if call.unseen_end is not None:
        details[call.unseen_end.value] = True
    if call.left_queue_unanswered:
        details["left_queue_unanswered"] = True
    if call.dialled_after_answer:
        details["dialled_after_answer"] = list(call.dialled_after_answer)
    if call.transfer_answered:
        details["transfer_answered"] = True
    if call.queue:
        details["queue"] = call.queue
        if call.queued_at is not None:
            details["queued_at"] = to_datetime(call.queued_at).isoformat()
    if call.agent_no_answer:
        details["agent_no_answer"] = call.agent_no_answer
    if call.attempts:
        details["attempts"] = [
            {"target": a.target, "status": a.status or "unknown",
             **({"early_media": True} if a.early_media else {})}
            for a in call.attempts
        ]
    if call.transfers:
        details["transfers"] = list(call.transfers)
    if call.missed_at is not None:
        details["closed_message"] = True
    if call.answered_at is not None and call.answer_time is not AnswerTime.EVENT:
        details["answer_time"] = call.answer_time.value
    return details
