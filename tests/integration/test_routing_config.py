"""Routing configuration in real PostgreSQL: writes, validation, LISTEN/NOTIFY reloads."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta, timezone
from datetime import time as dt_time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from hotline_pbx.config import DatabaseSettings, Secret, load_settings
from hotline_pbx.domain.contract import Period, Route
from hotline_pbx.domain.errors import ValidationError
from hotline_pbx.domain.routing import decide_route
from hotline_pbx.metrics import REGISTRY
from hotline_pbx.store import config_repo
from hotline_pbx.store.database import Database, open_database
from hotline_pbx.store.notify import ConfigListener
from tests.conftest import truncate_all

SETTINGS = load_settings(None, {"HOTLINE_AMI_SECRET": "x"})
SUPERVISOR = {"id": "li.na", "name": "Li Na", "mobile": "13800000001"}
DEPUTY = {"id": "wang.wei", "name": "Wang Wei", "mobile": "13800000002"}
# A Tuesday, 10:00 and 12:30 in Shanghai: open hours and the lunch break.
TUESDAY_10 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
TUESDAY_LUNCH = datetime(2026, 11, 24, 4, 30, tzinfo=UTC)


async def test_defaults_when_nothing_is_stored(db: Database) -> None:
    state = config_repo.RoutingState(db.engine, SETTINGS)
    await state.reload()
    assert decide_route(state.snapshot, TUESDAY_10).route is Route.QUEUE
    lunch = decide_route(state.snapshot, TUESDAY_LUNCH)
    assert (lunch.route, lunch.period) == (Route.CLOSED, Period.CLOSED)  # nobody on the roster


async def test_roster_and_absences_round_trip(db: Database) -> None:
    absence = {"person_id": "li.na", "from": "2026-11-20T00:00:00+08:00",
               "to": "2026-11-30T00:00:00+08:00", "reason": "leave", "note": "annual"}
    async with db.engine.begin() as conn:
        await config_repo.save_roster(conn, {"supervisor": SUPERVISOR, "deputies": [DEPUTY],
                                             "absences": [absence]}, "test")
    state = config_repo.RoutingState(db.engine, SETTINGS)
    await state.reload()
    decision = decide_route(state.snapshot, TUESDAY_LUNCH)
    assert decision.route is Route.FORWARD
    assert [t.person_id for t in decision.targets] == ["wang.wei"]
    assert decision.targets[0].dial_string == "PJSIP/13800000002@general-trunk"


async def test_rejected_write_changes_nothing(db: Database) -> None:
    async with db.engine.begin() as conn:
        await config_repo.save_roster(conn, {"supervisor": SUPERVISOR}, "test")
    state = config_repo.RoutingState(db.engine, SETTINGS)
    await state.reload()
    before = state.snapshot
    with pytest.raises(ValidationError) as caught:
        async with db.engine.begin() as conn:
            await config_repo.save_schedule(conn, {"weekly": [
                {"day": "mon", "start": "09:00", "end": "25:00"}]}, "test")
    assert caught.value.field == "weekly[0].end"
    with pytest.raises(ValidationError) as caught:
        async with db.engine.begin() as conn:
            await config_repo.save_roster(conn, {"supervisor": SUPERVISOR, "absences": [
                {"person_id": "li.na", "from": "2026-11-30T00:00:00+08:00",
                 "to": "2026-11-20T00:00:00+08:00", "reason": "leave"}]}, "test")
    assert caught.value.field == "absences[0].to"
    await state.reload()
    assert state.snapshot.roster == before.roster
    assert state.snapshot.calendar.schedule == before.calendar.schedule


async def test_expired_override_no_longer_decides(db: Database) -> None:
    async with db.engine.begin() as conn:
        await config_repo.save_override(
            conn, {"mode": "closed", "until": (datetime.now(UTC) + timedelta(seconds=1))
                   .isoformat()}, "test")
    state = config_repo.RoutingState(db.engine, SETTINGS)
    await state.reload()
    now = datetime.now(UTC)
    assert decide_route(state.snapshot, now).period is Period.OVERRIDE
    await asyncio.sleep(1.2)
    await state.reload()
    assert decide_route(state.snapshot, datetime.now(UTC)).period is not Period.OVERRIDE


async def test_notify_reloads_every_listener_within_a_second(db: Database) -> None:
    """Two "instances" (two states, two listeners) follow one write."""
    states = [config_repo.RoutingState(db.engine, SETTINGS) for _ in range(2)]
    listeners = [ConfigListener(db.dsn, s.reload) for s in states]
    for listener in listeners:
        await listener.start()
    try:
        for listener in listeners:
            await asyncio.wait_for(listener.listening.wait(), 5)
        versions = [s.snapshot.version for s in states]
        started = time.monotonic()
        async with db.engine.begin() as conn:
            await config_repo.save_override(
                conn, {"mode": "closed", "until": (datetime.now(UTC) + timedelta(hours=1))
                       .isoformat()}, "test")
        while any(s.snapshot.version == v for s, v in zip(states, versions, strict=True)):
            assert time.monotonic() - started < 1.0, "a listener missed the change"
            await asyncio.sleep(0.01)
        for state in states:
            assert decide_route(state.snapshot, datetime.now(UTC)).period is Period.OVERRIDE
    finally:
        for listener in listeners:
            await listener.stop()


def _reloads() -> float:
    value = REGISTRY.get_sample_value("hotline_config_reloads_total")
    assert value is not None, "hotline_config_reloads_total is not exported"
    return value


async def test_the_reload_counter_passes_its_old_value_once_a_change_is_applied(
        db: Database) -> None:
    """What the e2e tests wait for after a write (tests/e2e/conftest.py): the
    counter moves only once a new snapshot is in force, one step per reload."""
    state = config_repo.RoutingState(db.engine, SETTINGS)
    listener = ConfigListener(db.dsn, state.reload)
    await listener.start()
    try:
        await asyncio.wait_for(listener.listening.wait(), 5)
        before = _reloads()
        async with db.engine.begin() as conn:
            await config_repo.save_roster(conn, {"supervisor": SUPERVISOR}, "test")
        deadline = time.monotonic() + 5
        while _reloads() == before:
            assert time.monotonic() < deadline, "the change was never applied"
            await asyncio.sleep(0.01)
        assert state.snapshot.roster.supervisor is not None  # in force when it moved
        assert _reloads() == before + 1
        await state.reload()
        assert _reloads() == before + 2
    finally:
        await listener.stop()


async def test_listener_reloads_after_losing_its_connection(db: Database) -> None:
    state = config_repo.RoutingState(db.engine, SETTINGS)
    listener = ConfigListener(db.dsn, state.reload, retry_seconds=0.2)
    await listener.start()
    try:
        await asyncio.wait_for(listener.listening.wait(), 5)
        async with db.engine.connect() as conn:
            await conn.exec_driver_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE query LIKE 'LISTEN%' AND datname = current_database()")
        # While it is away a change is written; the reconnect picks it up.
        async with db.engine.begin() as conn:
            await config_repo.save_roster(conn, {"supervisor": SUPERVISOR}, "test")
        deadline = time.monotonic() + 5
        while state.snapshot.roster.supervisor is None:
            assert time.monotonic() < deadline, "the change was never applied"
            await asyncio.sleep(0.05)
    finally:
        await listener.stop()


# -- stored documents that do not load (issue #9 item 1) ------------------------------
#
# Each row below is what an older version or a hand-written SQL statement could
# leave behind. Loading reports it and keeps the document's last good value (or
# its default) while every other document still applies.

BAD_ROWS = {
    "schedule": ("INSERT INTO schedule (id, document) VALUES (1, "
                 """'{"weekly": [{"day": "mon", "start": "09:00", "end": "25:00"}]}')""",
                 "schedule.weekly[0].end"),
    "exceptions": ("INSERT INTO calendar_exceptions (day, kind) VALUES ('1999-12-31', 'closed')",
                   "exceptions[1999-12-31].date"),
    "override": ("INSERT INTO override (id, mode, until) "
                 "VALUES (1, 'closed', '2100-12-31T23:00:00-14:00')",
                 "override.until"),
    "roster": ("INSERT INTO roster (id, document) VALUES (1, "
               """'{"supervisor": {"id": "li.na", "name": "Li Na", "mobile": "138 0000 0001"}}')""",
               "roster.supervisor.mobile"),
    "absences": ("INSERT INTO absences (person_id, starts_at, reason) "
                 "VALUES ('li.na', '2000-01-01T00:00:00+14:00', 'leave')",
                 "roster.absences[0].from"),
}


async def _execute(db: Database, sql: str) -> None:
    async with db.engine.begin() as conn:
        await conn.exec_driver_sql(sql)


def _invalid_gauge(document: str) -> float | None:
    return REGISTRY.get_sample_value("hotline_config_invalid", {"document": document})


@pytest.mark.parametrize("table", sorted(BAD_ROWS))
async def test_a_bad_stored_row_is_reported_and_later_changes_still_apply(
        db: Database, table: str) -> None:
    sql, field = BAD_ROWS[table]
    if table == "absences":  # an absence needs its person on the roster
        await _execute(db, "INSERT INTO roster (id, document) VALUES (1, "
                           """'{"supervisor": {"id": "li.na", "name": "Li Na", """
                           """"mobile": "13800000001"}, "deputies": []}')""")
    await _execute(db, sql)
    state = config_repo.RoutingState(db.engine, SETTINGS)
    await state.reload()  # does not raise: the daemon starts with it
    document = "roster" if table == "absences" else table
    assert [(p.document, p.error.field) for p in state.problems] == [(document, field)]
    ok, detail = state.readiness()
    assert ok and field in detail
    assert _invalid_gauge(document) == 1
    assert decide_route(state.snapshot, TUESDAY_10).route is Route.QUEUE  # default hours

    # A later roster change reaches routing although the bad row is still stored.
    async with db.engine.begin() as conn:
        await config_repo.save_roster(conn, {"deputies": [DEPUTY]}, "test")
    await state.reload()
    decision = decide_route(state.snapshot, TUESDAY_LUNCH)
    assert [t.person_id for t in decision.targets] == ["wang.wei"]
    still_bad = document != "roster"  # the PUT replaced the whole roster
    assert [p.document for p in state.problems] == ([document] if still_bad else [])
    assert _invalid_gauge(document) == (1 if still_bad else 0)


