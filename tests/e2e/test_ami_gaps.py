"""Only the daemon's AMI link goes away mid-call; Asterisk and the call go on.

The daemon reaches AMI through a TCP relay that the test cuts and restores;
an independent AMI recorder, connected to Asterisk directly, sees everything.
Each case cuts the link at one phase of a queued call (issue #9 item 6) and
compares the stored row with what the recorder saw.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from hotline_pbx.sandbox.ami_recorder import AmiEvent, AmiRecorder
from hotline_pbx.sandbox.daemon import DaemonProcess
from hotline_pbx.sandbox.pbx import OBSERVER_USER, AsteriskSandbox
from hotline_pbx.sandbox.sipp import CallScript, place_call
from hotline_pbx.sandbox.tcp_relay import TcpRelay
from tests.e2e.conftest import ConfigWriter
from tests.e2e.test_call_records import ALWAYS_OPEN, DAEMON_ENV, db_rows
from tests.e2e.waiting import wait_until

AGENT = "Local/agent1@hotline-agents"
# Seconds either way between a time the daemon stored and the one the recorder saw
# (SIPp and the stand-in agent pace the call in whole seconds; none of it is tight).
SLACK = 0.6


class Call:
    """One call as the independent recorder saw it."""

    def __init__(self, recorder: AmiRecorder, caller: str) -> None:
        self.recorder = recorder
        root = recorder.wait_for(lambda e: e.get("Event") == "Newchannel"
                                 and e.get("CallerIDNum") == caller
                                 and e.get("Context") == "hotline-inbound", 15)
        self.linkedid = root["Linkedid"]

    def wait(self, name: str, timeout: float = 20.0, **fields: str) -> AmiEvent:
        return self.recorder.wait_for(
            lambda e: e.get("Event") == name and e.get("Linkedid") == self.linkedid
            and e.get("Uniqueid") == self.linkedid
            and all(e.get(k) == v for k, v in fields.items()), timeout)

    def time_of(self, name: str, **fields: str) -> float:
        return float(self.wait(name, 1, **fields)["Timestamp"])


@contextlib.contextmanager
def link_down(relay: TcpRelay, daemon: DaemonProcess) -> Iterator[None]:
    """The daemon's AMI link is cut inside the block; after it, it is back and reconciled."""
    relay.cut()
    wait_until(lambda: daemon.metrics()["hotline_ami_connected"] == 0, 10, "the daemon to notice")
    reconciles = _reconciles(daemon)
    yield
    relay.restore()
    wait_until(lambda: _reconciles(daemon) > reconciles, 20, "the reconcile after the reconnect")


def _reconciles(daemon: DaemonProcess) -> int:
    return sum(1 for r in daemon.log_records()
               if str(r.get("message", "")).startswith("AMI reconcile: "))


def queue_paused(pbx: AsteriskSandbox, paused: bool) -> None:
    pbx.ami_action({"Action": "QueuePause", "Interface": AGENT, "Queue": "hotline",
                    "Paused": "true" if paused else "false"})


def ringing(pbx: AsteriskSandbox, call: Call, relay: TcpRelay, daemon: DaemonProcess) -> None:
    call.wait("AgentCalled")
    with link_down(relay, daemon):
        call.wait("AgentConnect")
        time.sleep(0.5)


def queued(pbx: AsteriskSandbox, call: Call, relay: TcpRelay, daemon: DaemonProcess) -> None:
    call.wait("QueueCallerJoin")
    with link_down(relay, daemon):
        queue_paused(pbx, False)
        call.wait("AgentConnect")
        time.sleep(0.5)


def answered(pbx: AsteriskSandbox, call: Call, relay: TcpRelay, daemon: DaemonProcess) -> None:
    call.wait("AgentConnect")
    time.sleep(0.5)  # talking: the daemon has had the answer (the relay is not instant)
    with link_down(relay, daemon):
        time.sleep(1.0)


def after_hang_up(pbx: AsteriskSandbox, call: Call, relay: TcpRelay,
                  daemon: DaemonProcess) -> None:
    call.wait("Hangup")
    wait_until(lambda: _row(daemon, call), 10, "the row")
    with link_down(relay, daemon):
        time.sleep(1.0)


Phase = Callable[[AsteriskSandbox, Call, TcpRelay, DaemonProcess], None]
# (cut, agent rings s, agent talks s, caller holds s after the answer, pause the agent first)
PHASES: dict[str, tuple[Phase, str, str, float, bool]] = {
    "ringing": (ringing, "3", "10", 2.0, False),  # the caller hangs up (the case)
    "queued": (queued, "1", "3", 30.0, True),  # the agent hangs up
    "answered": (answered, "1", "4", 30.0, False),
    "after_hang_up": (after_hang_up, "1", "1", 30.0, False),
}


def _row(daemon: DaemonProcess, call: Call) -> tuple[Any, ...] | None:
    rows = db_rows(daemon.env["HOTLINE_DATABASE_DSN"],
                   "SELECT outcome, answered_role, answered_by, wait_seconds, talk_seconds, "
                   "needs_callback, details->>'answer_time', "
                   f"extract(epoch FROM routed_at) FROM calls WHERE call_key = '{call.linkedid}'")
    return rows[0] if rows else None


