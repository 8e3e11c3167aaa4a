"""Configuration changes reach every running instance through LISTEN/NOTIFY.

A writer commits its change and sends ``NOTIFY hotline_config`` in the same
transaction; each daemon holds one dedicated asyncpg connection LISTENing on
that channel and reloads its in-memory routing snapshot when told. A NOTIFY
sent while the connection was down is never delivered, so every (re)connect
triggers a reload too: no change is missed, only applied a little later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from hotline_pbx.lifecycle import BackgroundTask, Readiness
from hotline_pbx.store.models import CONFIG_CHANNEL
from hotline_pbx.store.pg_session import keep_connected

log = logging.getLogger(__name__)

Reload = Callable[[], Awaitable[None]]


class ConfigListener:
    def __init__(self, dsn: str, reload: Reload, *, channel: str = CONFIG_CHANNEL,
                 connect_timeout: float = 5.0, retry_seconds: float = 2.0,
                 on_payload: Callable[[str], None] | None = None) -> None:
        self._dsn = dsn
        self._reload = reload
        self._on_payload = on_payload  # each message's payload, as it comes
        self._channel = channel
        self._connect_timeout = connect_timeout
        self._retry_seconds = retry_seconds
        self._wakeup = asyncio.Event()
        self.name = "config listener"
        self._task = BackgroundTask("config-listener", self._run)
        self.listening = asyncio.Event()

    async def start(self) -> None:
        """Listen in the background (it reconnects on its own)."""
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()

    def readiness(self) -> Readiness:
        """Ready while the task runs: a lost connection is retried, and routing
        goes on with its snapshot meanwhile."""
        return self._task.readiness()

    async def _run(self) -> None:
        await keep_connected(self._dsn, self._listen, connect_timeout=self._connect_timeout,
                             retry_seconds=self._retry_seconds, failed=self._failed,
                             ended=self.listening.clear)

    async def _listen(self, connection: Any) -> None:
        lost = asyncio.Event()
        connection.add_termination_listener(lambda _c, lost=lost: lost.set())
        await connection.add_listener(self._channel, self._on_notify)
        await self._reload_safely()  # whatever changed while we were away
        self.listening.set()  # listening, and up to date
        await self._serve(lost)

    def _failed(self, exc: Exception) -> None:
        log.warning("config listener: %s; retrying in %ss", exc, self._retry_seconds)

    async def _serve(self, lost: asyncio.Event) -> None:
        """Reload on each wake-up; several NOTIFYs in a burst cost one reload."""
        lost_wait = asyncio.ensure_future(lost.wait())
        try:
            while not lost.is_set():
                wake = asyncio.ensure_future(self._wakeup.wait())
                await asyncio.wait({wake, lost_wait}, return_when=asyncio.FIRST_COMPLETED)
                wake.cancel()
                if self._wakeup.is_set():
                    self._wakeup.clear()
                    await self._reload_safely()
        finally:
            lost_wait.cancel()

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if self._on_payload is not None:
            try:
                self._on_payload(payload)
            except Exception:
                log.exception("%s: a message handler failed", self._channel)
        self._wakeup.set()

    async def _reload_safely(self) -> None:
        try:
            await self._reload()
        except Exception:
            # A bad document in the database must not stop routing: the last
            # good snapshot stays in force.
            log.exception("configuration reload failed; keeping the previous snapshot")
