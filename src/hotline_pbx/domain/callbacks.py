"""Callback tasks: why one is opened and where it stands.

Every hotline call that ended ``missed`` or ``abandoned`` (not short) gets a
task; so does a long call the agent continues from another line. The values
are stored (``callbacks.reason``, ``callbacks.state``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from .call_record import CallRecord
from .contract import Outcome


class CallbackReason(StrEnum):
    MISSED = "missed"
    ABANDONED = "abandoned"
    LONG_CALL = "long_call"
    MANUAL = "manual"


class CallbackState(StrEnum):
    OPEN = "open"
    DIALLING = "dialling"  # handed to the dialer
    DONE = "done"
    CANCELLED = "cancelled"


def task_key_for(call_key: str, reason: CallbackReason) -> str:
    """One task per failed call, one more if the same call was a long call
    continued from another line: the idempotent key of ``callbacks``."""
    return call_key if reason in (CallbackReason.MISSED, CallbackReason.ABANDONED) \
        else f"{call_key}:{reason.value}"


class CallbackResult(StrEnum):
    """How a task ended (``callbacks.result``)."""

    REACHED = "reached"  # the customer was reached (by a person or the dialer's bridge)
    NOT_REACHED = "not_reached"  # every try failed: people must call (open) or give up (done)
    NO_NEED = "no_need"  # nothing to call back about (a wrong dial, settled otherwise)
    WRONG_NUMBER = "wrong_number"  # the caller's number is not theirs / not callable
    CALLER_CALLED_BACK = "caller_called_back"  # the caller called in again and was answered


#: The results a person may give with ``POST /api/v1/callbacks/{id}/done``.
MANUAL_RESULTS: tuple[CallbackResult, ...] = (
    CallbackResult.REACHED, CallbackResult.NOT_REACHED, CallbackResult.NO_NEED,
    CallbackResult.WRONG_NUMBER)

#: ``callbacks.due_within``: seconds of working time (default two working hours).
DEFAULT_DUE_WITHIN = 7200.0
#: At least a minute; at most a week of working time (about a month on the calendar).
DUE_WITHIN_RANGE = (60.0, 7 * 24 * 3600.0)

_SEPARATORS = re.compile(r"[\s\-().\u00a0]+")
_CHINA = ("+86", "0086")
_CALLABLE = re.compile(r"\+?[0-9]{3,32}")


def normalise_caller(number: str) -> str:
    """The caller number as tasks are matched: separators (spaces, dashes, dots,
    brackets) removed and China's country code (``+86``, ``0086``) dropped, so
    ``+86 138-0013-8000``, ``0086 13800138000`` and ``13800138000`` are one caller.
    Other countries keep their ``+``."""
    compact = _SEPARATORS.sub("", number)
    for prefix in _CHINA:
        if compact.startswith(prefix) and len(compact) > len(prefix):
            return compact[len(prefix):]
    return compact


def is_callable(caller_key: str) -> bool:
    """A normalised caller that is a number one can dial back (not ``anonymous``,
    not empty, not a withheld ``*``)."""
    return _CALLABLE.fullmatch(caller_key) is not None


@dataclass(frozen=True, slots=True)
class OpenTask:
    """The call failed its caller: open a task."""

    reason: CallbackReason


@dataclass(frozen=True, slots=True)
class CloseTasks:
    """The caller was answered: their open tasks are settled."""

    caller_key: str


def action_for(record: CallRecord) -> OpenTask | CloseTasks | None:
    """What an ended call means for the callback tasks.

    Only calls that reached routing and are no line-monitor test count
    (``record.offered``); a caller without a number cannot be called back nor
    matched (``anonymous``). ``missed`` and ``abandoned`` open a task (``short_abandoned``
    never does: the caller hung up within seconds, see docs/kpi.md); an
    ``answered`` call closes the caller's open ones.
    """
    caller_key = normalise_caller(record.caller)
    if not record.offered or not is_callable(caller_key):
        return None
    if record.outcome is Outcome.MISSED:
        return OpenTask(CallbackReason.MISSED)
    if record.outcome is Outcome.ABANDONED:
        return OpenTask(CallbackReason.ABANDONED)
    if record.outcome is Outcome.ANSWERED:
        return CloseTasks(caller_key)
    return None
