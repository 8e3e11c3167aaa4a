"""The dialer's finish handlers (Dialer.on_target_finished) against real PostgreSQL:
a handler runs in the transaction that stores the target's final state, and a
failing one rolls it back and is run again: an end is never half-stored."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline_pbx.ari.client import AriClient
from hotline_pbx.ari.events import AriEvents
from hotline_pbx.config import Settings
from hotline_pbx.dialer import service
from hotline_pbx.dialer.service import Dialer
from hotline_pbx.domain.dialer import (
    AttemptResult,
    DialogType,
    FinishedTarget,
    JobType,
    TargetSpec,
    TargetState,
)
from hotline_pbx.metrics import DIALER_ATTEMPTS
from hotline_pbx.store import dialer_repo, models
from hotline_pbx.store.database import Database
from hotline_pbx.store.dialer_repo import AttemptEnd


def _dialer(db: Database) -> Dialer:
    settings = Settings()
    return Dialer(settings, engine=db.engine, dsn=db.dsn, ari=AriClient(settings.ari),
                  ari_events=lambda: AriEvents(settings.ari),
                  in_working_time=lambda _epoch: True, callers_waiting=lambda: 0,
                  free_agents=lambda: ())


async def _attempt_in_flight(db: Database, key: str) -> None:
    async with db.engine.begin() as conn:
        await dialer_repo.create_job(conn, job_key="cb", job_type=JobType.CALLBACK,
                                     dialog=DialogType.AGENT_BRIDGE,
                                     targets=[TargetSpec(1, "13800138000", ref="task-7")])
        [due] = await dialer_repo.due_targets(conn, now=time.time(),
                                              job_types=[JobType.CALLBACK], limit=1)
        assert await dialer_repo.begin_attempt(conn, target_id=due.target_id, attempt_key=key,
                                               started_at=time.time(), details={})


async def test_a_handler_sees_the_final_state_in_its_transaction(db: Database) -> None:
    await _attempt_in_flight(db, "k1")
    seen: list[tuple[FinishedTarget, str]] = []

    async def on_finished(conn: AsyncConnection, finished: FinishedTarget) -> None:
        state = (await conn.execute(select(models.dialer_targets.c.state))).scalar_one()
        seen.append((finished, state))

    dialer = _dialer(db)
    dialer.on_target_finished(JobType.CALLBACK, on_finished)
    counter = DIALER_ATTEMPTS.labels("callback", "answered")
    before = counter._value.get()
    now = time.time()
    await dialer._store_end(JobType.CALLBACK, AttemptEnd(
        "k1", AttemptResult.ANSWERED, now, answered_at=now - 30, details={"agent": "a1"}))
    [(finished, state)] = seen
    assert state == "done" and finished.state is TargetState.DONE
    assert (finished.ref, finished.result, finished.attempts) == ("task-7", "answered", 1)
    assert counter._value.get() == before + 1


async def test_a_failing_handler_rolls_the_end_back_and_runs_again(
        db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(service, "STORE_RETRY", 0.01)
    await _attempt_in_flight(db, "k2")
    calls: list[Any] = []

    async def flaky(conn: AsyncConnection, finished: FinishedTarget) -> None:
        calls.append(finished.target_id)
        await conn.execute(text("SELECT 1"))
        if len(calls) == 1:
            raise RuntimeError("the callbacks table is locked")

    dialer = _dialer(db)
    dialer.on_target_finished(JobType.CALLBACK, flaky)
    await dialer._store_end(JobType.CALLBACK, AttemptEnd("k2", AttemptResult.ANSWERED,
                                                         time.time()))
    assert len(calls) == 2
    a = models.dialer_attempts
    async with db.engine.connect() as conn:
        rows = (await conn.execute(select(a.c.result))).all()
    assert [r.result for r in rows] == ["answered"]
