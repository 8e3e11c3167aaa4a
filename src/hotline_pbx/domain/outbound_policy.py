"""The 400 trunk is inbound only: is a channel an outbound attempt on it, and how was it made?

Pure decisions over normalised channel facts (the AMI layer translates events
into :class:`ChannelFacts`, :class:`DialFacts`…). No I/O, no clock: times are
the PBX's own event timestamps (seconds since the epoch), passed in.

How an outbound leg on the hotline trunk is told apart from the caller
(measured on Asterisk 22 + chan_pjsip, see docs/outbound-guard.md):

* a caller's channel is created by the carrier's INVITE: ``Newchannel`` in
  state 4 (``Ring``), with ``Linkedid == Uniqueid`` (nothing requested it);
* an outbound leg is created by a request (``Dial``, ``Originate``, a CLI
  ``channel originate``, a forward, a transfer): ``Newchannel`` in state 0
  (``Down``), and ``Linkedid`` is the requesting call's when there is one;
* every outbound leg is the destination of a ``DialBegin`` (app_dial and the
  dial API used by originate both publish it); a caller never is.

The endpoint's ``Context`` is *not* a usable hint: chan_pjsip gives an
outbound leg its endpoint's context too (``hotline-inbound``, exten ``s``).

Only positive evidence hangs a channel up: a hotline-trunk channel that fits
neither picture is reported as :attr:`Direction.UNKNOWN` and left alone, so a
real caller is never cut off by a guess.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from .contract import BlockedMethod

__all__ = [
    "ChannelFacts",
    "DialFacts",
    "Direction",
    "HangUp",
    "OutboundAttempt",
    "OutboundWatch",
    "TrunkDial",
    "channel_endpoint",
    "dialled_number",
    "direction_of_listed_channel",
    "direction_of_new_channel",
    "find_trunk_dials",
    "number_from_uri",
    "refused_attempt",
]

STATE_DOWN = "0"  # a channel created by a request, before anything was sent
STATE_RING = "4"  # a channel created by an incoming INVITE
# Applications Asterisk gives a channel that is being dialled (app_dial, dial API).
DIALLED_APPS = frozenset({"AppDial", "AppDial2"})

# "PJSIP/carrier-0000001a": technology, endpoint, Asterisk's 8-hex-digit counter.
_CHANNEL = re.compile(r"(?P<tech>[A-Za-z0-9_]+)/(?P<endpoint>[^/;<>]+)-[0-9a-f]{8}")


class Direction(StrEnum):
    INBOUND = "inbound"  # the carrier's caller: never touched
    OUTBOUND = "outbound"  # an attempt to dial out: hang it up
    UNKNOWN = "unknown"  # on the trunk, but no positive evidence either way: left alone


@dataclass(frozen=True, slots=True)
class ChannelFacts:
    """What a ``Newchannel`` (or ``CoreShowChannel``) says about a channel."""

    channel: str
    uniqueid: str
    linkedid: str = ""
    state: str = ""  # ChannelState code
    context: str = ""
    exten: str = ""
    caller_num: str = ""
    application: str = ""  # CoreShowChannel only
    at: float | None = None  # the PBX's event timestamp


@dataclass(frozen=True, slots=True)
class DialFacts:
    """A ``DialBegin``: who dials (absent for an originate) and what."""

    dest_channel: str
    dest_uniqueid: str
    dest_linkedid: str = ""
    dial_string: str = ""
    caller_channel: str = ""  # empty: originate (nothing but the dial API asked)
    caller_uniqueid: str = ""
    caller_num: str = ""
    caller_context: str = ""
    caller_exten: str = ""
    at: float | None = None


@dataclass(frozen=True, slots=True)
class HangUp:
    """Command: hang this channel up now."""

    channel: str
    uniqueid: str
    trigger: str  # the event that revealed it: Newchannel | DialBegin | CoreShowChannel
    detected_at: float | None  # PBX timestamp of that event


@dataclass(frozen=True, slots=True)
class OutboundAttempt:
    """One outbound attempt on the hotline trunk, classified (one ``blocked_outbound`` row)."""

    key: str  # idempotent event key
    method: BlockedMethod
    channel: str  # the blocked outbound channel, or the refused device's channel
    uniqueid: str
    linkedid: str
    occurred_at: float | None  # PBX timestamp of the first event that showed it
    source_channel: str = ""  # the channel that asked for the outbound leg
    source: str = ""  # the device / account / hotline call behind it
    dialled_number: str = ""
    origin: str = ""  # originate: "ami" or "cli_or_ami_sync"; else how the source was found
    trigger: str = ""
    ended_at: float | None = None  # PBX timestamp of the blocked channel's Hangup
    target_uri: str = ""  # the SIP Request-URI chan_pjsip had prepared, if read in time


# -- single facts -------------------------------------------------------------------


def channel_endpoint(channel: str, tech: str = "PJSIP") -> str | None:
    """``PJSIP/carrier-0000001a`` → ``carrier``; None for other technologies or shapes."""
    match = _CHANNEL.fullmatch(channel)
    if match is None or match["tech"].upper() != tech.upper():
        return None
    return match["endpoint"]


_ANY_TRUNK = ""


def on_trunk(channel: str, trunk: str) -> bool:
    """Is ``channel`` a PJSIP channel of endpoint ``trunk`` (any PJSIP endpoint for "")?"""
    endpoint = channel_endpoint(channel)
    return endpoint is not None and (trunk == _ANY_TRUNK or endpoint == trunk)


def direction_of_new_channel(facts: ChannelFacts, trunk: str) -> Direction | None:
    """None when the channel is not on the trunk; else which way it goes."""
    if not on_trunk(facts.channel, trunk):
        return None
    if facts.linkedid and facts.uniqueid and facts.linkedid != facts.uniqueid:
        return Direction.OUTBOUND  # requested by another call: only outbound legs are
    if facts.state == STATE_DOWN:
        return Direction.OUTBOUND  # created by a request, not by an INVITE
    if facts.state == STATE_RING:
        return Direction.INBOUND
    return Direction.UNKNOWN


def direction_of_listed_channel(facts: ChannelFacts, trunk: str) -> Direction | None:
    """The same question for a channel found already up (``CoreShowChannels``).

    Only one fact is safe by then: the channel runs ``AppDial``/``AppDial2``,
    the application Asterisk gives the *dialled* side of app_dial and of the
    dial API (originate), before and after answer. A caller never has it. Its
    Linkedid proves nothing any more: bridging propagates the oldest Linkedid
    of a call, so a real caller bridged with an older call may carry another
    call's id. (An originated leg already answered and running its
    application is not recognised: see docs/outbound-guard.md.)
    """
    if not on_trunk(facts.channel, trunk):
        return None
    if facts.application in DIALLED_APPS:
        return Direction.OUTBOUND
    return Direction.UNKNOWN


def dialled_number(dial_string: str, trunk: str) -> str:
    """The number out of a PJSIP dial string: ``123@carrier`` → ``123``,
    ``carrier/sip:123@host`` → ``sip:123@host``, ``carrier`` → ``""``."""
    text = dial_string.strip()
    if text.upper().startswith("PJSIP/"):
        text = text[len("PJSIP/"):]
    head, slash, uri = text.partition("/")
    if slash:
        return uri
    return head.rpartition("@")[0]


def number_from_uri(uri: str) -> str:
    """The user part of a SIP URI: ``sip:124@10.0.0.1:5060`` → ``124`` (else "")."""
    match = re.search(r"sips?:([^@;>\s]+)@", uri)
    return match.group(1) if match else ""


def refused_attempt(*, channel: str, uniqueid: str, linkedid: str, source: str,
                    number: str, at: float | None) -> OutboundAttempt:
    """A dialplan refusal (``UserEvent(HotlineOutboundRefused)``): no channel reached the trunk."""
    return OutboundAttempt(
        key=f"dialplan:{uniqueid or channel}", method=BlockedMethod.DIALPLAN, channel=channel,
        uniqueid=uniqueid, linkedid=linkedid, occurred_at=at, source_channel=channel,
        source=source or (channel_endpoint(channel) or ""), dialled_number=number,
        origin="dialplan", trigger="UserEvent",
    )


# -- the watch: events in, hang-ups and classified attempts out ----------------------


@dataclass(slots=True)
class _Pending:
    attempt: OutboundAttempt
    has_requestor: bool
    root: ChannelFacts | None


class _Bounded(OrderedDict[str, object]):
    """An insertion-ordered map that forgets its oldest entries beyond ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def put(self, key: str, value: object) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)


