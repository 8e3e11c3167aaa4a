"""Hostile input through the real API over real PostgreSQL (issue #9, item 9):
every bad query or body is a 400 or 422 problem, never a 500, and a refused
request logs at most one line and no traceback. The test server's access
line is left out of the count: the daemon runs without an access log."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Awaitable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.api_fixtures import Api, api

__all__ = ["api"]

LISTS = ("/api/v1/calls", "/api/v1/faults", "/api/v1/blocked-outbound", "/api/v1/audit")


def cursor(*parts: Any) -> str:
    return raw_cursor(json.dumps(list(parts)))


def raw_cursor(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


HUGE = "9" * 5000


FORGED_CURSORS = [
    cursor("0001-01-01T00:00:00+14:00", 1),  # before year 1 once in UTC
    cursor("9999-12-31T23:59:59-14:00", 1),  # after year 9999 once in UTC
    raw_cursor(f'["2026-11-24T02:00:00+00:00", {HUGE}]'),
    raw_cursor('["2026-11-24T02:00:00+00:00", 1e999]'),
    cursor("2026-11-24T02:00:00+00:00", 1.5e308),
    cursor("2026-11-24T02:00:00+00:00", [1]),
    cursor(1, 1), cursor("x"), "eyJ" * 1000,
]


async def logged(caplog: pytest.LogCaptureFixture, request: Awaitable[tuple[int, Any, Any]]
                 ) -> tuple[int, Any, list[logging.LogRecord]]:
    """The answer and what the server logged while answering it."""
    caplog.clear()
    status, body, _ = await request
    return status, body, served_lines(caplog)


def served_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    """What was logged at INFO or above, less the test server's access line."""
    return [r for r in caplog.records if r.levelno >= logging.INFO and r.name != "aiohttp.access"]


def assert_refused_quietly(status: int, body: Any, records: list[logging.LogRecord],
                           what: object) -> None:
    # 404 (a note for no call) and 409 (that date has an exception) answer a
    # valid document; 413 a body over http.max_body_bytes.
    assert status in (400, 404, 409, 413, 422), (what, status, body)
    assert body["type"].startswith("urn:hotline-pbx:problem:"), what
    assert len(records) <= 1, (what, [r.getMessage() for r in records])
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in records), what


@pytest.mark.parametrize("path", LISTS)
async def test_forged_cursors_are_400(api: Api, caplog: pytest.LogCaptureFixture,
                                      path: str) -> None:
    caplog.set_level(logging.INFO)
    for forged in FORGED_CURSORS:
        status, body, records = await logged(
            caplog, api.call("GET", f"{path}?cursor={forged}"))
        assert_refused_quietly(status, body, records, forged[:40])
        assert body["field"] == "cursor"


BODIES = {
    ("PUT", "/api/v1/schedule"): ('{"weekly": [{"day": "mon", "start": "09:00", '
                                  '"end": "12:00"}], "timezone": "Asia/Shanghai"}'),
    ("PUT", "/api/v1/override"): ('{"mode": "closed", "until": "2030-01-01T00:00:00+08:00", '
                                  '"note": "typhoon"}'),
    ("PUT", "/api/v1/roster"): ('{"supervisor": {"id": "li.na", "name": "Li Na", '
                                '"mobile": "13800000001"}, "deputies": [], "absences": '
                                '[{"person_id": "li.na", "from": "2026-10-01T00:00:00+08:00", '
                                '"to": null, "reason": "leave", "note": ""}]}'),
    ("POST", "/api/v1/exceptions"): ('{"date": "2026-10-01", "kind": "open", "periods": '
                                     '[{"start": "09:00", "end": "12:00"}], "note": ""}'),
    ("POST", "/api/v1/calls/1/notes"): '{"body": "called back"}',
}

# JSON texts Python's json module reads into something no handler expects.
HOSTILE_FRAGMENTS = [HUGE, "-" + HUGE, "1e999", "-1e999", "1" + "0" * 400 + ".5",
                     "NaN", "Infinity", "-Infinity", "[" * 3000 + "]" * 3000,
                     '{"a":' * 3000 + "1" + "}" * 3000, '"\\ud800"', '"\\u0000"',
                     "1.5", "-1", "true", "null", "[]", "{}", '""', '"' + "x" * 60000 + '"']


def with_hole(document: str, value: str) -> list[str]:
    """``document`` with each of its values, in turn, replaced by ``value``."""
    variants = [value]
    parsed = json.loads(document)
    for path in _leaf_paths(parsed):
        copy = json.loads(document)
        target = copy
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = "\x00HOLE\x00"
        variants.append(json.dumps(copy).replace('"\\u0000HOLE\\u0000"', value))
    return variants