async def test_a_document_that_stops_loading_keeps_its_last_good_value(db: Database) -> None:
    async with db.engine.begin() as conn:
        await config_repo.save_schedule(conn, {"weekly": [
            {"day": "tue", "start": "12:00", "end": "13:00"}]}, "test")
    state = config_repo.RoutingState(db.engine, SETTINGS)
    await state.reload()
    assert decide_route(state.snapshot, TUESDAY_LUNCH).route is Route.QUEUE
    await _execute(db, """UPDATE schedule SET document = '{"weekly": "tue 12-13"}'""")
    await state.reload()
    assert [p.error.field for p in state.problems] == ["schedule.weekly"]
    # the last good schedule (open at lunch), not the default one (closed at lunch)
    assert decide_route(state.snapshot, TUESDAY_LUNCH).route is Route.QUEUE
    assert decide_route(state.snapshot, TUESDAY_10).route is Route.CLOSED


async def test_one_bad_exception_row_does_not_hold_back_the_others(db: Database) -> None:
    await _execute(db, BAD_ROWS["exceptions"][0])
    async with db.engine.begin() as conn:  # adding another date is not blocked by it
        await config_repo.add_exception(
            conn, {"date": "2026-11-24", "kind": "closed", "note": "staff day"}, "test")
    state = config_repo.RoutingState(db.engine, SETTINGS)
    await state.reload()
    assert [p.error.field for p in state.problems] == ["exceptions[1999-12-31].date"]
    decision = decide_route(state.snapshot, TUESDAY_10)
    assert decision.period is Period.CLOSED and "staff day" in decision.reason


