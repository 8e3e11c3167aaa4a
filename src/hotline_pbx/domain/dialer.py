"""The dialer's vocabulary: what a job is, what a target and an attempt become.

Pure names shared by the dialer (``hotline_pbx.dialer``), its store
(``store/dialer_repo.py``), the callbacks, the campaigns API and the metrics
(``hotline_dialer_attempts_total{job_type,result}``): each is defined once,
here. The values are stored (``dialer_*`` tables, their CHECK constraints).
"""

from __future__ import annotations

import unicodedata
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


# -- attempts: what one call placed came to ------------------------------------------


class AttemptResult(StrEnum):
    """An attempt's ``result`` (``dialer_attempts.result``, the ``result`` label of
    ``hotline_dialer_attempts_total``). ``in_flight`` is only ever stored."""

    IN_FLIGHT = "in_flight"
    CONFIRMED = "confirmed"  # CONFIRM: the customer pressed 1
    SCORED = "scored"  # SATISFACTION: a valid score was read
    ANSWERED = "answered"  # AGENT_BRIDGE: the customer answered and was bridged to the agent
    NO_INPUT = "no_input"  # answered, listened, gave no valid key (after the one repeat)
    SHORT_ANSWER = "short_answer"  # answered and gone within short_answer_seconds, no key
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    CONGESTION = "congestion"  # network or trunk trouble: retried
    FAILED = "failed"  # the number does not exist or cannot be dialled: not retried
    AGENT_UNAVAILABLE = "agent_unavailable"  # no free agent took it: not a customer attempt
    LOST = "lost"  # in flight when a dialer stopped; its channel was gone on restart
    CANCELLED = "cancelled"  # hung up because its job was cancelled

    @property
    def reached(self) -> bool:
        """The target is done: nobody calls it again."""
        return self in (AttemptResult.CONFIRMED, AttemptResult.SCORED, AttemptResult.ANSWERED)

    @property
    def counts_as_attempt(self) -> bool:
        """Counted against the target's max_attempts (an agent who did not answer is
        the hotline's failure, never the customer's; so is a call lost because a
        dialer stopped)."""
        return self not in (AttemptResult.AGENT_UNAVAILABLE, AttemptResult.IN_FLIGHT,
                            AttemptResult.LOST)


#: Every value a finished attempt can have (the metric's label values).
FINISHED_RESULTS = tuple(r for r in AttemptResult if r is not AttemptResult.IN_FLIGHT)

# Q.850 causes as chan_pjsip reports them on the originated leg.
_BUSY_CAUSES = frozenset({17, 21})  # user busy, call rejected
_NO_ANSWER_CAUSES = frozenset({16, 18, 19, 20})  # ended before answer, no response, no answer
_FAILED_CAUSES = frozenset({1, 2, 3, 22, 28})  # unallocated, no route, number changed, bad format


def classify_unanswered(cause: int | None) -> AttemptResult:
    """A leg that ended without being answered, by its hang-up cause. Unknown or
    missing causes count as congestion: retried, never taken for a bad number."""
    if cause in _BUSY_CAUSES:
        return AttemptResult.BUSY
    if cause in _NO_ANSWER_CAUSES:
        return AttemptResult.NO_ANSWER
    if cause in _FAILED_CAUSES:
        return AttemptResult.FAILED
    return AttemptResult.CONGESTION


def classify_answered(dialog: DialogType, *, succeeded: bool, answered_seconds: float,
                      dtmf: str, short_answer_seconds: float) -> AttemptResult:
    """An answered leg: the dialog's success, else a short answer (voicemail-like:
    gone quickly, no key at all) or a listener who gave no valid key."""
    if succeeded:
        return {DialogType.CONFIRM: AttemptResult.CONFIRMED,
                DialogType.SATISFACTION: AttemptResult.SCORED,
                DialogType.AGENT_BRIDGE: AttemptResult.ANSWERED}[dialog]
    if not dtmf and answered_seconds < short_answer_seconds:
        return AttemptResult.SHORT_ANSWER
    return AttemptResult.NO_INPUT


# -- retries ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryDelays:
    """Seconds before the next attempt, by the last one's result."""

    no_answer: float
    busy: float
    congestion: float
    short_answer: float
    agent_unavailable: float

    def after(self, result: AttemptResult) -> float:
        if result is AttemptResult.BUSY:
            return self.busy
        if result in (AttemptResult.CONGESTION, AttemptResult.LOST):
            return self.congestion
        if result is AttemptResult.SHORT_ANSWER:
            return self.short_answer
        if result is AttemptResult.AGENT_UNAVAILABLE:
            return self.agent_unavailable
        return self.no_answer  # no answer, no input


