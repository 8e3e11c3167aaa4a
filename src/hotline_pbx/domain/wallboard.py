"""What the wallboard shows, computed from the daemon's own state.

Pure: :mod:`hotline_pbx.console.wallboard` feeds it the calls in progress (the
call tracker's), today's ended calls (:class:`TodayTally`, fed by every call's
record as it ends, seeded from the database at start), the routing snapshot's
calendar and roster, and what the line monitor and the complaint clock last
knew. One board is built per change and sent to every viewer; no viewer ever
causes a database query.

No caller's number or name is on the board: it hangs on a wall.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from .calendar.evaluation import CalendarState, StateChange
from .call_record import CallRecord
from .call_tracker import Call, CallState
from .contract import ANSWER_RATE_FLOOR, DutyRole, Outcome, Period
from .kpi import KpiSet, kpis_from_counts
from .roster import Person

__all__ = ["Board", "TodayTally", "board"]


@dataclass
class TodayTally:
    """Today's offered calls in the open period by outcome (the open-hours KPIs
    of docs/kpi.md), and every period's; starts again at local midnight."""

    day: date
    service_level_seconds: float
    outcomes: dict[str, int] = field(default_factory=dict)
    within_service_level: int = 0
    wait_sum_answered: float = 0.0
    talk_sum_answered: float = 0.0
    all_periods: int = 0
    after_hours: int = 0
    blocked: int = 0  # outbound attempts on the 400 trunk the guard stopped

    def seed(self, opened: KpiSet, every_offered: int, blocked: int) -> None:
        """Start from the day so far as the store counted it (``store/stats.py``:
        ``opened`` the open-hours KPIs, ``every_offered`` every period's offered)."""
        for outcome in Outcome:
            count = getattr(opened, outcome.value)
            if count:
                self.outcomes[outcome.value] = self.outcomes.get(outcome.value, 0) + count
        self.within_service_level += opened.answered_within_service_level
        self.wait_sum_answered += (opened.asa_seconds or 0.0) * opened.answered
        self.talk_sum_answered += (opened.mean_talk_seconds or 0.0) * opened.answered
        self.all_periods += every_offered
        self.after_hours += every_offered - opened.offered
        self.blocked += blocked

    def add(self, record: CallRecord, local_day: date) -> None:
        """Count an ended call's record that started on ``local_day``."""
        if not self.roll_to(local_day) or not record.offered:
            return
        self.all_periods += 1
        if record.period is not Period.OPEN:
            self.after_hours += 1
            return
        outcome = record.outcome
        self.outcomes[outcome.value] = self.outcomes.get(outcome.value, 0) + 1
        if outcome is Outcome.ANSWERED:
            self.within_service_level += int(record.wait_seconds <= self.service_level_seconds)
            self.wait_sum_answered += record.wait_seconds
            self.talk_sum_answered += record.talk_seconds or 0.0

    def add_blocked(self, local_day: date) -> None:
        if self.roll_to(local_day):
            self.blocked += 1

    def roll_to(self, local_day: date) -> bool:
        """Whether ``local_day`` is the tally's day; a later one starts a new day
        (an earlier one — a late record of yesterday's — counts nowhere)."""
        if local_day > self.day:
            self.reset(local_day)
        return local_day == self.day

    def reset(self, day: date) -> None:
        self.day = day
        self.outcomes.clear()
        self.within_service_level = 0
        self.wait_sum_answered = self.talk_sum_answered = 0.0
        self.all_periods = self.after_hours = self.blocked = 0

    def kpis(self) -> KpiSet:
        o = self.outcomes
        return kpis_from_counts(
            answered=o.get("answered", 0), abandoned=o.get("abandoned", 0),
            short_abandoned=o.get("short_abandoned", 0), missed=o.get("missed", 0),
            answered_within_service_level=self.within_service_level,
            wait_sum_answered=self.wait_sum_answered,
            talk_sum_answered=self.talk_sum_answered)


@dataclass(frozen=True, slots=True)
class Board:
    """The board as JSON-ready values (``to_dict``); equal boards are not sent twice."""

    values: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return self.values


def _waiting(calls: list[Call], now: float) -> tuple[int, float | None]:
    waits = [now - (c.queued_at or c.started_at) for c in calls
             if c.in_queue and c.answered_at is None and not c.is_test]
    return len(waits), (max(waits) if waits else None)


def board(*, calls: Iterable[Call], now: float, local_now: datetime, today: TodayTally,
          state: CalendarState, change: StateChange | None,
          on_duty: tuple[tuple[DutyRole, Person], ...], line_up: bool | None,
          open_fault: str | None, complaints_overdue: int | None,
          callbacks_overdue: int | None) -> Board:
    live = [c for c in calls if c.state is not CallState.ENDED and not c.is_test]
    waiting, longest = _waiting(live, now)
    kpis = today.kpis()
    first = on_duty[0] if on_duty else None
    return Board({
        "now": local_now.isoformat(timespec="seconds"),
        "open": state.is_open, "period": state.period.value, "reason": state.reason,
        "next_change": None if change is None else {
            "at": change.at.astimezone(local_now.tzinfo).isoformat(timespec="minutes"),
            "open": change.state.is_open, "period": change.state.period.value},
        # The chain skips absent people: a deputy first means the supervisor is away.
        "on_duty": None if first is None else {
            "role": first[0].value, "name": first[1].name,
            "supervisor_absent": first[0] is not DutyRole.SUPERVISOR},
        "waiting": waiting,
        "longest_wait_seconds": None if longest is None else round(longest),
        "in_progress": len(live),
        "answered_now": sum(1 for c in live if c.answered_at is not None),
        "long_calls": sum(1 for c in live if c.long_call),
        "today": {
            "day": today.day.isoformat(), "offered": kpis.offered,
            "answered": kpis.answered, "abandoned": kpis.abandoned,
            "short_abandoned": kpis.short_abandoned, "missed": kpis.missed,
            "answer_rate": kpis.answer_rate, "service_level": kpis.service_level,
            "asa_seconds": None if kpis.asa_seconds is None else round(kpis.asa_seconds, 1),
            "meets_floor": None if kpis.answer_rate is None
            else kpis.answer_rate >= ANSWER_RATE_FLOOR,
            "all_periods": today.all_periods, "after_hours": today.after_hours,
            "blocked_outbound": today.blocked},
        "answer_rate_floor": ANSWER_RATE_FLOOR,
        "line": {"up": line_up, "open_fault": open_fault},
        "complaints_overdue": complaints_overdue, "callbacks_overdue": callbacks_overdue,
    })