# -- property: anything the API's validation accepts builds a snapshot ---------------

EDGE_YEARS = (1, 2, 1999, 2000, 2001, 2099, 2100, 2101, 9998, 9999)
_naive_instants = st.one_of(
    st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)),
    st.builds(datetime.combine,
              st.sampled_from(EDGE_YEARS).flatmap(
                  lambda y: st.sampled_from((date(y, 1, 1), date(y, 12, 31)))),
              st.sampled_from((dt_time(0, 0), dt_time(9, 59, 59), dt_time(10, 0),
                               dt_time(13, 59, 59), dt_time(14, 0), dt_time(23, 59, 59)))),
)
_offsets = st.one_of(st.sampled_from((-14 * 60, 14 * 60, 0)), st.integers(-14 * 60, 14 * 60))


@st.composite
def iso_instants(draw: st.DrawFn) -> str:
    """An ISO 8601 instant in years 1-9999 with a UTC offset from -14:00 to +14:00."""
    offset = timezone(timedelta(minutes=draw(_offsets)))
    return draw(_naive_instants).replace(tzinfo=offset).isoformat()


_dates = st.one_of(st.dates(), st.sampled_from(EDGE_YEARS).map(lambda y: date(y, 12, 31)))
_api_writes = st.one_of(
    st.builds(lambda mode, until: ("override", {"mode": mode, "until": until}),
              st.sampled_from(("open", "closed")), iso_instants()),
    st.builds(lambda start, end: ("roster", {
        "supervisor": SUPERVISOR,
        "absences": [{"person_id": "li.na", "from": start, "to": end, "reason": "leave"}]}),
        iso_instants(), st.none() | iso_instants()),
    st.builds(lambda day, kind: ("exception", {"date": day.isoformat(), "kind": kind, **(
        {"periods": [{"start": "09:00", "end": "12:00"}]} if kind == "open" else {})}),
        _dates, st.sampled_from(("open", "closed"))),
    st.builds(lambda zone, end: ("schedule", {"timezone": zone, "weekly": [
        {"day": "mon", "start": "00:00", "end": end}]}),
        st.sampled_from(("Pacific/Kiritimati", "Etc/GMT+12", "Asia/Shanghai")),
        st.sampled_from(("00:01", "23:59", "24:00"))),
)
_SAVE = {"override": config_repo.save_override, "roster": config_repo.save_roster,
         "exception": config_repo.add_exception, "schedule": config_repo.save_schedule}


