"""Callback tasks: why one is opened and where it stands.

Every hotline call that ended ``missed`` or ``abandoned`` (not short) gets a
task; so does a long call the agent continues from another line. The values
are stored (``callbacks.reason``, ``callbacks.state``).
"""

from __future__ import annotations

from enum import StrEnum


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