class OutboundWatch:
    """Follows the channels of the PBX just enough to stop and explain outbound attempts.

    Feed it facts in event order; it answers :class:`HangUp` the first time a
    channel proves to be outbound on the trunk, and :meth:`settle` returns the
    classified :class:`OutboundAttempt` once the events that explain it (``DialBegin``,
    ``OriginateResponse``, a transfer or forward) have had time to arrive.
    Memory is bounded: channels are forgotten at their ``Hangup`` and beyond
    ``max_channels``; call-level marks beyond ``max_calls``.
    """

    def __init__(self, trunk: str, *, max_channels: int = 20_000, max_calls: int = 2_000) -> None:
        self.trunk = trunk
        self._channels: _Bounded = _Bounded(max_channels)  # uniqueid → ChannelFacts
        self._transferred: _Bounded = _Bounded(max_calls)  # linkedid → True
        self._forwarded: _Bounded = _Bounded(max_calls)  # linkedid → forward target
        self._pending: dict[str, _Pending] = {}  # uniqueid of a blocked channel
        self._done: _Bounded = _Bounded(max_channels)  # uniqueids already settled

    @property
    def pending(self) -> int:
        return len(self._pending)

    def on_new_channel(self, facts: ChannelFacts) -> HangUp | None:
        self._channels.put(facts.uniqueid, facts)
        if direction_of_new_channel(facts, self.trunk) is not Direction.OUTBOUND:
            return None
        has_requestor = bool(facts.linkedid) and facts.linkedid != facts.uniqueid
        return self._start(facts.channel, facts.uniqueid, facts.linkedid, facts.at,
                           "Newchannel", has_requestor)

    def on_dial_begin(self, dial: DialFacts) -> HangUp | None:
        if not on_trunk(dial.dest_channel, self.trunk):
            return None
        command = None
        if dial.dest_uniqueid not in self._pending and dial.dest_uniqueid not in self._done:
            has_requestor = bool(dial.caller_channel) or (
                bool(dial.dest_linkedid) and dial.dest_linkedid != dial.dest_uniqueid)
            command = self._start(dial.dest_channel, dial.dest_uniqueid, dial.dest_linkedid,
                                  dial.at, "DialBegin", has_requestor)
        pending = self._pending.get(dial.dest_uniqueid)
        if pending is not None:
            attempt = pending.attempt
            pending.attempt = replace(
                attempt,
                source_channel=dial.caller_channel or attempt.source_channel,
                dialled_number=dialled_number(dial.dial_string, self.trunk)
                or attempt.dialled_number,
                linkedid=attempt.linkedid or dial.dest_linkedid,
            )
            pending.has_requestor = pending.has_requestor or bool(dial.caller_channel)
        return command

    def on_listed_channel(self, facts: ChannelFacts) -> HangUp | None:
        """A channel found by a sweep (``CoreShowChannels``), e.g. after an AMI gap."""
        if direction_of_listed_channel(facts, self.trunk) is not Direction.OUTBOUND:
            return None
        if facts.uniqueid in self._pending or facts.uniqueid in self._done:
            return None
        has_requestor = bool(facts.linkedid) and facts.linkedid != facts.uniqueid
        return self._start(facts.channel, facts.uniqueid, facts.linkedid, facts.at,
                           "CoreShowChannel", has_requestor)

    def on_forward(self, linkedid: str, target: str) -> None:
        """A ``DialEnd``/``DialState`` with ``Forward``: the call was redirected (302)."""
        if linkedid:
            self._forwarded.put(linkedid, target)

    def on_transfer(self, linkedids: Iterable[str]) -> None:
        """A ``BlindTransfer``/``AttendedTransfer``: every call it touched."""
        for linkedid in linkedids:
            if linkedid:
                self._transferred.put(linkedid, True)

    def on_originate_response(self, dial_string: str, uniqueid: str) -> None:
        """``OriginateResponse`` comes only from an asynchronous AMI Originate.

        Asterisk gives it ``Uniqueid: <unknown>`` when the call failed, so it is
        matched by its dial string: to a blocked leg with the same number, or —
        when the guard was faster than the ``DialBegin`` and the number is still
        unknown — to the one such leg, never to one of several (no guessing).
        """
        number = dialled_number(dial_string, self.trunk)
        unnumbered: list[_Pending] = []
        for pending in self._pending.values():
            attempt = pending.attempt
            root = pending.root
            same_id = bool(uniqueid) and uniqueid in (attempt.uniqueid, attempt.linkedid)
            originated = not pending.has_requestor and on_trunk_dial(dial_string, self.trunk)
            # Originate of Local/x@ctx (its dialplan dialled the trunk): the
            # response names the Local dial string, the call's first channel.
            same_root = (root is not None and bool(dial_string)
                         and root.channel.startswith(f"{dial_string}-"))
            if same_id or same_root or (originated and attempt.dialled_number == number):
                pending.attempt = replace(attempt, origin="ami")
                return
            if originated and not attempt.dialled_number and attempt.origin != "ami":
                unnumbered.append(pending)
        if len(unnumbered) == 1:
            only = unnumbered[0]
            only.attempt = replace(only.attempt, origin="ami", dialled_number=number)

    def on_target_uri(self, uniqueid: str, uri: str) -> None:
        """The blocked leg's SIP Request-URI, read from the channel (``Getvar``).

        Used for legs found by a sweep, whose ``DialBegin`` was never seen: the
        URI's user part is then the only place the dialled number is found. A
        number from a dial string, when there is one, is kept.
        """
        pending = self._pending.get(uniqueid)
        if pending is None or not uri:
            return
        attempt = pending.attempt
        pending.attempt = replace(attempt, target_uri=uri,
                                  dialled_number=attempt.dialled_number or number_from_uri(uri))

    def on_hangup(self, uniqueid: str, at: float | None) -> None:
        self._channels.pop(uniqueid, None)
        pending = self._pending.get(uniqueid)
        if pending is not None and pending.attempt.ended_at is None:
            pending.attempt = replace(pending.attempt, ended_at=at)

    def settle(self, uniqueid: str, *, retry_later: bool = False) -> OutboundAttempt | None:
        """The classified attempt for a blocked channel; forgets it (None if unknown).

        ``retry_later``: the hang-up failed, so a later sweep may take the
        channel on again (as a new attempt, ``sweep:<uniqueid>``).
        """
        pending = self._pending.pop(uniqueid, None)
        if pending is None:
            return None
        if not retry_later:
            self._done.put(uniqueid, True)
        attempt = pending.attempt
        root = pending.root or self._channel(attempt.linkedid)
        if root is not None and root.uniqueid == attempt.uniqueid:
            root = None  # an originated leg is its own call: nobody behind it
        method = classify(
            has_requestor=pending.has_requestor, root=root,
            transferred=attempt.linkedid in self._transferred,
            forwarded=attempt.linkedid in self._forwarded,
            trunk=self.trunk,
        )
        return replace(attempt, method=method, source=_source(method, attempt, root),
                       origin=attempt.origin or _origin(method))

    # -- helpers --

    def _channel(self, uniqueid: str) -> ChannelFacts | None:
        facts = self._channels.get(uniqueid)
        return facts if isinstance(facts, ChannelFacts) else None

    def _start(self, channel: str, uniqueid: str, linkedid: str, at: float | None,
               trigger: str, has_requestor: bool) -> HangUp | None:
        if uniqueid in self._pending or uniqueid in self._done:
            return None
        root = self._channel(linkedid) if linkedid and linkedid != uniqueid else None
        prefix = "sweep" if trigger == "CoreShowChannel" else "hangup"
        attempt = OutboundAttempt(
            key=f"{prefix}:{uniqueid}", method=BlockedMethod.DIAL, channel=channel,
            uniqueid=uniqueid, linkedid=linkedid, occurred_at=at, trigger=trigger,
        )
        self._pending[uniqueid] = _Pending(attempt, has_requestor, root)
        return HangUp(channel, uniqueid, trigger, at)


