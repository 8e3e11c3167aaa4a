"""The REST API under parallel clients, over real PostgreSQL (issue #9, items 4
and 8): exports that do not pin the pool or the token row, and singleton PUTs
that end in one clean answer each with an audit chain that adds up."""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import io
import itertools
import socket
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select, update

from hotline_pbx.config import DatabaseSettings, HttpSettings, Secret
from hotline_pbx.store import models
from hotline_pbx.store.database import Database, open_database
from tests.integration.api_fixtures import SETTINGS, Api, api, call_row, start_api

__all__ = ["api"]

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)


async def seed(api: Api, count: int, note: str = "") -> None:
    ids = await api.insert_calls([call_row(f"k{i}", T0 + timedelta(seconds=i))
                                  for i in range(count)])
    if note:
        async with api.db.engine.begin() as conn:
            await conn.execute(insert(models.call_notes), [
                {"call_id": call_id, "author": "admin-user", "body": note} for call_id in ids])


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))


async def forget_last_use(api: Api) -> None:
    """As if the token had not been used for an hour: the next request touches it."""
    async with api.db.engine.begin() as conn:
        await conn.execute(update(models.api_tokens).values(last_used_at=None))


class StalledDownload:
    """A client that asks for the CSV export, reads its headers and then stops
    reading, with a tiny receive window: the server's writes block."""

    def __init__(self, api: Api, token: str) -> None:
        self.api, self.token = api, token
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def start(self) -> str:
        """Sends the request; returns the status line and headers."""
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        server = self.api.client.server
        await asyncio.get_running_loop().sock_connect(sock, (server.host, server.port))
        self.reader, self.writer = await asyncio.open_connection(sock=sock)
        self.writer.write(f"GET /api/v1/calls.csv HTTP/1.1\r\nHost: test\r\n"
                          f"Authorization: Bearer {self.token}\r\n"
                          "Connection: close\r\n\r\n".encode())
        await self.writer.drain()
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 10)
        return head.decode()

    async def finish(self) -> bytes:
        assert self.reader is not None and self.writer is not None
        body = await asyncio.wait_for(self.reader.read(), 60)
        self.writer.close()
        return body


# -- item 4: exports ------------------------------------------------------------------


@pytest.mark.timeout(180)
async def test_parallel_exports_leave_the_api_responsive(api: Api) -> None:
    """16 exports at once with one token: every export completes, and cheap
    requests with the same token, sent meanwhile, all answer - none 503."""
    await seed(api, 3000)
    await forget_last_use(api)

    async def export() -> tuple[int, Any]:
        status, text, _ = await api.call("GET", "/api/v1/calls.csv")
        return status, text

    async def cheap() -> list[int]:
        statuses = []
        for _ in range(10):
            statuses.append((await api.call("GET", "/api/v1/calls?limit=10"))[0])
            statuses.append((await api.call("GET", "/api/v1/schedule"))[0])
        return statuses

    exports = [asyncio.create_task(export()) for _ in range(16)]
    cheap_statuses = await cheap()
    results = await asyncio.gather(*exports)
    assert cheap_statuses == [200] * 20
    assert [status for status, _ in results] == [200] * 16
    for _, text in results:
        rows = csv_rows(text)
        assert len(rows) == 3001 and rows[-1][1] == "08:49:59"  # header + every call
    exported = [a for a in await api.audit() if a.action == "calls.export"]
    assert len(exported) == 16


BIG_NOTE = "回访完成 " * 400  # ~4.4 KB of UTF-8: 1500 rows are more than socket buffers hold


@pytest.mark.timeout(120)
async def test_a_stalled_download_blocks_no_other_request_of_its_token(api: Api) -> None:
    """A client that stops reading an export holds neither the token's row nor
    a transaction: the same token's other requests answer meanwhile."""
    await seed(api, 1500, BIG_NOTE)
    await forget_last_use(api)
    download = StalledDownload(api, api.tokens["admin"])
    assert (await download.start()).startswith("HTTP/1.1 200")
    await asyncio.sleep(0.5)  # the server is now blocked writing to it
    for path in ("/api/v1/schedule", "/api/v1/calls?limit=10", "/api/v1/override"):
        status, body, _ = await api.call("GET", path)
        assert status == 200, (path, body)
    async with api.db.engine.connect() as conn:
        touched = (await conn.execute(select(models.api_tokens.c.last_used_at).where(
            models.api_tokens.c.name == "admin-user"))).scalar()
    assert touched is not None  # the touch was committed at once, not at the end
    body = await download.finish()
    assert len(body) > 6_000_000 and b"08:24:59" in body  # all of it, to the last call


