"""Replay real Asterisk 22 captures through the production event path (``observe``).

The captures in ``captures/`` were recorded from the sandbox PBX with no
daemon running (``record_captures.py``): each is the PBX's own event stream
for one way of reaching the 400 trunk. For each, the exact channels the guard
hangs up and the exact classified attempts are asserted; then every capture
is replayed with its first N events cut off, for every N, to prove that
joining mid-stream never raises and never hangs up a caller.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hotline_pbx.ami.outbound_guard import observe
from hotline_pbx.domain.contract import BlockedMethod
from hotline_pbx.domain.outbound_policy import HangUp, OutboundAttempt, OutboundWatch

CAPTURES = Path(__file__).parent / "captures"
TRUNK = "carrier"


def load(name: str) -> list[dict[str, str]]:
    events: list[dict[str, str]] = json.loads((CAPTURES / f"{name}.json").read_text())
    return [e for e in events if "Event" in e]


def replay(events: list[dict[str, str]]) -> tuple[list[HangUp], list[OutboundAttempt]]:
    watch = OutboundWatch(TRUNK)
    hangups: list[HangUp] = []
    attempts: list[OutboundAttempt] = []
    for event in events:
        result = observe(watch, event)
        if isinstance(result, HangUp):
            hangups.append(result)
        elif isinstance(result, OutboundAttempt):
            attempts.append(result)
    for command in hangups:
        attempt = watch.settle(command.uniqueid)
        assert attempt is not None
        attempts.append(attempt)
    return hangups, attempts


def summary(attempt: OutboundAttempt) -> dict[str, Any]:
    return {"method": attempt.method, "channel": attempt.channel, "source": attempt.source,
            "number": attempt.dialled_number, "origin": attempt.origin,
            "trigger": attempt.trigger}


EXPECTED: dict[str, list[dict[str, Any]]] = {
    "inbound_call_answered_by_queue": [],
    "phone_dials_0_general_trunk": [],
    "ami_originate_async": [
        {"method": BlockedMethod.ORIGINATE, "channel": "PJSIP/carrier-00000001", "source": "",
         "number": "123", "origin": "ami", "trigger": "Newchannel"}],
    "cli_channel_originate": [
        {"method": BlockedMethod.ORIGINATE, "channel": "PJSIP/carrier-00000002", "source": "",
         "number": "124", "origin": "cli_or_ami_sync", "trigger": "Newchannel"}],
    "ami_originate_local_to_trunk": [
        {"method": BlockedMethod.ORIGINATE, "channel": "PJSIP/carrier-00000003",
         "source": "Local/9126@internal-outbound-00000001;2", "number": "126",
         "origin": "ami", "trigger": "Newchannel"}],
    "phone_dials_trunk_via_misconfigured_dialplan": [
        {"method": BlockedMethod.DIAL, "channel": "PJSIP/carrier-00000005", "source": "1001",
         "number": "125", "origin": "channel", "trigger": "Newchannel"}],
    "phone_dials_8_refused_by_dialplan": [
        {"method": BlockedMethod.DIALPLAN, "channel": "PJSIP/1001-00000006", "source": "1001",
         "number": "13800001234", "origin": "dialplan", "trigger": "UserEvent"}],
    "hotline_call_forwarded_out_on_the_trunk": [
        {"method": BlockedMethod.FORWARD, "channel": "PJSIP/carrier-0000000a",
         "source": "hotline call from 13900000002", "number": "13400000001",
         "origin": "channel", "trigger": "Newchannel"}],
}


def test_every_capture_has_an_expectation() -> None:
    assert {p.stem for p in CAPTURES.glob("*.json")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_replay(name: str) -> None:
    hangups, attempts = replay(load(name))
    assert [summary(a) for a in attempts] == EXPECTED[name]
    # Hung up at the very first event that showed it, with the PBX's timestamp.
    for command in hangups:
        assert command.trigger == "Newchannel" and command.detected_at is not None


def callers(events: list[dict[str, str]]) -> set[str]:
    """Uniqueids of the 400 callers' own channels in a capture."""
    return {e["Uniqueid"] for e in events if e.get("Event") == "Newchannel"
            and e["Channel"].startswith("PJSIP/carrier-") and e["ChannelState"] == "4"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_joining_mid_stream_never_crashes_and_never_hangs_up_a_caller(name: str) -> None:
    events = load(name)
    full, _ = replay(events)
    full_ids = {c.uniqueid for c in full}
    protected = callers(events)
    for n in range(len(events) + 1):
        hangups, attempts = replay(events[n:])
        ids = {c.uniqueid for c in hangups}
        assert ids <= full_ids, (name, n)
        assert not ids & protected, (name, n)
        assert all(a.method in BlockedMethod for a in attempts)


def test_the_forwarded_call_keeps_its_caller() -> None:
    events = load("hotline_call_forwarded_out_on_the_trunk")
    assert len(callers(events)) == 1
    hangups, _ = replay(events)
    assert [c.channel for c in hangups] == ["PJSIP/carrier-0000000a"]
