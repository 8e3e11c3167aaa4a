"""Bad trunk configuration is refused before anything starts (exit status 2).

Trunks the PBX does not have are refused at start-up, once AMI answers: that
check runs against the real Asterisk in tests/e2e/test_outbound_guard.py.
"""

from __future__ import annotations

import pytest

from hotline_pbx.cli import EXIT_CONFIG, main
from hotline_pbx.config import ConfigError, load_settings

ENV = {"HOTLINE_AMI_SECRET": "s"}


def test_hotline_trunk_equal_to_general_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {**ENV, "HOTLINE_TRUNKS_HOTLINE": "carrier",
                             "HOTLINE_TRUNKS_GENERAL": "carrier"})
    assert caught.value.key == "trunks.general"
    assert "must differ from trunks.hotline" in str(caught.value)
    assert "inbound only" in str(caught.value)


@pytest.mark.parametrize("name", ["", "PJSIP/carrier", "123@carrier", "car rier", "a,b"])
def test_trunk_must_be_a_bare_endpoint_name(name: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {**ENV, "HOTLINE_TRUNKS_HOTLINE": name})
    assert caught.value.key == "trunks.hotline"


def test_dial_template_on_the_hotline_trunk_is_refused() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {**ENV, "HOTLINE_TRUNKS_HOTLINE": "t400",
                             "HOTLINE_ROUTING_DIAL_TEMPLATE": "PJSIP/{number}@t400"})
    assert caught.value.key == "routing.dial_template"


def test_cli_exits_2_with_one_line(monkeypatch: pytest.MonkeyPatch,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("HOTLINE_AMI_SECRET", "s")
    monkeypatch.setenv("HOTLINE_TRUNKS_GENERAL", "carrier")
    assert main(["check-config"]) == EXIT_CONFIG
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith("hotline-pbx: configuration error: trunks.general: ")
