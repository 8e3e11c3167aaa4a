"""Callback tasks against the real PostgreSQL: the writer's records (open, dial,
close), an outage spooled and replayed, the dialer's results, the overdue count,
and the API (filters, done, 404/409/400/422, masking, audit, ten clients at once)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import create_async_engine

from hotline_pbx.callbacks import CallbackService
from hotline_pbx.config import CallbackSettings
from hotline_pbx.domain.calendar import BusinessCalendar, Schedule, WeeklyPeriod
from hotline_pbx.domain.callbacks import CallbackReason
from hotline_pbx.domain.dialer import FinishedTarget, JobType, TargetState
from hotline_pbx.metrics import CALLBACKS_OVERDUE
from hotline_pbx.store import callback_repo, models
from hotline_pbx.store.batch_writer import BatchWriter
from hotline_pbx.store.callback_repo import CALLBACK_RECORDS, CLOSE, OPEN, CallbackRecord
from hotline_pbx.store.database import Database
from tests.integration.api_fixtures import Api, api, call_row
from tests.integration.test_call_writer import wait_until

__all__ = ["api"]

NOW = time.time()
SHANGHAI = ZoneInfo("Asia/Shanghai")


def opening(key: str, caller: str = "+86 138 0013 8000", *, failed: float = NOW - 3600,
            due: float = NOW + 3600, auto_dial: bool = False,
            reason: CallbackReason = CallbackReason.MISSED) -> CallbackRecord:
    return CallbackRecord(action=OPEN, key=key, call_key=key, caller=caller,
                          caller_key="13800138000" if "138" in caller else caller,
                          at=failed, reason=reason, due_at=due, auto_dial=auto_dial)


def closing(call_key: str, began: float, caller_key: str = "13800138000") -> CallbackRecord:
    return CallbackRecord(action=CLOSE, key=f"close:{call_key}", call_key=call_key,
                          caller="0086 13800138000", caller_key=caller_key, at=began)


async def write(db: Database, *records: CallbackRecord) -> None:
    async with db.engine.begin() as conn:
        await callback_repo.write_records(conn, records)


async def tasks(db: Database) -> list[Any]:
    async with db.engine.connect() as conn:
        return list((await conn.execute(
            select(models.callbacks).order_by(models.callbacks.c.id))).all())


async def test_open_is_idempotent_and_auto_dial_makes_one_job(db: Database) -> None:
    await write(db, opening("c1", auto_dial=True))
    await write(db, opening("c1", auto_dial=True))  # a replay
    [task] = await tasks(db)
    assert (task.state, task.caller_key, task.reason) == ("dialling", "13800138000", "missed")
    async with db.engine.connect() as conn:
        jobs = (await conn.execute(select(models.dialer_jobs))).all()
        targets = (await conn.execute(select(models.dialer_targets))).all()
    assert [(j.id, j.job_key, j.job_type, j.dialog) for j in jobs] == [
        (task.dialer_job_id, f"callback:{task.id}", "callback", "agent_bridge")]
    assert [(t.phone, t.ref, t.state) for t in targets] == [
        ("+8613800138000", str(task.id), "pending")]  # as the dialer dials it


async def test_an_answered_call_closes_the_callers_earlier_tasks_only(db: Database) -> None:
    await write(db, opening("old"), opening("other", caller="13900139000"),
                opening("dialled", auto_dial=True, reason=CallbackReason.ABANDONED))
    # A task from a call that failed after the answered call began stays open.
    await write(db, opening("later", failed=NOW - 60))
    await write(db, closing("answered1", began=NOW - 600))
    by_key = {t.task_key: t for t in await tasks(db)}
    for key in ("old", "dialled"):
        assert (by_key[key].state, by_key[key].result, by_key[key].done_by) == (
            "done", "caller_called_back", "system"), key
        assert "answered1" in by_key[key].note
    assert by_key["other"].state == "open"
    assert by_key["later"].state == "open"
    async with db.engine.connect() as conn:
        job = (await conn.execute(select(models.dialer_jobs))).one()
    assert (job.state, job.cancelled_by) == ("cancelled", "system")
    await write(db, closing("answered1", began=NOW - 600))  # a replay changes nothing
    assert {t.task_key: t.state for t in await tasks(db)} == {
        k: t.state for k, t in by_key.items()}


async def test_an_outage_is_spooled_and_replayed_into_tasks(db: Database, tmp_path: Path
                                                            ) -> None:
    down = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:9/none",
                               connect_args={"timeout": 1})
    writer = BatchWriter(down, CALLBACK_RECORDS, tmp_path, write_timeout=2, retry_interval=60)
    await writer.start()
    writer.submit(opening("spooled1"))
    writer.submit(closing("answered2", began=NOW - 60))
    writer.submit(opening("spooled2", caller="13900139000"))
    await wait_until(lambda: writer.spooled == 3, 15)
    await writer.stop()
    await down.dispose()
    assert writer.spooled == 3 and await tasks(db) == []
    again = BatchWriter(db.engine, CALLBACK_RECORDS, tmp_path, retry_interval=0.1)
    await again.start()
    await wait_until(lambda: again.spooled == 0 and again.written == 3, 15)
    await again.stop()
    # In order: the first task was opened, then closed by the answered call.
    assert {t.task_key: t.state for t in await tasks(db)} == {"spooled1": "done",
                                                              "spooled2": "open"}


def finished(task_id: int, state: TargetState, **extra: Any) -> FinishedTarget:
    values: dict[str, Any] = {"job_id": 1, "job_type": JobType.CALLBACK, "target_id": 1,
                              "ref": str(task_id), "phone": "13800138000", "state": state,
                              "result": "answered", "attempts": 2, "dtmf": "",
                              "score": None, "finished_at": NOW}
    values.update(extra)
    return FinishedTarget(**values)


async def test_the_dialers_result_is_recorded_on_the_task(db: Database) -> None:
    await write(db, opening("r1", auto_dial=True), opening("r2", auto_dial=True),
                opening("r3"))
    first, second, third = await tasks(db)
    async with db.engine.begin() as conn:
        await conn.execute(update(models.callbacks).where(models.callbacks.c.id == second.id)
                           .values(note="customer asked for the afternoon"))
        await callback_repo.record_dialer_result(conn, finished(first.id, TargetState.DONE,
                                                                score=5))
        await callback_repo.record_dialer_result(conn, finished(
            second.id, TargetState.UNREACHED, result="no_answer", attempts=3))
        await conn.execute(update(models.callbacks).where(models.callbacks.c.id == third.id)
                           .values(state="done", result="no_need"))
        await callback_repo.record_dialer_result(conn, finished(third.id, TargetState.DONE))
    first, second, third = await tasks(db)
    assert (first.state, first.result, first.score, first.attempts, first.done_by) == (
        "done", "reached", 5, 2, "dialer")
    assert (second.state, second.result, second.attempts, second.note) == (
        "open", "not_reached", 3, "customer asked for the afternoon")
    assert (third.state, third.result) == ("done", "no_need")  # settled before: kept


async def test_a_reached_callback_gets_one_satisfaction_visit_and_its_score(
        db: Database) -> None:
    """callbacks.satisfaction_visit: a reached task queues one visit (scale 2 here);
    the visit's score lands on the task; an unreached task gets none."""
    await write(db, opening("v1", auto_dial=True), opening("v2", auto_dial=True))
    reached, missed = await tasks(db)
    async with db.engine.begin() as conn:
        await callback_repo.record_dialer_result(conn, finished(reached.id, TargetState.DONE),
                                                 visit_scale=2)
        await callback_repo.record_dialer_result(  # told twice: still one visit
            conn, finished(reached.id, TargetState.DONE), visit_scale=2)
        await callback_repo.record_dialer_result(
            conn, finished(missed.id, TargetState.UNREACHED, result="busy"), visit_scale=2)
        j, t = models.dialer_jobs, models.dialer_targets
        visits = (await conn.execute(
            select(j.c.job_key, j.c.dialog, j.c.options, t.c.phone, t.c.ref)
            .join(t, t.c.job_id == j.c.id).where(j.c.job_type == "visit"))).all()
    assert [tuple(v) for v in visits] == [(f"visit:callback:{reached.id}", "satisfaction",
                                           {"scale": 2}, "13800138000",
                                           f"callback:{reached.id}")]
    async with db.engine.begin() as conn:
        await callback_repo.record_visit_result(conn, finished(
            0, TargetState.DONE, job_type=JobType.VISIT, ref=f"callback:{reached.id}",
            score=1, result="scored"))
        await callback_repo.record_visit_result(conn, finished(  # a complaint's visit
            0, TargetState.DONE, job_type=JobType.VISIT, ref="complaint:7", score=2))
    reached, missed = await tasks(db)
    assert (reached.state, reached.result, reached.score) == ("done", "reached", 1)
    assert (missed.score, missed.result) == (None, "not_reached")


