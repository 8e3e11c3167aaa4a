"""The sandbox's own configuration: asterisk.conf options a benchmark changes, the
INVITE timeout a test shortens, and the SRV records of the failover tests' DNS server."""

from __future__ import annotations

import re

import pytest

from hotline_pbx.sandbox.pbx import SANDBOX_DNS, AsteriskSandbox, PbxPorts
from hotline_pbx.sandbox.sipp import CallScript, place_load
from hotline_pbx.sandbox.srv_dns import SrvDns, SrvTarget, _srv_query


def sandbox(**options: str) -> AsteriskSandbox:
    return AsteriskSandbox(name="unit", ports=PbxPorts.allocate(), options=options)


def test_the_shipped_options_apply_unless_a_sandbox_changes_them() -> None:
    shipped = sandbox()._asterisk_conf()
    assert re.search(r"(?m)^maxcalls = 2000$", shipped)
    changed = sandbox(maxcalls="8000", maxload="1.5")._asterisk_conf()
    assert re.findall(r"(?m)^maxcalls = .*$", changed) == ["maxcalls = 8000"]
    assert re.search(r"(?m)^\[options\]\nmaxload = 1.5$", changed)
    assert re.search(r"(?m)^timestamp = yes$", changed)  # the rest as shipped


def test_a_sandbox_may_give_up_an_unanswered_invite_sooner() -> None:
    """Timer B of the sandbox's PJSIP, with T1 a 64th of it; PJSIP's own otherwise."""
    assert "type = system" not in sandbox().config_files()["pjsip.conf"]
    pjsip = AsteriskSandbox(name="unit", ports=PbxPorts.allocate(),
                            invite_timeout_ms=8000).config_files()["pjsip.conf"]
    assert re.search(r"(?m)^\[system\]\ntype = system\ntimer_t1 = 125\ntimer_b = 8000$", pjsip)
    with pytest.raises(ValueError, match="at least 6400"):
        AsteriskSandbox(name="unit", ports=PbxPorts.allocate(), invite_timeout_ms=3000)


def test_the_dns_server_serves_our_records_on_its_own_address_only() -> None:
    dns = SrvDns([SrvTarget(4573), SrvTarget(4574, priority=20)], domain="hotline.test")
    arguments = dns.arguments()
    assert f"--listen-address={SANDBOX_DNS}" in arguments
    assert {"--no-resolv", "--no-hosts", "--bind-interfaces"} <= set(arguments)
    assert "--srv-host=_agi._tcp.hotline.test,agi1.hotline.test,4573,10,50" in arguments
    assert "--srv-host=_agi._tcp.hotline.test,agi2.hotline.test,4574,20,50" in arguments
    assert "--host-record=agi2.hotline.test,127.0.0.1" in arguments
    with pytest.raises(ValueError):
        SrvDns([])


def test_the_probe_asks_one_srv_question() -> None:
    query = _srv_query("_agi._tcp.a.b")
    assert query[4:6] == b"\x00\x01"  # one question
    assert b"\x04_agi\x04_tcp\x01a\x01b\x00" in query
    assert query.endswith(b"\x00\x21\x00\x01")  # SRV, IN


@pytest.mark.parametrize(("rate", "calls"), [(0, 10), (10, 0), (-1, 5)])
def test_a_load_needs_a_rate_and_calls(rate: float, calls: int) -> None:
    with pytest.raises(ValueError):
        place_load(CallScript(), 5060, rate=rate, calls=calls)
