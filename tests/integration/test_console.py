"""The console over HTTP, on the real API and PostgreSQL: login exchanges a token
for a session cookie (HttpOnly, SameSite=Strict, no Secure over plain HTTP);
the API accepts that cookie with the same roles; every write needs the
session's CSRF token; forged, expired and revoked sessions are refused; pages
carry a CSP that allows nothing from outside; the wallboard's stream sends
boards and never a caller's number."""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import ClientResponse, CookieJar
from aiohttp.test_utils import TestClient
from sqlalchemy import insert, select, update

from hotline_pbx.api.app_factory import CONTEXT_KEY
from hotline_pbx.api.sessions import CSRF_HEADER, SESSION_COOKIE
from hotline_pbx.console.wallboard import Wallboard
from hotline_pbx.domain.call_tracker import Call
from hotline_pbx.store import models
from hotline_pbx.store.database import Database
from tests.integration.api_fixtures import Api, api, call_row
from tests.unit.console.test_wallboard import Calls, wallboard

__all__ = ["api"]

OVERRIDE = {"mode": "closed", "until": "2099-01-01T08:00:00+08:00", "note": "storm"}


async def browser(api: Api) -> TestClient:  # type: ignore[type-arg]
    """A second client on the same server, with its own cookie jar (a browser)."""
    client = TestClient(api.client.server, cookie_jar=CookieJar(unsafe=True))
    await client.start_server()
    return client


async def log_in(client: TestClient, token: str) -> tuple[ClientResponse, str]:  # type: ignore[type-arg]
    response = await client.post("/console/login", data={"token": token},
                                 allow_redirects=False)
    page = await client.get("/console/schedule")
    html = await page.text()
    found = re.search(r'<meta name="csrf-token" content="([^"]*)">', html)
    return response, found[1] if found else ""


async def test_login_sets_a_strict_http_only_cookie_and_pages_follow(api: Api) -> None:
    client = await browser(api)
    try:
        page = await client.get("/console/login")
        html = await page.text()
        assert page.status == 200 and 'lang="zh-CN"' in html and "访问令牌" in html
        assert "default-src 'self'" in page.headers["Content-Security-Policy"]
        assert "<script>" not in html  # no inline script: the CSP allows none
        response, csrf = await log_in(client, api.tokens["viewer"])
        assert response.status == 303 and response.headers["Location"] == "/console/"
        cookie = response.headers["Set-Cookie"]
        assert cookie.startswith(f"{SESSION_COOKIE}=")
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
        assert "Max-Age=28800" in cookie and "Secure" not in cookie  # plain HTTP here
        assert api.tokens["viewer"] not in cookie and csrf
        for path in ("/console/", "/console/calls", "/console/reports", "/console/schedule"):
            page = await client.get(path, allow_redirects=False)
            assert page.status == 200, path
        english = await (await client.get("/console/?lang=en")).text()
        assert 'lang="en"' in english and "Wallboard" in english
        assert 'lang="en"' in await (await client.get("/console/calls")).text()  # remembered
    finally:
        await client.session.close()  # the server is the fixture's


async def test_a_bad_token_logs_nobody_in(api: Api) -> None:
    client = await browser(api)
    try:
        for token in ("hpx_" + "x" * 43, "nonsense", "", "hpx_" + "<script>" * 20):
            response = await client.post("/console/login", data={"token": token},
                                         allow_redirects=False)
            assert response.status == 401 and "Set-Cookie" not in response.headers
            assert "令牌无效或已吊销" in await response.text()
        page = await client.get("/console/", allow_redirects=False)
        assert page.status == 303 and page.headers["Location"] == "/console/login"
    finally:
        await client.session.close()  # the server is the fixture's


async def test_the_api_takes_the_cookie_with_the_tokens_role_and_masks_for_viewers(
        api: Api) -> None:
    await api.insert_calls([call_row("c1", datetime.now(UTC))])
    viewer = await browser(api)
    try:
        await log_in(viewer, api.tokens["viewer"])
        response = await viewer.get("/api/v1/calls")
        body = await response.json()
        assert response.status == 200 and body["items"][0]["caller"] == "*******8000"
        assert "13800138000" not in json.dumps(body)
        entries = [a for a in await api.audit() if a.action == "calls.list"]
        assert entries and entries[-1].actor == "token:viewer-user"  # audited as the token
    finally:
        await viewer.session.close()  # the server is the fixture's


