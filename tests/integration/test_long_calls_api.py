"""Long calls against the real schema and the real API app (issue 12, item 3):
the stored flag whatever the order, ``GET /api/v1/long-calls`` (masked for a
viewer) and ``POST …/callback`` (roles, 404, 409, force, one task per call)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from hotline_pbx.ami.queue_watch import QueueWatch
from hotline_pbx.ami.supervisor import AmiSupervisor
from hotline_pbx.api.app_factory import CONTEXT_KEY
from hotline_pbx.callbacks import CallbackService
from hotline_pbx.config import AmiSettings, CallbackSettings, LongCallSettings, Secret
from hotline_pbx.domain.calendar.evaluation import BusinessCalendar
from hotline_pbx.domain.call_record import CallRecord, HangupSide
from hotline_pbx.domain.contract import Outcome, Period
from hotline_pbx.long_calls import LongCallService
from hotline_pbx.store.batch_writer import BatchWriter, insert_batch
from hotline_pbx.store.call_writer import CALL_RECORDS
from hotline_pbx.store.callback_repo import CALLBACK_RECORDS
from hotline_pbx.store.database import Database
from hotline_pbx.store.long_call_repo import mark_long_call
from hotline_pbx.store.models import audit_log, callbacks, calls
from tests.integration.api_fixtures import Api, call_row, start_api

AGENT = "Local/agent1@hotline-agents"
NOW = 1_795_000_000.0


def record(key: str, *, long_call: bool) -> CallRecord:
    at = datetime.fromtimestamp(NOW, UTC)
    return CallRecord(key, key, key, "13900000001", "", "4008001234", at, at, at,
                      at + timedelta(minutes=12), Period.OPEN, "queue", Outcome.ANSWERED,
                      3.0, 700.0, "Agent One", "agent", 0, HangupSide.CALLER, 16,
                      long_call=long_call)


async def test_the_flag_is_stored_with_the_record_or_set_afterwards(db: Database) -> None:
    async with db.engine.begin() as conn:
        assert await mark_long_call(conn, "1.1") is False  # no row yet: tried again later
        await insert_batch(conn, CALL_RECORDS, [record("1.1", long_call=False),
                                                record("1.2", long_call=True)])
        assert await mark_long_call(conn, "1.1") is True
        assert await mark_long_call(conn, "1.1") is True  # idempotent
        rows = (await conn.execute(select(calls.c.call_key, calls.c.long_call)
                                   .order_by(calls.c.call_key))).all()
    assert [tuple(r) for r in rows] == [("1.1", True), ("1.2", True)]


def test_a_spool_line_written_before_the_flag_still_loads() -> None:
    line = record("1.3", long_call=True).to_dict()
    assert CallRecord.from_dict(line).long_call is True
    del line["long_call"]
    assert CallRecord.from_dict(line).long_call is False


def connect_event(caller: str, linkedid: str, at: float) -> dict[str, str]:
    return {"Event": "AgentConnect", "Queue": "hotline", "Interface": AGENT,
            "MemberName": "Agent One", "Channel": f"PJSIP/carrier-{linkedid}",
            "Uniqueid": linkedid, "Linkedid": linkedid, "CallerIDNum": caller,
            "DestChannel": f"{AGENT}-0001;1", "DestUniqueid": f"{linkedid}9",
            "Timestamp": str(at)}


@pytest.fixture
async def live(db: Database, tmp_path: Path) -> AsyncIterator[tuple[Api, LongCallService]]:
    """The API app with a long-call service over a queue watch fed AMI events here.
    AMI is a real supervisor that is not connected (the hang-up then fails and
    says so), ARI is off (no apology)."""
    def clock() -> float:
        return NOW

    watch = QueueWatch({"hotline"}, clock=clock)
    ami = AmiSupervisor(AmiSettings(secret=Secret("x")), lambda _event: None)
    marked: list[str] = []

    def mark(linkedid: str) -> bool:
        marked.append(linkedid)
        return True

    service = LongCallService(
        LongCallSettings(threshold=600), watch=watch, mark_in_tracker=mark,
        engine=db.engine, dsn=db.dsn, open_callback=CallbackService(
            CallbackSettings(auto_dial=False),
            BatchWriter(db.engine, CALLBACK_RECORDS, tmp_path, retry_interval=60),
            engine=db.engine, calendar=BusinessCalendar, timeout=5).open_for_long_call,
        ami=ami, ari=None, ari_events=None, clock=clock)
    api = await start_api(db)
    api.client.app[CONTEXT_KEY].long_calls = service
    try:
        yield api, service
    finally:
        await api.client.close()


async def test_the_listing_masks_callers_for_a_viewer_and_shows_durations(
        live: tuple[Api, LongCallService]) -> None:
    api, service = live
    service.watch({"Event": "QueueCallerJoin", "Queue": "hotline", "Uniqueid": "2.1",
                   "Channel": "PJSIP/carrier-2", "CallerIDNum": "13900000002",
                   "Timestamp": str(NOW - 30)})
    service.watch(connect_event("13900000001", "1.1", NOW - 700))
    status, body, _ = await api.call("GET", "/api/v1/long-calls", "viewer")
    assert status == 200, body
    assert (body["watching"], body["callers_waiting"], body["free_agents"]) == (True, 1, [])
    assert body["longest_wait_seconds"] == 30.0
    (entry,) = body["calls"]
    assert entry["caller"] != "13900000001" and entry["caller"].endswith("0001")
    assert entry["long"] is False  # not looked at yet
    service.check()
    _, body, _ = await api.call("GET", "/api/v1/long-calls", "supervisor")
    (entry,) = body["calls"]
    assert (entry["caller"], entry["long"], entry["agent"]) == ("13900000001", True, AGENT)
    assert entry["connected_at"].endswith("+08:00")  # shown in the configured zone


async def test_continue_from_another_line_opens_one_task(
        live: tuple[Api, LongCallService], db: Database) -> None:
    api, service = live
    service.watch(connect_event("13900000001", "1.1", NOW - 60))
    path = "/api/v1/long-calls/1.1/callback"
    assert (await api.call("POST", path, "viewer"))[0] == 403
    assert (await api.call("POST", "/api/v1/long-calls/9.9/callback", "supervisor"))[0] == 404
    status, body, _ = await api.call("POST", path, "supervisor")
    assert (status, body["type"]) == (409, "urn:hotline-pbx:problem:not-long"), body
    assert (await api.call("POST", path + "?force=maybe", "supervisor"))[0] == 400
    status, body, _ = await api.call("POST", path + "?force=true", "supervisor")
    assert status == 200, body
    assert isinstance(body["task_id"], int)
    # AMI is not connected here: the hang-up is reported as not done, the task stays.
    assert (body["apology_played"], body["hung_up"]) == (False, False)
    status, again, _ = await api.call("POST", path + "?force=true", "admin")
    assert (status, again["task_id"]) == (200, None)  # the same task, not a second one
    async with db.engine.connect() as conn:
        tasks = (await conn.execute(select(callbacks.c.task_key, callbacks.c.reason,
                                           callbacks.c.caller, callbacks.c.due_at))).all()
        audit = (await conn.execute(select(audit_log.c.action).where(
            audit_log.c.action == "long_call.callback"))).all()
    assert [(t.task_key, t.reason, t.caller) for t in tasks] == [
        ("1.1:long_call", "long_call", "13900000001")]
    # 2 working hours (callbacks.due_within) from Wednesday 19:06 in Shanghai, after
    # hours: Thursday 08:30 + 2 h
    assert tasks[0].due_at == datetime(2026, 11, 19, 2, 30, tzinfo=UTC)
    assert len(audit) == 2


async def test_without_a_service_the_listing_is_empty_and_posts_find_nothing(
        db: Database) -> None:
    api = await start_api(db)
    try:
        status, body, _ = await api.call("GET", "/api/v1/long-calls", "viewer")
        assert (status, body["watching"], body["calls"]) == (200, False, [])
        assert (await api.call("POST", "/api/v1/long-calls/1.1/callback", "admin"))[0] == 404
        await api.insert_calls([call_row("1.1", datetime.now(UTC))])
        async with db.engine.connect() as conn:
            assert (await conn.execute(select(calls.c.long_call))).scalar_one() is False
    finally:
        await api.client.close()
