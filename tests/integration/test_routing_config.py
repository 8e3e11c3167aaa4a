"""Routing configuration in real PostgreSQL: writes, validation, LISTEN/NOTIFY reloads."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import pytest

from hotline_pbx.config import load_settings
from hotline_pbx.domain.calendar import Period
from hotline_pbx.domain.errors import ValidationError
from hotline_pbx.domain.routing import Route, decide_route
from hotline_pbx.store import config_repo
from hotline_pbx.store.database import Database
from hotline_pbx.store.notify import ConfigListener

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
        listener.start()
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


async def test_listener_reloads_after_losing_its_connection(db: Database) -> None:
    state = config_repo.RoutingState(db.engine, SETTINGS)
    listener = ConfigListener(db.dsn, state.reload, retry_seconds=0.2)
    listener.start()
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
