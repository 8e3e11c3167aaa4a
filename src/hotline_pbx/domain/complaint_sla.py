"""The complaint SLA clock: deadlines counted in working time, and what is overdue.

From the written complaint procedure (constants in :mod:`.complaints`):

- **first reply** to the customer within two working hours of receipt
  (:func:`~.calendar.working_time.add_working_time`);
- **progress reply** when a complaint is not resolved 24 hours (calendar time)
  after receipt;
- **resolution**: a *simple* complaint the same working day; a *general* one
  within 1 working day, never more than 3; a *complex* one within 5, never
  more than 7.

"N working days" means: by the close of the N-th working day after the working
day the complaint belongs to (day 0 is the day received, or the next working
day when it came in after the close or on a closed day). So a general
complaint received on Monday at 10:00 is due at Tuesday's close and must be
resolved by Thursday's; a simple one by Monday's close. A whole working day
always counts, however late in the day the complaint arrived, and every
deadline is the end of a working period - never inside a closed one (lunch,
night, a holiday).

Extensions (:func:`check_extension`): a new resolution deadline later than the
target needs a reason and never passes the hard maximum.

Pure: the business calendar and the instants are passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .calendar import BusinessCalendar
from .calendar.working_time import NoWorkingTime, add_working_time, end_of_working_day
from .complaints import (
    FIRST_REPLY_WITHIN,
    PROGRESS_REPLY_AFTER,
    RESOLUTION_WORKING_DAYS,
    UNRESOLVED_STATES,
    ComplaintState,
    Severity,
    Stage,
    VisitState,
)
from .errors import ValidationError

#: A queued callback visit is overdue after this many working days.
VISIT_WITHIN_WORKING_DAYS = 2
MAX_REASON = 500


@dataclass(frozen=True, slots=True)
class Deadlines:
    first_reply_due: datetime
    progress_reply_due: datetime
    resolve_target: datetime
    resolve_hard_max: datetime


def working_days_later(calendar: BusinessCalendar, start: datetime, days: int) -> datetime:
    """The close of the ``days``-th working day after the one ``start`` belongs to
    (``days = 0``: the close of its own working day)."""
    if days < 0:
        raise ValueError(f"days must not be negative, got {days}")
    due = end_of_working_day(calendar, start)
    for _ in range(days):
        due = end_of_working_day(calendar, due)  # at a close: the next day's close
    return due


def deadlines_for(calendar: BusinessCalendar, received_at: datetime,
                  severity: Severity) -> Deadlines:
    """The complaint's deadlines. A calendar without any working time (every day
    closed: a configuration mistake) must not refuse the complaint: its deadlines
    are then counted in plain time (2 hours; N days, at least one)."""
    target_days, max_days = RESOLUTION_WORKING_DAYS[severity]
    try:
        return _working_deadlines(calendar, received_at, target_days, max_days)
    except NoWorkingTime:
        return Deadlines(first_reply_due=received_at + FIRST_REPLY_WITHIN,
                         progress_reply_due=received_at + PROGRESS_REPLY_AFTER,
                         resolve_target=received_at + timedelta(days=max(target_days, 1)),
                         resolve_hard_max=received_at + timedelta(days=max(max_days, 1)))


def _working_deadlines(calendar: BusinessCalendar, received_at: datetime, target_days: int,
                       max_days: int) -> Deadlines:
    return Deadlines(
        first_reply_due=add_working_time(calendar, received_at, FIRST_REPLY_WITHIN),
        progress_reply_due=received_at + PROGRESS_REPLY_AFTER,
        resolve_target=working_days_later(calendar, received_at, target_days),
        resolve_hard_max=working_days_later(calendar, received_at, max_days))


def visit_due_after(calendar: BusinessCalendar, queued_at: datetime) -> datetime:
    """When a callback visit queued at ``queued_at`` becomes overdue (plain days on
    a calendar without working time)."""
    try:
        return working_days_later(calendar, queued_at, VISIT_WITHIN_WORKING_DAYS)
    except NoWorkingTime:
        return queued_at + timedelta(days=VISIT_WITHIN_WORKING_DAYS)


def check_extension(*, current_due: datetime, target: datetime, hard_max: datetime,
                    new_due: datetime, reason: str) -> None:
    """Refuse an extension of the resolution deadline that the policy does not
    allow, naming the field: never earlier than the deadline in force, never past
    the hard maximum, and a reason whenever it goes past the target."""
    example = hard_max.isoformat()
    if new_due.tzinfo is None:
        raise ValidationError("resolve_due", "must carry a UTC offset", example)
    if new_due > hard_max:
        raise ValidationError("resolve_due", f"must not pass the hard maximum {example}",
                              example)
    if new_due <= current_due:
        raise ValidationError("resolve_due", "must be later than the deadline in force "
                              f"({current_due.isoformat()})", example)
    stripped = reason.strip()
    if new_due > target and not stripped:
        raise ValidationError("reason", "an extension past the target needs a reason",
                              "the department waits for a spare part")
    if len(stripped) > MAX_REASON:
        raise ValidationError("reason", f"at most {MAX_REASON} characters",
                              "the department waits for a spare part")


@dataclass(frozen=True, slots=True)
class Clock:
    """What the overdue rules look at of one complaint (its stored columns)."""

    state: ComplaintState
    first_reply_due: datetime
    first_reply_at: datetime | None
    progress_reply_due: datetime
    progress_reply_at: datetime | None
    resolve_due: datetime
    visit_state: VisitState
    visit_due: datetime | None


def overdue_stages(clock: Clock, now: datetime) -> frozenset[Stage]:
    """The stages a complaint is overdue for at ``now``. The SQL of
    ``store/complaint_repo.py`` (``?overdue=true``, the gauge) states the same
    rules; a test checks they agree. An archived complaint is overdue for nothing."""
    if clock.state is ComplaintState.ARCHIVED:
        return frozenset()
    unresolved = clock.state in UNRESOLVED_STATES
    stages: set[Stage] = set()
    if clock.first_reply_at is None and clock.first_reply_due < now:
        stages.add(Stage.FIRST_REPLY)
    if unresolved and clock.progress_reply_at is None and clock.progress_reply_due < now:
        stages.add(Stage.PROGRESS_REPLY)
    if unresolved and clock.resolve_due < now:
        stages.add(Stage.RESOLUTION)
    if (clock.visit_state is VisitState.QUEUED and clock.visit_due is not None
            and clock.visit_due < now):
        stages.add(Stage.VISIT)
    return frozenset(stages)
