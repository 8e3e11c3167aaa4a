"""The long-call rule: long enough, while enough callers wait, flagged once."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from hotline_pbx.domain.long_calls import LongCallBook, LongCallRule, check_media, duration
from hotline_pbx.domain.queue_state import ConnectedCall


def call(linkedid: str = "1.1", at: float = 0.0) -> ConnectedCall:
    return ConnectedCall("hotline", "Local/agent1@hotline-agents", "Local/agent1-1;1",
                         "PJSIP/carrier-1", "139", linkedid, linkedid, at)


def test_long_only_past_the_threshold_and_while_callers_wait() -> None:
    rule = LongCallRule(threshold=600, min_waiting=2)
    assert not rule.is_long(call(), 599.9, 5)
    assert not rule.is_long(call(), 700, 1)
    assert rule.is_long(call(), 600, 2)


def test_without_the_waiting_condition_any_long_call_is_long() -> None:
    rule = LongCallRule(threshold=600, only_while_waiting=False)
    assert rule.is_long(call(), 600, 0)


def test_a_call_is_flagged_once_and_forgotten_when_it_ends() -> None:
    book = LongCallBook(LongCallRule(threshold=10))
    first = call("1.1")
    assert book.newly_long([first], 5, 1) == []
    assert book.newly_long([first], 11, 0) == []  # long, but nobody waits
    assert book.newly_long([first], 12, 1) == [first]
    assert book.newly_long([first], 13, 1) == []  # once
    assert book.is_flagged("1.1")
    assert book.newly_long([], 14, 1) == [] and not book.is_flagged("1.1")


@given(st.lists(st.tuples(st.floats(0, 100), st.integers(0, 3)), max_size=30),
       st.floats(1, 50), st.integers(1, 3))
def test_each_call_flagged_at_most_once_and_only_when_the_rule_holds(
        ticks: list[tuple[float, int]], threshold: float, min_waiting: int) -> None:
    rule = LongCallRule(threshold=threshold, min_waiting=min_waiting)
    book = LongCallBook(rule)
    calls = [call("1.1", at=0.0), call("1.2", at=20.0)]
    flagged: list[str] = []
    for now, waiting in sorted(ticks):
        for found in book.newly_long(calls, now, waiting):
            assert duration(found, now) >= threshold and waiting >= min_waiting
            flagged.append(found.linkedid)
    assert len(flagged) == len(set(flagged))


def test_duration_never_negative() -> None:
    assert duration(call(at=100.0), 50.0) == 0.0


def test_media_must_be_one_ari_media_uri() -> None:
    assert check_media("sound:beep") is None and check_media("tone:beep") is None
    for bad in ("beep", "sound:", "http://x/y.wav", "sound:a&media=sound:b", "sound:a b"):
        assert check_media(bad) is not None, bad
