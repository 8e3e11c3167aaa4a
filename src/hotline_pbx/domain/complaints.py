"""The complaint register's vocabulary: severity, workflow, SLA stages.

The company's written complaint procedure: a complaint is registered, assigned
to the responsible department (a work order), verified by it (found true or
not), resolved, the customer is informed, visited for their satisfaction, and
the complaint is archived. A complaint found untrue goes from "verified"
straight to "customer informed" with the explanation.

Pure names shared by the SLA arithmetic, the store (``store/complaint_repo.py``),
the API and the metrics (``hotline_complaints_overdue{stage}``); the values are
stored (``complaints``, ``complaint_events``, their CHECK constraints). Each is
defined once, here.
"""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum


class Severity(StrEnum):
    SIMPLE = "simple"
    GENERAL = "general"
    COMPLEX = "complex"


class ComplaintState(StrEnum):
    REGISTERED = "registered"
    ASSIGNED = "assigned"  # a work order to the responsible department
    VERIFIED = "verified"  # the department found it true or not (``found_true``)
    RESOLVED = "resolved"
    CUSTOMER_INFORMED = "customer_informed"
    VISITED = "visited"  # the callback visit (satisfaction) is recorded
    ARCHIVED = "archived"


S = ComplaintState

#: Every state's possible next states. Which of them applies may depend on the
#: verification (:func:`allowed_next`).
NEXT_STATES: dict[ComplaintState, tuple[ComplaintState, ...]] = {
    S.REGISTERED: (S.ASSIGNED,),
    S.ASSIGNED: (S.VERIFIED,),
    S.VERIFIED: (S.RESOLVED, S.CUSTOMER_INFORMED),
    S.RESOLVED: (S.CUSTOMER_INFORMED,),
    S.CUSTOMER_INFORMED: (S.VISITED, S.ARCHIVED),
    S.VISITED: (S.ARCHIVED,),
    S.ARCHIVED: (),
}


def allowed_next(state: ComplaintState, found_true: bool | None) -> tuple[ComplaintState, ...]:
    """The states a complaint in ``state`` may move to: a complaint found true is
    resolved before the customer is informed and visited before it is archived;
    one found untrue is not resolved, the customer is informed with the
    explanation and it may be archived without a visit."""
    if state is S.VERIFIED:
        return (S.RESOLVED,) if found_true else (S.CUSTOMER_INFORMED,)
    if state is S.CUSTOMER_INFORMED:
        return (S.VISITED,) if found_true else (S.ARCHIVED,)
    return NEXT_STATES[state]


#: States in which the resolution clock still runs.
UNRESOLVED_STATES = (S.REGISTERED, S.ASSIGNED, S.VERIFIED)


class Channel(StrEnum):
    """How the complaint reached the company (the forms' "channel")."""

    HOTLINE = "hotline"
    PHONE = "phone"  # another number
    LETTER = "letter"
    VISIT = "visit"  # in person
    EMAIL = "email"
    OTHER = "other"


class EventKind(StrEnum):
    """``complaint_events.kind``."""

    REGISTERED = "registered"
    TRANSITION = "transition"
    EDIT = "edit"
    EXTENSION = "extension"
    REPLY = "reply"
    VISIT = "visit"


class ReplyKind(StrEnum):
    FIRST = "first"  # the first reply, within 2 working hours
    PROGRESS = "progress"  # not resolved within 24 hours: tell the customer where it stands


class Stage(StrEnum):
    """What a complaint can be overdue for: the ``stage`` label of
    ``hotline_complaints_overdue`` and ``?overdue=true``'s groups."""

    FIRST_REPLY = "first_reply"
    PROGRESS_REPLY = "progress_reply"
    RESOLUTION = "resolution"
    VISIT = "visit"


class VisitState(StrEnum):
    """``complaints.visit_state``: the callback visit after resolution."""

    NONE = "none"
    QUEUED = "queued"  # a dialer satisfaction job, or waiting for a person
    DONE = "done"
    UNREACHED = "unreached"  # the dialer's attempts all failed
    CANCELLED = "cancelled"


# -- the policy's deadlines ---------------------------------------------------------------

#: The first reply to the customer: within two working hours.
FIRST_REPLY_WITHIN = timedelta(hours=2)
#: Not resolved 24 (calendar) hours after registration: a progress reply is due.
PROGRESS_REPLY_AFTER = timedelta(hours=24)
#: Resolution target and hard maximum, in working days; SIMPLE: the same working
#: day (target and maximum: the end of the working day it was received).
RESOLUTION_WORKING_DAYS: dict[Severity, tuple[int, int]] = {
    Severity.SIMPLE: (0, 0),
    Severity.GENERAL: (1, 3),
    Severity.COMPLEX: (5, 7),
}

#: ``dialer_targets.ref`` prefix of a complaint's callback visit.
VISIT_REF_PREFIX = "complaint:"
