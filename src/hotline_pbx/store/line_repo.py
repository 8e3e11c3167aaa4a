"""``line_faults`` and ``line_tests``: the line monitor's records, and the fault form.

The monitor's records are written through a ``BatchWriter`` each
(:data:`LINE_FAULTS`, :data:`LINE_TESTS`), so a fault opened or a test run
while PostgreSQL is slow or down is spooled and replayed, never lost. A fault
is one row with an idempotent ``fault_key``: its opening is a record, its end
a later record of the same key that sets ``ended_at`` (``merge``). The paper
fault form's fields (who reported it to the technical department and when,
when it was repaired, a note) are written by the API only, under a row lock
(:func:`update_fault_form`), and never by the monitor.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline_pbx.domain.line_health import CallTestResult, FaultCause, OpenFault
from hotline_pbx.store.batch_writer import RecordKind
from hotline_pbx.store.models import line_faults, line_tests


def _instant(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


@dataclass(frozen=True, slots=True)
class FaultRecord:
    """A fault's whole state as the monitor knows it: opened, and ended or not."""

    fault_key: str
    cause: FaultCause
    started_at: float  # epoch seconds
    ended_at: float | None = None
    details: Mapping[str, Any] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        return {"fault_key": self.fault_key, "cause": self.cause.value,
                "source": self.cause.source.value, "started_at": _instant(self.started_at),
                "ended_at": None if self.ended_at is None else _instant(self.ended_at),
                "details": dict(self.details)}

    def to_dict(self) -> dict[str, Any]:
        return {"fault_key": self.fault_key, "cause": self.cause.value,
                "started_at": self.started_at, "ended_at": self.ended_at,
                "details": dict(self.details)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultRecord:
        ended = data["ended_at"]
        return cls(fault_key=str(data["fault_key"]), cause=FaultCause(data["cause"]),
                   started_at=float(data["started_at"]),
                   ended_at=None if ended is None else float(ended),
                   details=dict(data["details"]))


@dataclass(frozen=True, slots=True)
class TestRecord:
    """One test call the monitor placed."""

    __test__ = False  # not a pytest test class

    test_key: str
    result: CallTestResult
    requested_by: str = ""  # "" when the schedule asked for it
    requests: tuple[str, ...] = ()  # the API requests it served (their keys)

    def row(self) -> dict[str, Any]:
        r = self.result
        return {"test_key": self.test_key, "started_at": _instant(r.started_at),
                "ended_at": _instant(r.ended_at), "passed": r.passed,
                "cause": None if r.cause is None else r.cause.value,
                "round_trip_seconds": r.round_trip, "requested_by": self.requested_by,
                "details": {"detail": r.detail, "requests": list(self.requests)}}

    def to_dict(self) -> dict[str, Any]:
        r = self.result
        return {"test_key": self.test_key, "started_at": r.started_at,
                "ended_at": r.ended_at, "cause": None if r.cause is None else r.cause.value,
                "detail": r.detail, "round_trip": r.round_trip,
                "requested_by": self.requested_by, "requests": list(self.requests)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TestRecord:
        cause = data["cause"]
        trip = data["round_trip"]
        return cls(test_key=str(data["test_key"]), requested_by=str(data["requested_by"]),
                   requests=tuple(str(k) for k in data["requests"]),
                   result=CallTestResult(
                       started_at=float(data["started_at"]), ended_at=float(data["ended_at"]),
                       cause=None if cause is None else FaultCause(cause),
                       detail=str(data["detail"]),
                       round_trip=None if trip is None else float(trip)))


def _fault_key(record: FaultRecord) -> str:
    return record.fault_key


def _test_key(record: TestRecord) -> str:
    return record.test_key


LINE_FAULTS: RecordKind[FaultRecord] = RecordKind(
    name="line_faults", noun="line fault record", table=line_faults, key_column="fault_key",
    key=_fault_key, row=FaultRecord.row, to_json=FaultRecord.to_dict,
    from_json=FaultRecord.from_dict, merge=("ended_at",),
)
LINE_TESTS: RecordKind[TestRecord] = RecordKind(
    name="line_tests", noun="line test record", table=line_tests, key_column="test_key",
    key=_test_key, row=TestRecord.row, to_json=TestRecord.to_dict,
    from_json=TestRecord.from_dict,
)


# -- reads ---------------------------------------------------------------------------


async def open_faults(conn: AsyncConnection) -> list[tuple[str, OpenFault]]:
    """The faults not ended, as (fault_key, fault), oldest first; a row whose cause
    this version does not know is skipped (it stays listed by the API)."""
    known = {c.value for c in FaultCause}
    return [(row.fault_key, OpenFault(row.id, FaultCause(row.cause),
                                      row.started_at.timestamp()))
            for row in await open_fault_rows(conn) if row.cause in known]


async def last_test(conn: AsyncConnection) -> Row[Any] | None:
    t = line_tests
    return (await conn.execute(select(t).order_by(t.c.started_at.desc(), t.c.id.desc())
                               .limit(1))).first()


async def open_fault_rows(conn: AsyncConnection) -> list[Row[Any]]:
    f = line_faults
    return list((await conn.execute(select(f).where(f.c.ended_at.is_(None))
                                    .order_by(f.c.started_at, f.c.id))).all())


async def test_serving(conn: AsyncConnection, request_key: str) -> Row[Any] | None:
    """The test that served the API request ``request_key``, once it is written."""
    t = line_tests
    return (await conn.execute(
        select(t).where(t.c.details["requests"].contains([request_key])).limit(1))).first()


#: The fault form's fields the API may change.
FORM_FIELDS = ("reported_by", "reported_at", "repaired_at", "note")


async def update_fault_form(conn: AsyncConnection, fault_id: int,
                            changes: Mapping[str, Any]) -> tuple[Row[Any], Row[Any]] | None:
    """Apply the form's ``changes`` to fault ``fault_id`` under its row lock, in
    the caller's transaction: (before, after), or None if there is no such fault."""
    f = line_faults
    before = (await conn.execute(select(f).where(f.c.id == fault_id).with_for_update())).first()
    if before is None:
        return None
    values = {k: v for k, v in changes.items() if k in FORM_FIELDS}
    after = (await conn.execute(
        update(f).where(f.c.id == fault_id)
        .values(**values, updated_at=datetime.now(UTC)).returning(f))).one()
    return before, after
