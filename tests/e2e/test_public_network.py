"""The sandbox's public network (issue 11, "E2E"): the general trunk reaches the
hotline's own number, and the path breaks the ways a real one breaks.

A PBX of this module's own, its carrier qualified every few seconds (the
shared ``pbx`` keeps qualify off), with a :class:`PublicNetwork` on its peer
ports. Calls are AMI ``Originate``\\ s of ``PJSIP/4008001234@general-trunk``
with a caller number of their own; what happens is read from the PBX's AMI
stream (an :class:`AmiRecorder`, through the shipped manager.conf filter).

``/route`` is answered by a stand-in for the line monitor's part of it (not
built yet): the product's own FastAGI server with a handler that takes every
call for a recognised test call, as the daemon will (``HOTLINE_ROUTE=test``).
One test runs the real daemon instead. Times are printed, never asserted.
"""

from __future__ import annotations

import asyncio
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count
from pathlib import Path

import pytest

from hotline_pbx.agi.server import FastAgiServer
from hotline_pbx.agi.session import AgiChannel, AgiSession
from hotline_pbx.domain.contract import DialplanVar, Route
from hotline_pbx.sandbox.ami_recorder import AmiEvent, AmiRecorder
from hotline_pbx.sandbox.daemon import DaemonProcess
from hotline_pbx.sandbox.network import NetworkFault, PublicNetwork
from hotline_pbx.sandbox.pbx import (
    CARRIER_QUALIFY_TIMEOUT,
    OBSERVER_USER,
    AsteriskSandbox,
    SandboxError,
)
from tests.conftest import truncate_all
from tests.e2e.conftest import LOOP_QUALIFY
from tests.e2e.waiting import wait_until

QUALIFY = LOOP_QUALIFY  # seconds between the PBX's OPTIONS to the carrier
#: A contact's status changes within one qualify interval plus the OPTIONS timeout.
STATUS_WITHIN = QUALIFY + CARRIER_QUALIFY_TIMEOUT + 2
CALLER_NAME = "Line test"
#: Caller numbers of this module's calls: 1390000xxxx, one per call. Never an
#: endpoint's name: the PBX identifies by username before IP.
_CALLERS = (f"1390000{n:04d}" for n in count(1))
ROUTE_SEEN_WITHIN = 10.0
# Timer B (64 × T1): how long PJSIP retransmits an unanswered INVITE. This
# module's PBX waits 8 s (looped_pbx), not PJSIP's 32: the same give-up, sooner.
INVITE_TIMEOUT_MS = 8000
INVITE_TIMEOUT = INVITE_TIMEOUT_MS / 1000


@pytest.fixture
def ami(looped_pbx: AsteriskSandbox, network: PublicNetwork) -> Iterator[AmiRecorder]:
    """The PBX's AMI stream during one test; the network NORMAL before and after."""
    network.set_fault(NetworkFault.NORMAL)
    looped_pbx.wait_idle(30)
    # Unfiltered: the tests see Newstate (ringing), which the daemon's filter drops.
    with AmiRecorder(looped_pbx.ports.ami, OBSERVER_USER, looped_pbx.ami_secret) as rec:
        yield rec
    network.set_fault(NetworkFault.NORMAL)
    looped_pbx.wait_idle(60)


class StandInRoute:
    """``/route`` as it will answer a recognised line-monitor test call."""

    def __init__(self) -> None:
        self.sessions: list[AgiSession] = []

    async def handle(self, session: AgiSession, channel: AgiChannel) -> None:
        self.sessions.append(session)
        await channel.set_variables({DialplanVar.ROUTE: Route.TEST.value,
                                     DialplanVar.TEST_CALL: "1"}, final=True)


@pytest.fixture
def route(looped_pbx: AsteriskSandbox) -> Iterator[StandInRoute]:
    """The stand-in ``/route``, on the port the PBX's dialplan asks, in a thread."""
    handler = StandInRoute()
    loop = asyncio.new_event_loop()
    server = FastAgiServer({"route": handler}, host="127.0.0.1", port=looped_pbx.ports.agi,
                           max_sessions=64, read_timeout=5, idle_timeout=5)
    loop.run_until_complete(server.start())
    thread = threading.Thread(target=loop.run_forever, name="agi-stand-in", daemon=True)
    thread.start()
    try:
        yield handler
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(1.0), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


