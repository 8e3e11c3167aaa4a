"""Real SIP calls from SIPp (Debian package ``sip-tester``).

Each call is described by a :class:`CallScript` (who calls, and when the
caller hangs up: a fixed time after answer, or before answer = abandon) and
rendered into a SIPp XML scenario. Provisional responses (100, 180, 183) are
all optional, so a 183-only call passes as well as a ringing one.

An internal phone must authenticate (the shipped pjsip.conf): with a
``password`` the caller answers the PBX's 401/407 digest challenge to its
INVITE as user ``caller`` and the call goes on; with ``refused`` it sends no
credentials, expects that challenge as the final answer, ACKs it and ends.
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

_INVITE_REQUEST = """
  <send retrans="500"><![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: "{caller_name}" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: {cseq} INVITE
      Contact: sip:{caller}@[local_ip]:[local_port]
      Max-Forwards: 70{credentials}
""" + SDP_BODY + """  ]]></send>
"""

_INVITE = _INVITE_REQUEST + """
  <recv response="100" optional="true" {wait}/>
  <recv response="180" optional="true" {wait}/>
  <recv response="183" optional="true" {wait}/>
  <recv response="180" optional="true" {wait}/>
  <recv response="183" optional="true" {wait}/>
"""

# The PBX's digest challenge to the first INVITE, 401 or 407 (auth="true":
# SIPp keeps it for the [authentication] of the next INVITE), and its ACK: an
# ACK of a non-2xx final response belongs to the INVITE transaction (its Via).
_CHALLENGE = """
  <recv response="100" optional="true"/>
  <recv response="401" auth="true" optional="true" next="challenged"/>
  <recv response="407" auth="true"/>
  <label id="challenged"/>
  <send><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: "{caller_name}" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
"""

_HEADERS = """
      From: "{caller_name}" <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]"""

_ACK = """
  <send><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]""" + _HEADERS + """
      CSeq: {cseq} ACK
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
"""

_CALLER_BYE = """
  <label id="caller_bye"/>
  <send retrans="500"><![CDATA[
      BYE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]""" + _HEADERS + """
      CSeq: {bye_cseq} BYE
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
      CSeq: {cseq} CANCEL
      Max-Forwards: 70
      Content-Length: 0
  ]]></send>
  <recv response="200"/>
  <recv response="487"/>
  <send><![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]""" + _HEADERS + """
      CSeq: {cseq} ACK
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
    ``password``: answer the PBX's challenge as user ``caller`` (an internal
    phone). ``refused``: send no credentials and expect the INVITE refused
    with a 401/407 challenge, nothing more (an unauthenticated phone, a forged
    From).
    """

    caller: str = "13912345678"
    caller_name: str = "Caller"
    service: str = "4008001234"
    hold_after_answer: float = 2.0
    abandon_after: float | None = None
    answer_timeout: float = 60.0
    password: str | None = None
    refused: bool = False

    def __post_init__(self) -> None:
        if self.refused and self.password is not None:
            raise ValueError("a refused call sends no credentials: give no password")
        if self.password is not None and (not self.password or
                                          any(c.isspace() or c == "]" for c in self.password)):
            # SIPp reads [authentication ... password=...] up to a space or "]".
            raise ValueError("a SIPp password must be non-empty, without spaces or ']'")

    def scenario(self) -> str:
        fields = {"caller": escape(self.caller), "caller_name": escape(self.caller_name),
                  "cseq": "1", "bye_cseq": "2", "credentials": ""}
        if self.refused or self.password is not None:
            challenge = (_INVITE_REQUEST + _CHALLENGE).format(**fields)
            if self.refused:
                return _document(challenge)
            # SIPp's own keyword: the digest answer to the challenge kept above.
            credentials = (f"\n      [authentication username={escape(self.caller)} "
                           f"password={escape(self.password or '')}]")
            fields.update(cseq="2", bye_cseq="3", credentials=credentials)
        else:
            challenge = ""
        # SIPp times a wait from the step it sits on, and optional provisional
        # responses move it along: every step of the wait carries the timeout.
        # They arrive within milliseconds of the INVITE, so the drift is small.
        if self.abandon_after is not None:
            wait = f'timeout="{int(self.abandon_after * 1000)}" ontimeout="cancel"'
        else:
            wait = f'timeout="{int(self.answer_timeout * 1000)}"'
        body = challenge + _INVITE.format(wait=wait, **fields)
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
        return _document(body)


def _document(body: str) -> str:
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
               local_port: int = 0, local_ip: str = "127.0.0.1") -> SippResult:
    """Place one call (blocks until it ends); run several in threads for a mix.

    ``local_ip``: where the call comes from (any 127.x.y.z is this host's
    loopback too, and not the address the sandbox's trunks are matched by).
    """
    return _run_sipp(script, sip_port, ["-m", "1", "-l", "1"], timeout=timeout,
                     local_port=local_port, local_ip=local_ip)


def place_load(script: CallScript, sip_port: int, *, rate: float, calls: int,
               max_concurrent: int = 1000, timeout: float | None = None) -> SippResult:
    """Place ``calls`` calls at ``rate`` new calls a second, at most
    ``max_concurrent`` up at once (SIPp's own pacing); blocks until all ended."""
    if rate <= 0 or calls <= 0:
        raise ValueError("a load needs a rate and a number of calls above 0")
    limit = timeout if timeout is not None else calls / rate + script.answer_timeout + 60
    pacing = ["-r", f"{rate:g}", "-rp", "1000", "-m", str(calls), "-l", str(max_concurrent)]
    return _run_sipp(script, sip_port, pacing, timeout=limit, local_port=0,
                     local_ip="127.0.0.1")


def _run_sipp(script: CallScript, sip_port: int, pacing: list[str], *, timeout: float,
              local_port: int, local_ip: str) -> SippResult:
    with tempfile.TemporaryDirectory(prefix="hotline-sipp-") as tmp:
        path = Path(tmp) / "call.xml"
        path.write_text(script.scenario())
        stats = Path(tmp) / "stats"
        command = [
            "sipp", f"127.0.0.1:{sip_port}", "-sf", str(path), "-s", script.service,
            "-i", local_ip, "-p", str(local_port), *pacing,
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