@pytest.mark.timeout(120)
async def test_exports_over_the_limit_get_429_with_retry_after(db: Database) -> None:
    settings = dataclasses.replace(SETTINGS, http=HttpSettings(max_exports=1))
    small = await start_api(db, settings)
    try:
        await seed(small, 1500, BIG_NOTE)
        download = StalledDownload(small, small.tokens["viewer"])
        assert (await download.start()).startswith("HTTP/1.1 200")
        status, problem, headers = await small.call("GET", "/api/v1/calls.csv")
        assert status == 429 and problem["type"].endswith(":busy")
        assert int(headers["Retry-After"]) > 0 and "http.max_exports" in problem["detail"]
        assert (await small.call("GET", "/api/v1/calls?limit=1"))[0] == 200
        await download.finish()
        status, text, _ = await small.call("GET", "/api/v1/calls.csv?limit=5")
        assert status == 200 and len(csv_rows(text)) == 6
    finally:
        await small.client.close()


@pytest.mark.timeout(60)
async def test_an_exhausted_pool_is_a_prompt_503_not_a_hang(
        db: Database, pg_dsn: str, tmp_path: Path) -> None:
    """With every connection taken, a request waits connect_timeout (1 s), not forever."""
    db = await open_database(DatabaseSettings(dsn=Secret(pg_dsn), connect_timeout=1.0),
                             tmp_path)
    held = []
    small = await start_api(db)
    try:
        pool = db.engine.pool
        for _ in range(pool.size() + getattr(pool, "_max_overflow")):  # noqa: B009
            held.append(await db.engine.connect())
        status, problem, headers = await small.call("GET", "/api/v1/schedule")
        assert status == 503 and problem["type"].endswith(":busy")
        assert "connection" in problem["detail"] and headers["Retry-After"]
    finally:
        for conn in held:
            await conn.close()
        await small.client.close()
        await db.close()


# -- item 8: concurrent writes of a singleton -----------------------------------------


def override_body(n: int) -> dict[str, Any]:
    until = (datetime.now(UTC) + timedelta(hours=1, minutes=n)).replace(microsecond=0)
    return {"mode": "closed" if n % 2 else "open", "until": until.isoformat(),
            "note": f"writer {n}"}


def schedule_body(n: int) -> dict[str, Any]:
    return {"timezone": "Asia/Shanghai", "workday_periods": None, "weekly": [
        {"day": "mon", "start": "09:00", "end": f"{12 + n // 60:02d}:{n % 60:02d}"}]}


def roster_body(n: int) -> dict[str, Any]:
    return {"supervisor": {"id": "li.na", "name": f"Li Na {n}", "mobile": "13800000001"},
            "deputies": [], "absences": [
                {"person_id": "li.na", "from": "2026-10-01T00:00:00+08:00",
                 "to": None, "reason": "leave", "note": f"absence {n}"}]}


SINGLETONS: list[tuple[str, str, Callable[[int], dict[str, Any]], Callable[[Any], Any]]] = [
    ("/api/v1/override", "override.set", override_body, lambda body: body["override"]),
    ("/api/v1/schedule", "schedule.update", schedule_body, lambda body: body),
    ("/api/v1/roster", "roster.update", roster_body, lambda body: body),
]


@pytest.mark.timeout(120)
@pytest.mark.parametrize(("path", "action", "body", "state"), SINGLETONS,
                         ids=["override", "schedule", "roster"])
async def test_concurrent_puts_end_cleanly_with_a_true_audit_chain(
        api: Api, path: str, action: str, body: Callable[[int], dict[str, Any]],
        state: Callable[[Any], Any]) -> None:
    """20 rounds of two admins PUTting at once: each gets 200 or 409, never a
    500, and every audit entry's ``before`` is the previous entry's ``after``."""
    initial = state((await api.call("GET", path))[1])
    statuses = []
    for round_ in range(20):
        answers = await asyncio.gather(*(api.call("PUT", path, json=body(2 * round_ + i))
                                         for i in range(2)))
        statuses += [status for status, _, _ in answers]
    assert set(statuses) <= {200, 409} and 200 in statuses, statuses
    entries = [a for a in await api.audit() if a.action == action]
    assert len(entries) == statuses.count(200)
    assert entries[0].before == initial
    for previous, entry in itertools.pairwise(entries):
        assert entry.before == previous.after, entry.id
    assert state((await api.call("GET", path))[1]) == entries[-1].after


@pytest.mark.timeout(120)
async def test_the_audit_log_in_time_order_is_the_chain_of_concurrent_puts(api: Api) -> None:
    """20 roster PUTs at once (issue 9 follow-up): each waits for the document's
    lock, so its entry's time is after the lock, and /api/v1/audit (newest
    first by time) lists them as the chain of before and after."""
    answers = await asyncio.gather(*(api.call("PUT", "/api/v1/roster", json=roster_body(n))
                                     for n in range(20)))
    assert [status for status, _, _ in answers] == [200] * 20
    status, page, _ = await api.call("GET", "/api/v1/audit?action=roster.update&limit=50")
    assert status == 200
    listed = list(reversed(page["items"]))  # oldest first
    assert len(listed) == 20
    for previous, entry in itertools.pairwise(listed):
        assert entry["before"] == previous["after"], (previous["id"], entry["id"])
        assert datetime.fromisoformat(entry["at"]) >= datetime.fromisoformat(previous["at"])
    assert [e["id"] for e in listed] == sorted(e["id"] for e in listed)
