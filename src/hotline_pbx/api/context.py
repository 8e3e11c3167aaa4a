"""What every API handler gets: the request, its caller, one database
transaction, the checked query, and helpers to answer and to audit.

A handler is a plain ``async def handler(call: Call) -> web.StreamResponse``.
Its :class:`Endpoint` (method, path, least role, query parameters it accepts)
is listed in the routes module; :mod:`hotline_pbx.api.app_factory` registers
the list once, wrapping each handler so that, in this order, the token is
checked (401), the role (403), the query (400), and the handler and its audit
row run in one transaction with a deadline: an exception anywhere rolls all
of it back, so a refused request changes nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline_pbx.api.auth import Principal
from hotline_pbx.api.params import local_iso
from hotline_pbx.config import Settings
from hotline_pbx.domain.contract import AccessRole
from hotline_pbx.domain.masking import mask_json, mask_number
from hotline_pbx.store.api_repo import record_audit


@dataclass
class ApiContext:
    """Long-lived: the engine, the settings and the display zone."""

    engine: AsyncEngine
    settings: Settings
    zone: ZoneInfo = field(init=False)

    def __post_init__(self) -> None:
        self.zone = ZoneInfo(self.settings.routing.timezone)

    @property
    def deadline(self) -> float:
        """Seconds one request may spend on the database (connect + commands)."""
        db = self.settings.database
        return db.connect_timeout + db.command_timeout

    @asynccontextmanager
    async def transaction(self, deadline: float | None = None
                          ) -> AsyncIterator[AsyncConnection]:
        async with asyncio.timeout(deadline or self.deadline), self.engine.begin() as conn:
            yield conn


@dataclass
class Call:
    """One API request being handled."""

    api: ApiContext
    request: web.Request
    conn: AsyncConnection
    principal: Principal
    query: Mapping[str, str]

    @property
    def client(self) -> str:
        return self.request.remote or ""

    @property
    def zone(self) -> ZoneInfo:
        return self.api.zone

    def local(self, value: datetime | None) -> str | None:
        return local_iso(value, self.api.zone)

    def shown(self, value: Any) -> Any:
        """What this caller may read of a stored value (text, or JSON walked
        whole, keys and numbers included): every phone number masked for a viewer."""
        return mask_json(value) if self.principal.masked else value

    def shown_number(self, number: str) -> str:
        """A value that is a phone number (a caller, a mobile), masked for a
        viewer whatever its length."""
        return mask_number(number) if self.principal.masked else number

    async def audit(self, action: str, target: str = "", *, before: Any = None,
                    after: Any = None) -> None:
        """Record who did what, in this request's transaction."""
        await record_audit(self.conn, actor=self.principal.actor, action=action,
                           target=target, before=before, after=after, client=self.client)


Handler = Callable[[Call], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    role: AccessRole
    query: frozenset[str] = frozenset()
    #: seconds for the whole request, if longer than ApiContext.deadline (exports)
    deadline: float | None = None


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None
                  ) -> web.Response:
    return web.Response(text=json.dumps(data, ensure_ascii=False), status=status,
                        content_type="application/json", charset="utf-8",
                        headers=dict(headers or {}))