async def test_every_write_needs_the_sessions_csrf_token(api: Api, db: Database) -> None:
    admin = await browser(api)
    try:
        _, csrf = await log_in(admin, api.tokens["admin"])
        for headers in ({}, {CSRF_HEADER: "forged"}, {CSRF_HEADER: ""}):
            response = await admin.put("/api/v1/override", json=OVERRIDE, headers=headers)
            problem = await response.json()
            assert response.status == 403 and problem["type"].endswith(":csrf"), problem
        async with db.engine.connect() as conn:
            assert (await conn.execute(select(models.override))).first() is None  # unchanged
        response = await admin.put("/api/v1/override", json=OVERRIDE,
                                   headers={CSRF_HEADER: csrf})
        assert response.status == 200, await response.text()
        logout = await admin.post("/console/logout", data={}, allow_redirects=False)
        assert logout.status == 403  # the logout form carries the token too
        logout = await admin.post("/console/logout", data={"csrf": csrf},
                                  allow_redirects=False)
        assert logout.status == 303
        response = await admin.get("/api/v1/override")
        assert response.status == 401  # the session is gone
    finally:
        await admin.session.close()  # the server is the fixture's


async def test_a_viewer_session_cannot_write_even_with_its_csrf(api: Api) -> None:
    viewer = await browser(api)
    try:
        _, csrf = await log_in(viewer, api.tokens["viewer"])
        response = await viewer.put("/api/v1/override", json=OVERRIDE,
                                    headers={CSRF_HEADER: csrf})
        assert response.status == 403 and "admin role" in (await response.json())["detail"]
        page = await (await viewer.get("/console/schedule")).text()
        assert 'id="override-form"' not in page  # and the page offers no editor
    finally:
        await viewer.session.close()  # the server is the fixture's


async def test_forged_and_revoked_sessions_are_refused(api: Api, db: Database) -> None:
    forged = await browser(api)
    try:
        forged.session.cookie_jar.update_cookies({SESSION_COOKIE: "A" * 43})
        page = await forged.get("/console/", allow_redirects=False)
        assert page.status == 303
        response = await forged.get("/api/v1/schedule")
        assert response.status == 401 and "log in again" in (await response.json())["detail"]
    finally:
        await forged.session.close()  # the server is the fixture's
    supervisor = await browser(api)
    try:
        await log_in(supervisor, api.tokens["supervisor"])
        assert (await supervisor.get("/api/v1/schedule")).status == 200
        async with db.engine.begin() as conn:
            await conn.execute(update(models.api_tokens)
                               .where(models.api_tokens.c.name == "supervisor-user")
                               .values(revoked_at=datetime.now(UTC)))
        assert (await supervisor.get("/api/v1/schedule")).status == 401
        page = await supervisor.get("/console/", allow_redirects=False)
        assert page.status == 303  # the revoked token's session ended
    finally:
        await supervisor.session.close()  # the server is the fixture's


async def test_static_files_and_nothing_else(api: Api) -> None:
    for name, kind in (("console.js", "javascript"), ("console.css", "text/css")):
        response = await api.client.get(f"/console/static/{name}")
        assert response.status == 200 and kind in response.headers["Content-Type"]
        assert "http://" not in await response.text() and "https://" not in await response.text()
    for name in ("../pages.py", "pages.py", "%2e%2e%2fsessions.py"):
        assert (await api.client.get(f"/console/static/{name}")).status == 404


async def _board_lines(response: ClientResponse, count: int) -> list[dict[str, Any]]:
    boards: list[dict[str, Any]] = []
    async with asyncio.timeout(5):
        async for line in response.content:
            if line.startswith(b"data: "):
                boards.append(json.loads(line[6:]))
                if len(boards) == count:
                    break
    return boards


async def test_the_wallboard_stream_sends_the_board(api: Api) -> None:
    server_api = api.client.app[CONTEXT_KEY]
    board: Wallboard = wallboard(Calls(), [time.time()])
    server_api.wallboard = board
    viewer = await browser(api)
    try:
        await log_in(viewer, api.tokens["viewer"])
        response = await viewer.get("/console/events")
        assert response.status == 200
        assert response.headers["Content-Type"] == "text/event-stream"
        [first] = await _board_lines(response, 1)
        assert first["today"]["offered"] == 0 and "waiting" in first
        response.close()
        unauthenticated = await api.client.get("/console/events", allow_redirects=False)
        assert unauthenticated.status == 303
    finally:
        await viewer.session.close()  # the server is the fixture's
        server_api.wallboard = None


@pytest.mark.parametrize("path", ["/console/", "/console/calls"])
async def test_pages_escape_the_roster_names(api: Api, path: str) -> None:
    client = await browser(api)
    try:
        await log_in(client, api.tokens["admin"])
        html = await (await client.get(path)).text()
        assert "<script>" not in html and "<script " not in html.replace(
            '<script src="/console/static/console.js" defer></script>', "")
    finally:
        await client.session.close()  # the server is the fixture's