def on_trunk_dial(dial_string: str, trunk: str) -> bool:
    """Does ``PJSIP/123@carrier`` (an originate's ``Channel`` header) name the trunk?"""
    text = dial_string.strip()
    if not text.upper().startswith("PJSIP/"):
        return False
    return _pjsip_endpoint(text[len("PJSIP/"):]) == trunk


def classify(*, has_requestor: bool, root: ChannelFacts | None, transferred: bool,
             forwarded: bool, trunk: str) -> BlockedMethod:
    """How the attempt was made, from what the call it belongs to looked like.

    Order matters: a transfer or a 302 forward explains a leg better than the
    device that started the call; a leg nobody requested is an originate; a
    leg of the 400 caller's own call is the hotline forwarding it out.
    """
    if transferred:
        return BlockedMethod.TRANSFER
    if forwarded:
        return BlockedMethod.FORWARD
    if not has_requestor:
        return BlockedMethod.ORIGINATE
    if root is not None and direction_of_new_channel(root, trunk) is Direction.INBOUND:
        return BlockedMethod.FORWARD
    if root is not None and root.state == STATE_DOWN and root.linkedid in ("", root.uniqueid):
        # e.g. Originate of Local/x@ctx whose dialplan dials the trunk
        return BlockedMethod.ORIGINATE
    return BlockedMethod.DIAL


