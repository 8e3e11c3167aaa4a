"""The pure outbound policy: which trunk channels are outbound, and how they were made.

The facts below are those Asterisk 22 + chan_pjsip really emits (see the
captures in ``captures/`` and docs/outbound-guard.md): a caller's channel is
born in state 4 (Ring) with its own Linkedid; an outbound leg in state 0
(Down), carrying the requesting call's Linkedid when there is one, and with
the endpoint's context (``hotline-inbound``) too — so the context is no hint.
"""

from __future__ import annotations

import pytest

from hotline_pbx.domain.contract import BlockedMethod
from hotline_pbx.domain.outbound_policy import (
    ChannelFacts,
    DialFacts,
    Direction,
    HangUp,
    OutboundWatch,
    channel_endpoint,
    classify,
    dialled_number,
    direction_of_listed_channel,
    direction_of_new_channel,
    number_from_uri,
    refused_attempt,
)

TRUNK = "carrier"
CALLER = ChannelFacts("PJSIP/carrier-00000000", "1795748321.0", "1795748321.0", "4",
                      "hotline-inbound", "4008001234", "13912345678", at=1795748321.08)
PHONE = ChannelFacts("PJSIP/1001-00000004", "1795748343.6", "1795748343.6", "4",
                     "internal-outbound", "9126", "1001", at=1795748343.51)


def leg(uniqueid: str, linkedid: str, *, n: int = 5, at: float = 1795748343.52) -> ChannelFacts:
    """An outbound leg as chan_pjsip announces it: Down, endpoint context, exten s."""
    return ChannelFacts(f"PJSIP/carrier-{n:08x}", uniqueid, linkedid, "0",
                        "hotline-inbound", "s", "<unknown>", at=at)


@pytest.mark.parametrize(
    ("channel", "endpoint"),
    [
        ("PJSIP/carrier-0000001a", "carrier"),
        ("PJSIP/general-trunk-00000008", "general-trunk"),
        ("pjsip/carrier-00000001", "carrier"),
        ("PJSIP/carrier2-00000001", "carrier2"),
        ("Local/agent1@hotline-agents-00000000;1", None),
        ("SIP/carrier-00000001", None),
        ("PJSIP/carrier-00000001<ZOMBIE>", None),
        ("PJSIP/carrier", None),
        ("", None),
    ],
)
def test_channel_endpoint(channel: str, endpoint: str | None) -> None:
    assert channel_endpoint(channel) == endpoint


def test_the_caller_is_inbound_and_never_outbound() -> None:
    assert direction_of_new_channel(CALLER, TRUNK) is Direction.INBOUND


@pytest.mark.parametrize(
    ("facts", "why"),
    [
        (leg("1795748343.7", "1795748343.6"), "Dial: another call's Linkedid"),
        (leg("1795748325.3", "1795748325.3"), "Originate: nobody requested it, but born Down"),
        (ChannelFacts("PJSIP/carrier-00000009", "9.9", "9.1", "4"), "requested, whatever state"),
    ],
)
def test_outbound_legs(facts: ChannelFacts, why: str) -> None:
    assert direction_of_new_channel(facts, TRUNK) is Direction.OUTBOUND, why


def test_other_endpoints_are_none_of_our_business() -> None:
    assert direction_of_new_channel(PHONE, TRUNK) is None
    general = ChannelFacts("PJSIP/general-trunk-00000008", "1.10", "1.9", "0")
    assert direction_of_new_channel(general, TRUNK) is None
    # A trunk whose name starts like ours is another trunk.
    other = ChannelFacts("PJSIP/carrier-backup-00000001", "2.1", "2.0", "0")
    assert direction_of_new_channel(other, TRUNK) is None


@pytest.mark.parametrize("state", ["6", "5", "", "2"])
def test_no_evidence_means_hands_off(state: str) -> None:
    # Its own call, not born Down, not Ring: could be a caller; never hang up on a guess.
    facts = ChannelFacts("PJSIP/carrier-00000002", "3.3", "3.3", state)
    assert direction_of_new_channel(facts, TRUNK) is Direction.UNKNOWN


