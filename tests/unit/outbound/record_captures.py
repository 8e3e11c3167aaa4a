"""Record the AMI captures the replay tests use, from the real sandbox PBX.

    .venv/bin/python -m tests.unit.outbound.record_captures   (as root)

No daemon runs: these are the PBX's own events for each way of reaching the
400 trunk, unguarded (the replay shows what the guard would have done). One
JSON array per scenario in ``captures/``, as AmiRecorder saves them. The
hotline call that is forwarded out takes the dialplan's fail-safe route
(AGI unreachable) with its "mobile" pointed at a misconfigured extension.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from pathlib import Path

from hotline_pbx.sandbox.ami_recorder import AmiRecorder
from hotline_pbx.sandbox.pbx import AsteriskSandbox, PbxPorts, running_sandbox
from hotline_pbx.sandbox.sipp import CallScript, place_call

CAPTURES = Path(__file__).parent / "captures"


def ami(pbx: AsteriskSandbox, action: dict[str, str]) -> None:
    with socket.create_connection(("127.0.0.1", pbx.ports.ami), timeout=5) as sock:
        lines = ["Action: Login", f"Username: {pbx.ami_user}", f"Secret: {pbx.ami_secret}",
                 "Events: off", ""] + [f"{k}: {v}" for k, v in action.items()] + ["", ""]
        sock.sendall("\r\n".join(lines).encode())
        time.sleep(0.5)


def record(pbx: AsteriskSandbox, name: str, scenario: Callable[[], None],
           settle: float = 2.0) -> None:
    pbx.wait_idle(60)
    with AmiRecorder(pbx.ports.ami, pbx.ami_user, pbx.ami_secret) as recorder:
        recorder.clear()
        scenario()
        time.sleep(settle)
        pbx.wait_idle(60)
        recorder.save(CAPTURES / f"{name}.json")
    print(f"{name}: {len(recorder.events())} events")


def main() -> None:
    CAPTURES.mkdir(exist_ok=True)
    # Nothing listens on the AGI port: the hotline calls take the fail-safe route.
    ports = PbxPorts.allocate()
    with running_sandbox("outbound-captures", ports) as pbx:
        pbx.rx("dialplan add extension _9X.,1,Dial(PJSIP/${EXTEN:1}@carrier,3) "
               "into internal-outbound")
        pbx.rx("dialplan add extension _134XXXXXXXX,1,Dial(PJSIP/${EXTEN}@carrier,3) "
               "into sandbox-mobiles")
        sip = ports.sip
        phone = pbx.phone_password  # 1001 answers the PBX's challenge

        record(pbx, "inbound_call_answered_by_queue",
               lambda: _call(CallScript(caller="13912345678", hold_after_answer=2), sip))
        record(pbx, "ami_originate_async", lambda: ami(pbx, {
            "Action": "Originate", "Channel": "PJSIP/123@carrier", "Application": "Wait",
            "Data": "10", "Async": "true", "Timeout": "3000"}), settle=4)
        record(pbx, "cli_channel_originate", lambda: pbx.rx(
            "channel originate PJSIP/124@carrier application Wait 10"), settle=4)
        record(pbx, "ami_originate_local_to_trunk", lambda: ami(pbx, {
            "Action": "Originate", "Channel": "Local/9126@internal-outbound",
            "Application": "Wait", "Data": "10", "Async": "true", "Timeout": "5000"}), settle=6)
        record(pbx, "phone_dials_trunk_via_misconfigured_dialplan",
               lambda: _call(CallScript(caller="1001", service="9125", answer_timeout=8,
                                          password=phone), sip))
        record(pbx, "phone_dials_8_refused_by_dialplan",
               lambda: _call(CallScript(caller="1001", service="813800001234",
                                        hold_after_answer=12, password=phone), sip))
        record(pbx, "phone_dials_0_general_trunk",
               lambda: _call(CallScript(caller="1001", service="013900005678",
                                        answer_timeout=3, password=phone), sip))
        pbx.set_global("HOTLINE_FAILSAFE_QUEUE", "no-such-queue")
        pbx.set_global("HOTLINE_FAILSAFE_MOBILE", "Local/13400000001@sandbox-mobiles")
        pbx.set_global("HOTLINE_FAILSAFE_RING", "4")
        record(pbx, "hotline_call_forwarded_out_on_the_trunk",
               lambda: _call(CallScript(caller="13900000002", hold_after_answer=2,
                                        answer_timeout=20), sip), settle=2)


def _call(script: CallScript, sip_port: int) -> None:
    thread = threading.Thread(target=place_call, args=(script, sip_port),
                              kwargs={"timeout": 40})
    thread.start()
    thread.join()


if __name__ == "__main__":
    main()