def _source(method: BlockedMethod, attempt: OutboundAttempt, root: ChannelFacts | None) -> str:
    """Who is behind the attempt: the device (PJSIP endpoint) that started the
    call, the hotline call being forwarded, or nobody (an originate)."""
    if method is BlockedMethod.FORWARD and root is not None and on_trunk(root.channel, _ANY_TRUNK):
        caller = root.caller_num if root.caller_num not in ("", "<unknown>") else "unknown"
        return f"hotline call from {caller}"
    for channel in (root.channel if root else "", attempt.source_channel):
        endpoint = channel_endpoint(channel) if channel else None
        if endpoint:
            return endpoint
    return attempt.source_channel


def _origin(method: BlockedMethod) -> str:
    if method is BlockedMethod.ORIGINATE:
        return "cli_or_ami_sync"  # no OriginateResponse followed: CLI, AMI Command or sync AMI
    return "channel"


# -- the shipped configuration: no dial string may name the trunk ----------------------


@dataclass(frozen=True, slots=True)
class TrunkDial:
    """A line of Asterisk configuration that could send a call out on the trunk."""

    line_number: int
    line: str
    reason: str


def find_trunk_dials(text: str, trunk: str) -> list[TrunkDial]:
    """Every PJSIP dial string in ``text`` whose endpoint is ``trunk`` or a ``${variable}``.

    Parses dial strings the way chan_pjsip does (``endpoint``,
    ``endpoint/uri``, ``user@endpoint``), so it catches ``PJSIP/123@carrier``,
    ``PJSIP/carrier``, ``PJSIP/carrier/sip:…`` in any case, inside ``Dial``,
    ``Originate``, queue members or globals, and ignores comments and
    endpoints whose names merely start with the trunk's (``carrier-backup``).
    An endpoint taken from a variable cannot be checked and is reported too;
    a variable *number* (``PJSIP/${EXTEN:1}@general-trunk``) is fine.
    """
    found = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(";", 1)[0]  # Asterisk comments; no dial string contains ';'
        for token in _DIAL_TOKEN.findall(line):
            endpoint = _pjsip_endpoint(token)
            if endpoint.lower() == trunk.lower():
                found.append(TrunkDial(number, raw.strip(), f"dials the {trunk} trunk"))
                break
            if "${" in endpoint or "$[" in endpoint:
                found.append(TrunkDial(number, raw.strip(),
                                       "PJSIP endpoint taken from a variable: cannot be checked"))
                break
    return found


# "PJSIP/" then the dial string up to a separator; ${...} may hold ':' or '-'.
_DIAL_TOKEN = re.compile(r"PJSIP/((?:\$\{[^}]*\}|\$\[[^\]]*\]|[^\s,()&|\"'])+)", re.IGNORECASE)


def _pjsip_endpoint(dial_string: str) -> str:
    """chan_pjsip's reading: drop ``/uri``, then ``user@`` → the endpoint name."""
    head = dial_string.split("/", 1)[0]
    return head.rpartition("@")[2]
