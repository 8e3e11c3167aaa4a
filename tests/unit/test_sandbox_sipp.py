"""SIPp call scripts as rendered (no SIPp runs; the calls: tests/e2e/)."""

from __future__ import annotations

import pytest

from hotline_pbx.sandbox.sipp import CallScript


@pytest.mark.parametrize("password", ["", "two words", "a]b"])
def test_a_password_sipp_cannot_carry_is_refused(password: str) -> None:
    with pytest.raises(ValueError, match="SIPp password"):
        CallScript(caller="1001", password=password)


def test_a_refused_call_sends_no_credentials() -> None:
    with pytest.raises(ValueError, match="no credentials"):
        CallScript(caller="1001", refused=True, password="pw")
    scenario = CallScript(caller="1001", refused=True).scenario()
    assert "[authentication" not in scenario
    assert scenario.count("INVITE sip:") == 1 and scenario.count("ACK sip:") == 1


def test_a_phone_answers_the_challenge_on_a_second_invite() -> None:
    scenario = CallScript(caller="1001", password="pw").scenario()
    assert "[authentication username=1001 password=pw]" in scenario
    assert [line.strip() for line in scenario.splitlines() if line.strip().startswith("CSeq:")] \
        == ["CSeq: 1 INVITE", "CSeq: 1 ACK", "CSeq: 2 INVITE", "CSeq: 2 ACK", "CSeq: 3 BYE"]