async def test_overdue_counts_waiting_tasks_past_due(db: Database) -> None:
    await write(db, opening("o1", due=NOW - 10), opening("o2", due=NOW - 10, auto_dial=True),
                # not yet due (NOW is the module's import time: a long run ages it)
                opening("o3", due=time.time() + 3600),
                opening("o4", due=NOW - 10, caller="139001390"))
    await write(db, closing("x", began=NOW, caller_key="139001390"))
    async with db.engine.connect() as conn:
        assert await callback_repo.count_overdue(conn) == 2


# -- the API -------------------------------------------------------------------------------


async def seeded(api: Api) -> dict[str, int]:
    [call_id] = await api.insert_calls([call_row(
        "k-missed", datetime.now(UTC) - timedelta(hours=3), outcome="missed", period="closed")])
    await write(api.db, opening("k-missed", due=NOW - 60),
                opening("k-later", due=NOW + 3600),
                opening("k-abandoned", due=NOW + 7200, reason=CallbackReason.ABANDONED))
    await write(api.db, opening("k-done", caller="13900139000"))
    await write(api.db, closing("k-answer", began=NOW, caller_key="13900139000"))
    ids = {t.task_key: int(t.id) for t in await tasks(api.db)}
    return {**ids, "call": call_id}


async def test_list_filters_and_paging(api: Api) -> None:
    ids = await seeded(api)

    async def listed(query: str) -> list[int]:
        status, body, _ = await api.call("GET", f"/api/v1/callbacks{query}")
        assert status == 200, body
        return [item["id"] for item in body["items"]]

    everything = await listed("")
    assert sorted(everything) == sorted(v for k, v in ids.items() if k != "call")
    assert await listed("?overdue=true") == [ids["k-missed"]]
    assert sorted(await listed("?state=open")) == sorted(
        [ids["k-missed"], ids["k-later"], ids["k-abandoned"]])
    assert await listed("?done=true") == [ids["k-done"]]
    assert await listed("?state=done") == [ids["k-done"]]
    assert await listed("?due=true") == [ids["k-missed"]]
    assert await listed("?from=2000-01-01&to=2000-01-02") == []
    status, page, _ = await api.call("GET", "/api/v1/callbacks?limit=2")
    assert status == 200 and len(page["items"]) == 2 and page["next_cursor"]
    status, rest, _ = await api.call(
        "GET", f"/api/v1/callbacks?limit=2&cursor={page['next_cursor']}")
    assert [i["id"] for i in page["items"] + rest["items"]] == everything
    missed = next(i for i in page["items"] + rest["items"] if i["id"] == ids["k-missed"])
    assert missed["overdue"] is True and missed["call_id"] == ids["call"]
    assert missed["caller"] == "+86 138 0013 8000"
    for bad in ("?state=gone", "?overdue=yes", "?limit=0", "?caller=1", "?cursor=xx"):
        status, body, _ = await api.call("GET", f"/api/v1/callbacks{bad}")
        assert status == 400, (bad, body)


