"""The dialer's vocabulary: what a job is, what a target and an attempt become.

Pure names shared by the dialer (``hotline_pbx.dialer``), its store
(``store/dialer_repo.py``), the callbacks, the campaigns API and the metrics
(``hotline_dialer_attempts_total{job_type,result}``): each is defined once,
here. The values are stored (``dialer_*`` tables, their CHECK constraints).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class JobType(StrEnum):
    """Why the dialer calls: it decides the time window (callbacks and visits only
    in working time, emergencies at any time)."""

    CALLBACK = "callback"
    VISIT = "visit"
    EMERGENCY = "emergency"


class DialogType(StrEnum):
    """What happens once the far end answers."""

    #: Ring a free agent first; once the agent answers, call the customer and bridge.
    AGENT_BRIDGE = "agent_bridge"
    #: Play a prompt, read a DTMF score (1–5, or 1 satisfied / 2 not).
    SATISFACTION = "satisfaction"
    #: Play the message, "press 1 to confirm".
    CONFIRM = "confirm"


class JobState(StrEnum):
    ACTIVE = "active"
    CANCELLED = "cancelled"
    DONE = "done"


class TargetState(StrEnum):
    """A target's place in its job; the last four are final."""

    PENDING = "pending"  # waiting for its (next) attempt
    DIALLING = "dialling"  # an attempt is in flight
    DONE = "done"  # reached (confirmed, scored, bridged)
    UNREACHED = "unreached"  # every attempt failed
    NO_NUMBER = "no_number"  # kept from the list, never dialled
    CANCELLED = "cancelled"  # its job was cancelled before it was reached

    @property
    def is_final(self) -> bool:
        return self not in (TargetState.PENDING, TargetState.DIALLING)


@dataclass(frozen=True, slots=True)
class TargetSpec:
    """One person on a job's list. ``phone`` None: no contact number (kept, listed,
    never dialled). ``line_no``: the position in the list (the imported file's
    line, so a refusal and a result can name it). ``ref``: what the target is for
    (a callback task's id, a complaint's id), for the job's finish handler."""

    line_no: int
    phone: str | None
    name: str = ""
    account: str = ""
    ref: str = ""


@dataclass(frozen=True, slots=True)
class FinishedTarget:
    """A target that reached a final state, as the dialer hands it to its job
    type's finish handler (in the transaction that stores the final state)."""

    job_id: int
    job_type: JobType
    target_id: int
    ref: str
    phone: str | None
    state: TargetState
    result: str | None  # the last attempt's result (domain.dialer.AttemptResult value)
    attempts: int
    dtmf: str
    score: int | None
    finished_at: float  # epoch seconds