def _leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    items = (value.items() if isinstance(value, dict)
             else enumerate(value) if isinstance(value, list) else ())
    paths = [path] if path else []
    for key, child in items:
        paths += _leaf_paths(child, (*path, key))
    return paths


@pytest.mark.timeout(300)
@pytest.mark.parametrize(("method", "path"), list(BODIES))
async def test_hostile_numbers_and_nesting_in_bodies_are_refused(
        api: Api, caplog: pytest.LogCaptureFixture, method: str, path: str) -> None:
    """A 5,000-digit integer, 1e999, NaN, deep nesting… in every field of every body."""
    caplog.set_level(logging.INFO)
    await api.insert_calls([_call_one()])
    for fragment in HOSTILE_FRAGMENTS:
        for text in with_hole(BODIES[method, path], fragment):
            status, body, records = await logged(caplog, api.call(
                method, path, data=text.encode(),
                headers={"Content-Type": "application/json"}))
            if status < 300:
                continue  # e.g. "null" for a nullable field: a valid document
            assert_refused_quietly(status, body, records, (path, text[:80]))


def _call_one() -> dict[str, Any]:
    from datetime import UTC, datetime

    from tests.integration.api_fixtures import call_row

    return call_row("hostile-1", datetime(2026, 11, 24, 2, tzinfo=UTC))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False,
                                                          allow_infinity=False)
    | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12)
raw_values = st.sampled_from(HOSTILE_FRAGMENTS) | json_values.map(json.dumps)


@st.composite
def hostile_bodies(draw: st.DrawFn) -> tuple[str, str, str]:
    method, path = draw(st.sampled_from(list(BODIES)))
    variants = with_hole(BODIES[method, path], draw(raw_values))
    return method, path, draw(st.sampled_from(variants))


QUERY_FIELDS = ("from", "to", "cursor", "limit", "period", "outcome", "caller", "cause",
                "actor", "action", "include_test", "year", "date")
hostile_query_values = (st.text(max_size=40)
                        | st.sampled_from([*FORGED_CURSORS, HUGE, "0001-01-01T00:00:00+14:00",
                                           "2100-12-31T23:59:59-14:00", "2000-01-01",
                                           "2026-02-29", "1e999", "-1", " ", "\x00"])
                        | st.from_regex(r"\A\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2})?"
                                        r"([+-]\d{2}:\d{2}|Z)?)?\Z"))
GETS = (*LISTS, "/api/v1/calls.csv", "/api/v1/stats", "/api/v1/exceptions",
        "/api/v1/roster", "/api/v1/schedule")


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(request=hostile_bodies())
async def test_fuzzed_bodies_never_5xx_and_log_no_traceback(
        api: Api, caplog: pytest.LogCaptureFixture, request: tuple[str, str, str]) -> None:
    caplog.set_level(logging.INFO)
    method, path, text = request
    status, body, records = await logged(caplog, api.call(
        method, path, data=text.encode(), headers={"Content-Type": "application/json"}))
    if status >= 300:
        assert_refused_quietly(status, body, records, (path, text[:80]))


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture,
                                 HealthCheck.too_slow])
@given(path=st.sampled_from(GETS),
       query=st.dictionaries(st.sampled_from(QUERY_FIELDS), hostile_query_values,
                             max_size=3))
async def test_fuzzed_queries_never_5xx_and_log_no_traceback(
        api: Api, caplog: pytest.LogCaptureFixture, path: str, query: dict[str, str]
) -> None:
    caplog.set_level(logging.INFO)
    caplog.clear()
    response = await api.client.get(path, params=query, headers=api.headers("admin"))
    await response.read()
    records = served_lines(caplog)
    assert response.status < 500, (path, query, await response.text())
    if response.status >= 400:
        assert len(records) <= 1, [r.getMessage() for r in records]
        assert all(r.exc_info is None for r in records)


@pytest.mark.parametrize("where", ["request line", "header"])
async def test_a_request_aiohttp_cannot_parse_is_400_in_one_line(
        api: Api, caplog: pytest.LogCaptureFixture, where: str) -> None:
    """aiohttp's own parser refuses an 8 KB+ request line or header before any
    handler runs; it must still be one log line and no traceback."""
    caplog.set_level(logging.INFO)
    caplog.clear()
    if where == "request line":
        response = await api.client.get("/api/v1/calls", params={"from": HUGE * 2},
                                        headers=api.headers("admin"))
    else:
        response = await api.client.get("/api/v1/calls",
                                        headers={**api.headers("admin"), "X-Big": HUGE * 2})
    await response.read()
    records = served_lines(caplog)
    assert response.status == 400
    assert len(records) <= 1, [r.getMessage() for r in records]
    assert all(r.exc_info is None and "\n" not in r.getMessage() for r in records)