# -- helpers -------------------------------------------------------------------------


@dataclass(frozen=True)
class Placed:
    caller: str
    sent_at: float  # wall clock, as the events' Timestamp


def originate(pbx: AsteriskSandbox, network: PublicNetwork, *, timeout: float = 10.0,
              number: str | None = None) -> Placed:
    """An AMI Originate on the general trunk (to the hotline unless ``number``)."""
    caller = next(_CALLERS)
    channel = f"PJSIP/{number}@general-trunk" if number else network.dial_string
    sent_at = time.time()
    reply = pbx.ami_action({
        "Action": "Originate", "Channel": channel, "Application": "Wait", "Data": "2",
        "CallerID": f'"{CALLER_NAME}" <{caller}>', "Timeout": str(int(timeout * 1000)),
        "Async": "true",
    })
    assert "Response: Success" in reply, reply
    return Placed(caller, sent_at)


def _matcher(placed: Placed, event: str, prefix: str) -> Callable[[AmiEvent], bool]:
    """``event`` of the placed call (its caller number) on a channel named ``prefix…``."""
    def matches(e: AmiEvent) -> bool:
        return (e.get("Event") == event and e.get("Channel", "").startswith(prefix)
                and e.get("CallerIDNum") == placed.caller)
    return matches


def carrier_channel(rec: AmiRecorder, placed: Placed, timeout: float = 10.0) -> AmiEvent:
    return rec.wait_for(_matcher(placed, "Newchannel", "PJSIP/carrier-"), timeout)


def general_trunk_hangup(rec: AmiRecorder, placed: Placed, timeout: float) -> AmiEvent:
    return rec.wait_for(_matcher(placed, "Hangup", "PJSIP/general-trunk-"), timeout)


def carrier_channels_of(rec: AmiRecorder, placed: Placed) -> list[AmiEvent]:
    match = _matcher(placed, "Newchannel", "PJSIP/carrier-")
    return [e for e in rec.events() if match(e)]


def contact_status(rec: AmiRecorder, status: str, after: float, timeout: float) -> AmiEvent:
    """The carrier AOR's next ContactStatus ``status`` with a Timestamp after ``after``."""
    return rec.wait_for(lambda e: e.get("Event") == "ContactStatus" and e.get("AOR") == "carrier"
                        and e.get("ContactStatus") == status
                        and float(e["Timestamp"]) >= after, timeout)


# -- NORMAL ------------------------------------------------------------------------------


def test_a_call_to_the_hotline_on_the_general_trunk_comes_back_on_the_400_trunk(
        looped_pbx: AsteriskSandbox, network: PublicNetwork, ami: AmiRecorder,
        route: StandInRoute) -> None:
    delivered = network.calls_delivered
    placed = originate(looped_pbx, network)

    inbound = carrier_channel(ami, placed)
    assert (inbound["Context"], inbound["Exten"]) == ("hotline-inbound", network.hotline_number)
    assert (inbound["CallerIDNum"], inbound["CallerIDName"]) == (placed.caller, CALLER_NAME)

    # The dialplan asked /route, with the caller number the originator set.
    (session,) = wait_until(lambda: [s for s in route.sessions if s.callerid == placed.caller],
                            ROUTE_SEEN_WITHIN, "the looped call at /route")
    assert session.script == "route"
    assert session.channel == inbound["Channel"]
    assert (session.context, session.extension) == ("hotline-inbound", network.hotline_number)
    assert session.calleridname == CALLER_NAME

    # HOTLINE_ROUTE=test: hung up at once (cause 16), nobody rung, no fail-safe.
    hangup = ami.wait_for(lambda e: e.get("Event") == "Hangup"
                          and e.get("Uniqueid") == inbound["Uniqueid"], 10)
    assert hangup["Cause"] == "16"
    assert hangup["Context"] == "hotline-route-test"
    # Cause 16 before an answer leaves the PBX as 603 Decline: the originator's
    # leg ends rejected (cause 21), which is what a line monitor sees after /route.
    assert general_trunk_hangup(ami, placed, 10)["Cause"] == "21"
    linked = [e for e in ami.events() if e.get("Linkedid") == inbound["Linkedid"]]
    assert not [e for e in linked if e.get("Event") == "Newchannel"
                and e["Uniqueid"] != inbound["Uniqueid"]], "the test route rang someone"
    variables = {(e["Variable"], e["Value"]) for e in linked if e.get("Event") == "VarSet"}
    assert (DialplanVar.ROUTE, Route.TEST.value) in variables
    assert (DialplanVar.PERIOD, "failsafe") not in variables
    assert network.calls_delivered == delivered + 1


