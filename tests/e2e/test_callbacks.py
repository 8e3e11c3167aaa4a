"""Callback tasks with the real daemon, Asterisk 22 and SIPp: a missed after-hours
call and a caller giving up in the queue each open a task with its due time in
working time; the same caller calling in again and answered closes it.

``callbacks.auto_dial = false`` here: nothing depends on the dialer.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hotline_pbx.sandbox.daemon import DaemonProcess
from hotline_pbx.sandbox.pbx import AsteriskSandbox
from hotline_pbx.sandbox.sipp import CallScript, place_call
from tests.e2e.conftest import ConfigWriter
from tests.e2e.test_call_records import ALWAYS_OPEN, DAYS, db_rows
from tests.e2e.waiting import wait_until

SHANGHAI = ZoneInfo("Asia/Shanghai")
DUE_WITHIN = 1800
DAEMON_ENV = {"HOTLINE_ROUTING_USE_STATUTORY_CALENDAR": "false",
              "HOTLINE_ROUTING_RING_TIMEOUT": "5",
              "HOTLINE_CALLBACKS_AUTO_DIAL": "false",
              "HOTLINE_CALLBACKS_DUE_WITHIN": str(DUE_WITHIN)}
TASKS = ("SELECT c.reason, c.state, c.result, c.done_by, c.failed_at, c.due_at, c.caller, "
         "c.dialer_job_id, k.outcome, k.period FROM callbacks c "
         "JOIN calls k ON k.call_key = c.call_key WHERE c.caller_key = '{key}' ORDER BY c.id")


def tasks_of(dsn: str, caller_key: str) -> list[tuple[Any, ...]]:
    return db_rows(dsn, TASKS.format(key=caller_key))


def test_a_missed_after_hours_call_opens_a_task_due_in_working_time(
        pbx_clean: AsteriskSandbox, daemon_factory: Any, config: ConfigWriter,
        pg_dsn: str) -> None:
    # Working time only 09:00-10:00 on the weekday after tomorrow (Shanghai): now is
    # after hours, and the task is due 30 working minutes into that period.
    later = datetime.now(SHANGHAI).date() + timedelta(days=2)
    config.schedule({"timezone": "Asia/Shanghai", "weekly": [
        {"day": DAYS[later.weekday()], "start": "09:00", "end": "10:00"}]})
    # Both mobiles busy: every target fails, nobody answers: missed.
    config.roster({"supervisor": {"id": "li.na", "name": "Li Na", "mobile": "13710200000"},
                   "deputies": [{"id": "wang.wei", "name": "Wang Wei",
                                 "mobile": "13710200001"}]})
    daemon_factory(DAEMON_ENV)
    # Nobody answers: the call ends when the dialplan gives up (the outcome is
    # the PBX's, whatever SIPp makes of it).
    place_call(CallScript(caller="13900000501", answer_timeout=40), pbx_clean.ports.sip,
               timeout=60)
    hung_up = time.time()
    wait_until(lambda: tasks_of(pg_dsn, "13900000501"), 20, "the task of the missed call")
    [(reason, state, task_result, _, failed_at, due_at, caller, job, outcome, period)] = \
        tasks_of(pg_dsn, "13900000501")
    assert (reason, state, task_result, job) == ("missed", "open", None, None)
    assert (outcome, period, caller) == ("missed", "closed", "13900000501")
    assert abs(failed_at.timestamp() - hung_up) < 5
    assert due_at == datetime.combine(later, datetime.min.time().replace(hour=9, minute=30),
                                      SHANGHAI)


def test_an_abandoned_caller_gets_a_task_closed_when_they_call_again_and_are_answered(
        pbx_clean: AsteriskSandbox, daemon_factory: Any, config: ConfigWriter,
        pg_dsn: str) -> None:
    config.schedule(ALWAYS_OPEN)  # working time all day: due = ended + due_within exactly
    daemon: DaemonProcess = daemon_factory(DAEMON_ENV)
    pbx = pbx_clean
    pbx.set_global("SANDBOX_AGENT_ANSWER", "no")
    abandoned = place_call(CallScript(caller="13900000601", abandon_after=7),
                           pbx.ports.sip, timeout=60)
    assert abandoned.ok, abandoned.output[-800:]
    # A short abandon (2 s, under kpi.short_abandon_seconds) opens none.
    short = place_call(CallScript(caller="13900000602", abandon_after=2), pbx.ports.sip,
                       timeout=60)
    assert short.ok, short.output[-800:]
    wait_until(lambda: tasks_of(pg_dsn, "13900000601"), 20, "the abandoned caller's task")
    # The PBX's hang-up (the call record's ended_at) → the row committed (its
    # created_at, the server's clock at the insert): both on this machine's clock.
    [(stored,)] = db_rows(pg_dsn, "SELECT extract(epoch FROM c.created_at - k.ended_at) "
                          "FROM callbacks c JOIN calls k ON k.call_key = c.call_key "
                          "WHERE c.caller_key = '13900000601'")
    print(f"caller hung up → task row committed: {float(stored) * 1000:.0f} ms")
    assert 0 < float(stored) < 2
    [(reason, state, _, _, failed_at, due_at, _, job, outcome, period)] = \
        tasks_of(pg_dsn, "13900000601")
    assert (reason, state, job, outcome, period) == ("abandoned", "open", None, "abandoned",
                                                     "open")
    assert due_at - failed_at == timedelta(seconds=DUE_WITHIN)
    wait_until(lambda: db_rows(pg_dsn, "SELECT outcome FROM calls WHERE caller = "
                               "'13900000602'") == [("short_abandoned",)], 20, "the short one")
    assert tasks_of(pg_dsn, "13900000602") == []

    # The same caller, with the country code this time, calls in and is answered.
    pbx.set_global("SANDBOX_AGENT_ANSWER", "yes")
    answered = place_call(CallScript(caller="008613900000601", hold_after_answer=3),
                          pbx.ports.sip, timeout=60)
    assert answered.ok, answered.output[-800:]
    wait_until(lambda: tasks_of(pg_dsn, "13900000601")[0][1] == "done", 20,
               "the task closed by the caller's answered call")
    [(reason, state, task_result, done_by, *_)] = tasks_of(pg_dsn, "13900000601")
    assert (reason, state, task_result, done_by) == ("abandoned", "done",
                                                     "caller_called_back", "system")
    metrics = daemon.metrics()
    assert metrics.get("hotline_callbacks_overdue") == 0.0
