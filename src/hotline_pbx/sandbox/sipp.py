"""Real SIP calls from SIPp (Debian package ``sip-tester``).

Each call is described by a :class:`CallScript` (who calls, and when the
caller hangs up: a fixed time after answer, or before answer = abandon) and
rendered into a SIPp XML scenario. Provisional responses (100, 180, 183) are
all optional, so a 183-only call passes as well as a ringing one.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

# An audio offer/answer in PCMU, with SIPp's own keywords for the addresses.
SDP_BODY = """      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000
"""

# 200 OK to the request just received (the far end's BYE).
OK_TO_LAST_REQUEST = """  <send><![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0
  ]]></send>
"""

_INVITE = """
  <send retrans="500"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "{caller_name}" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:{caller}@[local_ip]:[local_port]
      Max-Forwards: 70
""" + SDP_BODY + """  ]]></send>
  <recv response="100" optional="true" {wait}/>
  <recv response="180" optional="true" {wait}/>
  <recv response="183" optional="true" {wait}/>
  <recv response="180" optional="true" {wait}/>
  <recv response="183" optional="true" {wait}/>
"""

_HEADERS = """
      From: "{caller_name}" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]"""

_ACK = """
  <send><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]""" + _HEADERS + """
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
"""

_CALLER_BYE = """
  <label id="caller_bye"/>
  <send retrans="500"><![CDATA[
      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]""" + _HEADERS + """
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
  <recv response="200" next="end"/>
  <label id="far_bye"/>
""" + OK_TO_LAST_REQUEST + """  <label id="end"/>
"""

# CANCEL and the ACK of its 487 belong to the INVITE transaction: they reuse
# its Via branch, copied from the last response to the INVITE.
_CANCEL = """
  <label id="cancel"/>
  <send><![CDATA[
      CANCEL sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: "{caller_name}" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 CANCEL
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
  <recv response="200"/>
  <recv response="487"/>
  <send><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]""" + _HEADERS + """
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
"""


@dataclass(frozen=True)
class CallScript:
    """One inbound call to the hotline as the caller behaves.

    ``hold_after_answer`` seconds on the line after answer (the far end may
    hang up earlier), or ``abandon_after`` seconds of waiting before the caller
    gives up (CANCEL). ``answer_timeout`` bounds the wait for an answer.
    """

    caller: str = "13912345678"
    caller_name: str = "Caller"
    service: str = "4008001234"
    hold_after_answer: float = 2.0
    abandon_after: float | None = None
    answer_timeout: float = 60.0

    def scenario(self) -> str:
        fields = {"caller": escape(self.caller), "caller_name": escape(self.caller_name)}
        # SIPp times a wait from the step it sits on, and optional provisional
        # responses move it along: every step of the wait carries the timeout.
        # They arrive within milliseconds of the INVITE, so the drift is small.
        if self.abandon_after is not None:
            wait = f'timeout="{int(self.abandon_after * 1000)}" ontimeout="cancel"'
        else:
            wait = f'timeout="{int(self.answer_timeout * 1000)}"'
        body = _INVITE.format(wait=wait, **fields)
        if self.abandon_after is not None:
            body += f'  <recv response="200" {wait}/>\n'
            body += _ACK.format(**fields) + _CALLER_BYE.format(**fields).replace(
                '<label id="end"/>', '<label id="end"/>\n  <nop next="done"/>')
            body += _CANCEL.format(**fields) + '  <label id="done"/>\n'
        else:
            hold_ms = max(1, int(self.hold_after_answer * 1000))
            body += f'  <recv response="200" {wait}/>\n'
            body += _ACK.format(**fields)
            body += (f'  <recv request="BYE" timeout="{hold_ms}" ontimeout="caller_bye" '
                     f'next="far_bye"/>\n')
            body += _CALLER_BYE.format(**fields)
        return ('<?xml version="1.0" encoding="UTF-8" ?>\n'
                f'<scenario name="hotline call">\n{body}</scenario>\n')


@dataclass(frozen=True)
class SippResult:
    returncode: int
    successful: int
    failed: int
    output: str

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and self.failed == 0


def place_call(script: CallScript, sip_port: int, *, timeout: float = 120.0,
               local_port: int = 0) -> SippResult:
    """Place one call (blocks until it ends); run several in threads for a mix."""
    with tempfile.TemporaryDirectory(prefix="hotline-sipp-") as tmp:
        path = Path(tmp) / "call.xml"
        path.write_text(script.scenario())
        stats = Path(tmp) / "stats"
        command = [
            "sipp", f"127.0.0.1:{sip_port}", "-sf", str(path), "-s", script.service,
            "-i", "127.0.0.1", "-p", str(local_port), "-m", "1", "-l", "1",
            "-timeout", f"{int(timeout)}s", "-timeout_error", "-nostdin", "-trace_screen",
            "-screen_file", str(stats),
        ]
        try:
            proc = subprocess.run(command, capture_output=True, timeout=timeout + 10,
                                  cwd=tmp, check=False)
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(f"sipp did not finish within {timeout}s") from exc
        screen = stats.read_text(errors="replace") if stats.exists() else ""
        output = (proc.stdout + proc.stderr).decode(errors="replace") + screen
        return SippResult(
            returncode=proc.returncode,
            successful=_counter(screen, "Successful call"),
            failed=_counter(screen, "Failed call"),
            output=output,
        )


def _counter(screen: str, name: str) -> int:
    for line in screen.splitlines():
        if line.strip().startswith(name):
            cells = [c.strip() for c in line.split("|")]
            try:
                return int(cells[-1].split()[0])
            except (ValueError, IndexError):
                return 0
    return 0
