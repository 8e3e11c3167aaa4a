"""The line monitor's records and the fault form on a real PostgreSQL: faults
opened and ended through the batch writer (one row per fault, replays
harmless), the advisory lock that lets one instance among many run the
monitor, and the API's /line, PATCH /faults/{id} and POST /line/test."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from sqlalchemy import select

from hotline_pbx.config import LineSettings
from hotline_pbx.domain.line_health import CallTestResult, FaultCause
from hotline_pbx.store import line_repo, models
from hotline_pbx.store.batch_writer import BatchWriter, insert_batch
from hotline_pbx.store.database import Database
from hotline_pbx.store.leader_lock import LeaderLock
from hotline_pbx.store.line_repo import LINE_FAULTS, LINE_TESTS, FaultRecord, TestRecord
from tests.integration.api_fixtures import SETTINGS, Api, api, start_api

__all__ = ["api"]

T0 = 1_790_000_000.0  # 2026-09-21


async def fault_rows(db: Database) -> list[Any]:
    async with db.engine.connect() as conn:
        return list((await conn.execute(select(models.line_faults)
                                        .order_by(models.line_faults.c.id))).all())


async def test_a_fault_is_one_row_from_its_opening_to_its_end(db: Database) -> None:
    opened = FaultRecord("f1", FaultCause.BUSY, T0, None, {"detail": "cause 17"})
    ended = dataclasses.replace(opened, ended_at=T0 + 90, details={})
    async with db.engine.begin() as conn:
        await insert_batch(conn, LINE_FAULTS, [opened])
    async with db.engine.connect() as conn:
        [(key, fault)] = await line_repo.open_faults(conn)
    assert key == "f1" and fault.cause is FaultCause.BUSY and fault.started_at == T0
    async with db.engine.begin() as conn:
        await insert_batch(conn, LINE_FAULTS, [ended])
        await insert_batch(conn, LINE_FAULTS, [opened])  # a replay of the opening
    [row] = await fault_rows(db)
    assert row.source == "test" and row.cause == "busy"
    assert (row.ended_at - row.started_at).total_seconds() == 90  # the replay kept the end
    assert row.details == {"detail": "cause 17"}  # the end did not wipe what the start said
    async with db.engine.connect() as conn:
        assert await line_repo.open_faults(conn) == []


async def test_an_opening_and_its_end_in_one_batch_make_one_ended_row(db: Database,
                                                                      tmp_path: Path) -> None:
    writer = BatchWriter(db.engine, LINE_FAULTS, tmp_path / "spool", flush_interval=0.05)
    await writer.start()
    trunk = FaultRecord("t1", FaultCause.CARRIER_UNREACHABLE, T0)
    writer.submit(trunk)
    writer.submit(dataclasses.replace(trunk, ended_at=T0 + 5))
    writer.submit(FaultRecord("f2", FaultCause.NOT_ARRIVED, T0 + 1))
    await writer.stop()
    rows = await fault_rows(db)
    assert [(r.fault_key, r.source, r.ended_at is not None) for r in rows] == [
        ("t1", "trunk", True), ("f2", "test", False)]


async def test_test_records_are_written_once_and_found_by_the_request(db: Database) -> None:
    result = CallTestResult(T0, T0 + 0.4, None, "", 0.35)
    record = TestRecord("k1", result, "token:admin-user", ("req-a", "req-b"))
    assert TestRecord.from_dict(record.to_dict()) == record  # the spool's round trip
    async with db.engine.begin() as conn:
        await insert_batch(conn, LINE_TESTS, [record, record])
    async with db.engine.connect() as conn:
        served = await line_repo.test_serving(conn, "req-b")
        last = await line_repo.last_test(conn)
        assert await line_repo.test_serving(conn, "req-c") is None
    assert served is not None and last is not None and served.id == last.id
    assert served.passed and served.cause is None and served.round_trip_seconds == 0.35


# -- one monitor among many instances ------------------------------------------------


@pytest.fixture
async def locks(pg_dsn: str) -> AsyncIterator[list[LeaderLock]]:
    made = [LeaderLock(pg_dsn, 0x7E57, what=f"test {n}", retry_seconds=0.2,
                       check_seconds=0.2) for n in range(2)]
    try:
        yield made
    finally:
        for lock in made:
            await lock.stop()


async def _one_holds(locks: list[LeaderLock], timeout: float = 10.0) -> LeaderLock:
    async with asyncio.timeout(timeout):
        while True:
            held = [lock for lock in locks if lock.is_held]
            if held:
                await asyncio.sleep(0.6)  # three checks: nobody else takes it meanwhile
                assert [lock for lock in locks if lock.is_held] == held
                assert len(held) == 1
                return held[0]
            await asyncio.sleep(0.05)


async def test_exactly_one_instance_holds_the_lock_and_the_other_takes_over(
        locks: list[LeaderLock], pg_dsn: str) -> None:
    for lock in locks:
        await lock.start()
    first = await _one_holds(locks)
    await first.stop()  # the holder goes away: its session ends
    second = await _one_holds([lock for lock in locks if lock is not first])
    assert second is not first and not first.is_held


async def test_a_holder_whose_session_is_killed_lets_go_at_once(locks: list[LeaderLock],
                                                                pg_dsn: str) -> None:
    for lock in locks:
        await lock.start()
    first = await _one_holds(locks)
    connection = await asyncpg.connect(pg_dsn)
    try:  # kill the holder's session, as a PostgreSQL restart or a network cut would
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks "
            "WHERE locktype = 'advisory' AND objid = $1 AND granted", 0x7E57)
    finally:
        await connection.close()
    await asyncio.wait_for(first.released.wait(), 5)
    holder = await _one_holds(locks)  # one of the two has it again, never both
    assert holder.is_held


# -- the API -------------------------------------------------------------------------


async def _insert_fault(db: Database, **values: Any) -> int:
    row = {"fault_key": "k", "cause": "not_arrived", "source": "test",
           "started_at": datetime(2026, 11, 3, 1, 0, tzinfo=UTC), **values}
    async with db.engine.begin() as conn:
        result = await conn.execute(models.line_faults.insert().returning(
            models.line_faults.c.id), row)
        return int(result.scalar_one())


async def test_the_line_is_unknown_until_anything_is_known(api: Api, db: Database) -> None:
    status, body, _ = await api.call("GET", "/api/v1/line", "viewer")
    assert status == 200
    assert body["up"] is None and body["last_result"] is None and body["open_fault"] is None
    assert body["monitor"] == "disabled"
    fault = await _insert_fault(db)
    status, body, _ = await api.call("GET", "/api/v1/line", "viewer")
    assert body["up"] is False and body["open_fault"]["id"] == fault
    async with db.engine.begin() as conn:
        await insert_batch(conn, LINE_TESTS, [TestRecord("t", CallTestResult(
            T0, T0 + 1, FaultCause.NOT_ARRIVED, "not seen at /route within 20s"))])
    _, body, _ = await api.call("GET", "/api/v1/line", "viewer")
    assert body["last_result"]["passed"] is False
    assert body["last_result"]["cause"] == "not_arrived"


async def test_the_fault_form_is_filled_in_and_audited(api: Api, db: Database) -> None:
    fault = await _insert_fault(db)
    form = {"reported_by": "Li Na to the technical department, ext. 8001",
            "reported_at": "2026-11-03T09:10:00+08:00", "note": "carrier ticket 4711"}
    status, body, _ = await api.call("PATCH", f"/api/v1/faults/{fault}", "supervisor",
                                     json=form)
    assert status == 200, body
    assert body["reported_by"] == form["reported_by"] and body["note"] == "carrier ticket 4711"
    assert body["reported_at"] == "2026-11-03T09:10:00+08:00"
    status, body, _ = await api.call("PATCH", f"/api/v1/faults/{fault}", "supervisor",
                                     json={"repaired_at": "2026-11-03T11:40:00+08:00"})
    assert status == 200 and body["note"] == "carrier ticket 4711"  # the rest stays
    [entry, second] = [a for a in await api.audit() if a.action == "fault.update"]
    assert entry.before["note"] == "" and entry.after["note"] == "carrier ticket 4711"
    assert second.before["repaired_at"] is None and second.after["repaired_at"]
    # the viewer sees the form, phone numbers masked
    _, page, _ = await api.call("GET", "/api/v1/faults", "viewer")
    assert page["items"][0]["note"] == "carrier ticket 4711"


@pytest.mark.parametrize(("body", "field"), [
    ({}, "(body)"),
    ({"cause": "busy"}, "cause"),
    ({"note": 5}, "note"),
    ({"note": "x" * 4001}, "note"),
    ({"note": "bell\x07"}, "note"),
    ({"reported_at": "yesterday"}, "reported_at"),
    ({"reported_at": "2026-11-03T09:10:00"}, "reported_at"),  # no offset
    ({"repaired_at": "2100-12-31T23:00:00-14:00"}, "repaired_at"),  # 2101 in UTC
    ({"repaired_at": "0001-01-01T00:00:00+14:00"}, "repaired_at"),
])
async def test_a_bad_fault_form_is_refused_and_changes_nothing(api: Api, db: Database,
                                                               body: Any, field: str) -> None:
    fault = await _insert_fault(db)
    status, problem, _ = await api.call("PATCH", f"/api/v1/faults/{fault}", "supervisor",
                                        json=body)
    assert status == 422, problem
    assert field in [error["field"] for error in problem["errors"]]
    [row] = await fault_rows(db)
    assert row.note == "" and row.updated_at is None


async def test_the_fault_form_needs_a_supervisor_and_an_existing_fault(api: Api) -> None:
    status, _, _ = await api.call("PATCH", "/api/v1/faults/1", "viewer", json={"note": "x"})
    assert status == 403
    status, problem, _ = await api.call("PATCH", "/api/v1/faults/99", "supervisor",
                                        json={"note": "x"})
    assert status == 404 and "fault 99" in problem["detail"]
    status, problem, _ = await api.call("PATCH", "/api/v1/faults/abc", "supervisor",
                                        json={"note": "x"})
    assert status == 404 and "id of a fault" in problem["detail"]


async def test_a_test_call_cannot_be_asked_of_a_disabled_monitor(api: Api) -> None:
    status, problem, _ = await api.call("POST", "/api/v1/line/test", "admin")
    assert status == 409 and "line.enabled = false" in problem["detail"]
    status, _, _ = await api.call("POST", "/api/v1/line/test", "supervisor")
    assert status == 403


async def test_a_test_call_nobody_runs_is_a_clear_503(db: Database) -> None:
    settings = dataclasses.replace(SETTINGS, line=LineSettings(
        enabled=False, test_timeout=1.0, retest_every=5.0))
    settings = dataclasses.replace(settings, line=dataclasses.replace(settings.line,
                                                                      enabled=True))
    client = await start_api(db, settings)
    try:
        status, problem, headers = await client.call("POST", "/api/v1/line/test", "admin")
    finally:
        await client.client.close()
    assert status == 503 and "no instance ran the test" in problem["detail"]
    assert headers["Retry-After"] == "5"
    assert [a.action for a in await client.audit()][-1] == "line.test"


async def test_the_roster_refuses_the_line_monitors_test_number(db: Database) -> None:
    settings = dataclasses.replace(SETTINGS, line=dataclasses.replace(
        SETTINGS.line, enabled=True, test_number="4008001234", test_caller="01088886666"))
    client = await start_api(db, settings)
    roster = {"supervisor": {"id": "li", "name": "Li", "mobile": "+4008001234"},
              "deputies": [], "absences": []}
    try:
        status, problem, _ = await client.call("PUT", "/api/v1/roster", "supervisor",
                                               json=roster)
        assert status == 422, problem
        assert problem["errors"][0]["field"] == "supervisor.mobile"
        roster["supervisor"]["mobile"] = "+8613800138000"
        status, _, _ = await client.call("PUT", "/api/v1/roster", "supervisor", json=roster)
        assert status == 200
    finally:
        await client.client.close()
