"""Phone-number masking (issue #9 items 5 and 11): examples, then properties.

The invariant, precisely (the module docstring of hotline_pbx.domain.masking
defines digits, gaps and runs): a phone number P of 7-15 digits, an optional
``+`` country code, its digit groups joined by any separators that are not
letters or digits - punctuation, symbols, spaces of any kind and count,
invisible format characters and combining marks - however many, or by any
one character standing alone between two groups (a cased letter, a numeric
character that is no digit), embedded in any text, comes out with at most 4
of its digits still visible (fewer than half of them when nothing joins it
to other digits), unless it reads, whole, as ISO dates and times; only
digits change, to ``*``. Masking
is idempotent, leaves digit-free text and standalone dates and times alone,
takes time linear in the text, and a masked JSON value holds no string, key
or number with a maskable run left.
"""

from __future__ import annotations

import array
import itertools
import json
import re
import sys
import timeit
import unicodedata
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from hotline_pbx.domain import _unicode_classes
from hotline_pbx.domain.masking import (
    _DIGITS,
    MIN_DIGITS,
    mask_json,
    mask_number,
    mask_text,
)


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
    # the QA probe's separators, which the list of separators did not know
    ("139/1234/5678", "***/****/5678"),
    ("139_1234_5678", "***_****_5678"),
    ("139,1234,5678", "***,****,5678"),
    ("139~1234~5678", "***~****~5678"),
    ("139    1234    5678", "***    ****    5678"),
    ("139 ... 1234 ... 5678", "*** ... **** ... 5678"),
    ("139\u00ad1234\u00ad5678", "***\u00ad****\u00ad5678"),  # soft hyphen
    ("139\u034f1234\u034f5678", "***\u034f****\u034f5678"),  # combining grapheme joiner
    ("1\u03383\u03389\u03381234\u03385678", "*\u0338*\u0338*\u0338****\u03385678"),
    ("1391234 + 5678", "******* + 5678"),  # was ****234 + 5678
    ("139" + "\x00" * 8 + "1234", "***" + "\x00" * 8 + "*234"),  # control characters show nothing
    ("¹³⁸⁰⁰¹³⁸⁰⁰⁰", "*******⁸⁰⁰⁰"),  # superscript digits are digits
    ("139 12:34 5678", "*** **:** 5678"),  # a time joined to other digits is no time
    ("call 2026-10-01T08:30:00 13800138000", "call ****-**-**T**:**:** *******8000"),
    ("tel 139 x 1234 x 5678", "tel 139 x 1234 x 5678"),  # words end a run: three numbers
    # issue #9 follow-up: one character of any kind alone between digit groups joins them
    ("139a1234b5678", "***a****b5678"),
    ("1a3b9c1d2e3f4g5h6i7j8", "*a*b*c*d*e*f*g5h6i7j8"),
    ("139Ж1234Ж5678", "***Ж****Ж5678"),
    ("139½1234½5678", "***½****½5678"),
    ("139\u00adx\u00ad1234", "***\u00adx\u00ad*234"),
    # … and gaps of any length
    ("139 - - - - 1234 - - - - 5678", "*** - - - - **** - - - - 5678"),
    ("139,,,,,,,,1234", "***,,,,,,,,*234"),
    ("139" + "-" * 40 + "1234", "***" + "-" * 40 + "*234"),
    # … and numerals that are not digits to str.isdigit
    ("一三八〇〇一三八〇〇〇", "*******八〇〇〇"),
    ("壹叁捌零零壹叁捌零零零", "*******捌零零零"),
    ("139一二三四5678", "*******5678"),
    ("ⅠⅢⅨ ⅠⅡⅢⅣ", "*** *ⅡⅢⅣ"),
    # an ideograph is a word: dates and times written with them stay readable
    ("2026年3月5日9点30分回访", "2026年3月5日9点30分回访"),
    ("二〇二六年三月五日九点", "二〇二六年三月五日九点"),
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


@pytest.mark.parametrize("text", [
    "2026-10-01T08:30:00+08:00", "2026-10-01", "2026-10-01T08:30:00.123456Z",
    "2026-10-01 10:00:00", "08:30-12:00 and 13:00-17:30", "10:30:15",
    # the config errors of the QA probe: the log must say which row is bad
    "exceptions[2021-01-01].date: year 1999 is out of range; use a year from 2000 to 2100 "
    "(example: 2020-01-01)",
    "override.until: 2032-12-31T23:00:00+00:00 is out of range",
])
def test_dates_and_times_stay_readable(text: str) -> None:
    assert mask_text(text) == text
    assert mask_json(text) == text


