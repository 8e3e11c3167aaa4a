"""The wire format of ``POST /api/v1/campaigns``: a JSON document or a CSV file.

JSON: ``{"name", "message_text" | "message_wav" (base64 WAV), "rows": [{"name",
"account", "phone"}], "partial": false, "max_attempts": 3}``; rows count from 1.
CSV (``text/csv``, UTF-8, a byte-order mark allowed): a header row
``name,account,phone`` (any order), then one customer a line; its lines are
numbered as a spreadsheet shows them (the header is line 1). The rows
themselves are checked by :mod:`hotline_pbx.domain.campaign_import`.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from hotline_pbx.dialer.sound import SoundError, to_asterisk_wav
from hotline_pbx.domain.campaign_import import COLUMNS, MAX_ROWS
from hotline_pbx.domain.errors import ErrorCollector, ValidationError

FIELDS = ("name", "message_text", "message_wav", "rows", "partial", "max_attempts")
MAX_MESSAGE_TEXT = 2000
#: Customer attempts a campaign may ask for.
ATTEMPTS_RANGE = (1, 20)


class TooManyRows(ValueError):
    pass


@dataclass(frozen=True)
class CampaignForm:
    name: str
    message_text: str
    message_wav: bytes | None  # as Asterisk plays it (8 kHz mono)
    partial: bool
    max_attempts: int | None
    rows: list[tuple[int, Mapping[str, object]]]
    #: rows refused for their shape (not an object, wrong field count), by line
    row_errors: list[ValidationError]


#: What PostgreSQL text cannot hold (NUL, lone surrogates: a 500 at the insert)
#: and other control characters; a message may have line breaks and tabs.
_NAME_REFUSED = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_TEXT_REFUSED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def _check_head(errors: ErrorCollector, name: Any, text: Any, wav: Any, partial: Any,
                attempts: Any) -> bytes | None:
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        errors.add("name", "is required: a campaign name of at most 200 characters",
                   "gas leak, block 7")
    elif _NAME_REFUSED.search(name):
        errors.add("name", "must not contain control characters", "gas leak, block 7")
    if isinstance(text, str) and _TEXT_REFUSED.search(text):
        errors.add("message_text", "must not contain control characters",
                   "Gas supply is interrupted until 18:00.")
    if not isinstance(partial, bool):
        errors.add("partial", "must be true or false", "false")
    if attempts is not None and (isinstance(attempts, bool) or not isinstance(attempts, int)
                                 or not ATTEMPTS_RANGE[0] <= attempts <= ATTEMPTS_RANGE[1]):
        errors.add("max_attempts", f"must be a whole number {ATTEMPTS_RANGE[0]}-"
                   f"{ATTEMPTS_RANGE[1]}", "3")
    has_text = isinstance(text, str) and bool(text.strip())
    if (text is not None and not isinstance(text, str)) or \
            (isinstance(text, str) and len(text) > MAX_MESSAGE_TEXT):
        errors.add("message_text", f"must be text of at most {MAX_MESSAGE_TEXT} characters",
                   "Gas supply is interrupted until 18:00.")
    if wav is None:
        if not has_text:
            errors.add("message_text", "a message is required: message_text (spoken by "
                       "espeak-ng) or message_wav (a base64 WAV)",
                       "Gas supply is interrupted until 18:00.")
        return None
    if has_text:
        errors.add("message_wav", "give message_text or message_wav, not both", "")
        return None
    try:
        return to_asterisk_wav(base64.b64decode(wav if isinstance(wav, str) else "",
                                                validate=True))
    except (binascii.Error, ValueError) as exc:
        reason = str(exc) if isinstance(exc, SoundError) else "is not base64"
        errors.add("message_wav", f"{reason}: send a PCM WAV file, base64-encoded",
                   "UklGR…")
        return None


def from_json(body: Any) -> CampaignForm:
    if not isinstance(body, dict):
        raise ValidationError("(body)", "must be a JSON object", '{"name": …, "rows": […]}')
    errors = ErrorCollector()
    for key in body:
        if key not in FIELDS:
            errors.add(key or '""', "unknown field; the fields are " + ", ".join(FIELDS),
                       "")
    wav = _check_head(errors, body.get("name"), body.get("message_text"),
                      body.get("message_wav"), body.get("partial", False),
                      body.get("max_attempts"))
    rows = body.get("rows")
    if not isinstance(rows, list) or not rows:
        errors.add("rows", "must be a non-empty list of {name, account, phone}",
                   '[{"name": "Zhang San", "account": "A-1", "phone": "13800138000"}]')
        rows = []
    if len(rows) > MAX_ROWS:
        raise TooManyRows(f"{len(rows)} rows; a campaign holds at most {MAX_ROWS}")
    checked: list[tuple[int, Mapping[str, object]]] = []
    refused: list[ValidationError] = []
    for number, row in enumerate(rows, start=1):
        if isinstance(row, dict):
            checked.append((number, row))
        else:
            refused.append(ValidationError(
                f"line {number}", "must be an object {name, account, phone}",
                '{"name": "Zhang San", "account": "A-1", "phone": "13800138000"}'))
    errors.raise_if_any()
    text = body.get("message_text")
    return CampaignForm(str(body["name"]).strip(), text.strip() if isinstance(text, str) else "",
                        wav, bool(body.get("partial", False)), body.get("max_attempts"), checked,
                        refused)


def from_csv(data: bytes, query: Mapping[str, str]) -> CampaignForm:
    """The CSV upload; the campaign's other fields come from the query string."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValidationError(f"line {line}", "is not UTF-8 text: save the file as "
                              "\"CSV UTF-8\" (a GB18030/GBK file is refused, not guessed)",
                              "name,account,phone") from None
    errors = ErrorCollector()
    partial_text = query.get("partial", "false")
    partial: Any = {"true": True, "false": False}.get(partial_text, partial_text)
    attempts_text = query.get("max_attempts")
    attempts: Any = None if attempts_text is None else (
        # ASCII only: str.isdigit() is true of "²", which int() refuses (a 500).
        int(attempts_text) if re.fullmatch(r"[0-9]{1,3}", attempts_text) else attempts_text)
    _check_head(errors, query.get("name"), query.get("message_text"), None, partial, attempts)
    refused: list[ValidationError] = []
    rows = list(_csv_rows(text, errors, refused))
    errors.raise_if_any()
    return CampaignForm(str(query["name"]).strip(), str(query.get("message_text", "")).strip(),
                        None, bool(partial), attempts, rows, refused)