async def test_viewer_sees_callers_masked_and_reads_are_audited(api: Api) -> None:
    ids = await seeded(api)
    status, body, _ = await api.call("GET", "/api/v1/callbacks", "viewer")
    assert status == 200
    shown = {i["caller"] for i in body["items"]}
    assert shown == {"+** *** **** 8000", "*******9000"}  # the format kept, digits hidden
    assert "138" not in str(body) and "0013" not in str(body)
    status, one, _ = await api.call("GET", f"/api/v1/callbacks/{ids['k-missed']}", "viewer")
    assert status == 200 and one["caller"].endswith("8000") and "*" in one["caller"]
    audit = [(a.actor, a.action, a.target) for a in await api.audit()]
    assert ("token:viewer-user", "callbacks.list", "callbacks") in audit
    assert ("token:viewer-user", "callback.read", f"callback:{ids['k-missed']}") in audit


async def test_done_404_409_and_bad_bodies(api: Api) -> None:
    ids = await seeded(api)
    path = f"/api/v1/callbacks/{ids['k-later']}/done"
    status, body, _ = await api.call("POST", path, "viewer", json={"result": "reached"})
    assert status == 403
    for bad, code in (({"result": "solved"}, 422), ({"note": "x"}, 422),
                      ({"result": "reached", "extra": 1}, 422),
                      ({"result": "caller_called_back"}, 422),
                      ({"result": "reached", "note": 5}, 422)):
        status, body, _ = await api.call("POST", path, "supervisor", json=bad)
        assert status == code, (bad, body)
    status, body, _ = await api.call("POST", path, "supervisor", data=b"{not json",
                                     headers={"Content-Type": "application/json"})
    assert status == 400, body
    status, body, _ = await api.call("POST", "/api/v1/callbacks/999999/done", "supervisor",
                                     json={"result": "reached"})
    assert status == 404
    status, body, _ = await api.call("POST", path, "supervisor",
                                     json={"result": "reached", "note": "called at 15:10"})
    assert status == 200, body
    assert (body["state"], body["result"], body["note"], body["done_by"]) == (
        "done", "reached", "called at 15:10", "token:supervisor-user")
    status, body, _ = await api.call("POST", path, "admin", json={"result": "no_need"})
    assert status == 409 and "already" in body["detail"]
    [entry] = [a for a in await api.audit() if a.action == "callback.done"]
    assert entry.before["state"] == "open" and entry.after["result"] == "reached"


