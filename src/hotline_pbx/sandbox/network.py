"""The sandbox's public network: the general trunk reaches the hotline's own number.

A call the sandbox PBX places on ``general-trunk`` to the hotline's number comes
back into the same PBX on the 400 trunk, with the caller number the
originator set, the way the telephone network would bring it::

    PBX general-trunk ──INVITE──▶ network Asterisk (on the PBX's ports.mobile_peer)
                                   │ [public-network] → [network-fault] normal
    PBX carrier endpoint ◀──INVITE── from ports.carrier_peer (the carrier's contact)
    (identify 127.0.0.1, context hotline-inbound → AGI /route)

The network is a second Asterisk in the same cached root (an
:class:`~hotline_pbx.sandbox.pbx.AsteriskSandbox` with a configuration of its
own: ``sandbox/network/``), a real B2BUA: SIP, media and causes are handled
as any Asterisk handles them. It also answers the PBX's OPTIONS qualify of
the carrier, so the PBX sees its 400 trunk Reachable while the network runs.

It binds the PBX's ``mobile_peer`` port, where tests otherwise run a SIPp UAS
for calls to mobiles: start it only in tests that need it. It is always torn
down (:meth:`PublicNetwork.stop`, the context manager) like the PBX itself.

Faults (:meth:`PublicNetwork.set_fault`, for the next call) break the path
the ways a real one breaks; see :class:`NetworkFault`. Blocking, like the
rest of the sandbox: call it from tests or ``asyncio.to_thread``.
"""

from __future__ import annotations

import socket
from enum import StrEnum
from pathlib import Path
from typing import Final

from hotline_pbx.domain.contract import DEFAULT_DIAL_TEMPLATE
from hotline_pbx.resources import shipped_dir
from hotline_pbx.sandbox.pbx import (
    AsteriskSandbox,
    PbxPorts,
    SandboxError,
    harness_path,
    replace_once,
)

__all__ = ["NetworkAsterisk", "NetworkFault", "PublicNetwork"]

#: The network's own configuration, in the checkout (test harness, not product).
NETWORK_CONFIG: Final = Path("sandbox/network")
#: Files of the product's asterisk-conf/ the network uses as they are.
SHARED_FILES: Final = ("modules.conf", "logger.conf", "rtp.conf")
#: The network's dialplan logs this line for each call it puts through.
DELIVERED_MARK: Final = "network: delivered to the 400 trunk"
DEFAULT_HOTLINE_NUMBER: Final = "4008001234"


class NetworkFault(StrEnum):
    """How the network treats the next call to the hotline's number.

    The values are the extensions of ``[network-fault]`` in
    ``sandbox/network/extensions.conf`` (but ``unreachable``).
    """

    #: Put through to the 400 trunk (the PBX's carrier endpoint).
    NORMAL = "normal"
    #: 486 Busy Here on the general-trunk leg (cause 17).
    BUSY = "busy"
    #: 503 Service Unavailable on the general-trunk leg (cause 34).
    CONGESTION = "congestion"
    #: Rings (180) for ever and delivers nothing: the originator's timeout ends it.
    NO_ANSWER = "no_answer"
    #: Nothing answers SIP at all: the network's Asterisk is stopped, so the
    #: general trunk's INVITE times out and the carrier's OPTIONS qualify fails
    #: (the PBX marks the carrier Unreachable). Another fault starts it again.
    UNREACHABLE = "unreachable"
    #: A broken carrier path: rings, answers after 1 s, and the call goes
    #: nowhere (silence until the originator hangs up). It never arrives on
    #: the 400 trunk: the originator sees an answered call, the hotline nothing.
    LOST = "lost"


# The network has no AMI, HTTP or AGI of its own, and its SIP transports are on
# the PBX's peer ports (config_files): none of an AsteriskSandbox's own ports.
_NO_PORTS: Final = PbxPorts(sip=0, ami=0, http=0, agi=0, carrier_peer=0, mobile_peer=0)