def _csv_rows(text: str, errors: ErrorCollector, refused: list[ValidationError]
              ) -> Iterator[tuple[int, Mapping[str, object]]]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        errors.add("line 1", f"is not CSV ({exc})", "name,account,phone")
        return
    columns = [h.strip().lower() for h in header or ()]
    if sorted(columns) != sorted(COLUMNS):
        errors.add("line 1", "must be the header row name,account,phone (in any order)",
                   "name,account,phone")
        return
    count = 0
    # The spreadsheet's row, not reader.line_num (the physical line): a quoted
    # newline inside a cell is one row, and every row after it keeps its number.
    row_no = 1
    while True:
        row_no += 1
        try:
            values = next(reader, None)
        except csv.Error as exc:  # the rest of the file cannot be read
            refused.append(ValidationError(f"line {row_no}", f"is not CSV ({exc})",
                                           "Zhang San,A-1,13800138000"))
            return
        if values is None:
            return
        if not any(v.strip() for v in values):
            continue  # blank lines are skipped, as a spreadsheet writes them
        count += 1
        if count > MAX_ROWS:
            raise TooManyRows(f"more than {MAX_ROWS} rows; a campaign holds at most {MAX_ROWS}")
        if len(values) != len(columns):
            refused.append(ValidationError(f"line {row_no}", f"has {len(values)} "
                                           f"fields, the header {len(columns)}",
                                           "Zhang San,A-1,13800138000"))
            continue
        yield row_no, dict(zip(columns, values, strict=True))
