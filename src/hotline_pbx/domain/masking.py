"""Phone numbers hidden from whoever may not see them (viewers, default logs).

What counts as a phone number in text: a *run* of digit groups joined by up to
:data:`MAX_SEPARATOR` separator characters - whitespace (any, including the
no-break space), dashes and hyphens, dots, parentheses (ASCII and full width)
and invisible format characters (zero-width space/joiners, word joiner, BOM)
that would otherwise let ``138\\u200b0013\\u200b8000`` render as a whole number.
A leading ``+`` is not a digit and stays. Digits are Unicode digits, so
full-width ``１３８…`` is caught too. A run is masked when it holds at least
:data:`MIN_DIGITS` (7) digits: the shortest local numbers are 7 digits, while
extensions, queue numbers, ticket numbers and times (3-6 digits) stay readable.
Digits next to letters still count (``Local/13800138000@x``, ``tel13800138000``).

How it is masked: every hidden digit becomes ``*``; separators, the ``+`` and
everything around stay where they were, so the text keeps its length and its
layout (``138 0013 8000`` → ``*** **** 8000``) and masking twice changes
nothing. Only trailing digits stay visible: 4 for runs of 9 digits or more, 3
for 7-8 digits (so at least half is always hidden; ``12345678`` → ``*****678``).
A whole value known to be a number (a caller, a mobile) is masked whatever its
length: short ones keep fewer than half of their digits (``10086`` → ``***86``).

Over-masking is the safe side: an Asterisk uniqueid (``1754380000.1``), a
dotted IP with 7+ digits or a date written ``2026-10-01`` inside free text are
masked like numbers, since nothing tells them apart from one. Only a JSON value
that is *entirely* an ISO 8601 date-and-time (``2026-10-01T08:30:00+08:00``,
what the records store as times) is left as it is: no phone number has that
shape.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

MIN_DIGITS = 7
MAX_SEPARATOR = 3
MASK = "*"

_SEPARATOR = (
    r"[\s\-\u2010-\u2015\u2212\ufe58\ufe63\uff0d.\u00b7\u3002\uff0e()\uff08\uff09"
    r"\u200b-\u200d\u2060\ufeff]"
)
_RUN = re.compile(rf"\d+(?:{_SEPARATOR}{{1,{MAX_SEPARATOR}}}\d+)*")
_ISO_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:Z|[+-][0-9]{2}:[0-9]{2})?")


def digits_kept(count: int) -> int:
    """How many trailing digits of a number with `count` digits stay visible:
    never more than 4 and always fewer than half."""
    return min(4, (count - 1) // 2) if count > 0 else 0


def mask_number(number: str) -> str:
    """A whole value known to be a phone number, masked whatever its length:
    ``+8613800138000`` → ``+*********8000``."""
    total = sum(1 for c in number if c.isdecimal())
    hidden = total - digits_kept(total)
    out = []
    for char in number:
        if char.isdecimal() and hidden > 0:
            out.append(MASK)
            hidden -= 1
        else:
            out.append(char)
    return "".join(out)


def _mask_run(match: re.Match[str]) -> str:
    run = match.group(0)
    digits = sum(1 for c in run if c.isdecimal())
    return mask_number(run) if digits >= MIN_DIGITS else run


def mask_text(text: str) -> str:
    """Every phone-number-like run in free text masked; the rest unchanged."""
    return _RUN.sub(_mask_run, text)


def is_timestamp(text: str) -> bool:
    """True for a whole ISO 8601 date-and-time (what records store as times)."""
    if _ISO_DATETIME.fullmatch(text) is None:
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def mask_json(value: Any) -> Any:
    """A JSON value with every phone number masked: strings (timestamps
    excepted), dictionary keys, and numbers of 7+ digits, which become masked
    strings (``13800138000`` → ``"*******8000"``); lists and objects are walked."""
    if isinstance(value, str):
        return value if is_timestamp(value) else mask_text(value)
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