class NetworkAsterisk(AsteriskSandbox):
    """The network's Asterisk: the PBX's root, a configuration of its own."""

    def __init__(self, pbx: AsteriskSandbox, hotline_number: str) -> None:
        super().__init__(name=f"{pbx.name}-network", ports=_NO_PORTS, root=pbx.root)
        self.pbx_ports = pbx.ports
        self.hotline_number = hotline_number
        self.fault = NetworkFault.NORMAL

    def config_files(self) -> dict[str, str]:
        files = {name: (shipped_dir("asterisk-conf") / name).read_text() for name in SHARED_FILES}
        # No queues.conf here: app_queue would decline to load and say so at error level.
        files["modules.conf"] += "noload => app_queue.so\n"
        own = harness_path(NETWORK_CONFIG)
        pjsip = (own / "pjsip.conf").read_text()
        p = self.pbx_ports
        for sample, port in (("5091", p.mobile_peer), ("5090", p.carrier_peer), ("5060", p.sip)):
            pjsip = replace_once(pjsip, f"127.0.0.1:{sample}\n", f"127.0.0.1:{port}\n")
        dialplan = (own / "extensions.conf").read_text()
        dialplan = replace_once(dialplan, f"\nNETWORK_HOTLINE={DEFAULT_HOTLINE_NUMBER}\n",
                                f"\nNETWORK_HOTLINE={self.hotline_number}\n")
        dialplan = replace_once(dialplan, "\nNETWORK_FAULT=normal\n",
                                f"\nNETWORK_FAULT={self.fault.value}\n")
        return {**files, "pjsip.conf": pjsip, "extensions.conf": dialplan}


class PublicNetwork:
    """The telephone network as the sandbox PBX sees it, on its peer ports.

    ``calls_delivered`` counts the calls put through to the 400 trunk since
    :meth:`start` (across the restarts an ``UNREACHABLE`` fault causes).
    """

    def __init__(self, pbx: AsteriskSandbox, *,
                 hotline_number: str = DEFAULT_HOTLINE_NUMBER) -> None:
        if not hotline_number.isdigit():
            raise ValueError(f"the hotline number must be digits, not {hotline_number!r}")
        self.pbx = pbx
        self.hotline_number = hotline_number
        self._asterisk = NetworkAsterisk(pbx, hotline_number)
        self._fault = NetworkFault.NORMAL
        self._started = False
        self._booted = False  # has the current start() booted the Asterisk at least once
        self._delivered_by_ended_runs = 0

    # -- lifecycle ------------------------------------------------------------

    def start(self) -> None:
        if self._started:
            raise SandboxError("the public network is already started")
        self._started = True
        self._booted = False
        self._delivered_by_ended_runs = 0
        try:
            if self._fault is not NetworkFault.UNREACHABLE:
                self._boot()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the network's Asterisk; stopping a stopped network does nothing."""
        self._started = False
        self._asterisk.stop()

    def __enter__(self) -> PublicNetwork:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Is the network's Asterisk up (started, and not ``UNREACHABLE``)?"""
        return self._asterisk.running

    # -- driving --------------------------------------------------------------

    @property
    def fault(self) -> NetworkFault:
        return self._fault

    def set_fault(self, fault: NetworkFault) -> None:
        """Treat the next call so; calls already up keep what they had.

        ``UNREACHABLE`` stops the network's Asterisk; any other fault after it
        boots it again (this returns once it answers SIP). Before
        :meth:`start`, the fault is the one it starts with.
        """
        fault = NetworkFault(fault)
        if self._started:
            if fault is NetworkFault.UNREACHABLE:
                self._asterisk.stop()
            elif self._asterisk.running:
                self._asterisk.set_global("NETWORK_FAULT", fault.value)
            else:
                self._fault = fault
                self._boot()
        self._fault = fault

    @property
    def calls_delivered(self) -> int:
        """Calls put through to the 400 trunk since :meth:`start`."""
        return self._delivered_by_ended_runs + self._delivered_this_run()

    @property
    def dial_string(self) -> str:
        """What the PBX dials to reach the hotline through the network."""
        return DEFAULT_DIAL_TEMPLATE.format(number=self.hotline_number)

    @property
    def log_path(self) -> Path:
        """The network Asterisk's messages.log (of its latest run)."""
        return self._asterisk.log_path

    # -- internals ------------------------------------------------------------

    def _boot(self) -> None:
        # Its log is replaced at boot: count the run that ended first.
        self._delivered_by_ended_runs += self._delivered_this_run()
        for what, port in (("mobile_peer", self.pbx.ports.mobile_peer),
                           ("carrier_peer", self.pbx.ports.carrier_peer)):
            _check_udp_free(port, what)
        self._asterisk.fault = self._fault
        self._asterisk.start()
        self._booted = True

    def _delivered_this_run(self) -> int:
        if not self._booted:
            return 0  # a log there is from an earlier network, not ours
        try:
            return self.log_path.read_text(errors="replace").count(DELIVERED_MARK)
        except FileNotFoundError:
            return 0


def _check_udp_free(port: int, what: str) -> None:
    """Fail in one line if someone already listens where the network must."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise SandboxError(
                f"the public network needs UDP 127.0.0.1:{port} (the PBX's {what}) but it is "
                f"taken ({exc.strerror}): a SIPp UAS of another test?"
            ) from None
