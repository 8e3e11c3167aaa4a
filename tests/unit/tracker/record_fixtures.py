"""Record the call tracker's replay fixtures from the real sandbox PBX.

    .venv/bin/python -m tests.unit.tracker.record_fixtures [--only family/name]   (as root)

Starts its own Asterisk sandbox, a scratch database on the machine's
PostgreSQL and the real daemon (for ``/route``), then places each scenario
with SIPp while :class:`AmiRecorder` captures the AMI stream exactly as the
daemon's AMI user receives it (the shipped manager.conf event filter applies).
Each scenario is saved as ``fixtures/<family>/<name>.json``: a JSON array of
the events, in arrival order. The expected records live in the tests
(``test_replay.py``); re-recording changes uniqueids and timestamps, so update
them together.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from hotline_pbx.config import DatabaseSettings, Secret
from hotline_pbx.sandbox.ami_recorder import AmiRecorder
from hotline_pbx.sandbox.daemon import DaemonProcess
from hotline_pbx.sandbox.pbx import SANDBOX_GLOBALS, AsteriskSandbox, PbxPorts, free_port
from hotline_pbx.sandbox.sipp import (
    OK_TO_LAST_REQUEST,
    SDP_BODY,
    CallScript,
    SippResult,
    place_call,
)
from hotline_pbx.store import config_repo
from hotline_pbx.store.database import open_database
from hotline_pbx.store.migrate import migrate

FIXTURES = Path(__file__).resolve().parent / "fixtures"
ADMIN_DSN = os.environ.get("HOTLINE_TEST_ADMIN_DSN",
                           "postgresql://postgres@127.0.0.1:5432/postgres")

# The roster of every forward scenario. Mobiles are sandbox stand-ins
# (sandbox/extensions_site.conf): 138RTT… rings R s and talks TT s, 139… never
# answers, 137… busy, 136… congestion, 135… a real PJSIP call to a SIPp UAS.
SUPERVISOR = {"id": "li.na", "name": "Li Na", "mobile": "13810200000"}
DEPUTY = {"id": "wang.wei", "name": "Wang Wei", "mobile": "13810200000"}


def say(message: str) -> None:
    print(f"[record] {message}", flush=True)


# -- helpers ------------------------------------------------------------------------


class Config:
    """Routing configuration, written the way the API writes it (with NOTIFY)."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn

    def _run(self, step: Callable[..., Any], *args: Any) -> None:
        async def go() -> None:
            db = await open_database(DatabaseSettings(dsn=Secret(self.dsn)), Path("."))
            try:
                async with db.engine.begin() as conn:
                    await step(conn, *args, "record-fixtures")
            finally:
                await db.close()

        asyncio.run(go())
        time.sleep(1.0)  # the daemon reloads on NOTIFY within a second

    def override(self, mode: str | None) -> None:
        until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        self._run(config_repo.save_override, None if mode is None else
                  {"mode": mode, "until": until})

    def roster(self, supervisor: dict[str, str], deputy: dict[str, str]) -> None:
        self._run(config_repo.save_roster, {"supervisor": supervisor, "deputies": [deputy]})


@contextlib.contextmanager
def silent_agi_listener() -> Iterator[int]:
    """A FastAGI address that accepts and never answers: the caller waits in AGI."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError, OSError):
                conn, _ = server.accept()
                held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield int(server.getsockname()[1])
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        server.close()


_UAS_HEAD = """<?xml version="1.0" encoding="UTF-8" ?>
<scenario name="mobile gateway">
  <recv request="INVITE"/>
