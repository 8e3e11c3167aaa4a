"""Call records into PostgreSQL: the ``calls`` kind of :mod:`hotline_pbx.store.batch_writer`.

The tracker hands each ended call to a ``BatchWriter[CallRecord]`` built on
:data:`CALL_RECORDS` (batched, spooled while PostgreSQL is down, replayed in
order, never dropped). The idempotent key is ``calls.node`` with
``calls.call_key`` (one row per Asterisk node and Linkedid); the spool
line is :meth:`CallRecord.to_dict`, the same format as the flat
``<data_dir>/spool/calls-N.jsonl`` spool of earlier versions, which is still
replayed first.
"""

from __future__ import annotations

from typing import Any

from hotline_pbx.domain.call_record import CallRecord
from hotline_pbx.store import models
from hotline_pbx.store.batch_writer import RecordKind


def record_row(record: CallRecord) -> dict[str, Any]:
    """The ``calls`` row of a record."""
    return {
        "node": record.node, "call_key": record.call_key, "linkedid": record.linkedid,
        "uniqueid": record.uniqueid,
        "caller": record.caller, "caller_name": record.caller_name, "dnid": record.dnid,
        "started_at": record.started_at, "routed_at": record.routed_at,
        "answered_at": record.answered_at, "ended_at": record.ended_at,
        "period": record.period.value, "route": record.route, "outcome": record.outcome.value,
        "wait_seconds": record.wait_seconds, "talk_seconds": record.talk_seconds,
        "answered_by": record.answered_by, "answered_role": record.answered_role,
        "failover_attempts": record.failover_attempts,
        "hangup_side": None if record.hangup_side is None else record.hangup_side.value,
        "hangup_cause": record.hangup_cause, "is_test": record.is_test,
        "needs_callback": record.needs_callback, "details": dict(record.details),
        "long_call": record.long_call,
    }


def _call_key(record: CallRecord) -> str:
    """Unique per node and call, as logs show it: ``pbx1/1795000000.2``, or the
    Linkedid alone with one Asterisk (a Linkedid never holds a '/')."""
    return f"{record.node}/{record.call_key}" if record.node else record.call_key


CALL_RECORDS: RecordKind[CallRecord] = RecordKind(
    name="calls", noun="call record", table=models.calls, key_column="call_key",
    unique_columns=("node", "call_key"),
    key=_call_key, row=record_row, to_json=CallRecord.to_dict, from_json=CallRecord.from_dict,
)