async def test_ten_clients_mark_the_same_task_exactly_one_wins(api: Api) -> None:
    ids = await seeded(api)
    path = f"/api/v1/callbacks/{ids['k-abandoned']}/done"
    answers = await asyncio.gather(*(
        api.call("POST", path, "supervisor", json={"result": "reached", "note": f"by {n}"})
        for n in range(10)))
    statuses = sorted(status for status, _, _ in answers)
    assert statuses == [200] + [409] * 9, answers
    [task] = [t for t in await tasks(api.db) if t.id == ids["k-abandoned"]]
    assert task.note.count("by ") == 1
    assert len([a for a in await api.audit() if a.action == "callback.done"]) == 1


async def test_a_call_lists_its_tasks(api: Api) -> None:
    ids = await seeded(api)
    status, body, _ = await api.call("GET", f"/api/v1/calls/{ids['call']}")
    assert status == 200
    assert [(t["id"], t["reason"], t["state"], t["result"]) for t in body["callbacks"]] == [
        (ids["k-missed"], "missed", "open", None)]
    assert body["callbacks"][0]["due_at"].endswith("+08:00")


# -- the service's long-call door and its gauge ---------------------------------------------


def service(db: Database, tmp_path: Path, engine: Any = None) -> CallbackService:
    # Working time: Mondays 09:00-10:00 (Shanghai) only.
    calendar = BusinessCalendar(Schedule(weekly=(WeeklyPeriod.of("mon", "09:00", "10:00"),)))
    writer = BatchWriter(engine or db.engine, CALLBACK_RECORDS, tmp_path, retry_interval=60)
    return CallbackService(CallbackSettings(due_within=1800, auto_dial=False), writer,
                           engine=engine or db.engine, calendar=lambda: calendar, timeout=2)


async def test_a_long_call_opens_one_task_due_in_working_time(db: Database,
                                                              tmp_path: Path) -> None:
    callbacks = service(db, tmp_path)
    at = datetime(2026, 3, 2, 9, 50, tzinfo=SHANGHAI).timestamp()  # Monday 09:50
    task_id = await callbacks.open_for_long_call("L1", "+86 139 0000 0777", at)
    assert task_id is not None
    assert await callbacks.open_for_long_call("L1", "+86 139 0000 0777", at) is None
    [task] = await tasks(db)
    assert (task.id, task.task_key, task.reason, task.caller_key) == (
        task_id, "L1:long_call", "long_call", "13900000777")
    # 10 minutes that Monday, 20 the next Monday.
    assert task.due_at == datetime(2026, 3, 9, 9, 20, tzinfo=SHANGHAI)
    assert await callbacks.refresh_overdue() == 1  # 2026-03-09 is in the past
    assert CALLBACKS_OVERDUE._value.get() == 1


async def test_a_long_call_while_postgres_is_down_is_kept_by_the_writer(
        db: Database, tmp_path: Path) -> None:
    down = create_async_engine("postgresql+asyncpg://nobody@127.0.0.1:9/none",
                               connect_args={"timeout": 1})
    callbacks = service(db, tmp_path, engine=down)
    await callbacks.writer.start()
    assert await callbacks.open_for_long_call("L2", "13900000778", NOW) is None
    await wait_until(lambda: callbacks.writer.spooled == 1, 15)
    await callbacks.writer.stop()
    await down.dispose()
    again = BatchWriter(db.engine, CALLBACK_RECORDS, tmp_path, retry_interval=0.1)
    await again.start()
    await wait_until(lambda: again.written == 1, 15)
    await again.stop()
    assert [(t.task_key, t.reason) for t in await tasks(db)] == [("L2:long_call", "long_call")]
