"""A dedicated PostgreSQL connection kept open for as long as its owner runs.

The config and route listeners, the route publisher and every advisory lock
hold an asyncpg connection of their own (LISTEN and advisory locks live in a
session, not in the pool). Each runs :func:`keep_connected`: connect, serve
until the connection fails, close, wait, again, forever (until cancelled).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg


async def keep_connected(dsn: str, serve: Callable[[Any], Awaitable[None]], *,
                         connect_timeout: float, retry_seconds: float,
                         failed: Callable[[Exception], None],
                         ended: Callable[[], None] | None = None) -> None:
    """Hand each new connection to ``serve``; ``failed`` hears why one ended
    (connect or serve raised), ``ended`` runs after each attempt whatever
    happened, before the close (given 2 s) and the wait of ``retry_seconds``."""
    while True:
        connection: Any = None
        try:
            connection = await asyncpg.connect(dsn, timeout=connect_timeout)
            await serve(connection)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failed(exc)
        finally:
            if ended is not None:
                ended()
            if connection is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(connection.close(), 2)
        await asyncio.sleep(retry_seconds)
