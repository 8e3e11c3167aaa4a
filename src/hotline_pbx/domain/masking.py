"""Phone numbers hidden from whoever may not see them (viewers, default logs).

What the masker reads as a phone number in free text, whatever the format:

* a **digit** is any character Unicode gives a digit value (``str.isdigit``):
  ASCII, full-width ``１``, other scripts' digits, superscripts ``¹``,
  circled ``①``; and any character whose numeric value is one of 0-9
  (``str.isnumeric``): the CJK numerals ``〇一二三四五六七八九`` and
  ``零壹贰叁…``, Roman numerals ``Ⅰ``-``Ⅸ``, circled ideographs ``㊀``;
* an **invisible** character shows nothing between two digits or sits on one:
  format characters (category Cf: soft hyphen, zero-width space and joiners,
  word joiner, BOM, bidi marks), combining marks (Mn, Me: the combining
  grapheme joiner U+034F, the overlay U+0338) and control characters other
  than whitespace. ``139\\u00ad1234\\u00ad5678`` displays as ``13912345678``,
  so invisible characters never separate anything and count for nothing;
* a **gap** between two digit groups is either
  - any stretch of characters that are neither letters nor digits (whatever
    ``str.isalnum`` refuses: spaces, punctuation, symbols, ``+``, ``_``,
    ``/``, ``~``, ``…``), however long: ``139/1234``, ``139 ... 1234``,
    ``139 - - - - 1234`` and ``1391234 + 5678`` are all joined; or
  - **one character standing alone** between the two groups that is a cased
    letter (Latin, Greek, Cyrillic…: ``139x1234x5678``) or a numeric
    character that is no digit (``½``, ``⑩``). Not a letter of a script
    without case (CJK ideographs, kana, Hangul…), where one letter is a word:
    ``2026年3月5日`` is a date, not a number;
* a **run** is digit groups joined by gaps. Anything else (a word, an
  ideograph) ends it.

**The rule**: a run holding at least :data:`MIN_DIGITS` (7) digits is masked:
every digit but the last :func:`digits_kept` (4 for 9 digits or more, 3 for
7-8: always fewer than half) becomes ``*``. Separators, a leading ``+`` and
everything else stay where they were, so the text keeps its length and its
layout (``138 0013 8000`` → ``*** **** 8000``). Runs of 3-6 digits
(extensions, ticket numbers, times, counts) stay readable. Digits next to
letters still count (``Local/13800138000@x``).

**The one exception**: dates and times are not phone numbers, and logs and
error messages need them. A run made *only* of valid ISO tokens - a date
``YYYY-MM-DD``, a date-time ``YYYY-MM-DD[T ]HH:MM[:SS[.ffffff]][Z|±HH:MM]``
or a time ``HH:MM[:SS]`` - with visible gaps between them (``2026-10-01``,
``2032-12-31T23:00:00+00:00``, ``08:30-12:00``) stays as it is. A token
joined by a gap to any other digit is an ordinary part of its run, so
``139 12:34 5678`` is masked whole.

**The invariant** (tests/unit/domain/test_masking.py checks it with
generated numbers, separators and surrounding text): for any text and any
phone number of 7-15 digits in it whose digit groups are joined by gaps, at
most 4 of that number's digits are visible in the output - no window of the
output shows more than 4 digits of one run of the input - unless the number
reads, whole, as date/time tokens. The output differs from the input only in
digits turned into ``*`` and masking twice changes nothing (``*`` is not a
digit; a run's visible rest is at most 4 digits).

What it does not do: a number with *words* between its groups
(``139 x 1234 x 5678``, where `` x `` is three characters) is three short
numbers to it. Over-masking is the safe side: an Asterisk uniqueid
(``1754380000.1``), an IP address with its port (``127.0.0.1:4573``), a
list of small numbers (``12, 30, 45, 60``), a hexadecimal id
(``a1b2c3d4e5f6a7``) or a date next to a number (``2026-10-01
13800138000``) hold 7+ digits and are masked like numbers, since nothing
tells them apart from one. The work is linear in the length of the text (one
regular expression with possessive quantifiers and atomic groups: no
backtracking across a gap).

A whole value known to be a number (a caller, a mobile) is masked whatever
its length by :func:`mask_number`: short ones keep fewer than half of their
digits (``10086`` → ``***86``).
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Any

from hotline_pbx.domain._unicode_classes import (
    EXTRA_DIGITS,
    INVISIBLE_ASTRAL,
    INVISIBLE_BMP,
    JOINERS_ASTRAL,
    JOINERS_BMP,
    NUMERIC_DIGITS_ASTRAL,
    NUMERIC_DIGITS_BMP,
)

MIN_DIGITS = 7
MASK = "*"

# Tried in two steps, BMP first: a class holding characters beyond U+FFFF is
# checked range by range (see _unicode_classes).
_ASTRAL = "(?=[\\U00010000-\\U0010ffff])"
_INV = f"(?:[{INVISIBLE_BMP}]|{_ASTRAL}[{INVISIBLE_ASTRAL}])"
_BMP_DIGITS = f"[\\d{EXTRA_DIGITS}{NUMERIC_DIGITS_BMP}]"
_DIGIT = f"(?:{_BMP_DIGITS}|{_ASTRAL}[{NUMERIC_DIGITS_ASTRAL}])"
_MORE_DIGITS = f"(?:{_BMP_DIGITS}++|{_ASTRAL}[{NUMERIC_DIGITS_ASTRAL}])*+"
# The first digit of a run: one class, so that the search skips to the next
# digit at the speed of a character class (a class with many astral ranges
# would try them one by one on every character), then astral ones checked.
_FIRST_DIGIT = (f"[\\d{EXTRA_DIGITS}{NUMERIC_DIGITS_BMP}\\U00010000-\\U0010ffff]"
                f"(?:(?<![\\U00010000-\\U0010ffff])|(?<=[\\d{EXTRA_DIGITS}{NUMERIC_DIGITS_ASTRAL}]))")
_JOINER = f"(?:[{JOINERS_BMP}]|{_ASTRAL}[{JOINERS_ASTRAL}])"
# One mark of a gap: a stretch of whitespace, or one visible character that is
# neither a letter nor a digit. `\w` is what isalnum accepts, plus "_".
_MARK = rf"(?:\s++|(?!{_INV})[^\w\s]|_)"
# A joiner standing alone between two digits, or marks, as many as there are.
_GAP = rf"(?:{_INV}*+{_JOINER}{_INV}*+(?={_DIGIT})|{_INV}*+(?:{_MARK}{_INV}*+)*+)"

# Date and time shapes, each written *after its first digit*: a run's atom
# starts with one digit (so the search skips text without digits at the
# speed of a character class) and, when that digit is ASCII, tries a token.
_D2 = "[0-9]{2}"
_HH_MM = f"{_D2}:{_D2}"
_DATE_TAIL = f"[0-9]{{3}}-{_D2}-{_D2}"
_TOKEN_TAILS = {
    "datetime": f"{_DATE_TAIL}[T ]{_HH_MM}(?::{_D2}(?:\\.[0-9]{{1,6}})?)?(?:Z|[+-]{_HH_MM})?",
    "date": _DATE_TAIL,
    "time": f"[0-9]:{_D2}(?::{_D2})?",
}
_TOKEN = re.compile("|".join(f"(?P<{name}>[0-9]{tail})" for name, tail in _TOKEN_TAILS.items()))
_REST = f"(?>(?<=[0-9])(?:{'|'.join(_TOKEN_TAILS.values())})|{_MORE_DIGITS})"
_ATOM = f"{_DIGIT}{_REST}"
_RUN = re.compile(f"{_FIRST_DIGIT}{_REST}(?:{_GAP}{_ATOM})*+")
_DIGITS = re.compile(_DIGIT)
_ONLY_INVISIBLE = re.compile(f"{_INV}*")
_PARSERS = {"datetime": datetime.fromisoformat, "date": date.fromisoformat,
            "time": time.fromisoformat}


def digits_kept(count: int) -> int:
    """How many trailing digits of a number with `count` digits stay visible:
    never more than 4 and always fewer than half."""
    return min(4, (count - 1) // 2) if count > 0 else 0


def _hide(text: str, total: int) -> str:
    """`text` (holding `total` digits) with all but its last digits_kept(total) masked."""
    hidden = total - digits_kept(total)
    return _DIGITS.sub(MASK, text, count=hidden) if hidden > 0 else text


def _count(text: str) -> int:
    return len(_DIGITS.findall(text))


def mask_number(number: str) -> str:
    """A whole value known to be a phone number, masked whatever its length:
    ``+8613800138000`` → ``+*********8000``."""
    return _hide(number, _count(number))


def _only_dates_and_times(run: str) -> bool:
    """True for a run that is nothing but valid date/time tokens, each apart
    from the next by something visible."""
    if "-" not in run and ":" not in run:  # every token has one: the common case
        return False
    end = 0
    for token in _TOKEN.finditer(run):
        between = run[end:token.start()]
        if _DIGITS.search(between) or (end and _ONLY_INVISIBLE.fullmatch(between)):
            return False
        try:
            _PARSERS[token.lastgroup or ""](token.group(0))
        except ValueError:
            return False
        end = token.end()
    return end == len(run)


def _mask_run(match: re.Match[str]) -> str:
    run = match.group(0)
    digits = _count(run)
    if digits < MIN_DIGITS or _only_dates_and_times(run):
        return run
    return _hide(run, digits)


def mask_text(text: str) -> str:
    """Every phone-number-like run in free text masked; the rest unchanged."""
    return _RUN.sub(_mask_run, text)


def mask_json(value: Any) -> Any:
    """A JSON value with every phone number masked: strings (dates and times
    stay, as in text), dictionary keys, and numbers of 7+ digits, which become
    masked strings (``13800138000`` → ``"*******8000"``); lists and objects
    are walked."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        text, masked = repr(value), mask_text(repr(value))
        return value if masked == text else masked
    if isinstance(value, (list, tuple)):
        return [mask_json(item) for item in value]
    if isinstance(value, dict):
        return _mask_object(value)
    return mask_text(str(value))


def _mask_object(value: dict[Any, Any]) -> dict[str, Any]:
    """Keys masked too. Two keys that mask alike (``13800138000`` and
    ``13900138000``) must not overwrite each other: later ones get ``#2``, ``#3``…"""
    out: dict[str, Any] = {}
    for key, item in value.items():
        masked_key = mask_json(str(key))
        unique, n = masked_key, 1
        while unique in out:
            n += 1
            unique = f"{masked_key}#{n}"
        out[unique] = mask_json(item)
    return out


def mask_name(name: str) -> str:
    """A person's name as a viewer sees it: the first character, the rest starred
    (``张三丰`` → ``张**``, ``Li Wei`` → ``L*****``); empty stays empty."""
    name = name.strip()
    return name[:1] + "*" * max(len(name) - 1, 1) if name else ""
