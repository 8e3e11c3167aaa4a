"""A resolved complaint's callback visit: the dialer's finish handler
(complaint_visit_repo.record_visit_result, driven through the real Dialer's
store of an attempt's end) and a person's result through the API."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from hotline_pbx.ari.client import AriClient
from hotline_pbx.ari.events import AriEvents
from hotline_pbx.config import Settings
from hotline_pbx.dialer.service import Dialer
from hotline_pbx.domain.dialer import AttemptResult, FinishedTarget, JobType, TargetState
from hotline_pbx.store import callback_repo, complaint_visit_repo, dialer_repo, models
from hotline_pbx.store.database import Database
from hotline_pbx.store.dialer_repo import AttemptEnd
from tests.integration.api_fixtures import Api, api
from tests.integration.complaint_rows import add_complaint

__all__ = ["api"]


def _dialer(db: Database) -> Dialer:
    settings = Settings()
    dialer = Dialer(settings, engine=db.engine, dsn=db.dsn, ari=AriClient(settings.ari),
                    ari_events=lambda: AriEvents(settings.ari),
                    in_working_time=lambda _epoch: True, callers_waiting=lambda: 0,
                    free_agents=lambda: ())
    # as app.py registers them
    dialer.on_target_finished(JobType.VISIT, callback_repo.record_visit_result)
    dialer.on_target_finished(JobType.VISIT, complaint_visit_repo.record_visit_result)
    return dialer


async def _queued(db: Database, state: str = "customer_informed") -> tuple[int, int]:
    async with db.engine.begin() as conn:
        complaint = await add_complaint(conn, state=state)
        job = await complaint_visit_repo.queue_visit(conn, complaint, "13800138000",
                                                     by_dialer=True, scale=5)
    assert job is not None
    return complaint, job


async def _attempt(db: Database, key: str) -> None:
    async with db.engine.begin() as conn:
        [due] = await dialer_repo.due_targets(conn, now=time.time(),
                                              job_types=[JobType.VISIT], limit=1)
        assert await dialer_repo.begin_attempt(conn, target_id=due.target_id, attempt_key=key,
                                               started_at=time.time(), details={})


async def _complaint(db: Database, complaint_id: int) -> Any:
    async with db.engine.connect() as conn:
        return (await conn.execute(select(models.complaints)
                                   .where(models.complaints.c.id == complaint_id))).one()


async def _events(db: Database, complaint_id: int) -> list[Any]:
    e = models.complaint_events
    async with db.engine.connect() as conn:
        return list((await conn.execute(select(e).where(e.c.complaint_id == complaint_id)
                                        .order_by(e.c.id))).all())


async def test_a_scored_dialer_visit_lands_on_the_complaint(db: Database) -> None:
    complaint, _job = await _queued(db)
    await _attempt(db, "v1")
    now = time.time()
    await _dialer(db)._store_end(JobType.VISIT, AttemptEnd(
        "v1", AttemptResult.SCORED, now, answered_at=now - 20, dtmf="4", score=4))
    row = await _complaint(db, complaint)
    assert (row.visit_state, row.visit_by, row.visit_score, row.visit_scale,
            row.visit_attempts, row.state) == ("done", "dialer", 4, 5, 1, "visited")
    assert abs(row.visited_at.timestamp() - now) < 1
    events = await _events(db, complaint)
    assert [(e.kind, e.actor, e.from_state, e.to_state) for e in events] == [
        ("visit", "dialer", None, None),
        ("transition", "dialer", "customer_informed", "visited")]
    assert events[0].details["score"] == 4


async def test_a_visit_of_a_complaint_still_resolved_keeps_its_state(db: Database) -> None:
    complaint, _job = await _queued(db, state="resolved")
    await _attempt(db, "v2")
    now = time.time()
    await _dialer(db)._store_end(JobType.VISIT, AttemptEnd(
        "v2", AttemptResult.SCORED, now, answered_at=now - 5, dtmf="2", score=2))
    row = await _complaint(db, complaint)
    assert (row.visit_state, row.visit_score, row.state) == ("done", 2, "resolved")
    assert [e.kind for e in await _events(db, complaint)] == ["visit"]


def _finished(complaint: int, state: TargetState, attempts: int, *,
              score: int | None = None, result: str | None = "no_answer",
              ref: str | None = None) -> FinishedTarget:
    return FinishedTarget(job_id=0, job_type=JobType.VISIT, target_id=0,
                          ref=ref or f"complaint:{complaint}", phone="13800138000",
                          state=state, result=result, attempts=attempts, dtmf="",
                          score=score, finished_at=time.time())


async def test_unreached_and_cancelled_visits_keep_the_attempts(db: Database) -> None:
    unreached, _ = await _queued(db)
    async with db.engine.begin() as conn:
        cancelled = await add_complaint(conn, state="customer_informed", visit_state="queued")
        other = await add_complaint(conn, state="customer_informed", visit_state="queued")
        for complaint, state, attempts in ((unreached, TargetState.UNREACHED, 3),
                                           (cancelled, TargetState.CANCELLED, 1)):
            await complaint_visit_repo.record_visit_result(
                conn, _finished(complaint, state, attempts))
        # a callback's visit and a malformed ref are not ours
        await complaint_visit_repo.record_visit_result(conn, _finished(
            other, TargetState.DONE, 1, score=5, ref=f"callback:{other}"))
        await complaint_visit_repo.record_visit_result(conn, _finished(
            other, TargetState.DONE, 1, score=5, ref="complaint:x"))
        # answered but no valid key: unreached (nobody gave a score)
        await complaint_visit_repo.record_visit_result(conn, _finished(
            other, TargetState.DONE, 2, score=None, result="no_input"))
    rows = {c: await _complaint(db, c) for c in (unreached, cancelled, other)}
    assert (rows[unreached].visit_state, rows[unreached].visit_attempts,
            rows[unreached].visit_result) == ("unreached", 3, "no_answer")
    assert (rows[cancelled].visit_state, rows[cancelled].visit_attempts) == ("cancelled", 1)
    assert (rows[other].visit_state, rows[other].visit_attempts,
            rows[other].visit_score) == ("unreached", 2, None)
    assert all(r.state == "customer_informed" for r in rows.values())


async def test_the_first_visit_result_stands(db: Database) -> None:
    complaint, _ = await _queued(db)
    async with db.engine.begin() as conn:
        await complaint_visit_repo.record_visit_result(
            conn, _finished(complaint, TargetState.DONE, 1, score=5, result="scored"))
        await complaint_visit_repo.record_visit_result(  # told twice, then a late failure
            conn, _finished(complaint, TargetState.DONE, 2, score=1, result="scored"))
        await complaint_visit_repo.record_visit_result(
            conn, _finished(complaint, TargetState.UNREACHED, 3))
    row = await _complaint(db, complaint)
    assert (row.visit_state, row.visit_score, row.visit_attempts) == ("done", 5, 1)
    assert [e.kind for e in await _events(db, complaint)] == ["visit", "transition"]


# -- a person's visit through the API -------------------------------------------------------


async def test_a_person_records_a_visit_and_the_dialer_job_is_cancelled(
        api: Api, db: Database) -> None:
    complaint, job = await _queued(db)
    path = f"/api/v1/complaints/{complaint}/visit"
    body = {"score": 4, "result": "satisfied with the repair", "note": "called from desk"}
    status, answer, _ = await api.call("POST", path, "supervisor", json=body)
    assert status == 200, answer
    assert (answer["visit_state"], answer["visit_score"], answer["visit_by"],
            answer["state"]) == ("done", 4, "supervisor-user", "visited")
    async with db.engine.connect() as conn:
        job_state = (await conn.execute(select(models.dialer_jobs.c.state).where(
            models.dialer_jobs.c.id == job))).scalar_one()
        target_states = (await conn.execute(select(models.dialer_targets.c.state).where(
            models.dialer_targets.c.job_id == job))).scalars().all()
    assert (job_state, list(target_states)) == ("cancelled", ["cancelled"])
    [entry] = [a for a in await api.audit() if a.action == "complaint.visit"]
    assert (entry.before["visit_state"], entry.after["visit_score"]) == ("queued", 4)
    events = await _events(db, complaint)
    assert [(e.kind, e.actor) for e in events] == [("visit", "token:supervisor-user"),
                                                  ("transition", "token:supervisor-user")]
    # done: a second result (or a late dialer score) changes nothing
    status, problem, _ = await api.call("POST", path, "supervisor", json={"score": 1})
    assert status == 409 and "done already" in problem["detail"]
    async with db.engine.begin() as conn:
        await complaint_visit_repo.record_visit_result(
            conn, _finished(complaint, TargetState.DONE, 1, score=1, result="scored"))
    assert (await _complaint(db, complaint)).visit_score == 4


async def test_a_person_visit_is_refused_before_resolution_and_off_the_scale(
        api: Api, db: Database) -> None:
    async with db.engine.begin() as conn:
        open_one = await add_complaint(conn, state="assigned")
        two_point = await add_complaint(conn, state="resolved", visit_state="queued",
                                        visit_scale=2)
    status, problem, _ = await api.call("POST", f"/api/v1/complaints/{open_one}/visit",
                                        "supervisor", json={"score": 3})
    assert status == 409 and "assigned" in problem["detail"]
    for bad in (3, 0, "2", True, 1.5):
        status, problem, _ = await api.call("POST", f"/api/v1/complaints/{two_point}/visit",
                                            "supervisor", json={"score": bad})
        assert status == 422, (bad, problem)
        assert problem["errors"][0]["field"] == "score"
    status, problem, _ = await api.call("POST", f"/api/v1/complaints/{two_point}/visit",
                                        "supervisor", json={"score": 1, "mood": "good"})
    assert status == 422 and problem["errors"][0]["field"] == "mood"
    status, _, _ = await api.call("POST", f"/api/v1/complaints/{two_point}/visit", "viewer",
                                  json={"score": 1})
    assert status == 403
    status, _, _ = await api.call("POST", "/api/v1/complaints/999999/visit", "supervisor",
                                  json={"score": 1})
    assert status == 404
    row = await _complaint(db, two_point)
    assert (row.visit_state, row.visit_score, row.state) == ("queued", None, "resolved")
    assert await _events(db, two_point) == []
    status, answer, _ = await api.call("POST", f"/api/v1/complaints/{two_point}/visit",
                                       "supervisor", json={"score": 2})
    assert status == 200 and answer["visit_score"] == 2 and answer["state"] == "resolved"
    assert datetime.fromisoformat(answer["visited_at"]) <= datetime.now(UTC)
