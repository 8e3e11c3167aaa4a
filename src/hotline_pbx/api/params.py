"""Reading query strings and JSON bodies: everything checked, every refusal a
problem naming the field, the reason and an example.

Times in queries: a date ``2026-10-01`` is that day in the configured zone
(``from`` = its first instant; ``to`` = the end of that day, so
``from=2026-10-01&to=2026-10-31`` is the whole of October); a date and time
needs a UTC offset (``2026-10-01T08:30:00+08:00`` or ``…Z``). A ``+`` that a
client forgot to percent-encode arrives as a space; it is read as the ``+``
it was meant to be.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from aiohttp import web

from hotline_pbx.api.problems import Problem, bad_query, invalid, read_body
from hotline_pbx.domain._parse import check_instant
from hotline_pbx.domain.contract import MAX_YEAR, MIN_YEAR
from hotline_pbx.domain.errors import ValidationError
from hotline_pbx.store.api_repo import Cursor, TimeFilter

E = TypeVar("E", bound=StrEnum)

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}:\d{2})")
_UNENCODED_PLUS = re.compile(r"(T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?) (\d{2}:\d{2})$")
EXAMPLE_INSTANT = "2026-10-01T08:30:00+08:00"


def check_query(request: web.Request, allowed: Collection[str]) -> Mapping[str, str]:
    """The query parameters, refusing unknown and repeated ones."""
    query = request.query
    for key in query:
        if key not in allowed:
            names = ", ".join(sorted(allowed)) or "none"
            raise bad_query(key, f"unknown query parameter; this path accepts: {names}",
                            next(iter(sorted(allowed)), ""))
        if len(query.getall(key)) > 1:
            raise bad_query(key, "is given more than once; give it once", query.getall(key)[0])
    return {key: query[key] for key in query}


def parse_instant(value: str, field: str, zone: ZoneInfo, *, end_of_day: bool = False
                  ) -> datetime:
    """A query time: a date (in ``zone``) or an ISO 8601 date and time with offset."""
    value = _UNENCODED_PLUS.sub(r"\1+\2", value.strip())
    try:
        if _DATE.fullmatch(value):
            day = date.fromisoformat(value)
            _check_year(day.year, field)
            if end_of_day:
                day += timedelta(days=1)
            return datetime.combine(day, time(), zone)
        if _DATETIME.fullmatch(value):
            instant = datetime.fromisoformat(value.replace("Z", "+00:00"))
            # in UTC, as stored: the one check of a body's instants
            check_instant(instant, field, EXAMPLE_INSTANT)
            return instant
    except ValidationError as error:
        raise bad_query(error.field, error.reason, error.example) from None
    except ValueError:
        raise bad_query(field, f"{value!r} is not a date or time that exists in the calendar",
                        EXAMPLE_INSTANT) from None
    raise bad_query(field, f"{value!r} is not a date (YYYY-MM-DD) or an ISO 8601 date and "
                    "time with a UTC offset", EXAMPLE_INSTANT)


def _check_year(year: int, field: str) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise bad_query(field, f"year {year} is out of range; use {MIN_YEAR} to {MAX_YEAR}",
                        EXAMPLE_INSTANT)


def time_filter(query: Mapping[str, str], zone: ZoneInfo) -> TimeFilter:
    start = parse_instant(query["from"], "from", zone) if "from" in query else None
    end = (parse_instant(query["to"], "to", zone, end_of_day=True) if "to" in query else None)
    if start is not None and end is not None and end <= start:
        raise bad_query("to", f"must be later than from ({query['from']})",
                        "2026-10-31")
    return TimeFilter(start, end)


def parse_enum(enum: Iterable[E], query: Mapping[str, str], field: str) -> E | None:
    """One of ``enum``'s members (an enum, or the members a query may name)."""
    if field not in query:
        return None
    allowed = ", ".join(m.value for m in enum)
    for member in enum:
        if member.value == query[field]:
            return member
    raise bad_query(field, f"{query[field]!r} is not one of {allowed}", next(iter(enum)).value)


def parse_int(query: Mapping[str, str], field: str, *, default: int, low: int, high: int
              ) -> int:
    if field not in query:
        return default
    value = query[field]
    if not re.fullmatch(r"\d{1,9}", value) or not low <= int(value) <= high:
        raise bad_query(field, f"must be a whole number from {low} to {high}, not {value!r}",
                        str(default))
    return int(value)


def parse_bool(query: Mapping[str, str], field: str) -> bool:
    value = query.get(field, "false")
    if value not in ("true", "false"):
        raise bad_query(field, f"must be true or false, not {value!r}", "true")
    return value == "true"


def parse_text(query: Mapping[str, str], field: str, pattern: str, example: str, what: str
               ) -> str | None:
    if field not in query:
        return None
    if re.fullmatch(pattern, query[field]) is None:
        raise bad_query(field, f"{query[field]!r} is not {what}", example)
    return query[field]


def parse_id(request: web.Request, name: str = "id", what: str = "call") -> int:
    """A path id: 1 … 2^63-1 (anything else cannot exist, so 404)."""
    raw = request.match_info[name]
    if not re.fullmatch(r"[1-9]\d{0,18}", raw) or int(raw) > 2**63 - 1:
        raise Problem(404, "not-found", "Not found",
                      f"{raw!r} is not the id of a {what}; ids are positive whole numbers")
    return int(raw)


# -- cursors -------------------------------------------------------------------------


