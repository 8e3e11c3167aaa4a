"""Phone-number masking (issue #9 item 5): examples, then properties.

The invariant, precisely: a phone number P of n ≥ 7 digits, written in any of
the separator styles people use and embedded in any text, comes out with at
most 4 of its digits still visible - fewer than half of them when nothing
joins it to other digits - and with every character that is not a digit of
a masked run left as it was. Masking is idempotent, leaves digit-free text
alone, and a masked JSON value holds no string, key or number with a
maskable run left.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hotline_pbx.domain.masking import MIN_DIGITS, mask_json, mask_number, mask_text


@pytest.mark.parametrize(("text", "masked"), [
    # the three formats of the issue
    ("138 0013 8000", "*** **** 8000"),
    ("138-0013-8000", "***-****-8000"),
    ("+86-139-1234-5678", "+**-***-****-5678"),
    # "12345678 hides one digit": now 5 of 8 are hidden
    ("12345678", "*****678"),
    ("1234567", "****567"),
    ("13800138000", "*******8000"),
    ("+8613800138000", "+*********8000"),
    ("(010) 1234 5678", "(***) **** 5678"),
    ("138.0013.8000", "***.****.8000"),
    ("+86 (10) 8765-4321", "+** (**) ****-4321"),
    ("138 - 0013 - 8000", "*** - **** - 8000"),
    # written to slip past a digits-only pattern
    ("１３８００１３８０００", "*******８０００"),
    ("138\u200b0013\u200b8000", "***\u200b****\u200b8000"),
    ("138\u00a00013\u00a08000", "***\u00a0****\u00a08000"),
    ("Local/13800138000@mobiles-0000000a;1", "Local/*******8000@mobiles-****000a;1"),
    ("tel13800138000x", "tel*******8000x"),
    # not phone numbers: kept
    ("ticket 42, extension 8001, at 10:30, 2 of 123456", "ticket 42, extension 8001, "
     "at 10:30, 2 of 123456"),
    ("", ""),
])
def test_mask_text(text: str, masked: str) -> None:
    assert mask_text(text) == masked


@pytest.mark.parametrize(("number", "masked"), [
    ("13800138000", "*******8000"),
    ("+8613800138000", "+*********8000"),
    ("12345678", "*****678"),
    ("10086", "***86"),
    ("110", "**0"),
    ("12", "**"),
    ("", ""),
])
def test_mask_number_hides_more_than_half_whatever_the_length(number: str, masked: str) -> None:
    assert mask_number(number) == masked


def test_mask_json_masks_keys_numbers_and_nested_strings() -> None:
    value = {
        "13800138000": "called",
        "by": ["Local/138-0013-8000@x", 5, None, True, 13912345678, 1234567.5],
        "nested": {"caller_name": "Zhang 138 0013 8000", "+86-139-1234-5678": {"n": 42}},
        "queued_at": "2026-10-01T08:30:00.123456+08:00",
    }
    assert mask_json(value) == {
        "*******8000": "called",
        "by": ["Local/***-****-8000@x", 5, None, True, "*******5678", "*****67.5"],
        "nested": {"caller_name": "Zhang *** **** 8000", "+**-***-****-5678": {"n": 42}},
        "queued_at": "2026-10-01T08:30:00.123456+08:00",
    }


def test_keys_that_mask_alike_are_all_kept() -> None:
    masked = mask_json({"13800138000": "a", "13900138000": "b", "*******8000": "c"})
    assert sorted(masked.values()) == ["a", "b", "c"]
    assert all(mask_text(key) == key for key in masked)


def test_only_whole_timestamps_escape_masking() -> None:
    assert mask_json("2026-10-01T08:30:00+08:00") == "2026-10-01T08:30:00+08:00"
    assert mask_json("2026-10-01") == "****-*0-01"  # a bare date is 8 digits like any number
    assert mask_json("2026-13-01T08:30") == "****-*3-01T08:30"  # not a real time
    assert mask_json("call 2026-10-01T08:30:00 13800138000") == \
        "call ****-*0-01T08:30:** *******8000"  # "00 138…" is one run


# -- properties -------------------------------------------------------------------------

_DIGIT = st.characters(categories=("Nd",))


@st.composite
def phone_numbers(draw: st.DrawFn) -> str:
    """A number of 7-15 digits in one of the styles people write them in."""
    digits = draw(st.lists(st.sampled_from("0123456789"), min_size=MIN_DIGITS, max_size=15))
    text = "".join(digits)
    style = draw(st.sampled_from(["plain", "spaces", "dashes", "dots", "parens", "country"]))
    if style == "plain":
        return text
    cuts = sorted(draw(st.sets(st.integers(1, len(text) - 1), min_size=1, max_size=4)))
    groups = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    if style == "parens":
        return f"({groups[0]}) " + " ".join(groups[1:])
    if style == "country":
        return "+" + "-".join(groups)
    sep = {"spaces": " ", "dashes": "-", "dots": "."}[style]
    return sep.join(groups)


def _digit_positions(text: str, start: int, length: int) -> list[int]:
    return [i for i in range(start, start + length) if text[i].isdecimal()]


@given(st.text(), phone_numbers(), st.text())
def test_a_number_in_any_text_shows_at_most_four_of_its_digits(
        before: str, number: str, after: str) -> None:
    text = before + number + after
    masked = mask_text(text)
    assert len(masked) == len(text)
    visible = [i for i in _digit_positions(text, len(before), len(number))
               if masked[i] == text[i]]
    assert len(visible) <= 4
    # every other character is as it was; only digits turn into stars
    assert all(m == t or (t.isdecimal() and m == "*") for m, t in zip(masked, text, strict=True))


_NO_DIGITS = st.text(st.characters(exclude_categories=("Nd",)))
_LETTERS = st.text(st.characters(categories=("L",)), max_size=20)


@given(_LETTERS, phone_numbers(), _LETTERS)
def test_a_number_on_its_own_keeps_fewer_than_half_of_its_digits(
        before: str, number: str, after: str) -> None:
    masked = mask_text(before + number + after)
    digits = _digit_positions(number, 0, len(number))
    visible = [i for i in digits if masked[len(before) + i] != "*"]
    assert len(visible) < len(digits) / 2
    assert visible == digits[len(digits) - len(visible):]  # only trailing digits stay


@given(st.text(st.one_of(st.characters(), _DIGIT, st.sampled_from(" -.()+"))))
def test_masking_is_idempotent_and_leaves_no_long_run(text: str) -> None:
    masked = mask_text(text)
    assert mask_text(masked) == masked


@given(_NO_DIGITS)
def test_text_without_digits_is_unchanged(text: str) -> None:
    assert mask_text(text) == text


_JSON_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                       st.text(), phone_numbers())
_JSON = st.recursive(_JSON_LEAF, lambda inner: st.one_of(
    st.lists(inner, max_size=4),
    st.dictionaries(st.one_of(st.text(), phone_numbers()), inner, max_size=4)), max_leaves=20)


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, list):
        return [leaf for item in value for leaf in _leaves(item)]
    if isinstance(value, dict):
        return [*value] + [leaf for item in value.values() for leaf in _leaves(item)]
    return [value]


_LONG_RUN = re.compile(rf"\d{{{MIN_DIGITS},}}")


@given(_JSON)
def test_masked_json_has_nothing_left_to_mask_and_keeps_its_shape(value: Any) -> None:
    masked = mask_json(value)
    for leaf in _leaves(masked):
        if isinstance(leaf, str):
            assert mask_text(leaf) == leaf or mask_json(leaf) == leaf  # timestamps stay
        elif isinstance(leaf, (int, float)) and not isinstance(leaf, bool):
            assert _LONG_RUN.search(repr(leaf)) is None
    assert len(_leaves(masked)) == len(_leaves(value))  # no key lost to a collision
    assert mask_json(masked) == masked
    json.dumps(masked)