@pytest.mark.parametrize("phase", list(PHASES))
def test_a_call_keeps_its_true_record_when_the_daemon_loses_ami_mid_call(
        phase: str, pbx_clean: AsteriskSandbox, daemon_factory: Any,
        config: ConfigWriter) -> None:
    cut_at, ring, talk, hold, paused = PHASES[phase]
    config.schedule(ALWAYS_OPEN)
    pbx = pbx_clean
    with TcpRelay(pbx.ports.ami) as relay, \
            AmiRecorder(pbx.ports.ami, OBSERVER_USER, pbx.ami_secret) as recorder, \
            ThreadPoolExecutor(max_workers=1) as pool:
        daemon: DaemonProcess = daemon_factory({
            **DAEMON_ENV, "HOTLINE_AMI_PORT": str(relay.port),
            "HOTLINE_AMI_PING_INTERVAL": "1", "HOTLINE_AMI_PING_TIMEOUT": "1",
            "HOTLINE_AMI_RECONNECT_BACKOFF_MAX": "0.5"})
        pbx.set_global("SANDBOX_AGENT_RING", ring)
        pbx.set_global("SANDBOX_AGENT_TALK", talk)
        if paused:
            queue_paused(pbx, True)
        try:
            caller = f"139000009{list(PHASES).index(phase):02d}"
            sipp = pool.submit(place_call, CallScript(caller=caller, hold_after_answer=hold),
                               pbx.ports.sip, timeout=40)
            call = Call(recorder, caller)
            cut_at(pbx, call, relay, daemon)
            assert sipp.result().ok
        finally:
            queue_paused(pbx, False)
        call.wait("Hangup")
        row = wait_until(lambda: _row(daemon, call), 15, "the call's row")

    # What Asterisk said, seen directly.
    connect = call.wait("AgentConnect", 1)
    answered_at = float(connect["Timestamp"])
    talk_seen = call.time_of("Hangup") - answered_at
    outcome, role, who, wait, talk_stored, callback, answer_time, routed_at = row
    assert (outcome, role, who, callback) == ("answered", "agent", connect["MemberName"],
                                              False), row
    assert abs(float(wait) - (answered_at - float(routed_at))) < SLACK, row
    assert abs(float(talk_stored) - talk_seen) < SLACK, row
    # Answered during the gap: the time the dialplan wrote; otherwise the event's own.
    assert answer_time == ("dialplan" if phase in ("ringing", "queued") else None), row
    assert db_rows(daemon.env["HOTLINE_DATABASE_DSN"], "SELECT count(*) FROM calls") == [(1,)]


def _daemon_ami_sessions(pbx: AsteriskSandbox) -> list[str]:
    """Asterisk's own list of logged-in AMI sessions of the daemon's user."""
    return [line for line in pbx.rx("manager show connected").splitlines()
            if line.split()[:1] == [pbx.ami_user]]


def _refused_attempts(daemon: DaemonProcess) -> int:
    return sum(1 for r in daemon.log_records()
               if "AMI connection to" in str(r.get("message", ""))
               and "failed:" in str(r.get("message", "")))


def test_ami_back_after_several_reconnect_rounds_has_one_daemon_session(
        pbx_clean: AsteriskSandbox, daemon_factory: Any) -> None:
    """Asterisk's AMI unreachable for several of the daemon's reconnect rounds, then
    back: Asterisk shows one session of the daemon, and only one connection came in.
    Before, every refused attempt left a panoramisk Manager retrying every 2 s on its
    own, and each logged in once AMI was reachable again."""
    pbx = pbx_clean
    assert _daemon_ami_sessions(pbx) == []  # no recorder here: every session is the daemon's
    with TcpRelay(pbx.ports.ami) as relay:
        daemon: DaemonProcess = daemon_factory({
            "HOTLINE_AMI_PORT": str(relay.port), "HOTLINE_AMI_PING_INTERVAL": "1",
            "HOTLINE_AMI_PING_TIMEOUT": "1", "HOTLINE_AMI_RECONNECT_BACKOFF_MAX": "0.5"})
        wait_until(lambda: daemon.metrics()["hotline_ami_connected"] == 1, 15, "AMI up")
        assert len(_daemon_ami_sessions(pbx)) == 1
        relay.cut()
        wait_until(lambda: daemon.metrics()["hotline_ami_connected"] == 0, 10,
                   "the daemon to notice")
        refused = _refused_attempts(daemon)
        wait_until(lambda: _refused_attempts(daemon) >= refused + 6, 20,
                   "several refused reconnect rounds")
        accepted = relay.connections
        relay.restore()
        wait_until(lambda: daemon.metrics()["hotline_ami_connected"] == 1, 15, "AMI back")
        time.sleep(3.0)  # past panoramisk's 2 s retry of any attempt left behind
        sessions = _daemon_ami_sessions(pbx)
        assert len(sessions) == 1, sessions
        assert relay.connections == accepted + 1
