"""The REST API's routing configuration, auth and errors over real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert as sql_insert

from hotline_pbx.domain.contract import Period, Route
from hotline_pbx.domain.routing import decide_route
from hotline_pbx.metrics import REGISTRY
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


# -- stored values the display zone or Python cannot hold (issue #9 follow-up) --------

DEPUTY = {"id": "wang.wei", "name": "Wang Wei", "mobile": "13900139000"}


async def _sql(api: Api, *statements: str) -> None:
    async with api.db.engine.begin() as conn:
        for statement in statements:
            await conn.exec_driver_sql(statement)


def _invalid_gauge(document: str) -> float | None:
    return REGISTRY.get_sample_value("hotline_config_invalid", {"document": document})


# (what SQL stored, what GET shows: PostgreSQL's text, or the UTC instant when
# the display zone, +08:00, cannot show it)
UNSHOWABLE_UNTIL = [
    ("infinity", "infinity"),
    ("9999-12-31 23:00:00+00", "9999-12-31T23:00:00+00:00"),
    ("10000-01-01 00:00+00", "10000-01-01T00:00:00.000000+00:00"),
    ("-infinity", "-infinity"),
    ("0044-03-15 00:00+00 BC", "0044-03-15T00:00:00.000000+00:00 BC"),
]


@pytest.mark.parametrize(("stored", "shown"), UNSHOWABLE_UNTIL)
async def test_an_unshowable_stored_override_is_shown_and_can_be_replaced(
        api: Api, stored: str, shown: str) -> None:
    await _sql(api, f"INSERT INTO override (id, mode, until) VALUES (1, 'closed', '{stored}')")
    status, body, _ = await api.call("GET", "/api/v1/override")
    assert status == 200, body
    # not in force: routing does not load it (the reload reports it)
    assert body["override"]["until"] == shown and body["active"] is False
    assert [p.split(":")[0] for p in await _reload_problems(api)] == ["override.until"]
    until = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0).isoformat()
    status, body, _ = await api.call("PUT", "/api/v1/override",
                                     json={"mode": "open", "until": until})
    assert status == 200 and body["active"] is True
    assert await _reload_problems(api) == []
    await _sql(api, f"UPDATE override SET until = '{stored}'")
    assert (await api.call("DELETE", "/api/v1/override"))[0] == 204
    audit = await api.audit()
    assert [a.action for a in audit] == ["override.set", "override.clear"]
    assert audit[0].before["until"] == audit[1].before["until"] == shown


# absences as SQL may store them; each one of these does not load
BAD_ABSENCES = [
    ("li.na", "-infinity", "infinity", "leave"),
    ("li.na", "0001-01-01 00:00+00", "9999-12-31 20:00+00", "leave"),
    ("li.na", "10000-01-01 00:00+00", None, "leave"),
    ("wang.wei", "2026-11-01 00:00+00", None, "sabbatical"),
    ("nobody", "2026-11-01 00:00+00", None, "leave"),
]


def _absence_rows(rows: list[tuple[str, str, str | None, str]]) -> str:
    values = ", ".join(
        f"('{person}', '{start}', {'NULL' if end is None else repr(end)}, '{reason}')"
        for person, start, end, reason in rows)
    return f"INSERT INTO absences (person_id, starts_at, ends_at, reason) VALUES {values}"


async def _store_roster(api: Api, rows: list[tuple[str, str, str | None, str]]) -> None:
    people = json.dumps({"supervisor": LI_NA, "deputies": [DEPUTY]})
    statements = ["DELETE FROM absences", "DELETE FROM roster",
                  f"INSERT INTO roster (id, document) VALUES (1, '{people}')"]
    await _sql(api, *statements, *([_absence_rows(rows)] if rows else []))


async def test_a_bad_stored_absence_is_skipped_and_the_roster_still_routes(api: Api) -> None:
    # Li Na is on leave over the lunch break (this one loads), and five bad rows.
    on_leave = ("li.na", "2026-11-20 00:00+00", "2026-11-30 00:00+00", "leave")
    await _store_roster(api, [on_leave, *BAD_ABSENCES])
    state = config_repo.RoutingState(api.db.engine, SETTINGS)
    await state.reload()  # as the daemon starts
    fields = sorted(p.error.field for p in state.problems)
    assert len(fields) == len(BAD_ABSENCES) and all(f.startswith("roster.absences[")
                                                    for f in fields), fields
    assert _invalid_gauge("roster") == len(BAD_ABSENCES)
    decision = decide_route(state.snapshot, TUESDAY_LUNCH)  # after hours
    assert decision.route is Route.FORWARD
    assert [t.person_id for t in decision.targets] == ["wang.wei"]  # the good absence holds

    status, shown, _ = await api.call("GET", "/api/v1/roster")
    assert status == 200, shown
    spans = [(a["from"], a["to"]) for a in shown["absences"]]
    assert ("-infinity", "infinity") in spans
    assert ("10000-01-01T00:00:00.000000+00:00", None) in spans
    # in the display zone where it can be shown there (Shanghai's local mean
    # time in year 1), in UTC where it cannot (year 10000 at +08:00)
    year_one = next(a for a in shown["absences"] if a["from"].startswith("0001-"))
    assert datetime.fromisoformat(year_one["from"]) == datetime(1, 1, 1, tzinfo=UTC)
    assert year_one["to"] == "9999-12-31T20:00:00+00:00"
    # The GET as it is does not load, so PUT refuses it; without the bad rows it is taken.
    assert (await api.call("PUT", "/api/v1/roster", json=shown))[0] == 422
    kept = [a for a in shown["absences"] if a["from"] == "2026-11-20T08:00:00+08:00"]
    status, body, _ = await api.call("PUT", "/api/v1/roster", json={**shown, "absences": kept})
    assert status == 200 and body["absences"] == kept
    await state.reload()
    assert state.problems == () and _invalid_gauge("roster") == 0


async def test_a_roster_whose_people_do_not_load_keeps_its_last_good_value(api: Api) -> None:
    await _store_roster(api, [])
    state = config_repo.RoutingState(api.db.engine, SETTINGS)
    await state.reload()
    await _sql(api, """UPDATE roster SET document = '{"supervisor": {"id": "li.na"}}'""",
               _absence_rows([BAD_ABSENCES[0]]))
    await state.reload()
    assert [p.document for p in state.problems] == ["roster"]
    assert "roster.supervisor.name" in str(state.problems[0])
    decision = decide_route(state.snapshot, TUESDAY_LUNCH)
    assert [t.person_id for t in decision.targets] == ["li.na", "wang.wei"]


STORED_INSTANTS = ("infinity", "-infinity", "0001-01-01 00:00+00", "1999-12-31 23:59:59+00",
                   "2000-01-01 00:00+00", "2026-11-20 00:00+00", "2100-12-31 23:59:59+00",
                   "2101-01-01 00:00+00", "9999-12-31 20:00+00", "10000-01-01 00:00+00",
                   "0044-03-15 00:00+00 BC")
_stored_absences = st.lists(st.tuples(
    st.sampled_from(("li.na", "wang.wei", "nobody")),
    st.sampled_from(STORED_INSTANTS), st.none() | st.sampled_from(STORED_INSTANTS),
    st.sampled_from(("leave", "no_signal", "sabbatical"))), max_size=3)


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=_stored_absences)
async def test_get_then_put_of_a_roster_succeeds_exactly_when_it_loads(
        api: Api, rows: list[tuple[str, str, str | None, str]]) -> None:
    async with api.db.engine.connect() as conn:  # keep rows the table can hold
        rows = [r for r in rows if r[2] is None or (await conn.exec_driver_sql(
            f"SELECT '{r[2]}'::timestamptz > '{r[1]}'::timestamptz")).scalar()]
    await _store_roster(api, rows)
    problems = await _reload_problems(api)
    status, shown, _ = await api.call("GET", "/api/v1/roster")
    assert status == 200, shown
    status, body, _ = await api.call("PUT", "/api/v1/roster", json=shown)
    assert (status == 200) == (problems == []), (rows, problems, body)
    if status == 200:
        assert body == shown and await _reload_problems(api) == []


# -- exceptions ----------------------------------------------------------------------

# (as SQL stored it, as GET lists it and DELETE names it)
OUT_OF_RANGE_DATES = [("1999-01-01", "1999-01-01"), ("2101-01-05", "2101-01-05"),
                      ("infinity", "infinity"), ("-infinity", "-infinity"),
                      ("10000-01-01", "10000-01-01"), ("0044-03-15 BC", "0044-03-15 BC")]


async def test_stored_exceptions_of_any_year_are_listed_and_can_be_deleted(api: Api) -> None:
    values = ", ".join(f"('{stored}', 'closed')" for stored, _ in OUT_OF_RANGE_DATES)
    await _sql(api, f"INSERT INTO calendar_exceptions (day, kind) VALUES {values}")
    assert (await api.call("POST", "/api/v1/exceptions", json={
        "date": "2026-10-01", "kind": "closed"}))[0] == 201
    state = config_repo.RoutingState(api.db.engine, SETTINGS)
    await state.reload()
    assert _invalid_gauge("exceptions") == len(OUT_OF_RANGE_DATES)
    listed = [e["date"] for e in (await api.call("GET", "/api/v1/exceptions"))[1]["items"]]
    assert sorted(listed) == sorted([shown for _, shown in OUT_OF_RANGE_DATES] + ["2026-10-01"])
    for i, (_, shown) in enumerate(OUT_OF_RANGE_DATES):
        path = (f"/api/v1/exceptions/{quote(shown)}" if i % 2 else
                f"/api/v1/exceptions?date={quote(shown)}")
        status, body, _ = await api.call("DELETE", path)
        assert status == 204, (shown, body)
        assert (await api.call("DELETE", path))[0] == 404
    await state.reload()
    assert state.problems == () and _invalid_gauge("exceptions") == 0
    assert [e["date"] for e in (await api.call("GET", "/api/v1/exceptions"))[1]["items"]] == [
        "2026-10-01"]
    for bad in ("2026-02-30", "2026-13-01", "infinity-and-beyond", "26-10-01"):
        status, problem, _ = await api.call("DELETE", f"/api/v1/exceptions/{quote(bad)}")
        assert status == 400 and problem["field"] == "date", bad


@pytest.mark.parametrize("path", ["/api/v1/calls", "/api/v1/audit", "/api/v1/faults"])
@pytest.mark.parametrize("instant", ["2100-12-31T23:00:00-14:00", "2000-01-01T00:00:00+14:00"])
async def test_query_instants_are_checked_in_utc_like_body_instants(
        api: Api, path: str, instant: str) -> None:
    status, problem, _ = await api.call("GET", f"{path}?from={quote(instant)}")
    assert status == 400 and problem["field"] == "from" and "UTC" in problem["reason"]


async def test_a_people_document_that_is_not_an_object_is_shown_and_replaced(api: Api) -> None:
    await _sql(api, """INSERT INTO roster (id, document) VALUES (1, '["li.na"]')""")
    for role in ("admin", "viewer"):
        status, body, _ = await api.call("GET", "/api/v1/roster", role)
        assert (status, body) == (200, ["li.na"])
    roster = {"supervisor": LI_NA, "deputies": [], "absences": []}
    status, body, _ = await api.call("PUT", "/api/v1/roster", json=roster)
    assert (status, body) == (200, roster)
    assert await _reload_problems(api) == []