def test_listed_channels_need_proof() -> None:
    up_caller = ChannelFacts("PJSIP/carrier-00000000", "1.0", "1.0", "6", application="Queue")
    dialled = ChannelFacts("PJSIP/carrier-00000003", "1.5", "1.5", "5", application="AppDial2")
    bridged_leg = ChannelFacts("PJSIP/carrier-00000004", "1.7", "1.6", "6", application="AppDial")
    # A caller bridged into an older call inherits that call's Linkedid: still a caller.
    relinked_caller = ChannelFacts("PJSIP/carrier-00000005", "2.0", "1.0", "6",
                                   application="Dial")
    assert direction_of_listed_channel(up_caller, TRUNK) is Direction.UNKNOWN
    assert direction_of_listed_channel(relinked_caller, TRUNK) is Direction.UNKNOWN
    assert direction_of_listed_channel(dialled, TRUNK) is Direction.OUTBOUND
    assert direction_of_listed_channel(bridged_leg, TRUNK) is Direction.OUTBOUND
    assert direction_of_listed_channel(PHONE, TRUNK) is None


@pytest.mark.parametrize(
    ("dial_string", "number"),
    [
        ("123@carrier", "123"),
        ("PJSIP/123@carrier", "123"),
        ("carrier/sip:8613800000000@10.0.0.1:5060", "sip:8613800000000@10.0.0.1:5060"),
        ("carrier", ""),
        ("+8613800000000@carrier", "+8613800000000"),
    ],
)
def test_dialled_number(dial_string: str, number: str) -> None:
    assert dialled_number(dial_string, TRUNK) == number


def test_classify_order() -> None:
    args = {"root": PHONE, "trunk": TRUNK}
    assert classify(has_requestor=True, transferred=False, forwarded=False,
                    **args) is BlockedMethod.DIAL
    assert classify(has_requestor=True, transferred=True, forwarded=True,
                    **args) is BlockedMethod.TRANSFER
    assert classify(has_requestor=True, transferred=False, forwarded=True,
                    **args) is BlockedMethod.FORWARD
    assert classify(has_requestor=False, root=None, transferred=False, forwarded=False,
                    trunk=TRUNK) is BlockedMethod.ORIGINATE
    # The 400 caller's own call going out again: the hotline forwarded it.
    assert classify(has_requestor=True, root=CALLER, transferred=False, forwarded=False,
                    trunk=TRUNK) is BlockedMethod.FORWARD
    # Originate of Local/x@ctx whose dialplan dials the trunk.
    local = ChannelFacts("Local/9@ctx-00000001;1", "5.1", "5.1", "0")
    assert classify(has_requestor=True, root=local, transferred=False, forwarded=False,
                    trunk=TRUNK) is BlockedMethod.ORIGINATE
    # The root is unknown (joined mid-call): a plain dial is the honest answer.
    assert classify(has_requestor=True, root=None, transferred=False, forwarded=False,
                    trunk=TRUNK) is BlockedMethod.DIAL


def test_watch_dial_from_a_phone() -> None:
    watch = OutboundWatch(TRUNK)
    assert watch.on_new_channel(PHONE) is None
    out = leg("1795748343.7", PHONE.uniqueid)
    command = watch.on_new_channel(out)
    assert command == HangUp(out.channel, out.uniqueid, "Newchannel", out.at)
    # The DialBegin that follows adds who and what, and hangs up nothing twice.
    assert watch.on_dial_begin(DialFacts(
        out.channel, out.uniqueid, PHONE.uniqueid, "126@carrier", PHONE.channel,
        PHONE.uniqueid, "1001", "internal-outbound", "9126", at=1795748343.519)) is None
    watch.on_hangup(out.uniqueid, 1795748343.60)
    attempt = watch.settle(out.uniqueid)
    assert attempt is not None
    assert (attempt.method, attempt.source, attempt.source_channel, attempt.dialled_number) == (
        BlockedMethod.DIAL, "1001", PHONE.channel, "126")
    assert attempt.key == f"hangup:{out.uniqueid}"
    assert attempt.ended_at == 1795748343.60
    assert watch.settle(out.uniqueid) is None  # settled once
    assert watch.on_dial_begin(DialFacts(out.channel, out.uniqueid, PHONE.uniqueid)) is None