async def test_every_page_of_the_navigation_opens_for_a_viewer(api: Api) -> None:
    from hotline_pbx.console.pages import NAVIGATION

    viewer = await browser(api)
    try:
        await log_in(viewer, api.tokens["viewer"])
        for name, path in NAVIGATION:
            page = await viewer.get(f"/console/{path}", allow_redirects=False)
            html = await page.text()
            assert page.status == 200, name
            assert f'data-page="{name}"' in html and 'aria-current="page"' in html
        assert (await viewer.get("/console/calls/12")).status == 200  # the API says 404
        for bad in ("abc", "1e5", "9" * 30, "-1"):
            assert (await viewer.get(f"/console/calls/{bad}")).status == 404
        roster = await (await viewer.get("/console/roster")).text()
        assert 'data-editable="no"' in roster  # a viewer's roster is read-only
    finally:
        await viewer.session.close()  # the server is the fixture's


async def test_a_wallboard_client_that_never_reads_is_dropped_and_others_keep_theirs(
        api: Api) -> None:
    server_api = api.client.app[CONTEXT_KEY]
    calls = Calls()
    clock = [time.time()]
    board: Wallboard = wallboard(calls, clock, buffer=8)
    server_api.wallboard = board
    reader = await browser(api)
    try:
        _, _ = await log_in(reader, api.tokens["viewer"])
        cookie = reader.session.cookie_jar.filter_cookies(
            reader.make_url("/"))[SESSION_COOKIE].value
        # A client that sends its request and never reads a byte of the stream.
        stuck_reader, stuck = await asyncio.open_connection(
            "127.0.0.1", api.client.server.port)
        stuck.write(f"GET /console/events HTTP/1.1\r\nHost: x\r\n"
                    f"Cookie: {SESSION_COOKIE}={cookie}\r\n\r\n".encode())
        await stuck.drain()
        live = await reader.get("/console/events")
        await asyncio.sleep(0.2)
        assert board.viewers == 2
        received = 0
        for i in range(200_000):  # boards change until the stuck client's buffers fill
            clock[0] += 1
            calls.calls[f"c{i % 50}"] = Call(f"c{i % 50}", "u", "PJSIP/x", clock[0] - i)
            board.publish()
            await asyncio.sleep(0)
            if board.dropped:
                break
        assert board.dropped == 1 and board.viewers == 1, (board.dropped, board.viewers)
        async with asyncio.timeout(5):
            async for line in live.content:  # the reading viewer still gets boards
                if line.startswith(b"data: "):
                    received += 1
                    if received == 3:
                        break
        live.close()
        stuck.close()
        del stuck_reader
    finally:
        await reader.session.close()  # the server is the fixture's
        server_api.wallboard = None


async def test_the_wallboard_starts_from_todays_calls_as_the_stats_count_them(
        api: Api, db: Database) -> None:
    from hotline_pbx.store.stats import compute_stats

    zone = ZoneInfo("Asia/Shanghai")
    start = datetime.now(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    if datetime.now(zone) - start < timedelta(minutes=2):
        pytest.skip("within two minutes of local midnight: no room for today's calls")
    at = start + timedelta(minutes=1)
    await api.insert_calls([
        call_row("w1", at, wait=4, talk=30), call_row("w2", at, wait=40, talk=10),
        call_row("w3", at, outcome="abandoned", wait=20),
        call_row("w4", at, outcome="short_abandoned", wait=1),
        call_row("w5", at, period="closed", outcome="missed", wait=25),
        call_row("w6", at, is_test=True), call_row("w7", at, period="unrouted"),
        call_row("y1", start - timedelta(minutes=5))])  # yesterday's
    async with db.engine.begin() as conn:
        await conn.execute(insert(models.blocked_outbound), [
            {"event_key": "b1", "occurred_at": at, "method": "dial", "action": "hung_up"},
            {"event_key": "b0", "occurred_at": start - timedelta(hours=1), "method": "dial",
             "action": "refused"}])
    board: Wallboard = wallboard(Calls(), [time.time()])
    await board.seed(db.engine, timeout=10)
    today = board.build().to_dict()["today"]
    async with db.engine.connect() as conn:
        opened = (await compute_stats(conn, start, start + timedelta(days=1), "open",
                                      timezone="Asia/Shanghai")).total
    assert (today["offered"], today["answered"], today["abandoned"],
            today["short_abandoned"]) == (4, 2, 1, 1) == (
        opened.offered, opened.answered, opened.abandoned, opened.short_abandoned)
    assert today["answer_rate"] == opened.answer_rate == 2 / 3
    assert today["service_level"] == opened.service_level == 1 / 3
    assert today["asa_seconds"] == 22.0
    assert (today["all_periods"], today["after_hours"], today["blocked_outbound"]) == (5, 1, 1)
