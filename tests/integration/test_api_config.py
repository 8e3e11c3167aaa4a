"""The REST API's routing configuration, auth and errors over real PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import insert as sql_insert

from hotline_pbx.domain.contract import Period, Route
from hotline_pbx.domain.routing import decide_route
from hotline_pbx.store import config_repo, models
from hotline_pbx.store.database import Database
from hotline_pbx.store.notify import ConfigListener
from tests.integration.api_fixtures import SETTINGS, Api, api, make_settings, start_api

__all__ = ["api"]

PROBLEM = "application/problem+json"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
NINE_TO_FIVE = {"timezone": "Asia/Shanghai", "weekly": [
    {"day": d, "start": "09:00", "end": "17:00"} for d in WEEKDAYS], "workday_periods": None}
# A Tuesday 12:30 in Shanghai: lunch break by default, open with NINE_TO_FIVE.
TUESDAY_LUNCH = datetime(2026, 11, 24, 4, 30, tzinfo=UTC)


async def stored_schedule(db: Database) -> dict[str, Any]:
    async with db.engine.connect() as conn:
        return dict((await config_repo.read_documents(conn))["schedule"])


# -- auth ---------------------------------------------------------------------------


async def test_missing_bad_and_revoked_tokens_get_401(api: Api) -> None:
    status, body, headers = await api.call("GET", "/api/v1/schedule", role=None)
    assert status == 401 and headers["Content-Type"].startswith(PROBLEM)
    assert headers["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization" in body["detail"]
    for value in ("Basic abc", "Bearer", "Bearer not-a-token", "Bearer hpx_" + "x" * 43):
        status, body, _ = await api.call("GET", "/api/v1/schedule", role=None,
                                         headers={"Authorization": value})
        assert status == 401, value
    async with api.db.engine.begin() as conn:
        from hotline_pbx.store.api_repo import revoke_token

        assert await revoke_token(conn, "viewer-user") is not None
    status, body, _ = await api.call("GET", "/api/v1/schedule", role="viewer")
    assert (status, body["detail"]) == (401, "the token is unknown or revoked")


async def test_roles(api: Api) -> None:
    assert (await api.call("GET", "/api/v1/schedule", "viewer"))[0] == 200
    status, body, _ = await api.call("PUT", "/api/v1/schedule", "viewer", json=NINE_TO_FIVE)
    assert status == 403 and "admin" in body["detail"]
    assert (await api.call("PUT", "/api/v1/schedule", "supervisor", json=NINE_TO_FIVE))[0] == 403
    assert (await api.call("GET", "/api/v1/audit", "supervisor"))[0] == 403
    roster = {"supervisor": {"id": "li.na", "name": "Li Na", "mobile": "13800000001"}}
    assert (await api.call("PUT", "/api/v1/roster", "viewer", json=roster))[0] == 403
    assert (await api.call("PUT", "/api/v1/roster", "supervisor", json=roster))[0] == 200
    assert (await api.call("PUT", "/api/v1/schedule", "admin", json=NINE_TO_FIVE))[0] == 200


# -- schedule -----------------------------------------------------------------------


async def test_schedule_put_is_stored_audited_and_round_trips(api: Api) -> None:
    status, default, _ = await api.call("GET", "/api/v1/schedule")
    assert status == 200 and len(default["weekly"]) == 10
    status, body, _ = await api.call("PUT", "/api/v1/schedule", json=NINE_TO_FIVE)
    assert (status, body) == (200, NINE_TO_FIVE)
    assert (await api.call("GET", "/api/v1/schedule"))[1] == NINE_TO_FIVE
    # GET → PUT unchanged is accepted (what a GUI does)
    assert (await api.call("PUT", "/api/v1/schedule", json=default))[0] == 200
    audit = [row for row in await api.audit() if row.action == "schedule.update"]
    assert len(audit) == 2
    assert audit[0].actor == "token:admin-user" and audit[0].client == "127.0.0.1"
    assert audit[0].before == default and audit[0].after == NINE_TO_FIVE


BAD_SCHEDULES = [
    ({"weekly": [{"day": "mon", "start": "09:00", "end": "25:00"}]}, "weekly[0].end", "25:00"),
    ({"weekly": [{"day": "mon", "start": "12:00", "end": "09:00"}]}, "weekly[0].end", "12:00"),
    ({"weekly": [{"day": "mon", "start": "09:00", "end": "12:00"},
                 {"day": "mon", "start": "11:00", "end": "13:00"}]}, "weekly[1].start",
     "overlaps"),
    ({"timezone": "Mars/Olympus", "weekly": []}, "timezone", "Mars/Olympus"),
    ({"weekly": [], "colour": "red"}, "colour", "unknown field"),
    ({"weekly": "mon 9-5"}, "weekly", "must be a list"),
    ({"weekly": [{"day": "mon", "start": 900, "end": "12:00"}]}, "weekly[0].start", "string"),
    ([1, 2], "", "object"),
]


@pytest.mark.parametrize(("body", "field", "words"), BAD_SCHEDULES)
async def test_bad_schedule_is_refused_and_changes_nothing(
        api: Api, body: Any, field: str, words: str) -> None:
    before = await stored_schedule(api.db)
    status, problem, headers = await api.call("PUT", "/api/v1/schedule", json=body)
    assert status == 422 and headers["Content-Type"].startswith(PROBLEM)
    assert problem["field"] == field and words in problem["reason"]
    assert problem["example"] and problem["errors"][0]["field"] == field
    assert await stored_schedule(api.db) == before
    assert await api.audit() == []


async def test_malformed_bodies(api: Api) -> None:
    status, problem, _ = await api.call(
        "PUT", "/api/v1/schedule", data=b'{"weekly": [',
        headers={"Content-Type": "application/json"})
    assert status == 400 and problem["field"] == "(body)" and "JSON" in problem["reason"]
    status, problem, _ = await api.call("PUT", "/api/v1/schedule", data=b"weekly=1",
                                        headers={"Content-Type": "text/plain"})
    assert status == 415 and problem["field"] == "Content-Type"
    status, problem, _ = await api.call(
        "PUT", "/api/v1/schedule", data=b'{"weekly": [], "timezone": "\\ud800"}',
        headers={"Content-Type": "application/json"})
    assert status == 400
    status, problem, _ = await api.call(
        "PUT", "/api/v1/schedule", data=b"[" * 5000 + b"]" * 5000,
        headers={"Content-Type": "application/json"})
    assert status == 400 and "deeply" in problem["reason"]


async def test_body_over_the_limit_is_413(db: Database) -> None:
    small = await start_api(db, make_settings(max_body_bytes=1024))
    try:
        big = {"weekly": [{"day": "mon", "start": "09:00", "end": "12:00"}] * 40}
        status, problem, headers = await small.call("PUT", "/api/v1/schedule", json=big)
        assert status == 413 and headers["Content-Type"].startswith(PROBLEM)
        assert problem["field"] == "(body)"
        assert (await small.audit()) == []
    finally:
        await small.client.close()


async def test_query_strings_are_checked(api: Api) -> None:
    status, problem, _ = await api.call("GET", "/api/v1/schedule?verbose=1")
    assert status == 400 and problem["field"] == "verbose"
    status, problem, _ = await api.call("GET", "/api/v1/exceptions?year=1999")
    assert status == 400 and problem["field"] == "year"
    status, problem, _ = await api.call("GET", "/api/v1/exceptions?year=2026&year=2027")
    assert status == 400 and "more than once" in problem["reason"]


async def test_unknown_path_and_method_are_problems(api: Api) -> None:
    status, _, headers = await api.call("GET", "/api/v1/nothing")
    assert status == 404 and headers["Content-Type"].startswith(PROBLEM)
    status, _, headers = await api.call("PATCH", "/api/v1/schedule")
    assert status == 405 and "PUT" in headers["Allow"]


async def test_schedule_put_reaches_routing_within_a_second(api: Api) -> None:
    state = config_repo.RoutingState(api.db.engine, SETTINGS)
    await state.reload()
    listener = ConfigListener(api.db.dsn, state.reload)
    await listener.start()
    try:
        await asyncio.wait_for(listener.listening.wait(), 5)
        before = state.snapshot.version
        assert decide_route(state.snapshot, TUESDAY_LUNCH).period is Period.CLOSED
        assert (await api.call("PUT", "/api/v1/schedule", json=NINE_TO_FIVE))[0] == 200
        started = time.monotonic()
        await asyncio.wait_for(_new_version(state, before), 1.0)  # within 1 s of the PUT
        print(f"routing reloaded {1000 * (time.monotonic() - started):.0f} ms after the PUT")
        decision = decide_route(state.snapshot, TUESDAY_LUNCH)
        assert (decision.period, decision.route) == (Period.OPEN, Route.QUEUE)
        # a refused PUT sends no NOTIFY and leaves routing exactly as it was
        version = state.snapshot.version
        bad = {"weekly": [{"day": "tue", "start": "09:00", "end": "25:00"}]}
        assert (await api.call("PUT", "/api/v1/schedule", json=bad))[0] == 422
        await asyncio.sleep(0.3)
        assert state.snapshot.version == version
        assert decide_route(state.snapshot, TUESDAY_LUNCH).period is Period.OPEN
    finally:
        await listener.stop()


async def _new_version(state: config_repo.RoutingState, before: int) -> None:
    while state.snapshot.version == before:  # noqa: ASYNC110 - the snapshot has no event
        await asyncio.sleep(0.01)


# -- exceptions ---------------------------------------------------------------------


async def test_exceptions_create_list_conflict_delete(api: Api) -> None:
    national = {"date": "2026-10-01", "kind": "closed", "note": "National Day"}
    status, body, headers = await api.call("POST", "/api/v1/exceptions", json=national)
    assert status == 201 and body == national
    assert headers["Location"] == "/api/v1/exceptions/2026-10-01"
    extra = {"date": "2027-02-07", "kind": "open",
             "periods": [{"start": "09:00", "end": "12:00"}], "note": ""}
    assert (await api.call("POST", "/api/v1/exceptions", json=extra))[0] == 201
    status, problem, _ = await api.call("POST", "/api/v1/exceptions", json=national)
    assert status == 409 and problem["field"] == "date"
    status, problem, _ = await api.call("POST", "/api/v1/exceptions", json={
        "date": "2026-02-30", "kind": "closed"})
    assert status == 422 and problem["field"] == "date"
    status, problem, _ = await api.call("POST", "/api/v1/exceptions", json={
        "date": "2026-10-02", "kind": "open"})
    assert status == 422 and problem["field"] == "periods"
    assert (await api.call("GET", "/api/v1/exceptions"))[1]["items"] == [national, extra]
    assert (await api.call("GET", "/api/v1/exceptions?year=2027"))[1]["items"] == [extra]
    assert (await api.call("DELETE", "/api/v1/exceptions/2026-10-01"))[0] == 204
    assert (await api.call("DELETE", "/api/v1/exceptions/2026-10-01"))[0] == 404
    assert (await api.call("DELETE", "/api/v1/exceptions?date=2027-02-07"))[0] == 204
    status, problem, _ = await api.call("DELETE", "/api/v1/exceptions/tomorrow")
    assert status == 400 and problem["field"] == "date"
    assert (await api.call("GET", "/api/v1/exceptions"))[1]["items"] == []
    actions = [row.action for row in await api.audit()]
    assert actions == ["exception.create", "exception.create", "exception.delete",
                       "exception.delete"]


# -- override -----------------------------------------------------------------------


async def test_override_set_read_refuse_clear(api: Api) -> None:
    assert (await api.call("GET", "/api/v1/override"))[1] == {"override": None,
                                                                "active": False}
    until = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    status, body, _ = await api.call("PUT", "/api/v1/override", json={
        "mode": "closed", "until": until.isoformat(), "note": "typhoon"})
    assert status == 200 and body["active"] is True
    assert body["override"]["until"].endswith("+08:00")  # shown in the configured zone
    assert datetime.fromisoformat(body["override"]["until"]) == until
    assert body["override"]["set_by"] == "token:admin-user"
    status, problem, _ = await api.call("PUT", "/api/v1/override", json={
        "mode": "closed", "until": "2020-01-01T00:00:00+08:00"})
    assert status == 422 and problem["field"] == "until"
    status, problem, _ = await api.call("PUT", "/api/v1/override", json={
        "mode": "closed", "until": "2030-01-01T00:00:00"})
    assert status == 422 and "offset" in problem["reason"]
    assert (await api.call("GET", "/api/v1/override"))[1]["override"]["note"] == "typhoon"
    assert (await api.call("DELETE", "/api/v1/override"))[0] == 204
    assert (await api.call("GET", "/api/v1/override"))[1]["override"] is None


# -- roster -------------------------------------------------------------------------


async def test_roster_round_trip_and_masked_for_viewers(api: Api) -> None:
    roster = {
        "supervisor": {"id": "li.na", "name": "Li Na", "mobile": "13800138000"},
        "deputies": [{"id": "wang.wei", "name": "Wang Wei", "mobile": "+8613900139000"}],
        "absences": [{"person_id": "li.na", "from": "2026-10-01T00:00:00+08:00",
                      "to": "2026-10-08T00:00:00+08:00", "reason": "leave",
                      "note": "call 13700137000"}],
    }
    status, body, _ = await api.call("PUT", "/api/v1/roster", "supervisor", json=roster)
    assert (status, body) == (200, roster)
    assert (await api.call("GET", "/api/v1/roster", "admin"))[1] == roster
    masked = (await api.call("GET", "/api/v1/roster", "viewer"))[1]
    assert masked["supervisor"]["mobile"] == "*******8000"
    assert masked["deputies"][0]["mobile"] == "+*********9000"
    assert masked["absences"][0]["note"] == "call *******7000"
    bad = {**roster, "deputies": [{"id": "li.na", "name": "x", "mobile": "13800138001"}]}
    status, problem, _ = await api.call("PUT", "/api/v1/roster", json=bad)
    assert status == 422 and problem["field"] == "deputies[0].id"
    assert (await api.call("GET", "/api/v1/roster"))[1] == roster


# -- what the API accepts is what routing loads (issue #9 item 1) ---------------------

LI_NA = {"id": "li.na", "name": "Li Na", "mobile": "13800138000"}


def _absent_from(start: str) -> dict[str, Any]:
    return {"supervisor": LI_NA, "deputies": [],
            "absences": [{"person_id": "li.na", "from": start, "to": None,
                          "reason": "leave", "note": ""}]}


# A local year in range whose instant in UTC (as stored) is not, and the edges.
UNLOADABLE = [
    ("/api/v1/override", {"mode": "closed", "until": "2100-12-31T23:00:00-14:00"}, "until"),
    ("/api/v1/override", {"mode": "closed", "until": "2101-01-01T00:00:00Z"}, "until"),
    ("/api/v1/roster", _absent_from("2000-01-01T00:00:00+14:00"), "absences[0].from"),
    ("/api/v1/roster", _absent_from("0001-01-01T00:00:00+14:00"), "absences[0].from"),
    ("/api/v1/roster", _absent_from("9999-12-31T23:59:59-14:00"), "absences[0].from"),
]
LOADABLE = [
    ("/api/v1/override", {"mode": "closed", "until": "2100-12-31T23:59:59Z", "note": ""}),
    ("/api/v1/override", {"mode": "open", "until": "2101-01-01T09:59:59+14:00", "note": ""}),
    ("/api/v1/roster", _absent_from("2000-01-01T00:00:00-14:00")),
    ("/api/v1/roster", _absent_from("2000-01-01T00:00:00Z")),
]


async def _reload_problems(api: Api) -> list[str]:
    state = config_repo.RoutingState(api.db.engine, SETTINGS)
    await state.reload()
    return [str(p) for p in state.problems]


@pytest.mark.parametrize(("path", "body", "field"), UNLOADABLE)
async def test_what_routing_could_not_load_is_refused(
        api: Api, path: str, body: dict[str, Any], field: str) -> None:
    status, problem, headers = await api.call("PUT", path, json=body)
    assert status == 422 and headers["Content-Type"].startswith(PROBLEM)
    assert problem["field"] == field and "UTC" in problem["reason"]
    assert await _reload_problems(api) == []
    assert [row.action for row in await api.audit()] == []


@pytest.mark.parametrize(("path", "body"), LOADABLE)
async def test_what_the_api_accepts_loads(api: Api, path: str, body: dict[str, Any]) -> None:
    status, _, _ = await api.call("PUT", path, json=body)
    assert status == 200
    assert await _reload_problems(api) == []


async def test_a_bad_stored_schedule_is_shown_and_can_be_replaced(api: Api) -> None:
    garbage = {"weekly": [{"day": "mon", "start": "09:00", "end": "25:00"}]}
    async with api.db.engine.begin() as conn:
        await conn.execute(sql_insert(models.schedule).values(id=1, document=garbage))
    status, body, _ = await api.call("GET", "/api/v1/schedule")
    assert (status, body) == (200, garbage)  # as stored, so an admin sees what to fix
    assert (await api.call("PUT", "/api/v1/schedule", json=NINE_TO_FIVE))[0] == 200
    assert await _reload_problems(api) == []
    audit = [row for row in await api.audit() if row.action == "schedule.update"]
    assert audit[0].before == garbage and audit[0].after == NINE_TO_FIVE