def test_watch_originate_then_its_response() -> None:
    watch = OutboundWatch(TRUNK)
    out = leg("1795748325.3", "1795748325.3", n=1)
    assert watch.on_new_channel(out) is not None
    watch.on_dial_begin(DialFacts(out.channel, out.uniqueid, out.uniqueid, "123@carrier"))
    # Asterisk's OriginateResponse names the dial string, its Uniqueid is "<unknown>".
    watch.on_originate_response("PJSIP/123@carrier", "<unknown>")
    attempt = watch.settle(out.uniqueid)
    assert attempt is not None
    assert (attempt.method, attempt.origin, attempt.source, attempt.dialled_number) == (
        BlockedMethod.ORIGINATE, "ami", "", "123")


def test_watch_originate_without_response_is_cli_or_sync_ami() -> None:
    watch = OutboundWatch(TRUNK)
    out = leg("1795748339.5", "1795748339.5", n=3)
    watch.on_new_channel(out)
    watch.on_dial_begin(DialFacts(out.channel, out.uniqueid, out.uniqueid, "125@carrier"))
    watch.on_originate_response("PJSIP/999@carrier", "<unknown>")  # someone else's
    attempt = watch.settle(out.uniqueid)
    assert attempt is not None
    assert (attempt.method, attempt.origin) == (BlockedMethod.ORIGINATE, "cli_or_ami_sync")


def test_watch_forward_keeps_the_caller() -> None:
    watch = OutboundWatch(TRUNK)
    assert watch.on_new_channel(CALLER) is None
    local = ChannelFacts("Local/13400000001@sandbox-mobiles-00000001;2", "1795748321.2",
                         CALLER.uniqueid, "4")
    assert watch.on_new_channel(local) is None
    out = leg("1795748321.3", CALLER.uniqueid, n=2)
    assert watch.on_new_channel(out) is not None
    watch.on_dial_begin(DialFacts(out.channel, out.uniqueid, CALLER.uniqueid,
                                  "13400000001@carrier", local.channel, local.uniqueid))
    attempt = watch.settle(out.uniqueid)
    assert attempt is not None
    assert (attempt.method, attempt.source, attempt.dialled_number) == (
        BlockedMethod.FORWARD, "hotline call from 13912345678", "13400000001")


def test_watch_transfer_and_302_forward() -> None:
    watch = OutboundWatch(TRUNK)
    watch.on_new_channel(PHONE)
    watch.on_transfer(["", PHONE.uniqueid])
    out = leg("1795748343.9", PHONE.uniqueid, n=9)
    watch.on_new_channel(out)
    attempt = watch.settle(out.uniqueid)
    assert attempt is not None and attempt.method is BlockedMethod.TRANSFER

    other = ChannelFacts("PJSIP/1002-0000000a", "7.0", "7.0", "4")
    watch.on_new_channel(other)
    out2 = leg("7.1", "7.0", n=11)
    watch.on_new_channel(out2)
    watch.on_forward("7.0", "PJSIP/555@carrier")  # the DialEnd with Forward may come later
    attempt = watch.settle(out2.uniqueid)
    assert attempt is not None and attempt.method is BlockedMethod.FORWARD


def test_watch_dialbegin_alone_is_enough() -> None:
    # Joined mid-stream: the Newchannel was missed, the DialBegin still proves it.
    watch = OutboundWatch(TRUNK)
    command = watch.on_dial_begin(DialFacts("PJSIP/carrier-00000005", "8.7", "8.6",
                                            "126@carrier", "PJSIP/1001-00000004", "8.6"))
    assert command is not None and command.trigger == "DialBegin"
    attempt = watch.settle("8.7")
    assert attempt is not None
    assert (attempt.method, attempt.source, attempt.dialled_number) == (
        BlockedMethod.DIAL, "1001", "126")


def test_watch_is_bounded() -> None:
    watch = OutboundWatch(TRUNK, max_channels=10, max_calls=3)
    for i in range(1000):
        watch.on_new_channel(ChannelFacts(f"PJSIP/1001-{i:08x}", f"1.{i}", f"1.{i}", "4"))
        watch.on_transfer([f"1.{i}"])
    assert len(watch._channels) == 10
    assert len(watch._transferred) == 3


