"""Issue 4 through the real PBX: the 400 trunk stays inbound-only.

One run, scenarios in parallel (SIPp calls in threads):

* SIPp as internal phone 1001 (answering the PBX's challenge with its
  password: tests/e2e/test_sip_trust.py) dials 8+number → the dialplan
  refuses it with the announcement and the daemon records it (method
  dialplan, refused);
* 1001 dials 0+number → out on the general trunk, answered by a SIPp UAS:
  not blocked;
* AMI ``Originate`` of ``PJSIP/123@carrier`` → hung up and recorded (originate,
  origin ami); CLI ``channel originate PJSIP/124@carrier`` → hung up and
  recorded (originate: the AMI stream cannot tell CLI from a sync Originate);
* an originate set up before the daemon connected (an AMI gap) → found by
  the ``CoreShowChannels`` sweep at login and hung up;
* a dialplan misconfigured at run time (``dialplan add extension`` dialling
  ``PJSIP/…@carrier``) → 1001 dials through it → hung up (dial);
* after hours, the hotline call fails over to the supervisor's mobile (a real
  PJSIP leg on the general trunk) → answered, not blocked;
* then: the supervisor's "mobile" misconfigured to go out on the 400 trunk →
  that forward is hung up, the 400 caller is kept and the deputy answers.

Rows are checked in ``blocked_outbound`` (a plain select of every row) and the
counter on /metrics; reaction times are printed (the house rule: no timing
asserts), measured twice: by the daemon and independently from the AMI stream.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Row

from hotline_pbx.config import DatabaseSettings, Secret
from hotline_pbx.sandbox.ami_recorder import AmiRecorder
from hotline_pbx.sandbox.daemon import DaemonProcess
from hotline_pbx.sandbox.pbx import OBSERVER_USER, AsteriskSandbox
from hotline_pbx.sandbox.sipp import CallScript, SippResult, place_call
from hotline_pbx.store.database import open_database
from hotline_pbx.store.models import blocked_outbound
from tests.e2e.conftest import ConfigWriter
from tests.e2e.peers import sipp_uas
from tests.e2e.waiting import wait_until

SUPERVISOR_OK = {"id": "li.na", "name": "Li Na", "mobile": "13500000001"}  # general trunk
SUPERVISOR_BAD = {"id": "li.na", "name": "Li Na", "mobile": "13400000001"}  # via the 400 trunk
DEPUTY = {"id": "wang.wei", "name": "Wang Wei", "mobile": "13500000002"}
MISCONFIGURED = (
    ("_9X.", "internal-outbound", "Dial(PJSIP/${EXTEN:1}@carrier,10)"),
    ("_134XXXXXXXX", "sandbox-mobiles", "Dial(PJSIP/${EXTEN}@carrier,10)"),
)


def ami_action(pbx: AsteriskSandbox, action: dict[str, str],
               timeout: float = 5.0) -> dict[str, str]:
    """One action on a fresh AMI session of our own (the daemon's is not touched)."""
    with socket.create_connection(("127.0.0.1", pbx.ports.ami), timeout=timeout) as sock:
        lines = ["Action: Login", f"Username: {pbx.ami_user}", f"Secret: {pbx.ami_secret}",
                 "Events: off", "ActionID: login", "", "ActionID: act"]
        lines += [f"{k}: {v}" for k, v in action.items()] + ["", ""]
        sock.sendall("\r\n".join(lines).encode())
        buffer = b""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            buffer += sock.recv(65536)
            for block in buffer.split(b"\r\n\r\n"):
                message = dict(line.split(": ", 1) for line in block.decode().split("\r\n")
                               if ": " in line)
                if message.get("ActionID") == "act":
                    return message
    raise TimeoutError(f"no reply to {action}")


@contextmanager
def misconfigured_dialplan(pbx: AsteriskSandbox) -> Iterator[None]:
    for exten, context, app in MISCONFIGURED:
        pbx.rx(f"dialplan add extension {exten},1,{app} into {context} replace")
    try:
        yield
    finally:
        for exten, context, _app in MISCONFIGURED:
            pbx.rx(f"dialplan remove extension {exten}@{context}")


def blocked_rows(dsn: str, tmp: Path) -> list[Row[Any]]:
    """Every row of blocked_outbound."""
    async def go() -> list[Row[Any]]:
        db = await open_database(DatabaseSettings(dsn=Secret(dsn)), tmp)
        try:
            async with db.engine.connect() as conn:
                return list((await conn.execute(select(blocked_outbound))).all())
        finally:
            await db.close()

    return asyncio.run(go())


def routing_version(daemon: DaemonProcess) -> int:
    versions = [int(r["message"].split("version ")[1].rstrip(")"))
                for r in daemon.log_records()
                if str(r.get("message", "")).startswith("routing configuration loaded")]
    return max(versions, default=0)


def pbx_lifetimes(recorder: AmiRecorder) -> dict[str, tuple[float, str]]:
    """Independent of the daemon: Newchannel → Hangup of each carrier channel (ms, cause)."""
    born = {e["Uniqueid"]: float(e["Timestamp"]) for e in recorder.events("Newchannel")}
    return {e["Uniqueid"]: ((float(e["Timestamp"]) - born[e["Uniqueid"]]) * 1000,
                            e.get("Cause", ""))
            for e in recorder.events("Hangup")
            if e["Uniqueid"] in born and e.get("Channel", "").startswith("PJSIP/carrier-")}


def test_hotline_trunk_is_inbound_only(pbx_clean: AsteriskSandbox, daemon_factory: Any,
                                       config: ConfigWriter, pg_dsn: str,
                                       tmp_path: Path) -> None:
    pbx = pbx_clean
    until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    config.override({"mode": "closed", "until": until})
    config.roster({"supervisor": SUPERVISOR_OK, "deputies": [DEPUTY]})
    # Set up while no daemon watches (an AMI gap): found by the sweep at login.
    pbx.rx("channel originate PJSIP/120@carrier application Wait 10")
    wait_until(lambda: "PJSIP/carrier-" in pbx.rx("core show channels concise"), 5,
               "the originated carrier channel")
    daemon: DaemonProcess = daemon_factory()
    recorder = AmiRecorder(pbx.ports.ami, OBSERVER_USER, pbx.ami_secret).start()
    try:
        with sipp_uas(pbx.ports.mobile_peer), misconfigured_dialplan(pbx):
            phone = pbx.phone_password
            calls = {
                "refused_8": CallScript(caller="1001", service="813800001234",
                                        hold_after_answer=15, password=phone),
                "general_0": CallScript(caller="1001", service="013900005678",
                                        hold_after_answer=2, password=phone),
                "misconfigured_9": CallScript(caller="1001", service="9125",
                                              answer_timeout=10, password=phone),
                "failover_ok": CallScript(caller="13900000001", hold_after_answer=3),
            }
            with ThreadPoolExecutor(max_workers=len(calls)) as pool:
                futures = {name: pool.submit(place_call, script, pbx.ports.sip, timeout=40)
                           for name, script in calls.items()}
                originate = ami_action(pbx, {
                    "Action": "Originate", "Channel": "PJSIP/123@carrier",
                    "Application": "Wait", "Data": "10", "Async": "true"})
                assert originate.get("Response") == "Success", originate
                threading.Thread(target=pbx.rx, daemon=True, args=(
                    "channel originate PJSIP/124@carrier application Wait 10",)).start()
                results: dict[str, SippResult] = {n: f.result() for n, f in futures.items()}

            # Phase 2: the supervisor's mobile now (wrongly) goes out on the 400 trunk.
            version = routing_version(daemon)
            config.roster({"supervisor": SUPERVISOR_BAD, "deputies": [DEPUTY]})
            wait_until(lambda: routing_version(daemon) > version, 15, "the roster reload")
            results["forward_blocked"] = place_call(
                CallScript(caller="13900000002", hold_after_answer=2), pbx.ports.sip, timeout=60)
        pbx.wait_idle(30)
        rows = wait_until(lambda: len(blocked_rows(pg_dsn, tmp_path)) >= 6 and
                          blocked_rows(pg_dsn, tmp_path), 15, "6 blocked attempts recorded")
    finally:
        recorder.stop()

    # The callers that must get through did: the refused phone heard the
    # announcement (Asterisk answered, then hung up), the 400 callers were
    # answered and never cut off, the 0+number call was answered.
    for name in ("refused_8", "general_0", "failover_ok", "forward_blocked"):
        assert results[name].ok, (name, results[name].output[-1500:])
    assert not results["misconfigured_9"].ok  # its only route was the 400 trunk

    assert len(rows) == 6, [r._asdict() for r in rows]
    kinds = {(r.method, r.details.get("origin"), r.details.get("trigger")): r for r in rows}
    refused = kinds["dialplan", None, None]
    assert (refused.action, refused.source, refused.dialled_number) == (
        "refused", "1001", "13800001234")
    assert refused.source_channel.startswith("PJSIP/1001-")
    ami = kinds["originate", "ami", "Newchannel"]
    assert (ami.action, ami.source, ami.dialled_number) == ("hung_up", "", "123")
    gap = kinds["originate", "cli_or_ami_sync", "CoreShowChannel"]
    assert (gap.action, gap.dialled_number) == ("hung_up", "120")
    assert gap.details["target_uri"].startswith("sip:120@")  # read from the channel itself
    cli = kinds["originate", "cli_or_ami_sync", "Newchannel"]
    # The guard can beat the dial API's DialBegin, and the channel can be gone
    # before its Request-URI is read: then the number is honestly unknown.
    assert cli.action == "hung_up" and cli.dialled_number in ("124", ""), cli._asdict()
    dial = kinds["dial", "channel", "Newchannel"]
    assert (dial.action, dial.source, dial.dialled_number) == ("hung_up", "1001", "125")
    assert dial.source_channel.startswith("PJSIP/1001-")
    forward = kinds["forward", "channel", "Newchannel"]
    assert (forward.action, forward.dialled_number) == ("hung_up", "13400000001")
    assert forward.source == "hotline call from 13900000002"
    for row in rows:
        if row.action == "hung_up":
            assert row.details["channel"].startswith("PJSIP/carrier-")
            # Seen live: a reaction time; found by the sweep: none (it predates us).
            live = row.details["trigger"] != "CoreShowChannel"
            assert (row.reaction_ms is not None and row.reaction_ms > 0) == live

    # Nothing on the general trunk was touched: 0+number, the supervisor and the
    # deputy were all answered there.
    answered = [e["DestChannel"] for e in recorder.events("DialEnd")
                if e.get("DialStatus") == "ANSWER"]
    assert sum(c.startswith("PJSIP/general-trunk-") for c in answered) == 3, answered
    # Every hotline-trunk channel the guard hung up was an outbound leg; the
    # callers' own channels (state Ring, their own Linkedid) ended normally.
    callers = {e["Uniqueid"] for e in recorder.events("Newchannel")
               if e["Channel"].startswith("PJSIP/carrier-") and e["ChannelState"] == "4"}
    assert len(callers) == 2
    assert not callers & {row.details["uniqueid"] for row in rows}
    lifetimes = pbx_lifetimes(recorder)
    assert all(lifetimes[c][1] == "16" for c in callers), lifetimes  # normal clearing

    metrics = daemon.metrics()
    assert metrics["hotline_outbound_blocked_total"] == 6.0

    print("\nblocked outbound attempts (reaction = PBX event → Hangup response, by the daemon;"
          " lifetime = Newchannel → Hangup, from the AMI stream):")
    for row in sorted(rows, key=lambda r: r.occurred_at):
        lifetime, cause = lifetimes.get(row.details.get("uniqueid", ""), (None, ""))
        print(f"  {row.method:9} {row.action:8} {row.dialled_number:12} "
              f"reaction={_ms(row.reaction_ms)}  lifetime={_ms(lifetime)}  cause={cause}")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"

@pytest.mark.parametrize(("key", "value"), [("HOTLINE_TRUNKS_HOTLINE", "no-such-400"),
                                            ("HOTLINE_TRUNKS_GENERAL", "no-such-general")])
def test_a_trunk_the_pbx_lacks_is_refused_at_start(daemon_factory: Any, key: str,
                                                   value: str) -> None:
    daemon: DaemonProcess = daemon_factory({key: value}, wait_ready=False)
    assert daemon.process is not None
    status = daemon.process.wait(60)
    log = daemon.log_path.read_text(errors="replace")
    assert status == 2, log[-2000:]
    name = key.removeprefix("HOTLINE_").lower().replace("_", ".", 1)
    line = f"hotline-pbx: configuration error: {name}: PJSIP endpoint {value!r} does not exist"
    assert line in log, log[-2000:]
