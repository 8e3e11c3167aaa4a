"""``/route``: where an inbound hotline call goes.

Decided from the in-memory routing snapshot (no database round trip on the
call path), answered with the dialplan variables of DESIGN.md in one
pipelined write. Observers (the call tracker) hear of every decision.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

from hotline_pbx.agi.session import AgiChannel, AgiSession
from hotline_pbx.domain.routing import (
    RouteDecision,
    SnapshotSource,
    decide_route,
    decision_for_test_call,
    decision_to_variables,
)
from hotline_pbx.logs import Identifier

log = logging.getLogger(__name__)


class LineTestCalls(Protocol):
    """Recognises the line monitor's own test calls (line_health.TestWindow)."""

    def is_test_call(self, caller: str, now: float) -> bool: ...


@dataclass(frozen=True, slots=True)
class RoutedCall:
    """What the tracker learns from /route about a call."""

    call_id: str
    uniqueid: str
    channel: str
    caller: str
    caller_name: str
    dnid: str
    decided_at: datetime
    decision: RouteDecision


DecisionObserver = Callable[[RoutedCall], None]


def call_id_for(session: AgiSession) -> str:
    """The call's idempotent key: the inbound channel's Asterisk uniqueid
    (unique per PBX, and what AMI events carry as Uniqueid/Linkedid)."""
    return session.linkedid or session.uniqueid


class RouteHandler:
    def __init__(self, state: SnapshotSource,
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 test_calls: LineTestCalls | None = None) -> None:
        self._state = state
        self._clock = clock
        self._test_calls = test_calls
        self._observers: list[DecisionObserver] = []

    def observe(self, observer: DecisionObserver) -> None:
        self._observers.append(observer)

    async def handle(self, session: AgiSession, channel: AgiChannel) -> None:
        now = self._clock()
        decision = decide_route(self._state.snapshot, now)
        if self._test_calls is not None and self._test_calls.is_test_call(
                session.callerid or "", now.timestamp()):
            decision = decision_for_test_call(decision)
        call_id = call_id_for(session)
        await channel.set_variables(decision_to_variables(decision, call_id), final=True)
        log.info("call %s from %s: %s/%s (%s)", Identifier(call_id), session.callerid or "unknown",
                 decision.period.value, decision.route.value, decision.reason)
        routed = RoutedCall(
            call_id=call_id, uniqueid=session.uniqueid, channel=session.channel,
            caller=session.callerid or "", caller_name=session.calleridname or "",
            dnid=session.dnid or session.extension, decided_at=now, decision=decision,
        )
        for observer in self._observers:
            try:
                observer(routed)
            except Exception:  # an observer's bug must never cost the caller their route
                log.exception("route observer failed")