@pytest.mark.parametrize(("text", "masked"), [
    ("2026-13-01T08:30", "****-**-**T08:30"),  # not a real date: an 8-digit number
    ("24:00:00 1234", "**:**:** 1234"),
    ("12:3412:34", "**:***2:34"),  # two times without a visible gap between them
    ("2026-10-01 13800138000", "****-**-** *******8000"),
])
def test_what_is_not_a_whole_date_or_time_is_masked(text: str, masked: str) -> None:
    assert mask_text(text) == masked


# -- properties -------------------------------------------------------------------------

def _one_digit(char: str) -> bool:
    """Stands for one digit (a numeric value of 0-9) without being one to str.isdigit."""
    value = unicodedata.numeric(char, None)
    return not char.isdigit() and value is not None and value in range(10)


def _is_digit(char: str) -> bool:
    """A digit to the masker (its module docstring)."""
    return char.isdigit() or _one_digit(char)


# Every such numeral, from unicodedata (not from the masker's tables).
_NUMERALS = [c for c in map(chr, range(sys.maxunicode + 1))
             if not "\ud800" <= c <= "\udfff" and c.isnumeric() and _one_digit(c)]
_DIGIT = st.one_of(st.sampled_from("0123456789"), st.characters(categories=("Nd",)),
                   st.sampled_from("¹²³⁴⁵⁶⁷⁸⁹⁰₀₁①⑨❶➀"),
                   st.sampled_from("〇一二三四五六七八九零壹贰叁肆伍陆柒捌玖ⅠⅤⅨ㊀"),
                   st.sampled_from(_NUMERALS))
_INVISIBLE = st.one_of(st.characters(categories=("Cf", "Mn", "Me")),
                       st.characters(categories=("Cc",)).filter(lambda c: not c.isspace()))
_SPACES = st.text(st.one_of(st.characters(categories=("Zs", "Zl", "Zp")),
                            st.sampled_from("\t\n\r\x0b\x0c")), min_size=1, max_size=40)
# one visible mark that is neither a letter nor a digit: any punctuation or symbol
_MARK = st.characters(categories=("P", "S"))
# one character that joins two digit groups when it stands alone between them:
# a cased letter, or a numeric character that is no digit (and stands for no digit)
_JOINER = st.one_of(st.characters(categories=("Lu", "Ll", "Lt")),
                    st.characters(categories=("No", "Nl")).filter(
                        lambda c: not c.isdigit() and not _one_digit(c)))


@st.composite
def gaps(draw: st.DrawFn) -> str:
    """What may join two digit groups: marks (a visible character that is no
    letter or digit, or whitespace of any kind and length), however many, or
    one joiner standing alone, with invisible characters anywhere in between."""
    invisible = st.text(_INVISIBLE, max_size=3)
    if draw(st.booleans()):
        return draw(invisible) + draw(_JOINER) + draw(invisible)
    marks = draw(st.lists(st.one_of(_MARK, _SPACES), max_size=30))
    return "".join(draw(invisible) + mark for mark in marks) + draw(invisible)


def _groups(draw: st.DrawFn, digits: str) -> list[str]:
    cuts = sorted(draw(st.sets(st.integers(1, len(digits) - 1), max_size=len(digits) - 1)))
    return [digits[a:b] for a, b in zip([0, *cuts], [*cuts, len(digits)], strict=True)]


@st.composite
def phone_numbers(draw: st.DrawFn) -> str:
    """A number of 7-15 digits in one of the styles people write them in, or
    cut anywhere and joined by anything that is not a letter or a digit."""
    digits = "".join(draw(st.lists(_DIGIT, min_size=MIN_DIGITS, max_size=15)))
    style = draw(st.sampled_from(["plain", "spaces", "dashes", "dots", "parens", "country",
                                  "disguised"]))
    if style == "plain":
        return digits
    groups = _groups(draw, digits)
    if style == "disguised":
        plus = draw(st.sampled_from(["", "+", "+ ", "＋"]))
        return plus + groups[0] + "".join(draw(gaps()) + group for group in groups[1:])
    if style == "parens":
        return f"({groups[0]}) " + " ".join(groups[1:])
    if style == "country":
        return "+" + "-".join(groups)
    sep = {"spaces": " ", "dashes": "-", "dots": "."}[style]
    return sep.join(groups)


