"""What every API handler gets: the request, its caller, one database
transaction, the checked query, and helpers to answer and to audit.

A handler is a plain ``async def handler(call: Call) -> web.StreamResponse``.
Its :class:`Endpoint` (method, path, least role, query parameters it accepts)
is listed in the routes module; :mod:`hotline_pbx.api.app_factory` registers
the list once, wrapping each handler so that, in this order, the token is
checked (401, in a short transaction of its own), the role (403), the query
(400), and the handler and its audit row run in one transaction with a
deadline: an exception anywhere rolls all of it back, so a refused request
changes nothing. A request holds one pooled connection at a time.

A *streaming* endpoint (the CSV export) gets no transaction: it opens short
ones itself, page by page, so a slow client never pins a connection.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline_pbx.api.auth import Principal
from hotline_pbx.api.params import local_iso
from hotline_pbx.api.problems import busy
from hotline_pbx.api.sessions import SessionStore
from hotline_pbx.config import Settings
from hotline_pbx.domain.contract import AccessRole
from hotline_pbx.domain.masking import mask_json, mask_name, mask_number
from hotline_pbx.store.api_repo import authenticate, record_audit

if TYPE_CHECKING:
    from hotline_pbx.ami.queue_watch import QueueWatch  # staffing advisor (issue 15)
    from hotline_pbx.console.wallboard import Wallboard
    from hotline_pbx.long_calls import LongCallService


class ExportGate:
    """Bounds the CSV exports: at most ``downloads`` at once (one more is a
    429 with Retry-After, not a queue), and at most ``readers`` of them
    reading a page from the database at once, so however many exports run,
    the rest of the pool stays free for the API's other requests."""

    def __init__(self, downloads: int, readers: int) -> None:
        self.downloads = downloads
        self._active = 0
        self._readers = asyncio.Semaphore(readers)

    @asynccontextmanager
    async def download(self) -> AsyncIterator[None]:
        if self._active >= self.downloads:
            raise busy(429, f"{self._active} exports are running, the most this server "
                       "runs at once (http.max_exports); try again when one has finished",
                       retry_after=10)
        self._active += 1
        try:
            yield
        finally:
            self._active -= 1

    @asynccontextmanager
    async def reading(self) -> AsyncIterator[None]:
        async with self._readers:
            yield


@dataclass
class ApiContext:
    """Long-lived: the engine, the settings, the display zone, the export gate."""

    engine: AsyncEngine
    settings: Settings
    # Live state the API reads besides the database (set by app.py once started):
    long_calls: LongCallService | None = None  # issue 12: the queues and long calls
    # -- staffing advisor (issue 15) --
    queues: QueueWatch | None = None  # the AMI queue watch: agents logged in now
    # -- end staffing advisor --
    wallboard: Wallboard | None = None  # the console's live board (set by app.py)
    zone: ZoneInfo = field(init=False)
    exports: ExportGate = field(init=False)
    sessions: SessionStore = field(init=False)  # the console's logins

    def __post_init__(self) -> None:
        self.zone = ZoneInfo(self.settings.routing.timezone)
        console = self.settings.console
        self.sessions = SessionStore(lifetime=console.session_hours * 3600,
                                     max_sessions=console.max_sessions)
        self.exports = ExportGate(self.settings.http.max_exports,
                                  readers=max(1, self.settings.database.pool_size // 2))

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

    async def principal_for(self, conn: AsyncConnection, token_hash: str) -> Principal | None:
        """Who a token's hash is, by the database (the API and the console both ask
        here); None for an unknown or revoked token, whose console sessions end.
        Committed before the caller's own work: the token's row is touched (and
        locked) for one statement, never for a whole request."""
        async with conn.begin():
            found = await authenticate(conn, token_hash)
        if found is None:
            self.sessions.close_token(token_hash)
            return None
        return Principal(found[0], found[1], AccessRole.parse(found[2]))

    @asynccontextmanager
    async def connection(self, deadline: float | None = None
                         ) -> AsyncIterator[AsyncConnection]:
        """One pooled connection, no transaction yet (open them with ``conn.begin()``)."""
        async with asyncio.timeout(deadline or self.deadline), self.engine.connect() as conn:
            yield conn


@dataclass
class Call:
    """One API request being handled."""

    api: ApiContext
    request: web.Request
    principal: Principal
    query: Mapping[str, str]
    transaction: AsyncConnection | None = None  # None for a streaming endpoint

    @property
    def conn(self) -> AsyncConnection:
        """The request's transaction."""
        if self.transaction is None:
            raise RuntimeError("a streaming endpoint has no request transaction; "
                               "open short ones with call.api.transaction()")
        return self.transaction

    @property
    def client(self) -> str:
        return self.request.remote or ""

    @property
    def zone(self) -> ZoneInfo:
        return self.api.zone

    def local(self, value: datetime | str | None) -> str | None:
        return local_iso(value, self.api.zone)

    def shown(self, value: Any) -> Any:
        """What this caller may read of a stored value (text, or JSON walked
        whole, keys and numbers included): every phone number masked for a viewer."""
        return mask_json(value) if self.principal.masked else value

    def shown_number(self, number: str) -> str:
        """A value that is a phone number (a caller, a mobile), masked for a
        viewer whatever its length."""
        return mask_number(number) if self.principal.masked else number

    def shown_name(self, name: str) -> str:
        """A customer's name, masked for a viewer (complaints, issue 13)."""
        return mask_name(name) if self.principal.masked else name

    async def audit(self, action: str, target: str = "", *, before: Any = None,
                    after: Any = None) -> None:
        """Record who did what, in this request's transaction."""
        await record_audit(self.conn, actor=self.principal.actor, action=action,
                           target=target, before=before, after=after, client=self.client)

    async def audit_read(self, action: str, target: str, count: int | None = None) -> None:
        """Record a read of customer data: the query asked and, for a list,
        how many rows it returned."""
        after: dict[str, Any] = {"query": dict(self.query)}
        if count is not None:
            after["count"] = count
        await self.audit(action, target, after=after)


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
    #: the handler streams its answer and opens its own short transactions
    streams: bool = False


def json_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None
                  ) -> web.Response:
    return web.Response(text=json.dumps(data, ensure_ascii=False), status=status,
                        content_type="application/json", charset="utf-8",
                        headers=dict(headers or {}))