def test_another_number_is_unallocated(looped_pbx: AsteriskSandbox, network: PublicNetwork,
                                       ami: AmiRecorder) -> None:
    """The network knows one number: anything else is 404, cause 1."""
    delivered = network.calls_delivered
    placed = originate(looped_pbx, network, number="13500000001")
    assert general_trunk_hangup(ami, placed, 10)["Cause"] == "1"
    assert network.calls_delivered == delivered


def test_a_looped_call_reaches_the_real_daemons_route(
        looped_pbx: AsteriskSandbox, network: PublicNetwork, ami: AmiRecorder,
        pg_dsn: str, tmp_path: Path) -> None:
    truncate_all(pg_dsn)
    daemon = DaemonProcess.for_sandbox(looped_pbx, pg_dsn, tmp_path)
    daemon.start()
    try:
        placed = originate(looped_pbx, network)
        inbound = carrier_channel(ami, placed)
        # /route answered it: the call id is the carrier channel's own uniqueid.
        ami.wait_for(lambda e: e.get("Event") == "VarSet" and e.get("Uniqueid") == inbound[
            "Uniqueid"] and e.get("Variable") == DialplanVar.CALL_ID, ROUTE_SEEN_WITHIN)
        # The variable is set mid-session; the request is counted when it ends.
        def routed() -> list[float]:
            return [v for k, v in daemon.metrics().items()
                    if k.startswith("hotline_agi_requests_total{") and 'script="route"' in k
                    and 'result="ok"' in k]

        wait_until(lambda: routed() == [1.0], ROUTE_SEEN_WITHIN, "the /route request counted")
        assert routed() == [1.0]
        looped_pbx.ami_action({"Action": "Hangup", "Channel": inbound["Channel"]})
    finally:
        assert daemon.stop() == 0


def test_a_second_network_on_the_same_ports_is_refused_in_one_line(
        looped_pbx: AsteriskSandbox, network: PublicNetwork) -> None:
    """As a SIPp UAS on mobile_peer would be: nothing starts, the port is named."""
    with pytest.raises(SandboxError, match=f"127.0.0.1:{looped_pbx.ports.mobile_peer} "
                                           r"\(the PBX's mobile_peer\)"):
        PublicNetwork(looped_pbx).start()
    assert network.running


# -- faults ----------------------------------------------------------------------------


@pytest.mark.parametrize(("fault", "causes"), [
    (NetworkFault.BUSY, {"17"}),  # 486 Busy Here
    (NetworkFault.CONGESTION, {"34", "38"}),  # 503 Service Unavailable
])
def test_busy_and_congestion_fail_the_general_trunk_leg_with_their_cause(
        looped_pbx: AsteriskSandbox, network: PublicNetwork, ami: AmiRecorder,
        fault: NetworkFault, causes: set[str]) -> None:
    delivered = network.calls_delivered
    network.set_fault(fault)
    placed = originate(looped_pbx, network)
    hangup = general_trunk_hangup(ami, placed, 10)
    assert hangup["Cause"] in causes, hangup
    assert ami.wait_for(lambda e: e.get("Event") == "OriginateResponse"
                        and e.get("CallerIDNum") == placed.caller, 5)["Response"] == "Failure"
    assert carrier_channels_of(ami, placed) == []
    assert network.calls_delivered == delivered


def test_no_answer_rings_until_the_originator_gives_up(
        looped_pbx: AsteriskSandbox, network: PublicNetwork, ami: AmiRecorder) -> None:
    delivered = network.calls_delivered
    network.set_fault(NetworkFault.NO_ANSWER)
    placed = originate(looped_pbx, network, timeout=3.0)
    hangup = general_trunk_hangup(ami, placed, 10)
    assert hangup["Cause"] == "19"  # no answer: the originate's own timeout
    ringing = [e for e in ami.events() if e.get("Event") == "Newstate"
               and e.get("Uniqueid") == hangup["Uniqueid"] and e.get("ChannelState") == "5"]
    assert ringing, "the network never rang"
    response = ami.wait_for(lambda e: e.get("Event") == "OriginateResponse"
                            and e.get("CallerIDNum") == placed.caller, 5)
    assert (response["Response"], response["Reason"]) == ("Failure", "3")  # ring timeout
    print(f"\nno answer: ended after {float(hangup['Timestamp']) - placed.sent_at:.2f} s "
          "(originate timeout 3 s)")
    assert carrier_channels_of(ami, placed) == []
    assert network.calls_delivered == delivered


