"""One holder among many instances: a PostgreSQL advisory lock on its own connection.

Several daemons may share one PostgreSQL; some work must be done by exactly one
of them (the line monitor: the line is never test-dialled twice). Each instance
keeps trying ``pg_try_advisory_lock(key)`` on a dedicated asyncpg connection.
The holder keeps the lock as long as that session lives; when its process dies
or its connection breaks, PostgreSQL releases the lock and another instance
takes it at its next try (within ``retry_seconds``).

The holder checks its connection every ``check_seconds`` (``SELECT 1`` with a
timeout): a holder that cannot reach PostgreSQL may have lost the lock to
another instance, so it stops holding at once (:attr:`held` cleared) rather
than go on alongside the new holder.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from hotline_pbx.lifecycle import BackgroundTask, Readiness, describe
from hotline_pbx.store.pg_session import keep_connected

log = logging.getLogger(__name__)


class LeaderLock:
    def __init__(self, dsn: str, key: int, *, what: str, retry_seconds: float,
                 check_seconds: float = 2.0, connect_timeout: float = 5.0) -> None:
        self._dsn = dsn
        self._key = key
        self._what = what
        self.retry_seconds = retry_seconds
        self.check_seconds = check_seconds
        self._connect_timeout = connect_timeout
        self.held = asyncio.Event()
        self.released = asyncio.Event()  # set whenever not held
        self.released.set()
        # True while PostgreSQL answers and says another instance holds the lock:
        # the one case where this instance knows somebody else does the work.
        self.another_holds = False
        self.name = f"{what} lock"
        self._task = BackgroundTask(f"{what}-lock", self._run)
        self._state = "not tried yet"

    async def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()
        self._set_held(False)

    def readiness(self) -> Readiness:
        failed = self._task.readiness()
        return failed if not failed.ok else Readiness(True, self._state)

    @property
    def is_held(self) -> bool:
        return self.held.is_set()

    async def _run(self) -> None:
        await keep_connected(self._dsn, self._hold_while_alive,
                             connect_timeout=self._connect_timeout,
                             retry_seconds=self.retry_seconds, failed=self._unreachable,
                             ended=self._not_held)

    def _unreachable(self, exc: Exception) -> None:
        self._note(f"cannot reach PostgreSQL to take the lock: {describe(exc)}")

    def _not_held(self) -> None:
        self.another_holds = False
        self._set_held(False)

    async def _hold_while_alive(self, connection: Any) -> None:
        """Try for the lock until it is ours, then keep it while the session lives."""
        while not await self._try_lock(connection):
            self.another_holds = True
            self._note("another instance holds it")
            await asyncio.sleep(self.retry_seconds)
        self.another_holds = False
        self._set_held(True)
        self._note("held by this instance")
        while True:
            await asyncio.sleep(self.check_seconds)
            async with asyncio.timeout(self.check_seconds):
                await connection.fetchval("SELECT 1")

    async def _try_lock(self, connection: Any) -> bool:
        async with asyncio.timeout(self._connect_timeout):
            return bool(await connection.fetchval("SELECT pg_try_advisory_lock($1)", self._key))

    def _set_held(self, held: bool) -> None:
        if held == self.held.is_set():
            return
        if held:
            self.held.set()
            self.released.clear()
        else:
            self.held.clear()
            self.released.set()
            log.warning("%s: this instance no longer holds the lock", self._what)

    def _note(self, state: str) -> None:
        if state != self._state:
            self._state = state
            log.info("%s lock: %s", self._what, state)
