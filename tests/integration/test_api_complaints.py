"""The complaint register through the API against real PostgreSQL: every
transition, every refusal (and that it changed nothing), deadlines in working
time, extensions, replies, viewer masking, audit, parallel transitions, the
overdue filter, complaints on a call."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from hotline_pbx.domain.complaints import Stage
from hotline_pbx.store import complaint_repo, models
from hotline_pbx.store.database import Database
from tests.integration.api_fixtures import Api, api, call_row

__all__ = ["api"]

NEW = {"customer_name": "张三丰", "account": "A-1024", "phone": "+86 138-0013-8000",
       "channel": "phone", "content": "the repair came late", "department": "engineering",
       "severity": "general", "received_at": "2026-03-02T10:00:00+08:00"}
ASSIGN = {"to": "assigned", "department": "engineering", "handler": "李工"}
VERIFY = {"to": "verified", "found_true": True, "verification": "the visit was 3 days late"}
RESOLVE = {"to": "resolved", "solution": "repaired on 2026-03-03",
           "department_manager": "赵经理"}
INFORM = {"to": "customer_informed", "callback_result": "customer told, thanked us"}
ARCHIVE = {"to": "archived", "pm_opinion": "handled well", "pm_signed_by": "钱总"}


async def register(api: Api, **changes: Any) -> dict[str, Any]:
    status, body, _ = await api.call("POST", "/api/v1/complaints", "supervisor",
                                     json={**NEW, **changes})
    assert status == 201, body
    return dict(body)


async def step(api: Api, complaint_id: int, body: dict[str, Any], expect: int = 200
               ) -> dict[str, Any]:
    status, answer, _ = await api.call("POST", f"/api/v1/complaints/{complaint_id}/transitions",
                                       "supervisor", json=body)
    assert status == expect, answer
    return dict(answer)


async def snapshot(db: Database, complaint_id: int) -> tuple[Any, int]:
    async with db.engine.connect() as conn:
        row = await complaint_repo.get(conn, complaint_id)
        events = (await conn.execute(select(func.count()).select_from(models.complaint_events)
                                     .where(models.complaint_events.c.complaint_id
                                            == complaint_id))).scalar_one()
    return row, int(events)


async def test_registered_with_deadlines_in_working_time(api: Api) -> None:
    body = await register(api)
    assert body["state"] == "registered" and body["allowed_next"] == ["assigned"]
    assert body["phone"] == "+8613800138000" and body["received_by"] == "supervisor-user"
    sla = body["sla"]
    assert sla["first_reply"]["due"] == "2026-03-02T12:00:00+08:00"
    assert sla["progress_reply"]["due"] == "2026-03-03T10:00:00+08:00"
    assert sla["resolution"]["target"] == "2026-03-03T17:30:00+08:00"
    assert sla["resolution"]["hard_max"] == "2026-03-05T17:30:00+08:00"
    assert set(sla["overdue"]) == {"first_reply", "progress_reply", "resolution"}


async def test_the_whole_workflow_with_every_event(api: Api, db: Database) -> None:
    complaint = await register(api)
    cid = complaint["id"]
    assert (await step(api, cid, ASSIGN))["allowed_next"] == ["verified"]
    assert (await step(api, cid, VERIFY))["allowed_next"] == ["resolved"]
    resolved = await step(api, cid, RESOLVE)
    assert resolved["visit_state"] == "queued" and resolved["allowed_next"] == \
        ["customer_informed"]
    informed = await step(api, cid, INFORM)
    assert informed["allowed_next"] == ["visited"]
    refused = await step(api, cid, {"to": "visited"}, 409)  # the visit is not recorded yet
    assert refused["allowed"] == ["visited"] and "visit" in refused["detail"]
    status, visit, _ = await api.call("POST", f"/api/v1/complaints/{cid}/visit", "supervisor",
                                      json={"score": 5, "result": "satisfied"})
    assert status == 200, visit
    _, after_visit, _ = await api.call("GET", f"/api/v1/complaints/{cid}", "viewer")
    assert after_visit["state"] == "visited"  # an informed complaint moves on with its visit
    archived = await step(api, cid, ARCHIVE)
    assert archived["state"] == "archived" and archived["allowed_next"] == []
    _, detail, _ = await api.call("GET", f"/api/v1/complaints/{cid}", "supervisor")
    kinds = [(e["kind"], e["to"]) for e in detail["events"]]
    assert kinds[:5] == [("registered", "registered"), ("transition", "assigned"),
                         ("transition", "verified"), ("transition", "resolved"),
                         ("transition", "customer_informed")]
    assert ("transition", "archived") in kinds and all(e["actor"] for e in detail["events"])
    assert detail["pm_signed_by"] == "钱总" and detail["pm_signed_at"] is not None


async def test_a_complaint_found_untrue_is_explained_and_archived(api: Api) -> None:
    cid = (await register(api))["id"]
    await step(api, cid, ASSIGN)
    untrue = await step(api, cid, {"to": "verified", "found_true": False,
                                   "verification": "the repair was on time"})
    assert untrue["allowed_next"] == ["customer_informed"]
    await step(api, cid, {"to": "resolved", "solution": "x"}, 409)
    problem = await step(api, cid, {"to": "customer_informed"}, 422)
    assert problem["field"] == "explanation"
    informed = await step(api, cid, {"to": "customer_informed",
                                     "explanation": "the log shows the visit on time"})
    assert informed["allowed_next"] == ["archived"] and informed["visit_state"] == "none"
    assert (await step(api, cid, ARCHIVE))["state"] == "archived"


@pytest.mark.parametrize(("at", "body"), [
    (0, {"to": "verified", "found_true": True, "verification": "x"}),
    (0, {"to": "resolved", "solution": "x"}),
    (0, {"to": "archived", "pm_opinion": "x", "pm_signed_by": "y"}),
    (1, {"to": "assigned"}),
    (1, {"to": "customer_informed", "callback_result": "x"}),
    (2, {"to": "assigned"}),
])
async def test_a_transition_out_of_order_is_a_409_naming_the_allowed_states_and_changes_nothing(
        api: Api, db: Database, at: int, body: dict[str, Any]) -> None:
    cid = (await register(api))["id"]
    for done in (ASSIGN, VERIFY)[:at]:
        await step(api, cid, done)
    before = await snapshot(db, cid)
    problem = await step(api, cid, body, 409)
    assert problem["allowed"] == [["assigned"], ["verified"], ["resolved"]][at]
    assert problem["allowed"][0] in problem["detail"]
    assert await snapshot(db, cid) == before


@pytest.mark.parametrize(("body", "field"), [
    ({**NEW, "department": "nowhere"}, "department"),
    ({**NEW, "category": "gossip"}, "category"),
    ({**NEW, "severity": "huge"}, "severity"),
    ({**NEW, "channel": "pigeon"}, "channel"),
    ({**NEW, "phone": "138 0013 800O"}, "phone"),
    ({**NEW, "phone": "12"}, "phone"),
    ({**NEW, "content": ""}, "content"),
    ({**NEW, "content": "x" * 5000}, "content"),
    ({**NEW, "colour": "red"}, "colour"),
    ({**NEW, "received_at": "yesterday"}, "received_at"),
    ({**NEW, "received_at": "2999-01-01T10:00:00+08:00"}, "received_at"),
    ({**NEW, "received_at": "0001-01-01T10:00:00+08:00"}, "received_at"),
    ({**NEW, "received_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat()},
     "received_at"),
    ({**NEW, "phone": "１３８ ００１３ ８０００", "severity": 3}, "severity"),
    ({k: v for k, v in NEW.items() if k != "severity"}, "severity"),
])
async def test_bad_input_is_a_422_naming_the_field_and_stores_nothing(
        api: Api, db: Database, body: dict[str, Any], field: str) -> None:
    status, problem, _ = await api.call("POST", "/api/v1/complaints", "supervisor", json=body)
    assert status in (400, 422) and problem["field"] == field, problem
    async with db.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(models.complaints))
                ).scalar_one() == 0


async def test_transition_bodies_are_checked(api: Api, db: Database) -> None:
    cid = (await register(api))["id"]
    before = await snapshot(db, cid)
    for body, field in (({"to": "assigned", "department": "nowhere"}, "department"),
                        ({"to": "teleported"}, "to"),
                        ({"to": "assigned", "solution": "x"}, "solution")):
        problem = await step(api, cid, body, 422)
        assert problem["field"] == field, problem
    await step(api, cid, ASSIGN)
    assert (await step(api, cid, {"to": "verified", "found_true": "yes",
                                  "verification": "x"}, 422))["field"] == "found_true"
    assert (await step(api, cid, {"to": "verified"}, 422))["field"] in ("found_true",
                                                                        "verification")
    assert (await snapshot(db, cid))[1] == before[1] + 1  # only the assignment


async def test_extensions_never_pass_the_hard_maximum(api: Api) -> None:
    cid = (await register(api))["id"]
    path = f"/api/v1/complaints/{cid}/extensions"
    too_late = {"resolve_due": "2026-03-05T17:31:00+08:00", "reason": "parts"}
    no_reason = {"resolve_due": "2026-03-04T17:30:00+08:00"}
    for body, field in ((too_late, "resolve_due"), (no_reason, "reason")):
        status, problem, _ = await api.call("POST", path, "supervisor", json=body)
        assert status == 422 and problem["field"] == field, problem
    status, body, _ = await api.call("POST", path, "supervisor",
                                     json={**no_reason, "reason": "waiting for a part"})
    assert status == 200 and body["sla"]["resolution"]["due"] == "2026-03-04T17:30:00+08:00"
    assert body["sla"]["resolution"]["extended"] is True
    status, _, _ = await api.call("POST", "/api/v1/complaints/999999/extensions", "supervisor",
                                  json=no_reason)
    assert status == 404


async def test_replies_are_recorded_once(api: Api) -> None:
    cid = (await register(api))["id"]
    path = f"/api/v1/complaints/{cid}/replies"
    status, body, _ = await api.call("POST", path, "supervisor",
                                     json={"kind": "first", "note": "we are on it"})
    assert status == 200 and body["sla"]["first_reply"]["done_at"] is not None
    assert "first_reply" not in body["sla"]["overdue"]
    status, _, _ = await api.call("POST", path, "supervisor", json={"kind": "first"})
    assert status == 409
    status, body, _ = await api.call("POST", path, "supervisor", json={"kind": "progress"})
    assert status == 200 and "progress_reply" not in body["sla"]["overdue"]


async def test_a_complaint_from_a_call_and_one_for_no_call(api: Api) -> None:
    [call_id] = await api.insert_calls([call_row("c1", datetime(2026, 3, 2, 1, 0, tzinfo=UTC),
                                                 caller="0086 139 0000 1111")])
    body = {k: NEW[k] for k in ("content", "department", "severity")}
    status, created, _ = await api.call("POST", f"/api/v1/calls/{call_id}/complaint",
                                        "supervisor", json=body)
    assert status == 201, created
    assert (created["call_id"], created["channel"], created["phone"]) == \
        (call_id, "hotline", "008613900001111")
    assert created["received_at"] == "2026-03-02T09:00:00+08:00"  # the call's start
    _, call, _ = await api.call("GET", f"/api/v1/calls/{call_id}", "supervisor")
    assert call["purpose"] == "complaint"
    assert call["complaints"] == [{"id": created["id"], "state": "registered",
                                   "severity": "general",
                                   "received_at": "2026-03-02T09:00:00+08:00"}]
    status, problem, _ = await api.call("POST", "/api/v1/calls/999999/complaint", "supervisor",
                                        json=body)
    assert status == 404 and "999999" in problem["detail"]


async def test_viewers_see_numbers_and_names_masked_and_every_read_is_audited(
        api: Api) -> None:
    cid = (await register(api))["id"]
    status, listed, _ = await api.call("GET", "/api/v1/complaints", "viewer")
    assert status == 200
    [item] = listed["items"]
    assert item["customer_name"] == "张**" and "13800138000" not in repr(item)
    assert item["phone"].endswith("8000") and "*" in item["phone"]
    _, one, _ = await api.call("GET", f"/api/v1/complaints/{cid}", "viewer")
    assert one["customer_name"] == "张**" and "13800138000" not in repr(one)
    status, _, _ = await api.call("POST", "/api/v1/complaints", "viewer", json=NEW)
    assert status == 403
    _, digest, _ = await api.call("GET", "/api/v1/complaints/digest", "viewer")
    assert "13800138000" not in repr(digest)
    actions = [a.action for a in await api.audit()]
    assert {"complaint.create", "complaints.list", "complaint.read",
            "complaints.digest"} <= set(actions)


async def test_two_clients_moving_one_complaint_at_once_one_wins(api: Api, db: Database
                                                                 ) -> None:
    cid = (await register(api))["id"]
    results = await asyncio.gather(*(api.call(
        "POST", f"/api/v1/complaints/{cid}/transitions", "supervisor", json=ASSIGN)
        for _ in range(4)))
    assert sorted(status for status, _, _ in results) == [200, 409, 409, 409]
    _, events = await snapshot(db, cid)
    assert events == 2  # registered, assigned once


async def test_edits_need_the_version_read(api: Api) -> None:
    created = await register(api)
    path = f"/api/v1/complaints/{created['id']}"
    status, body, _ = await api.call("PATCH", path, "supervisor",
                                     json={"version": created["version"], "account": "B-7"})
    assert status == 200 and body["account"] == "B-7"
    status, problem, _ = await api.call("PATCH", path, "supervisor",
                                        json={"version": created["version"], "account": "C"})
    assert status == 409 and "version" in problem["detail"]
    status, problem, _ = await api.call("PATCH", path, "supervisor",
                                        json={"version": body["version"], "state": "archived"})
    assert status == 422 and problem["field"] == "state"


async def test_the_overdue_filter_and_counts_agree(api: Api, db: Database) -> None:
    now = datetime.now(UTC)
    late = await register(api, received_at=(now - timedelta(days=20)).isoformat())
    await register(api, received_at=now.isoformat(), severity="complex")
    _, overdue, _ = await api.call("GET", "/api/v1/complaints?overdue=true", "viewer")
    assert [item["id"] for item in overdue["items"]] == [late["id"]]
    _, every, _ = await api.call("GET", "/api/v1/complaints", "viewer")
    assert len(every["items"]) == 2
    async with db.engine.connect() as conn:
        counts = await complaint_repo.overdue_counts(conn, now)
    assert counts[Stage.RESOLUTION] == 1 and counts[Stage.FIRST_REPLY] >= 1
    _, by_state, _ = await api.call("GET", "/api/v1/complaints?state=assigned", "viewer")
    assert by_state["items"] == []


async def test_a_viewer_sees_an_edited_name_masked_in_the_events_too(api: Api) -> None:
    created = await register(api)
    path = f"/api/v1/complaints/{created['id']}"
    status, _, _ = await api.call("PATCH", path, "supervisor", json={
        "version": created["version"], "customer_name": "李四光", "phone": "139 0000 2222"})
    assert status == 200
    _, seen, _ = await api.call("GET", path, "viewer")
    flat = repr(seen)
    assert "李四光" not in flat and "张三丰" not in flat and "13900002222" not in flat
    [edit] = [e for e in seen["events"] if e["kind"] == "edit"]
    assert edit["details"]["changed"]["customer_name"] == ["张**", "李**"]
    _, unmasked, _ = await api.call("GET", path, "supervisor")
    assert "李四光" in repr(unmasked)


BODY_VALUES = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                        st.text(max_size=30), st.lists(st.integers(), max_size=3),
                        st.dictionaries(st.text(max_size=5), st.integers(), max_size=2))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.dictionaries(st.sampled_from([*NEW, "to", "version", "kind", "resolve_due",
                                        "reason", "found_true"]), BODY_VALUES, max_size=6))
async def test_fuzzed_bodies_never_5xx(api: Api, body: dict[str, Any]) -> None:
    status, _, _ = await api.call("POST", "/api/v1/complaints", "supervisor",
                                  json={**NEW, **body})
    assert status < 500
    for path in ("transitions", "replies", "extensions"):
        status, _, _ = await api.call("POST", f"/api/v1/complaints/1/{path}", "supervisor",
                                      json=body)
        assert status < 500, (path, body)
    status, _, _ = await api.call("PATCH", "/api/v1/complaints/1", "supervisor", json=body)
    assert status < 500, body