# Dates and times are the masker's one exception (module docstring): a number
# written exactly like them is taken for one, so these properties leave them out.
_DATE_OR_TIME_SHAPE = re.compile(r"[0-9]{2}:[0-9]{2}|[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _digit_positions(text: str, start: int, length: int) -> list[int]:
    return [i for i in range(start, start + length) if _is_digit(text[i])]


@given(st.text(), phone_numbers(), st.text())
def test_a_number_in_any_text_shows_at_most_four_of_its_digits(
        before: str, number: str, after: str) -> None:
    text = before + number + after
    assume(_DATE_OR_TIME_SHAPE.search(text) is None)
    masked = mask_text(text)
    assert len(masked) == len(text)
    visible = [i for i in _digit_positions(text, len(before), len(number))
               if masked[i] == text[i]]
    assert len(visible) <= 4, (text, masked)
    # every other character is as it was; only digits turn into stars
    assert all(m == t or (_is_digit(t) and m == "*") for m, t in zip(masked, text, strict=True))


_NO_DIGITS = st.text(st.characters(exclude_categories=("Nd",)).filter(lambda c: not _is_digit(c)))
_LETTERS = st.text(st.characters(categories=("L",)), max_size=20)


@given(_LETTERS, phone_numbers(), _LETTERS)
def test_a_number_on_its_own_keeps_fewer_than_half_of_its_digits(
        before: str, number: str, after: str) -> None:
    assume(_DATE_OR_TIME_SHAPE.search(number) is None)
    masked = mask_text(before + number + after)
    digits = _digit_positions(number, 0, len(number))
    visible = [i for i in digits if masked[len(before) + i] != "*"]
    assert len(visible) < len(digits) / 2
    assert visible == digits[len(digits) - len(visible):]  # only trailing digits stay


@given(st.text(st.one_of(st.characters(), _DIGIT, _INVISIBLE, _MARK, st.sampled_from(" -.()+:"))))
def test_masking_is_idempotent_and_leaves_no_long_run(text: str) -> None:
    masked = mask_text(text)
    assert mask_text(masked) == masked


@given(_NO_DIGITS)
def test_text_without_digits_is_unchanged(text: str) -> None:
    assert mask_text(text) == text


_OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))


@st.composite
def dates_and_times(draw: st.DrawFn) -> str:
    """An ISO date, date and time (T or space, any precision, naive, with an
    offset or Z) or time of day, as isoformat writes them."""
    moment = draw(st.datetimes(min_value=datetime(1, 1, 1)))
    kind = draw(st.sampled_from(["date", "datetime", "offset", "utc", "time"]))
    if kind == "date":
        return moment.date().isoformat()
    if kind == "time":
        return moment.time().isoformat(draw(st.sampled_from(["minutes", "seconds"])))
    spec = draw(st.sampled_from(["minutes", "seconds", "milliseconds", "microseconds"]))
    sep = draw(st.sampled_from("T "))
    if kind == "datetime":
        return moment.isoformat(sep, spec)
    if kind == "offset":
        return moment.replace(tzinfo=draw(_OFFSETS)).isoformat(sep, spec)
    return moment.replace(tzinfo=UTC).isoformat(sep, spec).replace("+00:00", "Z")


# Words around a date: letters and spaces, but not the letters the masker reads
# as digits (九, Ⅸ): "2000-01-01九" is a date glued to a numeral, as ambiguous to
# the masker as "2000-01-019" (found by hypothesis; both are masked, by design).
_WORDS = st.text(st.characters(categories=("L", "Zs")).filter(lambda c: not _is_digit(c)),
                 max_size=20)


@given(_WORDS, st.lists(dates_and_times(), min_size=1, max_size=3),
       st.sampled_from([" - ", " / ", ", ", " ~ ", "—", " | ", "; ", " to "]), _WORDS)
def test_dates_and_times_and_their_ranges_survive(before: str, tokens: list[str], sep: str,
                                                  after: str) -> None:
    text = before + sep.join(tokens) + after
    assert mask_text(text) == text
    assert mask_json({"at": tokens[0], "text": text}) == {"at": tokens[0], "text": text}


@given(phone_numbers(), dates_and_times(), gaps())
def test_a_date_or_time_joined_to_a_number_does_not_shield_it(number: str, token: str,
                                                              gap: str) -> None:
    assume(_DATE_OR_TIME_SHAPE.search(number) is None)
    for before, after in ((number + gap, token), (token + gap, number)):
        masked = mask_text(before + after)
        start = 0 if before.startswith(number) else len(before)
        assert sum(map(_is_digit, masked[start:start + len(number)])) <= 4, masked


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


# -- linear time ------------------------------------------------------------------------

_SIZE = 64 * 1024
_ORDINARY = ("Called back 138 0013 8000 at 10:30 about ticket 42, customer satisfied. "
             * _SIZE)[:_SIZE]