@dataclass(frozen=True, slots=True)
class NextStep:
    """What becomes of a target after an attempt: its new state, how many attempts
    it has used, and when to try again (seconds from now; None: never)."""

    state: TargetState
    attempts: int
    retry_in: float | None


def after_attempt(result: AttemptResult, *, attempts_before: int, max_attempts: int,
                  delays: RetryDelays) -> NextStep:
    """The retry policy: reached → done; a number that does not exist → unreached at
    once; otherwise retried until ``max_attempts`` customer attempts were used."""
    used = attempts_before + (1 if result.counts_as_attempt else 0)
    if result.reached:
        return NextStep(TargetState.DONE, used, None)
    if result is AttemptResult.CANCELLED:
        return NextStep(TargetState.CANCELLED, used, None)
    if result is AttemptResult.FAILED or used >= max_attempts:
        return NextStep(TargetState.UNREACHED, used, None)
    return NextStep(TargetState.PENDING, used, delays.after(result))


# -- pacing and the window ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Pacing:
    max_channels: int
    max_cps: float
    reserve_when_waiting: bool


@dataclass(frozen=True, slots=True)
class PaceDecision:
    """May a new attempt start now; if not, why, and how long until it may (None:
    until something changes — a channel frees, the queue empties)."""

    go: bool
    wait: float | None
    reason: str


def pace(pacing: Pacing, *, now: float, last_originate: float | None, channels_up: int,
         channels_needed: int, callers_waiting: int) -> PaceDecision:
    """The one pacing rule: inbound callers first, then the channel cap (every
    channel the dialer holds, an agent leg included), then originates at most
    ``max_cps`` a second (evenly spaced, so never a burst above it)."""
    if pacing.reserve_when_waiting and callers_waiting > 0:
        return PaceDecision(False, None, f"{callers_waiting} caller(s) waiting in the queue")
    if channels_up + channels_needed > pacing.max_channels:
        return PaceDecision(False, None, f"{channels_up} of {pacing.max_channels} channels "
                                         "in use")
    if last_originate is not None:
        gap = 1.0 / pacing.max_cps - (now - last_originate)
        if gap > 0:
            return PaceDecision(False, gap, "max_cps")
    return PaceDecision(True, 0.0, "")


def may_dial_now(job_type: JobType, *, in_working_time: bool) -> bool:
    """Callbacks and visits only in working time; emergencies at any time."""
    return job_type is JobType.EMERGENCY or in_working_time


def channels_per_attempt(dialog: DialogType) -> int:
    """The agent-first dialog holds two channels: the agent's and the customer's."""
    return 2 if dialog is DialogType.AGENT_BRIDGE else 1


# -- numbers ------------------------------------------------------------------------------

#: The hotline's own range: China's 400 service numbers (the hotline's number is
#: one), and 800 freephone numbers. The dialer never dials them.
SERVICE_PREFIXES = ("400", "800")
#: Digits of a dialable customer number (without a leading +): an 11-digit
#: mobile, a landline with its area code, up to E.164's 15.
PHONE_DIGITS = (7, 15)
#: Characters people write between digit groups; removed before checking.
_SEPARATORS = str.maketrans("", "", " -().\u00a0\t")


def normalise_phone(value: str) -> str:
    """``138-0013 8000`` → ``13800138000``; a leading ``+`` is kept, ``0086``/``+86``
    is not touched (it is part of the number as the trunk dials it). Full-width
    digits, spaces and dashes (a Chinese input method's ``１３８－００１３``) are
    read as their ASCII forms (NFKC), not refused."""
    return unicodedata.normalize("NFKC", value).strip().translate(_SEPARATORS)


def national_number(phone: str) -> str:
    """A normalised number without its ``+``/``0086``/``86`` country code: one
    person's number however it was written (``+8613800138000`` is ``13800138000``)."""
    digits = phone.removeprefix("+")
    return digits.removeprefix("0086").removeprefix("86") if len(digits) > 11 else digits


def phone_problem(phone: str, *, own_numbers: tuple[str, ...] = ()) -> str | None:
    """Why a normalised number may not be dialled by the dialer, or None.
    ``own_numbers``: the hotline's own numbers (``line.test_number``)."""
    digits = phone[1:] if phone.startswith("+") else phone
    if not digits.isascii() or not digits.isdigit():
        return "must be digits only (spaces, dashes and a leading + allowed)"
    low, high = PHONE_DIGITS
    if not low <= len(digits) <= high:
        return f"must have {low} to {high} digits, not {len(digits)}"
    national = national_number(digits)
    if national.startswith(SERVICE_PREFIXES) or any(
            own and national.endswith(own.lstrip("+")) for own in own_numbers):
        return ("is in the hotline's own 400/800 range: the dialer never calls the "
                "hotline or another service number")
    return None