async def _accepted_then_loaded(engine: AsyncEngine, kind: str, document: dict[str, Any]
                                ) -> tuple[config_repo.ConfigProblem, ...] | None:
    """Write as the API does and load the stored result as ``reload`` does, in one
    transaction that is rolled back. None when the write was refused."""
    async with engine.connect() as conn, conn.begin() as transaction:
        try:
            await _SAVE[kind](conn, document, "property")
        except ValidationError:
            return None
        documents = await config_repo.read_documents(conn)
        await transaction.rollback()
    config, problems = config_repo.load_config(
        documents, now=datetime.now(UTC), last_good=config_repo.default_config(SETTINGS))
    config_repo.build_snapshot(config, SETTINGS, version=1)
    return problems


def test_whatever_the_api_accepts_builds_a_snapshot(pg_dsn: str, tmp_path: Path) -> None:
    """Offsets up to ±14:00 and years 1-9999 through the real write, PostgreSQL's
    timestamptz and the real read-back."""
    truncate_all(pg_dsn)  # nothing but what each example writes (and rolls back)
    accepted: list[str] = []
    with asyncio.Runner() as runner:
        database = runner.run(open_database(DatabaseSettings(dsn=Secret(pg_dsn)), tmp_path))

        @settings(max_examples=150, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.too_slow])
        @given(_api_writes)
        # One write of each kind that must be accepted, so the coverage check
        # below does not rest on what 150 random draws happen to hit.
        @example(("override", {"mode": "closed", "until": "2099-12-31T00:00:00+08:00"}))
        @example(("roster", {"supervisor": SUPERVISOR, "absences": [
            {"person_id": "li.na", "from": "2030-01-01T00:00:00+08:00",
             "to": "2030-01-02T00:00:00+08:00", "reason": "leave"}]}))
        @example(("exception", {"date": "2030-10-01", "kind": "closed"}))
        @example(("schedule", {"timezone": "Asia/Shanghai", "weekly": [
            {"day": "mon", "start": "00:00", "end": "24:00"}]}))
        def check(write: tuple[str, dict[str, Any]]) -> None:
            kind, document = write
            problems = runner.run(_accepted_then_loaded(database.engine, kind, document))
            if problems is not None:
                accepted.append(kind)
                assert problems == (), f"accepted but does not load: {problems}"

        try:
            check()
        finally:
            runner.run(database.close())
    assert set(accepted) == set(_SAVE), "each kind of write was accepted at least once"