def test_refused_attempt() -> None:
    attempt = refused_attempt(channel="PJSIP/1001-00000006", uniqueid="1795748349.8",
                              linkedid="1795748349.8", source="1001", number="127",
                              at=1795748349.642)
    assert (attempt.key, attempt.method, attempt.source, attempt.dialled_number) == (
        "dialplan:1795748349.8", BlockedMethod.DIALPLAN, "1001", "127")
    # No Source header (e.g. a Local channel): the endpoint of the channel.
    assert refused_attempt(channel="PJSIP/1002-00000001", uniqueid="1.1", linkedid="1.1",
                           source="", number="1", at=None).source == "1002"


@pytest.mark.parametrize(
    ("uri", "number"),
    [
        ("sip:124@127.0.0.1:45590", "124"),
        ("<sip:+8613800000000@10.0.0.1>", "+8613800000000"),
        ("sips:8613800000000@gw.example.com;transport=tls", "8613800000000"),
        ("sip:10.0.0.1:5060", ""),
        ("", ""),
    ],
)
def test_number_from_uri(uri: str, number: str) -> None:
    assert number_from_uri(uri) == number


def test_the_target_uri_fills_a_number_the_dialbegin_never_gave() -> None:
    # A CLI originate hung up before the dial API published its DialBegin.
    watch = OutboundWatch(TRUNK)
    out = leg("1795748853.1", "1795748853.1", n=1)
    assert watch.on_new_channel(out) is not None
    watch.on_target_uri(out.uniqueid, "sip:124@127.0.0.1:45590")
    attempt = watch.settle(out.uniqueid)
    assert attempt is not None
    assert (attempt.dialled_number, attempt.target_uri) == ("124", "sip:124@127.0.0.1:45590")
    # A DialBegin's dial string wins over the URI (it is what was asked for).
    watch2 = OutboundWatch(TRUNK)
    watch2.on_new_channel(out)
    watch2.on_dial_begin(DialFacts(out.channel, out.uniqueid, out.uniqueid, "0124@carrier"))
    watch2.on_target_uri(out.uniqueid, "sip:124@127.0.0.1:45590")
    settled = watch2.settle(out.uniqueid)
    assert settled is not None and settled.dialled_number == "0124"
    watch2.on_target_uri("unknown", "sip:1@x")  # nothing pending: ignored


def test_an_originate_response_names_the_number_the_guard_was_too_fast_for() -> None:
    watch = OutboundWatch(TRUNK)
    out = leg("1795748853.0", "1795748853.0", n=0)
    watch.on_new_channel(out)  # hung up before any DialBegin
    watch.on_originate_response("PJSIP/123@carrier", "<unknown>")
    attempt = watch.settle(out.uniqueid)
    assert attempt is not None
    assert (attempt.dialled_number, attempt.origin) == ("123", "ami")


def test_with_two_unnumbered_originates_a_response_is_not_guessed() -> None:
    watch = OutboundWatch(TRUNK)
    first, second = leg("5.0", "5.0", n=0), leg("5.1", "5.1", n=1)
    watch.on_new_channel(first)
    watch.on_new_channel(second)
    watch.on_originate_response("PJSIP/123@carrier", "<unknown>")
    for out in (first, second):
        attempt = watch.settle(out.uniqueid)
        assert attempt is not None
        assert (attempt.dialled_number, attempt.origin) == ("", "cli_or_ami_sync")


def test_a_failed_hangup_is_left_for_the_next_sweep() -> None:
    watch = OutboundWatch(TRUNK)
    out = leg("6.0", "6.0", n=6)
    assert watch.on_new_channel(out) is not None
    assert watch.settle(out.uniqueid, retry_later=True) is not None
    listed = ChannelFacts(out.channel, out.uniqueid, out.linkedid, "0",
                          application="AppDial2")
    command = watch.on_listed_channel(listed)
    assert command is not None and command.trigger == "CoreShowChannel"
    attempt = watch.settle(out.uniqueid)
    assert attempt is not None and attempt.key == "sweep:6.0"
    assert watch.on_listed_channel(listed) is None  # hung up this time: done
