"""The dialer through the PBX (issue 12, "E2E"): the real daemon places calls over
ARI on the general trunk to stand-in customers of the sandbox's public network
(``sandbox/network/extensions.conf``: 186 D… answers and presses D, 187… never
answers, 184 N… is busy N times then confirms), under ``max_channels = 4``.

The campaign is posted through the API; the three result lists, the attempts
per target (``dialer_attempts``) and the network's own log of calls per number
are compared; a sampler watches the PBX's channels all along (never more than
4 on the general trunk, none on the 400 trunk). The daemon is restarted in the
middle: it resumes, and nobody who confirmed is called again.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from hotline_pbx.config import DatabaseSettings, Secret
from hotline_pbx.domain.dialer import DialogType, JobType, TargetSpec
from hotline_pbx.sandbox.daemon import DaemonProcess
from hotline_pbx.sandbox.network import NetworkFault, PublicNetwork
from hotline_pbx.sandbox.pbx import AsteriskSandbox
from hotline_pbx.sandbox.sipp import CallScript, place_call
from hotline_pbx.sandbox.unprivileged import daemon_account
from hotline_pbx.store import config_repo, dialer_repo, models
from hotline_pbx.store.database import open_database
from tests.conftest import truncate_all
from tests.e2e.api_client import admin_token as _token
from tests.e2e.api_client import request as _request
from tests.e2e.waiting import wait_until

MAX_CHANNELS = 4
DIALER = {"MAX_CHANNELS": str(MAX_CHANNELS), "MAX_CPS": "4", "RING_TIMEOUT": "5",
          "MAX_ATTEMPTS": "3", "RETRY_NO_ANSWER": "1", "RETRY_BUSY": "1",
          "RETRY_CONGESTION": "1", "RETRY_SHORT_ANSWER": "1", "RETRY_AGENT": "1",
          "DTMF_TIMEOUT": "4", "CALLER_ID": "01088886666"}


def _rows(dsn: str, tmp: Path, query: Any) -> list[Any]:
    async def go() -> list[Any]:
        db = await open_database(DatabaseSettings(dsn=Secret(dsn)), tmp)
        try:
            async with db.engine.connect() as conn:
                return list((await conn.execute(query)).all())
        finally:
            await db.close()
    return asyncio.run(go())


class ChannelSampler:
    """The PBX's channels every 0.2 s, from ``core show channels concise``: the
    most on the general trunk at once, and any on the 400 trunk."""

    def __init__(self, pbx: AsteriskSandbox) -> None:
        self.pbx = pbx
        self.max_general = 0
        self.hotline_seen: set[str] = set()
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> ChannelSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                lines = self.pbx.rx("core show channels concise").splitlines()
            except Exception:  # a busy CLI: the next sample
                continue
            names = [line.split("!", 1)[0] for line in lines if "!" in line]
            self.max_general = max(self.max_general,
                                   sum(n.startswith("PJSIP/general-trunk-") for n in names))
            self.hotline_seen.update(n for n in names if n.startswith("PJSIP/carrier-"))
            self.samples += 1
            self._stop.wait(0.2)


class Harness:
    def __init__(self, pbx: AsteriskSandbox, network: PublicNetwork, dsn: str,
                 tmp: Path) -> None:
        self.pbx, self.network, self.dsn, self.tmp = pbx, network, dsn, tmp
        self.daemons: list[DaemonProcess] = []
        # Messages are written where the chrooted Asterisk can read them.
        relative = f"run/hotline-pbx/{pbx.name}/dialer-sounds"
        self.sounds = pbx.root / relative
        self.sounds.mkdir(parents=True, exist_ok=True)
        account = daemon_account()
        os.chown(self.sounds, account.pw_uid, account.pw_gid)
        self.media_dir = f"/{relative}"

    def start(self, more_env: dict[str, str] | None = None, **extra: str) -> DaemonProcess:
        """The daemon; ``extra``: dialer settings (``MAX_CHANNELS="2"``), ``more_env``:
        any other HOTLINE_* variable."""
        p = self.pbx
        env = {**(more_env or {}), "HOTLINE_ARI_ENABLED": "true",
               "HOTLINE_ARI_URL": f"http://127.0.0.1:{p.ports.http}",
               "HOTLINE_ARI_USERNAME": p.ari_user, "HOTLINE_ARI_PASSWORD": p.ari_password,
               "HOTLINE_DIALER_SOUNDS_DIR": str(self.sounds),
               "HOTLINE_DIALER_SOUNDS_MEDIA_DIR": self.media_dir,
               **{f"HOTLINE_DIALER_{k}": v for k, v in {**DIALER, **extra}.items()}}
        work = self.tmp / f"daemon-{len(self.daemons)}"
        work.mkdir()
        daemon = DaemonProcess.for_sandbox(p, self.dsn, work, env)
        daemon.start()
        self.daemons.append(daemon)
        return daemon

    def targets(self, job_id: int) -> list[Any]:
        t = models.dialer_targets
        return _rows(self.dsn, self.tmp, select(t).where(t.c.job_id == job_id)
                     .order_by(t.c.line_no))

    def attempts(self) -> list[Any]:
        a, t = models.dialer_attempts, models.dialer_targets
        return _rows(self.dsn, self.tmp, select(a, t.c.phone).join(t, t.c.id == a.c.target_id)
                     .order_by(a.c.id))

    def blocked(self) -> list[Any]:
        return _rows(self.dsn, self.tmp, select(models.blocked_outbound))

    def network_calls(self) -> dict[str, int]:
        text = self.network.log_path.read_text(errors="replace")
        counts: dict[str, int] = {}
        for number in re.findall(r"network: stand-in (\d+) called", text):
            counts[number] = counts.get(number, 0) + 1
        return counts


@pytest.fixture
def harness(looped_pbx: AsteriskSandbox, network: PublicNetwork, pg_dsn: str,
            tmp_path: Path) -> Iterator[Harness]:
    truncate_all(pg_dsn)
    network.set_fault(NetworkFault.NORMAL)
    looped_pbx.wait_idle(30)
    h = Harness(looped_pbx, network, pg_dsn, tmp_path)
    try:
        yield h
    finally:
        for daemon in h.daemons:
            daemon.stop()
        looped_pbx.wait_idle(60)


def _campaign_rows(run: int) -> tuple[list[dict[str, str]], dict[str, list[str]]]:
    """20 who confirm, 5 who never answer, 3 busy once then confirm, 2 without a number."""
    confirm = [f"1861{run:03d}{i:04d}" for i in range(20)]
    never = [f"187{run:03d}{i:05d}" for i in range(5)]
    busy_then = [f"1841{run:03d}{i:04d}" for i in range(3)]
    rows = [{"name": f"C{i}", "account": f"A-{i}", "phone": phone}
            for i, phone in enumerate(confirm + never + busy_then)]
    rows += [{"name": "No Phone 1", "account": "A-NP1", "phone": ""},
             {"name": "No Phone 2", "account": "A-NP2", "phone": " "}]
    return rows, {"confirm": confirm, "never": never, "busy_then": busy_then}


def test_a_campaign_of_30_reaches_the_exact_lists_within_4_channels_across_a_restart(
        harness: Harness) -> None:
    rows, groups = _campaign_rows(int(time.time()) % 1000)
    daemon = harness.start()
    token = _token(daemon)
    with ChannelSampler(harness.pbx) as sampler:
        status, created = _request(daemon, "POST", "/api/v1/campaigns", token, {
            "name": "gas leak, block 7", "rows": rows, "partial": False,
            "message_text": "Gas supply is interrupted in your building until six pm."})
        assert status == 201, created
        job_id = created["id"]
        # Mid-campaign: some confirmed, some not yet called.
        wait_until(lambda: sum(t.state == "done" for t in harness.targets(job_id)) >= 6, 120,
                   "six confirmations before the restart")
        assert harness.daemons[0].stop() == 0
        daemon = harness.start()
        wait_until(lambda: all(t.state not in ("pending", "dialling")
                               for t in harness.targets(job_id)), 300,
                   "every target of the campaign final")
    targets = harness.targets(job_id)
    by_state: dict[str, set[str]] = {}
    for target in targets:
        by_state.setdefault(target.state, set()).add(target.phone or target.name)
    assert by_state.get("done") == set(groups["confirm"]) | set(groups["busy_then"])
    assert by_state.get("unreached") == set(groups["never"])
    assert by_state.get("no_number") == {"No Phone 1", "No Phone 2"}
    # The API's three lists say the same.
    status, progress = _request(daemon, "GET", f"/api/v1/campaigns/{job_id}", token)
    assert status == 200, progress
    assert {r["phone"] for r in progress["notified"]} == by_state["done"]
    assert {r["phone"] for r in progress["not_reached"]} == by_state["unreached"]
    assert {r["name"] for r in progress["no_number"]} == by_state["no_number"]
    assert all(r["attempts"] == 3 for r in progress["not_reached"]), progress["not_reached"]
    # Nobody dialled after confirming; every attempt on record reached the network.
    attempts = harness.attempts()
    per_phone: dict[str, list[Any]] = {}
    for attempt in attempts:
        per_phone.setdefault(attempt.phone, []).append(attempt)
    for phone in by_state["done"]:
        results = [a.result for a in per_phone[phone]]
        assert results.count("confirmed") == 1 and results[-1] == "confirmed", (phone, results)
    for phone in groups["busy_then"]:
        assert [a.result for a in per_phone[phone] if a.result != "lost"][:1] == ["busy"]
    calls = harness.network_calls()
    for phone, made in per_phone.items():
        assert calls.get(phone, 0) == len(made), (phone, calls.get(phone), made)
    assert not any(a.result == "in_flight" for a in attempts)
    # The cap, the 400 trunk.
    print(f"\ncampaign: {len(attempts)} attempts, max {sampler.max_general} general-trunk "
          f"channels at once over {sampler.samples} samples")
    assert sampler.samples > 50
    assert 1 <= sampler.max_general <= MAX_CHANNELS
    assert not sampler.hotline_seen and not harness.blocked()
    metrics = daemon.metrics()
    assert metrics.get('hotline_dialer_attempts_total{job_type="emergency",result="confirmed"}',
                       0) >= 1
    assert metrics.get("hotline_dialer_active") == 0


def _store_job(harness: Harness, **job: Any) -> int:
    async def go() -> int:
        db = await open_database(DatabaseSettings(dsn=Secret(harness.dsn)), harness.tmp)
        try:
            async with db.engine.begin() as conn:
                job_id = await dialer_repo.create_job(conn, **job)
                await dialer_repo.wake_dialer(conn)
                return job_id
        finally:
            await db.close()
    return asyncio.run(go())


def _open_hours(harness: Harness) -> None:
    """Working time whatever the clock says (callbacks and visits wait for it)."""
    until = (datetime.now(UTC) + timedelta(hours=2)).isoformat()

    async def go() -> None:
        db = await open_database(DatabaseSettings(dsn=Secret(harness.dsn)), harness.tmp)
        try:
            async with db.engine.begin() as conn:
                await config_repo.save_override(conn, {"mode": "open", "until": until,
                                                       "note": "e2e"}, "e2e")
        finally:
            await db.close()
    asyncio.run(go())


def _most_in_one_bridge(pbx: AsteriskSandbox) -> int:
    """The most channels in one bridge now (``bridge show all``: id, name, channels…;
    a bridge made over ARI has the name ``<unknown>``)."""
    most = 0
    for line in pbx.rx("bridge show all").splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 3 and fields[2].isdigit():
            most = max(most, int(fields[2]))
    return most


def test_an_agent_first_callback_rings_the_agent_then_bridges_the_customer(
        harness: Harness) -> None:
    _open_hours(harness)
    harness.pbx.set_global("SANDBOX_AGENT_TALK", "6")  # long enough to see the bridge
    try:
        harness.start()
        phone = f"1861{int(time.time()) % 1000:03d}9999"
        job_id = _store_job(harness, job_key="callback-e2e", job_type=JobType.CALLBACK,
                            dialog=DialogType.AGENT_BRIDGE, name="callback",
                            targets=[TargetSpec(1, phone, ref="task-1")])
        seen: list[int] = []

        def done() -> bool:
            seen.append(_most_in_one_bridge(harness.pbx))
            return bool(harness.targets(job_id)[0].state == "done")

        wait_until(done, 40, "the callback's target done")
        assert max(seen) == 2, seen  # the agent and the customer in one bridge
    finally:
        harness.pbx.set_global("SANDBOX_AGENT_TALK", "3")
    [attempt] = harness.attempts()
    assert attempt.result == "answered" and attempt.answered_at is not None
    assert attempt.details["agent"] == "Local/agent1@hotline-agents"
    assert attempt.details["bridge"] and attempt.duration_seconds > 1
    assert harness.network_calls().get(phone) == 1


def test_a_satisfaction_visit_stores_the_score_and_a_wrong_key_is_no_input(
        harness: Harness) -> None:
    _open_hours(harness)
    harness.start()
    run = int(time.time()) % 1000
    scores, wrong = f"1864{run:03d}0001", f"1869{run:03d}0002"
    job_id = _store_job(harness, job_key="visit-e2e", job_type=JobType.VISIT,
                        dialog=DialogType.SATISFACTION, name="visit",
                        targets=[TargetSpec(1, scores), TargetSpec(2, wrong)],
                        options={"max_attempts": 1})
    wait_until(lambda: all(t.state not in ("pending", "dialling")
                           for t in harness.targets(job_id)), 60, "both visits final")
    first, second = harness.targets(job_id)
    assert (first.state, first.score, first.result) == ("done", 4, "scored")
    assert (second.state, second.score, second.result) == ("unreached", None, "no_input")
    assert second.dtmf == "9"


def test_cancelling_a_campaign_stops_new_attempts_at_once(harness: Harness) -> None:
    daemon = harness.start(MAX_CHANNELS="2", RING_TIMEOUT="20")
    token = _token(daemon)
    run = int(time.time()) % 1000
    rows = [{"name": f"N{i}", "account": "", "phone": f"187{run:03d}{i:05d}"} for i in range(10)]
    status, created = _request(daemon, "POST", "/api/v1/campaigns", token, {
        "name": "to cancel", "rows": rows, "message_text": "test"})
    assert status == 201, created
    job_id = created["id"]
    wait_until(lambda: sum(t.state == "dialling" for t in harness.targets(job_id)) == 2, 30,
               "two calls ringing")
    status, cancelled = _request(daemon, "DELETE", f"/api/v1/campaigns/{job_id}", token)
    assert status == 200 and cancelled["targets_cancelled"] == 8, cancelled
    wait_until(lambda: all(t.state not in ("pending", "dialling")
                           for t in harness.targets(job_id)), 40, "the calls in flight ended")
    states = [t.state for t in harness.targets(job_id)]
    assert states.count("cancelled") == 10, states  # the two rung out end cancelled too
    assert len(harness.attempts()) == 2
    assert sum(harness.network_calls().get(r["phone"], 0) for r in rows) == 2


def _routing(harness: Harness, mode: str) -> None:
    """Both on-duty mobiles busy (every target of a closed-hours call fails: missed),
    and the day/night switch forced ``mode`` for two hours."""
    until = (datetime.now(UTC) + timedelta(hours=2)).isoformat()

    async def go() -> None:
        db = await open_database(DatabaseSettings(dsn=Secret(harness.dsn)), harness.tmp)
        try:
            async with db.engine.begin() as conn:
                await config_repo.save_roster(conn, {
                    "supervisor": {"id": "li.na", "name": "Li Na", "mobile": "13710300000"},
                    "deputies": [{"id": "wang.wei", "name": "Wang Wei",
                                  "mobile": "13710300001"}]}, "e2e")
                await config_repo.save_override(conn, {"mode": mode, "until": until,
                                                       "note": "e2e"}, "e2e")
        finally:
            await db.close()
    asyncio.run(go())


def test_a_missed_call_is_called_back_agent_first_and_its_task_done(
        harness: Harness) -> None:
    """The whole path of issue 12's callbacks: a call missed while the hotline is
    forced closed → a callback task (the dialer waits: not working time) → the
    hotline open again → the dialer rings the free stand-in agent, then the caller
    (a stand-in customer behind the public network), bridges them → the task is
    done, ``reached``, and ``GET /calls/{id}`` shows it; then the satisfaction
    visit (``callbacks.satisfaction_visit``): the customer presses 1, the task's
    score is 1."""
    _routing(harness, "closed")
    harness.pbx.set_global("SANDBOX_AGENT_TALK", "4")
    try:
        daemon = harness.start({"HOTLINE_CALLBACKS_SATISFACTION_VISIT": "true"},
                               RING_TIMEOUT="10")
        token = _token(daemon)
        caller = f"1861{int(time.time()) % 1000:03d}7777"
        # Nobody answers (the outcome is the PBX's, whatever SIPp makes of it).
        place_call(CallScript(caller=caller, answer_timeout=40), harness.pbx.ports.sip,
                   timeout=60)
        c = models.callbacks

        def tasks() -> list[Any]:
            return _rows(harness.dsn, harness.tmp, select(c).where(c.c.caller == caller))

        wait_until(tasks, 30, "the missed call's callback task")
        [task] = tasks()
        assert (task.reason, task.state) in (("missed", "dialling"), ("missed", "open"))
        time.sleep(3)  # forced closed: not working time, nothing is dialled
        assert harness.network_calls().get(caller) is None
        _routing(harness, "open")
        wait_until(lambda: tasks()[0].state == "done", 60, "the callback task done")
    finally:
        harness.pbx.set_global("SANDBOX_AGENT_TALK", "3")
    [task] = tasks()
    assert (task.result, task.attempts) == ("reached", 1), task
    attempts = [a for a in harness.attempts() if a.phone == caller]
    [attempt] = [a for a in attempts if a.details["job_type"] == "callback"]
    assert attempt.result == "answered"
    assert attempt.details["agent"] == "Local/agent1@hotline-agents"
    # The visit: the stand-in (186 1…) presses 1, the lowest score of 1-5.
    wait_until(lambda: tasks()[0].score is not None, 60, "the visit's score on the task")
    assert tasks()[0].score == 1
    visits = [a for a in harness.attempts() if a.phone == caller and a.result == "scored"]
    assert len(visits) == 1 and visits[0].dtmf == "1"
    assert harness.network_calls().get(caller) == 2  # the callback and the visit
    # The call's record links to its task, with the result.
    k = models.calls
    [(call_id, outcome)] = _rows(harness.dsn, harness.tmp,
                                 select(k.c.id, k.c.outcome).where(k.c.caller == caller))
    assert outcome == "missed"
    status, call = _request(daemon, "GET", f"/api/v1/calls/{call_id}", token)
    assert status == 200, call
    assert [(t["id"], t["reason"], t["state"], t["result"]) for t in call["callbacks"]] == \
        [(task.id, "missed", "done", "reached")]
    assert not harness.blocked()