_HOSTILE = {
    "a digit, then a gap that never ends": "1" + " -" * (_SIZE // 2),
    "a digit, then invisible characters": "1" + "\u00ad" * _SIZE + "x",
    "one run of 32 K digits with invisible gaps": ("1\u00ad" * _SIZE)[:_SIZE],
    "digits with long gaps": (("1" + "-" * 7) * _SIZE)[:_SIZE],
    "digits joined by single letters": ("1x" * _SIZE)[:_SIZE],
    "letters, one digit each": ("1xy" * _SIZE)[:_SIZE],
    "astral numerals and letters": ("\U00010107\U0001d400" * _SIZE)[:_SIZE],
    "whitespace and invisible marks": "1" + " \u034f" * (_SIZE // 2),
    "partial times": ("12:3" * _SIZE)[:_SIZE],
    "partial date-times": ("2026-10-01T0" * _SIZE)[:_SIZE],
    "a run of dates to parse": ("2026-10-01 " * _SIZE)[:_SIZE],
    "digits only": "9" * _SIZE,
}


def _seconds(text: str) -> float:
    return min(timeit.repeat(lambda: mask_text(text), number=1, repeat=3))


@pytest.mark.parametrize("name", list(_HOSTILE))
def test_hostile_64_kb_costs_about_what_ordinary_text_does(name: str) -> None:
    # Backtracking across gaps would be quadratic: thousands of times the
    # ordinary cost at this size. A ratio, so a busy machine does not matter.
    ratio = _seconds(_HOSTILE[name]) / _seconds(_ORDINARY)
    assert ratio < 50, f"{name}: {ratio:.1f} times ordinary text"


# -- the generated Unicode tables -------------------------------------------------------

_EVERY_CHARACTER = array.array(
    "I", itertools.chain(range(0xD800), range(0xE000, sys.maxunicode + 1))
).tobytes().decode(f"utf-32-{'le' if sys.byteorder == 'little' else 'be'}")


def _class_text(chars: set[str]) -> str:
    """The literal _unicode_classes.py holds for `chars`, to paste when it fails."""
    def escape(code: int) -> str:
        return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"
    parts = []
    codes = sorted(map(ord, chars))
    for _, group in itertools.groupby(enumerate(codes), lambda pair: pair[1] - pair[0]):
        run = [code for _, code in group]
        parts.append(escape(run[0]) + ("" if len(run) == 1 else f"-{escape(run[-1])}"))
    return "".join(parts)


def _matched(char_class: str) -> set[str]:
    return set(re.findall(f"[{char_class}]", _EVERY_CHARACTER))


def test_the_unicode_tables_are_those_of_this_python() -> None:
    categories = frozenset({"Cf", "Mn", "Me", "Cc"})
    invisible = {c for c in itertools.compress(_EVERY_CHARACTER, map(
        categories.__contains__, map(unicodedata.category, _EVERY_CHARACTER)))
        if not c.isspace()}
    extra_digits = {c for c in itertools.compress(_EVERY_CHARACTER, map(
        str.isdigit, _EVERY_CHARACTER)) if not c.isdecimal()}
    regenerate = f"regenerate _unicode_classes.py for Unicode {unicodedata.unidata_version}"
    bmp = {c for c in invisible if c <= "\uffff"}
    assert _matched(_unicode_classes.INVISIBLE_BMP) == bmp, (regenerate, _class_text(bmp))
    assert _matched(_unicode_classes.INVISIBLE_ASTRAL) == invisible - bmp, (
        regenerate, _class_text(invisible - bmp))
    assert _matched(_unicode_classes.EXTRA_DIGITS) == extra_digits, (
        regenerate, _class_text(extra_digits))
    numerals = set(_NUMERALS)
    for name, chars in (("NUMERIC_DIGITS_BMP", {c for c in numerals if c <= "\uffff"}),
                        ("NUMERIC_DIGITS_ASTRAL", {c for c in numerals if c > "\uffff"})):
        assert _matched(getattr(_unicode_classes, name)) == chars, (regenerate, name,
                                                                    _class_text(chars))
    joiners = {c for c in _EVERY_CHARACTER if unicodedata.category(c) in ("Lu", "Ll", "Lt")
               or (unicodedata.category(c) in ("No", "Nl") and not _is_digit(c))}
    for name, chars in (("JOINERS_BMP", {c for c in joiners if c <= "\uffff"}),
                        ("JOINERS_ASTRAL", {c for c in joiners if c > "\uffff"})):
        assert _matched(getattr(_unicode_classes, name)) == chars, (regenerate, name,
                                                                    _class_text(chars))
    # what the masker counts as a digit: what str.isdigit says, and the numerals
    assert _matched(f"\\d{_unicode_classes.EXTRA_DIGITS}") == set(
        itertools.compress(_EVERY_CHARACTER, map(str.isdigit, _EVERY_CHARACTER)))
    assert set(_DIGITS.findall(_EVERY_CHARACTER)) == set(
        filter(_is_digit, _EVERY_CHARACTER))
