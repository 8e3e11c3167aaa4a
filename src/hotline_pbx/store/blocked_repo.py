"""``blocked_outbound``: every outbound attempt on the 400 trunk, written.

Writing goes through a ``BatchWriter[BlockedRecord]`` built on
:data:`BLOCKED_ATTEMPTS` (:mod:`hotline_pbx.store.batch_writer`), so the AMI
event path never waits for PostgreSQL and no record is ever dropped: batched,
spooled (fsynced) to ``<data_dir>/spool/blocked_outbound/`` while PostgreSQL
is down or slow, replayed in order, and spooled at shutdown if it cannot be
written. Each row has an idempotent ``event_key`` (the guard's key of the
attempt: how it was found and the channel's Asterisk Uniqueid), inserted with
``ON CONFLICT DO NOTHING``: a replayed or retried batch is never written twice.
The ``hotline_outbound_blocked_total`` counter and the alert do not depend on
the writer.

Reading is not here: the one listing of these rows is
:func:`hotline_pbx.store.api_repo.list_blocked`, the query behind
``GET /api/v1/blocked-outbound`` (the API's shared time filter and keyset
paging).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hotline_pbx.domain.contract import BlockedAction, BlockedMethod
from hotline_pbx.logs import Verbatim
from hotline_pbx.store.batch_writer import RecordKind
from hotline_pbx.store.models import blocked_outbound

METHODS = tuple(method.value for method in BlockedMethod)
ACTIONS = tuple(action.value for action in BlockedAction)


@dataclass(frozen=True, slots=True)
class BlockedRecord:
    """One row to write (``occurred_at`` must be timezone-aware)."""

    event_key: str
    occurred_at: datetime
    method: str
    action: str
    source_channel: str = ""
    source: str = ""
    dialled_number: str = ""
    reaction_ms: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must be timezone-aware")
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {', '.join(METHODS)}, not {self.method!r}")
        if self.action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}, not {self.action!r}")

    def row(self) -> dict[str, Any]:
        return {
            "event_key": self.event_key, "occurred_at": self.occurred_at,
            "source_channel": self.source_channel, "source": self.source,
            "dialled_number": self.dialled_number, "method": self.method,
            "action": self.action, "reaction_ms": self.reaction_ms,
            "details": dict(self.details),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe (the spool's line format and a log line's fields); :meth:`from_dict`
        reverses it."""
        return {**self.row(), "occurred_at": self.occurred_at.isoformat()}

    log_fields = to_dict

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BlockedRecord:
        """Raises KeyError/ValueError/TypeError on a line that is not a record."""
        values = dict(data)
        values["occurred_at"] = datetime.fromisoformat(values["occurred_at"])
        return cls(**values)

    def as_log(self) -> Verbatim:
        """The whole record for a log line that is its last copy (not masked, not cut)."""
        return Verbatim(json.dumps(self.to_dict(), ensure_ascii=False, default=str))


def _event_key(record: BlockedRecord) -> str:
    return record.event_key


BLOCKED_ATTEMPTS: RecordKind[BlockedRecord] = RecordKind(
    name="blocked_outbound", noun="blocked outbound record", table=blocked_outbound,
    key_column="event_key", key=_event_key, row=BlockedRecord.row,
    to_json=BlockedRecord.to_dict, from_json=BlockedRecord.from_dict,
)
