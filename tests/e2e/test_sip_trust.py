"""Who a SIP request is comes from the shipped pjsip.conf, and a From header is not enough.

Through the real PBX (Asterisk 22 + SIPp). No daemon runs: identifying and
authenticating a request is the PBX's work, done before any dialplan.

* Internal phone 1001 sending no credentials, from the sandbox's own address
  or another, is refused with a digest challenge (401/407) as the final
  answer: no channel, nothing dialled. A wrong password is refused too.
  With its password, the same call goes out on the general trunk as before.
* An INVITE whose From user is a trunk's endpoint name (``carrier``,
  ``general-trunk``) sent from an address that is not the trunk's is nobody:
  Asterisk finds no endpoint ("No matching endpoint found") and answers with
  the 401 of its artificial endpoint, which no password can answer. It gets
  no channel and neither trunk's context.

The sandbox's carrier is matched by 127.0.0.1; 127.0.0.2 is this host's
loopback as well and matches no trunk. A call placed after the refused ones
is the fence: AMI delivers events in order, so a refused attempt that had
made a channel would show before that call's own.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline_pbx.sandbox.ami_recorder import AmiEvent, AmiRecorder
from hotline_pbx.sandbox.pbx import OBSERVER_USER, AsteriskSandbox
from hotline_pbx.sandbox.sipp import CallScript, place_call
from tests.e2e.peers import sipp_uas
from tests.e2e.waiting import wait_until

ELSEWHERE = "127.0.0.2"  # not the address any trunk of the sandbox is matched by
OUT_ON_THE_GENERAL_TRUNK = "013900005678"  # 0 + number (internal-outbound)


def _log_from(path: Path, offset: int) -> str:
    with path.open("rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace")


def _refusal_logged(pbx: AsteriskSandbox, offset: int, sender: str, reason: str) -> str:
    """Asterisk's one NOTICE line for a refused request from ``sender`` (user@host)."""
    def line() -> str:
        return next((entry for entry in _log_from(pbx.log_path, offset).splitlines()
                     if f"<sip:{sender}>' failed" in entry and entry.endswith(f" - {reason}")),
                    "")
    return wait_until(line, 10, f"Asterisk to log {reason!r} for {sender}")


def _channels(recorder: AmiRecorder) -> list[AmiEvent]:
    return recorder.events("Newchannel")


def test_a_phone_must_answer_the_challenge_with_its_password(
        pbx_clean: AsteriskSandbox) -> None:
    pbx = pbx_clean
    log_offset = pbx.log_path.stat().st_size
    with sipp_uas(pbx.ports.mobile_peer), AmiRecorder(
            pbx.ports.ami, pbx.ami_user, pbx.ami_secret) as recorder:
        bare = {ip: place_call(CallScript(caller="1001", service=OUT_ON_THE_GENERAL_TRUNK,
                                          refused=True), pbx.ports.sip, timeout=20, local_ip=ip)
                for ip in ("127.0.0.1", ELSEWHERE)}
        wrong = place_call(CallScript(caller="1001", service=OUT_ON_THE_GENERAL_TRUNK,
                                      password="not-the-password", answer_timeout=5),
                           pbx.ports.sip, timeout=20)
        right = place_call(CallScript(caller="1001", service=OUT_ON_THE_GENERAL_TRUNK,
                                      password=pbx.phone_password, hold_after_answer=1),
                           pbx.ports.sip, timeout=30)
        recorder.wait_for(lambda e: e.get("Event") == "Hangup"
                          and e.get("Channel", "").startswith("PJSIP/general-trunk-"), 10)
    pbx.wait_idle(30)

    # No credentials: the challenge was the final answer (the scenario needs it).
    for ip, result in bare.items():
        assert result.ok, (ip, result.output[-1500:])
    # A wrong password: challenged again, the call never set up.
    assert not wrong.ok and wrong.successful == 0
    _refusal_logged(pbx, log_offset, "1001@127.0.0.1", "Failed to authenticate")
    # The right one: the phone dials out on the general trunk as before, and
    # these two are the only channels the PBX made (the refused ones none).
    assert right.ok, right.output[-1500:]
    made = [e["Channel"].rsplit("-", 1)[0] for e in _channels(recorder)]
    assert made == ["PJSIP/1001", "PJSIP/general-trunk"], made
    answered = [e["DestChannel"] for e in recorder.events("DialEnd")
                if e.get("DialStatus") == "ANSWER"]
    assert [c.rsplit("-", 1)[0] for c in answered] == ["PJSIP/general-trunk"], answered


@pytest.mark.parametrize("trunk", ["carrier", "general-trunk"])
def test_a_trunks_name_as_from_user_elsewhere_is_nobody(pbx_clean: AsteriskSandbox,
                                                         trunk: str) -> None:
    pbx = pbx_clean
    log_offset = pbx.log_path.stat().st_size
    with AmiRecorder(pbx.ports.ami, OBSERVER_USER, pbx.ami_secret) as recorder:
        forged = place_call(CallScript(caller=trunk, refused=True), pbx.ports.sip,
                            timeout=20, local_ip=ELSEWHERE)
        # The fence: a customer's call from the carrier's address is the carrier's.
        genuine = place_call(CallScript(caller="13900000001", hold_after_answer=1),
                             pbx.ports.sip, timeout=60)
    pbx.wait_idle(30)

    assert forged.ok, forged.output[-1500:]  # refused with a challenge, nothing more
    _refusal_logged(pbx, log_offset, f"{trunk}@{ELSEWHERE}", "No matching endpoint found")
    assert genuine.ok, genuine.output[-1500:]
    first = _channels(recorder)[0]
    assert first["Channel"].startswith("PJSIP/carrier-"), first
    assert (first["CallerIDNum"], first["Context"]) == ("13900000001", "hotline-inbound")
    assert not [e for e in _channels(recorder) if e.get("CallerIDNum") == trunk]
