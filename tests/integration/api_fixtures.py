"""The REST API on an aiohttp test server over the run's real PostgreSQL,
with one token per role. Import the fixtures into a test module to use them."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping
from datetime import datetime
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import insert, select

from hotline_pbx.api.app_factory import build_app
from hotline_pbx.api.auth import hash_token, new_token
from hotline_pbx.api.context import ApiContext
from hotline_pbx.config import HttpSettings, Settings, load_settings
from hotline_pbx.lifecycle import Fixed, Readiness, ReadinessBoard
from hotline_pbx.store import api_repo, models
from hotline_pbx.store.database import Database

SETTINGS = load_settings(None, {"HOTLINE_AMI_SECRET": "x"})


def _readiness() -> ReadinessBoard:
    board = ReadinessBoard()
    board.add("database", Fixed(Readiness(True, "test")))
    return board


@dataclasses.dataclass
class Api:
    """A client with a token per role; ``as_role`` picks who asks."""

    client: TestClient[web.Request, web.Application]
    db: Database
    tokens: dict[str, str]

    def headers(self, role: str | None, extra: Mapping[str, str] | None = None
                ) -> dict[str, str]:
        headers = dict(extra or {})
        if role is not None:
            headers["Authorization"] = f"Bearer {self.tokens[role]}"
        return headers

    async def call(self, method: str, path: str, role: str | None = "admin", *,
                   json: Any = None, data: Any = None,
                   headers: Mapping[str, str] | None = None) -> tuple[int, Any, Any]:
        """(status, parsed body, response headers)."""
        response = await self.client.request(method, path, headers=self.headers(role, headers),
                                             json=json, data=data)
        text = await response.text()
        body: Any = text
        if "json" in response.content_type:
            body = await response.json(content_type=None)
        return response.status, body, response.headers

    async def audit(self) -> list[Any]:
        async with self.db.engine.connect() as conn:
            return list((await conn.execute(
                select(models.audit_log).order_by(models.audit_log.c.id))).all())

    async def insert_calls(self, rows: list[dict[str, Any]]) -> list[int]:
        async with self.db.engine.begin() as conn:
            result = await conn.execute(insert(models.calls).returning(models.calls.c.id),
                                        rows)
            return [int(r) for r in result.scalars()]


def make_settings(max_body_bytes: int = 65536) -> Settings:
    return dataclasses.replace(SETTINGS, http=HttpSettings(max_body_bytes=max_body_bytes))


async def start_api(db: Database, settings: Settings = SETTINGS) -> Api:
    tokens: dict[str, str] = {}
    async with db.engine.begin() as conn:
        for role in ("admin", "supervisor", "viewer"):
            token = new_token()
            await api_repo.create_token(conn, role + "-user", role, hash_token(token))
            tokens[role] = token
    app = build_app(ApiContext(db.engine, settings), _readiness())
    client: TestClient[web.Request, web.Application] = TestClient(TestServer(app))
    await client.start_server()
    return Api(client, db, tokens)


@pytest.fixture
async def api(db: Database) -> AsyncIterator[Api]:
    client = await start_api(db)
    try:
        yield client
    finally:
        await client.client.close()


def call_row(key: str, started: datetime, *, outcome: str = "answered", period: str = "open",
             caller: str = "13800138000", wait: float | None = 5.0,
             talk: float | None = 60.0, **extra: Any) -> dict[str, Any]:
    row = {"call_key": key, "caller": caller, "caller_name": "", "dnid": "4008001234",
           "started_at": started, "period": period, "outcome": outcome,
           "wait_seconds": wait, "talk_seconds": talk if outcome == "answered" else None,
           "answered_by": "agent1" if outcome == "answered" else None,
           "is_test": False, "details": {}}
    row.update(extra)
    return row
