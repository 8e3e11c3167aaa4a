"""Pure pieces of the API: tokens, query parsing, cursors, CSV cells, /readyz."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hotline_pbx.api import problems
from hotline_pbx.api.auth import Principal, bearer_token, hash_token, new_token, require
from hotline_pbx.api.health import make_readyz
from hotline_pbx.api.params import decode_cursor, encode_cursor, parse_instant
from hotline_pbx.api.problems import Problem
from hotline_pbx.api.routes_calls import csv_safe
from hotline_pbx.domain.contract import AccessRole
from hotline_pbx.lifecycle import Fixed, Readiness, ReadinessBoard
from hotline_pbx.logs import RateLimitedLog

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_tokens_are_random_and_hashed() -> None:
    first, second = new_token(), new_token()
    assert first != second and first.startswith("hpx_") and len(first) == 47
    assert hash_token(first) != hash_token(second) and len(hash_token(first)) == 64
    assert bearer_token(f"Bearer {first}") == first
    assert bearer_token(f"bearer   {first} ") == first


@pytest.mark.parametrize("header", [None, "", "Bearer", "Basic dXNlcjpwdw==", "Bearer x",
                                    "Bearer hpx_short", "Token hpx_" + "a" * 43])
def test_bad_authorization_headers_are_401(header: str | None) -> None:
    with pytest.raises(Problem) as caught:
        bearer_token(header)
    assert caught.value.status == 401 and "WWW-Authenticate" in caught.value.headers


def test_roles_are_ordered() -> None:
    viewer = Principal(1, "v", AccessRole.VIEWER)
    require(Principal(2, "a", AccessRole.ADMIN), AccessRole.SUPERVISOR, "x")
    with pytest.raises(Problem) as caught:
        require(viewer, AccessRole.SUPERVISOR, "PUT /api/v1/roster")
    assert caught.value.status == 403 and "supervisor" in caught.value.detail
    assert viewer.masked and not Principal(2, "a", AccessRole.SUPERVISOR).masked


@pytest.mark.parametrize(("text", "end", "expected"), [
    ("2026-10-01", False, datetime(2026, 9, 30, 16, 0, tzinfo=UTC)),
    ("2026-10-01", True, datetime(2026, 10, 1, 16, 0, tzinfo=UTC)),
    ("2026-10-01T08:30:00+08:00", False, datetime(2026, 10, 1, 0, 30, tzinfo=UTC)),
    ("2026-10-01T08:30:00 08:00", False, datetime(2026, 10, 1, 0, 30, tzinfo=UTC)),
    ("2026-10-01T00:30Z", True, datetime(2026, 10, 1, 0, 30, tzinfo=UTC)),
    ("2026-10-01T08:30:00.5-02:00", False, datetime(2026, 10, 1, 10, 30, 0, 500000, tzinfo=UTC)),
    # in range in UTC, as stored, although not in the local rendering
    ("2101-01-01T09:59:59+14:00", False, datetime(2100, 12, 31, 19, 59, 59, tzinfo=UTC)),
    ("1999-12-31T20:00:00-04:00", False, datetime(2000, 1, 1, 0, 0, tzinfo=UTC)),
])
def test_query_instants(text: str, end: bool, expected: datetime) -> None:
    assert parse_instant(text, "from", SHANGHAI, end_of_day=end) == expected


@pytest.mark.parametrize("text", ["yesterday", "2026-02-30", "2026-10-01T08:30:00",
                                  "2026-10-01T25:00:00Z", "1999-12-31", "2101-01-01",
                                  "20261001", "2026-10-01T08:30:00+8",
                                  # 2101 and 1999 in UTC (issue 9 follow-up)
                                  "2100-12-31T23:00:00-14:00", "2000-01-01T00:00:00+14:00",
                                  "0001-01-01T00:00:00+14:00"])
def test_bad_query_instants(text: str) -> None:
    with pytest.raises(Problem) as caught:
        parse_instant(text, "from", SHANGHAI)
    problem = caught.value
    assert problem.status == 400 and problem.errors[0].field == "from"
    assert problem.errors[0].example == "2026-10-01T08:30:00+08:00"


def test_cursor_round_trip_and_tampering() -> None:
    when = datetime(2026, 11, 24, 10, 0, tzinfo=SHANGHAI) + timedelta(microseconds=7)
    cursor = encode_cursor((when, 42))
    assert cursor is not None and encode_cursor(None) is None
    assert decode_cursor({"cursor": cursor}) == (when, 42)
    assert decode_cursor({}) is None
    for bad in ("abc", "", cursor[:-3], "W10", "WyIyMDI2IiwgMV0", "bnVsbA"):
        with pytest.raises(Problem):
            decode_cursor({"cursor": bad})


@pytest.mark.parametrize(("cell", "safe"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
    ("+8613800138000", "+8613800138000"),
    ("-1+2", "'-1+2"),
    ("@SUM(A1)", "'@SUM(A1)"),
    ("agent1", "agent1"),
    ("", ""),
])
def test_csv_cells_never_become_formulas(cell: str, safe: str) -> None:
    assert csv_safe(cell) == safe


async def test_database_unavailable_warnings_are_rate_limited(
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL down: every request is a 503, the log gets one line per interval."""
    monkeypatch.setattr(problems, "_database_log",
                        RateLimitedLog(problems.DATABASE_LOG_INTERVAL))

    async def down(_request: web.Request) -> web.Response:
        raise ConnectionRefusedError(111, "Connect call failed")  # as asyncpg raises it

    app = web.Application(middlewares=[problems.problem_middleware])
    app.router.add_get("/down", down)
    async with TestClient(TestServer(app)) as client:
        statuses = [(await client.get("/down")).status for _ in range(50)]
    assert statuses == [503] * 50
    lines = [r for r in caplog.records if r.name == "hotline_pbx.api.problems"]
    assert [(r.levelno, "database unavailable" in r.getMessage()) for r in lines] == [
        (logging.WARNING, True)]


async def test_readyz_needs_no_token_so_its_details_are_masked() -> None:
    problem = ("roster.supervisor.mobile: '+86 138 0013 8000' is not a dialable number; "
               "version 3 loaded at 2026-12-01T10:00:00.123456+00:00")

    board = ReadinessBoard(["config"])
    board.add("config", Fixed(Readiness(True, problem)))
    response = await make_readyz(board)(None)  # type: ignore[arg-type]
    assert response.text is not None
    detail = json.loads(response.text)["components"]["config"]["detail"]
    assert detail == ("roster.supervisor.mobile: '+** *** **** 8000' is not a dialable number; "
                      "version 3 loaded at 2026-12-01T10:00:00.123456+00:00")
