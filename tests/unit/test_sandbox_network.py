"""The sandbox's public network and PBX configuration, as rendered (no Asterisk runs).

The calls themselves: tests/e2e/test_public_network.py.
"""

from __future__ import annotations

import re

import pytest

from hotline_pbx.sandbox.network import NetworkAsterisk, NetworkFault, PublicNetwork
from hotline_pbx.sandbox.pbx import AsteriskSandbox, PbxPorts

PORTS = PbxPorts(sip=41000, ami=41001, http=41002, agi=41003, carrier_peer=41004,
                 mobile_peer=41005)


def _section(conf: str, name: str, kind: str) -> str:
    """The body of ``[name]`` whose ``type = kind``."""
    for body in re.split(r"(?m)^\[", conf):
        if body.startswith(f"{name}]") and f"\ntype = {kind}\n" in body:
            return body
    raise AssertionError(f"no [{name}] of type {kind}")


def _network_files(number: str = "4008001234",
                   fault: NetworkFault = NetworkFault.NORMAL) -> dict[str, str]:
    network = NetworkAsterisk(AsteriskSandbox(name="unit", ports=PORTS), number)
    network.fault = fault
    return network.config_files()


def test_the_network_listens_where_the_pbx_sends_and_calls_from_the_carriers_address() -> None:
    pjsip = _network_files()["pjsip.conf"]
    assert "bind = 127.0.0.1:41005\n" in _section(pjsip, "from-pbx", "transport")
    assert "bind = 127.0.0.1:41004\n" in _section(pjsip, "carrier-side", "transport")
    endpoint = _section(pjsip, "pbx", "endpoint")
    assert "transport = carrier-side\n" in endpoint
    assert "contact = sip:pbx@127.0.0.1:41000\n" in _section(pjsip, "pbx", "aor")


def test_the_network_dialplan_knows_the_number_and_starts_with_the_fault() -> None:
    dialplan = _network_files("4001112222", NetworkFault.BUSY)["extensions.conf"]
    assert "\nNETWORK_HOTLINE=4001112222\n" in dialplan
    assert "\nNETWORK_FAULT=busy\n" in dialplan


def test_every_fault_but_unreachable_is_an_extension_of_the_network() -> None:
    """UNREACHABLE stops the network's Asterisk; each other fault is dialplan."""
    dialplan = _network_files()["extensions.conf"]
    context = dialplan.split("[network-fault]", 1)[1]
    extensions = set(re.findall(r"(?m)^exten => (\w+),1,", context))
    assert extensions == {f.value for f in NetworkFault} - {NetworkFault.UNREACHABLE.value}


def test_the_network_brings_no_product_dialplan() -> None:
    files = _network_files()
    assert "extensions_hotline.conf" not in files
    assert "hotline-inbound" not in files["extensions.conf"]


def test_a_hotline_number_must_be_digits() -> None:
    with pytest.raises(ValueError, match="digits"):
        PublicNetwork(AsteriskSandbox(name="unit", ports=PORTS), hotline_number="400-800")


@pytest.mark.parametrize(("seconds", "rendered"), [(0, 0), (4, 4), (30, 30)])
def test_the_carrier_is_qualified_as_the_sandbox_says(seconds: int, rendered: int) -> None:
    pbx = AsteriskSandbox(name="unit", ports=PORTS, carrier_qualify_seconds=seconds)
    aor = _section(pbx.config_files()["pjsip.conf"], "carrier", "aor")
    assert f"\nqualify_frequency = {rendered}\n" in aor


@pytest.mark.parametrize("seconds", [-1, 1, 3])
def test_a_qualify_interval_within_the_timeout_is_refused(seconds: int) -> None:
    with pytest.raises(ValueError, match="qualify timeout"):
        AsteriskSandbox(name="unit", ports=PORTS, carrier_qualify_seconds=seconds)


def test_the_phones_get_the_sandboxs_password_over_the_shipped_placeholder() -> None:
    pbx = AsteriskSandbox(name="unit", ports=PORTS, phone_password="unit-phone-pw")
    settings = [line for line in pbx.config_files()["pjsip.conf"].splitlines()
                if line.startswith("password = ")]
    assert settings and set(settings) == {"password = unit-phone-pw"}