def encode_cursor(cursor: Cursor | None) -> str | None:
    if cursor is None:
        return None
    when, row_id = cursor
    raw = json.dumps([when.astimezone(UTC).isoformat(), row_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(query: Mapping[str, str]) -> Cursor | None:
    value = query.get("cursor")
    if value is None:
        return None
    reason = ("is not a cursor this server gave out; pass next_cursor of the previous page "
              "unchanged")
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
        when, row_id = json.loads(raw)
        # In UTC here, not in the database driver: year 1 at +14:00 is
        # before year 1 in UTC (OverflowError), and no row is outside the years.
        given = datetime.fromisoformat(when)
        if given.tzinfo is None:
            raise ValueError
        instant = given.astimezone(UTC)
        if (not MIN_YEAR <= instant.year <= MAX_YEAR or isinstance(row_id, bool)
                or not isinstance(row_id, int) or not 0 < row_id < 2**63):
            raise ValueError
        return instant, row_id
    except (ValueError, TypeError, OverflowError, RecursionError, binascii.Error):
        # ValueError covers UnicodeDecodeError and an integer of over 4300 digits.
        raise bad_query("cursor", reason, "eyJ…") from None


# -- bodies ----------------------------------------------------------------------------


class _NotJson(ValueError):
    """What Python's json module reads but JSON (RFC 8259) or our documents
    cannot hold: NaN, Infinity, a number beyond a float or an int64."""


def _no_constant(name: str) -> Any:
    raise _NotJson(f"{name} is not a JSON value; send a number or null")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotJson(f"the number {text[:20]}… is too large for a float")
    return value


def _int64(text: str) -> int:
    # Checked on the text: int() of over 4300 digits raises, and a long one is slow.
    if len(text.lstrip("-")) > 19 or not -2**63 <= int(text) < 2**63:
        raise _NotJson(f"the integer {text[:20]}… ({len(text)} characters) is beyond "
                       "any field's range")
    return int(text)


async def read_json(request: web.Request) -> Any:
    """The JSON body: application/json, within http.max_body_bytes, well formed,
    numbers within range (what the handlers and PostgreSQL can hold)."""
    if request.content_type != "application/json":
        raise Problem(415, "unsupported-media-type", "Unsupported media type",
                      f"send the body as application/json, not {request.content_type!r}",
                      errors=[ValidationError("Content-Type", "must be application/json",
                                              "application/json")])
    raw = await read_body(request)  # aiohttp refuses a body over client_max_size (413)
    try:
        body = json.loads(raw.decode("utf-8"), parse_constant=_no_constant,
                          parse_float=_finite, parse_int=_int64)
        # "\ud800" escapes decode to lone surrogates, which no database text holds.
        json.dumps(body, ensure_ascii=False).encode("utf-8")
        return body
    except UnicodeError:
        raise invalid(ValidationError("(body)", "is not UTF-8 text", '{"…": "…"}'),
                      status=400) from None
    except RecursionError:
        raise invalid(ValidationError("(body)", "is nested too deeply", '{"…": "…"}'),
                      status=400) from None
    except json.JSONDecodeError as exc:
        raise invalid(ValidationError("(body)", f"is not valid JSON ({exc.msg} at line "
                                      f"{exc.lineno} column {exc.colno})", '{"…": "…"}'),
                      status=400) from None
    except _NotJson as exc:
        raise invalid(ValidationError("(body)", f"is not valid JSON: {exc}", '{"…": 1}'),
                      status=400) from None


def expect_object(body: Any, allowed: Collection[str], required: Collection[str],
                  examples: Mapping[str, str]) -> dict[str, Any]:
    """A body object with only ``allowed`` keys and every ``required`` one."""
    if not isinstance(body, dict):
        raise invalid(ValidationError("(body)", "must be a JSON object",
                                      "{" + ", ".join(f'"{k}": …' for k in required) + "}"))
    errors = [ValidationError(key, "unknown field; the allowed fields are: "
                              + ", ".join(allowed), ", ".join(allowed))
              for key in body if key not in allowed]
    errors += [ValidationError(key, "is required", examples.get(key, ""))
               for key in required if key not in body]
    if errors:
        raise invalid(errors)
    return body


def local_iso(value: datetime | str | None, zone: ZoneInfo) -> str | None:
    """A stored time shown in the configured zone, with its offset. Never raises:
    an instant that cannot be shown there (``9999-12-31T23:00:00Z`` is year
    10000 at +08:00) is shown in UTC, and one Python cannot hold (``infinity``,
    ``-infinity``, a year BC or after 9999, read as PostgreSQL's UTC text by
    :mod:`hotline_pbx.store.config_repo`) as that text."""
    if isinstance(value, str):
        text = value
        try:
            value = datetime.fromisoformat(text)
        except ValueError:
            return text
    if value is None:
        return None
    if value.tzinfo is None:  # asyncpg reads ±infinity as naive datetime.max/min
        infinite = {datetime.max: "infinity", datetime.min: "-infinity"}
        return infinite.get(value) or value.isoformat()
    try:
        return value.astimezone(zone).isoformat()
    except (OverflowError, ValueError):
        return value.isoformat()  # as stored: in UTC


def check_body_text(value: Any, field: str, example: str, max_length: int) -> str:
    """Free text of a body (a note): a non-empty string within ``max_length``;
    line breaks are allowed, other control characters are not."""
    if not isinstance(value, str):
        raise invalid(ValidationError(field, "must be a string", example))
    if not value.strip():
        raise invalid(ValidationError(field, "must not be empty", example))
    if len(value) > max_length:
        raise invalid(ValidationError(
            field, f"is too long ({len(value)} characters; at most {max_length})", example))
    if re.search(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", value):
        raise invalid(ValidationError(field, "must not contain control characters", example))
    return value