"""
_UAS_REPLY = """  <send{retrans}><![CDATA[
      SIP/2.0 {status}
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
{body}  ]]></send>
"""
_SDP = SDP_BODY
_NO_BODY = "      Content-Length: 0\n"
_UAS_BYE = """  <recv request="BYE"/>
""" + OK_TO_LAST_REQUEST + """</scenario>
"""


def uas_183_then_answer(progress_ms: int) -> str:
    """Early media only: 183 Session Progress with SDP, never 180, then 200 OK."""
    return (_UAS_HEAD
            + _UAS_REPLY.format(retrans="", status="183 Session Progress", body=_SDP)
            + f'  <pause milliseconds="{progress_ms}"/>\n'
            + _UAS_REPLY.format(retrans=' retrans="500"', status="200 OK", body=_SDP)
            + '  <recv request="ACK"/>\n' + _UAS_BYE)


def uas_busy() -> str:
    """486 Busy Here at once, before any ringing."""
    return (_UAS_HEAD
            + _UAS_REPLY.format(retrans="", status="486 Busy Here", body=_NO_BODY)
            + '  <recv request="ACK"/>\n</scenario>\n')


@contextlib.contextmanager
def sipp_uas(pbx: AsteriskSandbox, scenario: str) -> Iterator[None]:
    """A SIPp UAS on the general trunk's far end for one call."""
    with tempfile.TemporaryDirectory(prefix="hotline-uas-") as tmp:
        path = Path(tmp) / "uas.xml"
        path.write_text(scenario)
        proc = subprocess.Popen(
            ["sipp", "-sf", str(path), "-i", "127.0.0.1", "-p", str(pbx.ports.mobile_peer),
             "-m", "1", "-nostdin", "-timeout", "60s", "-mp", str(free_port())],
            cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
        try:
            yield
        finally:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


def calls(pbx: AsteriskSandbox, scripts: list[CallScript]) -> list[SippResult]:
    with ThreadPoolExecutor(max_workers=len(scripts)) as pool:
        futures = [pool.submit(place_call, s, pbx.ports.sip, timeout=90) for s in scripts]
        return [f.result() for f in futures]


# -- scenarios --------------------------------------------------------------------------


@dataclass
class Rig:
    pbx: AsteriskSandbox
    daemon: DaemonProcess
    config: Config
    recorder: AmiRecorder
    notes: dict[str, Any] = field(default_factory=dict)


def queue_answered(rig: Rig) -> None:
    rig.config.override("open")
    rig.pbx.set_global("SANDBOX_AGENT_RING", "2")
    rig.pbx.set_global("SANDBOX_AGENT_TALK", "2")
    calls(rig.pbx, [CallScript(caller="13900000001", hold_after_answer=30)])


def queue_abandoned(rig: Rig) -> None:
    rig.config.override("open")
    rig.pbx.set_global("SANDBOX_AGENT_ANSWER", "no")
    calls(rig.pbx, [CallScript(caller="13900000002", abandon_after=8)])


def queue_short_abandon(rig: Rig) -> None:
    rig.config.override("open")
    rig.pbx.set_global("SANDBOX_AGENT_ANSWER", "no")
    calls(rig.pbx, [CallScript(caller="13900000003", abandon_after=2)])


def queue_timeout(rig: Rig) -> None:
    """Nobody answers within the queue timeout (10 s): the closed path, missed."""
    rig.config.override("open")
    rig.pbx.set_global("SANDBOX_AGENT_ANSWER", "no")
    calls(rig.pbx, [CallScript(caller="13900000004", answer_timeout=40,
                               hold_after_answer=1)])


def queue_blind_transfer(rig: Rig) -> None:
    """The agent answers, then blind-transfers the caller to a mobile."""
    rig.config.override("open")
    rig.pbx.set_global("SANDBOX_AGENT_RING", "1")
    rig.pbx.set_global("SANDBOX_AGENT_TALK", "20")
    with ThreadPoolExecutor(1) as pool:
        future = pool.submit(place_call, CallScript(caller="13900000005", hold_after_answer=30),
                             rig.pbx.ports.sip, timeout=90)
        connect = rig.recorder.wait_for(lambda e: e.get("Event") == "AgentConnect", 20)
        time.sleep(2)
        reply = rig.pbx.ami_action({"Action": "BlindTransfer", "Channel": connect["DestChannel"],
                                     "Context": "sandbox-transfer", "Exten": "13810300000"})
        rig.notes["transfer_reply"] = reply.splitlines()[:4]
        future.result()


def forward_supervisor_answers(rig: Rig) -> None:
    rig.config.override("closed")
    rig.config.roster({**SUPERVISOR, "mobile": "13820200000"}, {**DEPUTY, "mobile": "13910000000"})
    calls(rig.pbx, [CallScript(caller="13900000011", hold_after_answer=30)])


def forward_failover_to_deputy(rig: Rig) -> None:
    """The supervisor's mobile rings out (5 s), the deputy answers."""
    rig.config.override("closed")
    rig.config.roster({**SUPERVISOR, "mobile": "13910000000"}, {**DEPUTY, "mobile": "13810200000"})
    calls(rig.pbx, [CallScript(caller="13900000012", hold_after_answer=30)])


def forward_all_targets_failed(rig: Rig) -> None:
    """Supervisor busy, deputy unreachable: the closed announcement, missed."""
    rig.config.override("closed")
    rig.config.roster({**SUPERVISOR, "mobile": "13710000000"}, {**DEPUTY, "mobile": "13610000000"})
    calls(rig.pbx, [CallScript(caller="13900000013", hold_after_answer=10)])


def forward_abandoned_while_ringing(rig: Rig) -> None:
    rig.config.override("closed")
    rig.config.roster({**SUPERVISOR, "mobile": "13910000000"}, {**DEPUTY, "mobile": "13810200000"})
    calls(rig.pbx, [CallScript(caller="13900000014", abandon_after=3)])


def early_media_183_only(rig: Rig) -> None:
    """The supervisor's mobile gateway sends 183 Session Progress (no 180), then answers."""
    rig.config.override("closed")
    rig.config.roster({**SUPERVISOR, "mobile": "13510000000"}, {**DEPUTY, "mobile": "13810200000"})
    with sipp_uas(rig.pbx, uas_183_then_answer(2000)):
        calls(rig.pbx, [CallScript(caller="13900000021", hold_after_answer=3)])


def sip_busy_before_ringing(rig: Rig) -> None:
    """The supervisor's mobile gateway answers 486 at once; the deputy answers."""
    rig.config.override("closed")
    rig.config.roster({**SUPERVISOR, "mobile": "13510000000"}, {**DEPUTY, "mobile": "13810200000"})
    with sipp_uas(rig.pbx, uas_busy()):
        calls(rig.pbx, [CallScript(caller="13900000022", hold_after_answer=30)])


def agi_caller_hangs_up(rig: Rig) -> None:
    """The caller gives up while the AGI step has not answered yet."""
    with silent_agi_listener() as port:
        rig.pbx.set_global("HOTLINE_AGI_HOST", f"127.0.0.1:{port}")
        try:
            calls(rig.pbx, [CallScript(caller="13900000031", abandon_after=2)])
        finally:
            rig.pbx.set_global("HOTLINE_AGI_HOST", f"127.0.0.1:{rig.pbx.ports.agi}")


def agi_daemon_down_failsafe(rig: Rig) -> None:
    """FastAGI unreachable: the dialplan's fail-safe route (HOTLINE_PERIOD=failsafe)."""
    rig.pbx.set_global("HOTLINE_AGI_HOST", f"127.0.0.1:{free_port()}")
    try:
        calls(rig.pbx, [CallScript(caller="13900000032", hold_after_answer=30)])
    finally:
        rig.pbx.set_global("HOTLINE_AGI_HOST", f"127.0.0.1:{rig.pbx.ports.agi}")


SCENARIOS: dict[str, Callable[[Rig], None]] = {
    "queue/answered_after_ringing": queue_answered,
    "queue/abandoned_while_queued": queue_abandoned,
    "queue/short_abandon": queue_short_abandon,
    "queue/timeout_to_closed_message": queue_timeout,
    "transfer/agent_blind_transfers_to_mobile": queue_blind_transfer,
    "forward/supervisor_answers": forward_supervisor_answers,
    "forward/failover_to_deputy": forward_failover_to_deputy,
    "forward/all_targets_failed": forward_all_targets_failed,
    "forward/abandoned_while_ringing": forward_abandoned_while_ringing,
    "early_media/answered_after_183_only": early_media_183_only,
    "sip_errors/busy_486_before_ringing": sip_busy_before_ringing,
    "agi/caller_hangs_up_during_agi": agi_caller_hangs_up,
    "agi/daemon_down_failsafe": agi_daemon_down_failsafe,
}


# -- the run ----------------------------------------------------------------------------


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(ADMIN_DSN, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def scratch_database() -> Iterator[str]:
    name = f"hotline_fixtures_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin(f"CREATE DATABASE {name}"))
    base = ADMIN_DSN.rsplit("/", 1)[0]
    dsn = f"{base}/{name}"

    async def go() -> None:
        db = await open_database(DatabaseSettings(dsn=Secret(dsn)), Path("."))
        try:
            await migrate(db)
        finally:
            await db.close()

    try:
        asyncio.run(go())
        yield dsn
    finally:
        asyncio.run(_admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


def record(selected: list[str], work_dir: Path) -> None:
    pbx = AsteriskSandbox(name=f"fixtures-{os.getpid()}", ports=PbxPorts.allocate())
    say("starting Asterisk")
    pbx.start()
    try:
        with scratch_database() as dsn:
            daemon = DaemonProcess.for_sandbox(pbx, dsn, work_dir, {
                "HOTLINE_ROUTING_RING_TIMEOUT": "5", "HOTLINE_ROUTING_QUEUE_TIMEOUT": "10",
            })
            daemon.start()
            try:
                run_scenarios(pbx, daemon, Config(dsn), selected)
            finally:
                daemon.stop()
    finally:
        pbx.stop()


def run_scenarios(pbx: AsteriskSandbox, daemon: DaemonProcess, config: Config,
                  selected: list[str]) -> None:
    with AmiRecorder(pbx.ports.ami, pbx.ami_user, pbx.ami_secret) as recorder:
        for name in selected:
            pbx.wait_idle(60)
            for key, value in SANDBOX_GLOBALS.items():
                pbx.set_global(key, value)
            config.override(None)
            time.sleep(0.5)
            recorder.clear()
            rig = Rig(pbx, daemon, config, recorder)
            say(f"{name} …")
            SCENARIOS[name](rig)
            pbx.wait_idle(60)
            time.sleep(1.0)  # the last Hangup events
            events = [e for e in recorder.events() if "Event" in e]
            path = FIXTURES / f"{name}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(events, indent=1, ensure_ascii=False) + "\n")
            say(f"  {len(events)} events → {path.relative_to(FIXTURES.parents[3])}"
                + (f" {rig.notes}" if rig.notes else ""))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", action="append", choices=sorted(SCENARIOS),
                        help="record just this scenario (repeatable)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="hotline-record-") as tmp:
        record(args.only or list(SCENARIOS), Path(tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