def test_a_lost_call_is_answered_and_never_arrives(
        looped_pbx: AsteriskSandbox, network: PublicNetwork, ami: AmiRecorder) -> None:
    delivered = network.calls_delivered
    network.set_fault(NetworkFault.LOST)
    placed = originate(looped_pbx, network)
    response = ami.wait_for(lambda e: e.get("Event") == "OriginateResponse"
                            and e.get("CallerIDNum") == placed.caller, 10)
    assert response["Response"] == "Success"  # the originator sees an answered call…
    general_trunk_hangup(ami, placed, 10)  # …which the originate's Wait(2) ends
    assert carrier_channels_of(ami, placed) == []  # and the hotline never saw it
    assert network.calls_delivered == delivered


def test_unreachable_times_out_the_invite_and_the_carrier_qualify_then_normal_restores_it(
        looped_pbx: AsteriskSandbox, network: PublicNetwork, ami: AmiRecorder,
        route: StandInRoute) -> None:
    delivered = network.calls_delivered
    broken_at = time.time()
    network.set_fault(NetworkFault.UNREACHABLE)

    # Nothing answers the general trunk's INVITE: no ringing, and PJSIP gives up
    # after timer B (408 → cause 18), before the originate's own timeout.
    placed = originate(looped_pbx, network, timeout=INVITE_TIMEOUT + 10)
    down = contact_status(ami, "Unreachable", broken_at, STATUS_WITHIN)
    hangup = general_trunk_hangup(ami, placed, INVITE_TIMEOUT + 10)
    assert hangup["Cause"] == "18"
    assert not [e for e in ami.events() if e.get("Event") == "Newstate"
                and e.get("Uniqueid") == hangup["Uniqueid"]]
    assert carrier_channels_of(ami, placed) == []

    restored_at = time.time()
    network.set_fault(NetworkFault.NORMAL)
    up = contact_status(ami, "Reachable", restored_at, STATUS_WITHIN)
    again = originate(looped_pbx, network)
    carrier_channel(ami, again)
    wait_until(lambda: any(s.callerid == again.caller for s in route.sessions),
               ROUTE_SEEN_WITHIN, "the call after the repair at /route")
    assert network.calls_delivered == delivered + 1
    print(f"\ncarrier Unreachable {float(down['Timestamp']) - broken_at:.1f} s after the "
          f"network went down, Reachable {float(up['Timestamp']) - restored_at:.1f} s after "
          f"it came back (qualify every {QUALIFY} s); the INVITE timed out after "
          f"{float(hangup['Timestamp']) - placed.sent_at:.1f} s")


# -- measured ----------------------------------------------------------------------------


def test_originate_to_carrier_channel_latency(
        looped_pbx: AsteriskSandbox, network: PublicNetwork, ami: AmiRecorder,
        route: StandInRoute) -> None:
    """30 calls one after the other: Originate sent → the PBX's PJSIP/carrier-… Newchannel."""
    delivered = network.calls_delivered
    latencies = []
    for _ in range(30):
        placed = originate(looped_pbx, network)
        inbound = carrier_channel(ami, placed)
        latencies.append(float(inbound["Timestamp"]) - placed.sent_at)
        general_trunk_hangup(ami, placed, 10)
    assert network.calls_delivered == delivered + 30
    assert len({s.callerid for s in route.sessions}) >= 30
    ms = sorted(1000 * x for x in latencies)
    p99 = ms[-(-99 * len(ms) // 100) - 1]  # nearest rank: of 30 calls, the slowest
    print(f"\noriginate → carrier channel over {len(ms)} calls: p50 "
          f"{statistics.median(ms):.1f} ms, p99 {p99:.1f} ms, min {ms[0]:.1f} ms")
