"""The FastAGI wire format, without any I/O.

What Asterisk 22 (`res/res_agi.c`) sends and expects:

* On connect, the environment: `agi_key: value` lines, `agi_arg_N` for the
  arguments of `AGI()`, then one blank line. `agi_network_script` carries the
  part of `agi://host:port/<script>` after the host, query string included.
* Then a dialogue: we send one command line, Asterisk answers one reply:
  `200 result=1 (data) endpos=…`, `510 Invalid or unknown command`,
  `511 Command Not Permitted on a dead channel or intercept routine`, or the
  multi-line `520-…` block ending with `520 End of proper usage.`.
* When the caller hangs up, Asterisk writes `HANGUP` on a line of its own,
  unsolicited, possibly before the reply of the command in flight. After it,
  the dialogue goes on (each command still gets exactly one reply: `511` for
  most, `200` for those allowed on a dead channel such as `SET VARIABLE`).
  It also writes `HANGUP` when the session ends normally, after reading our
  end-of-stream (unless the channel has `AGISIGHUP=no`).
* Commands are read through a stdio buffer, but the socket is polled before
  each: pipelined commands wait unread until more bytes or our end-of-stream
  arrive (seen on the sandbox). `AgiChannel.set_variables(final=True)` relies
  on the end-of-stream.
* Asterisk splits a command into arguments with its own rules (`parse_args`):
  double quotes group, a backslash escapes the next character. It reads a
  command into a 2048-byte buffer: a longer line is cut and its remainder runs
  as a second command, so we refuse to send one.

Everything here works on bytes and strings and raises only `AgiProtocolError`
(for what the peer sent) or `AgiEncodeError` (for what we were asked to send).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Final
from urllib.parse import unquote

from hotline_pbx.agi.errors import AgiEncodeError, AgiLineTooLong, AgiProtocolError

#: Longest line accepted from the peer, in bytes (newline excluded).
DEFAULT_LINE_LIMIT: Final = 8192
#: Largest environment block accepted, in bytes. Asterisk sends ~1 KiB.
ENV_BLOCK_LIMIT: Final = 64 * 1024
#: Asterisk passes at most 127 arguments (MAX_ARGS 128); a bigger index is not Asterisk.
MAX_ARG_INDEX: Final = 1024
#: Lines of a multi-line (`520-`) reply before we call it garbage.
MAX_REPLY_BLOCK_LINES: Final = 256
#: Bytes of a multi-line (`520-`) reply, its unfinished line included: what one
#: session may hold beyond its environment. Asterisk 22's longest usage text
#: (`CONTROL STREAM FILE`) is under 1 KiB; without a byte bound, 256 lines of
#: up to `line_limit` bytes held ~1.8 MiB per session.
MAX_REPLY_BLOCK_BYTES: Final = 8 * 1024
#: Asterisk reads commands into `char buf[AGI_BUF_LEN=2048]`: 2047 bytes with the newline.
MAX_COMMAND_BYTES: Final = 2047

_EMPTY: Final[Mapping[str, str]] = MappingProxyType({})
# Bytes that would end or truncate a command line on the Asterisk side.
_UNSAFE_IN_COMMAND = re.compile(r"[\r\n\x00]")
_COMMAND_WORDS = re.compile(r"[A-Za-z]+(?: [A-Za-z]+)*")
# One plain environment line, as the loop of `parse_env_block` reads it: split at
# the first ": ", an `agi_` key that is not an argument (`agi_arg_N`); a key with
# a colon in it is left to that loop.
_PLAIN_ENV_LINE = re.compile(r"^agi_(?!arg_)([^:\n]*): ([^\n]*)$", re.MULTILINE)
# What may follow the closing parenthesis of a reply's data: `key=value` tokens.
_TRAILING_FIELDS = re.compile(r"(?:\s+\S+=\S*)*\s*")


# --------------------------------------------------------------------------- environment


@dataclass(frozen=True, slots=True)
class AgiEnvironment:
    """The parsed `agi_*` block: keys without the `agi_` prefix, arguments in order."""

    values: Mapping[str, str]
    args: tuple[str, ...] = ()


def parse_env_block(block: bytes, *, line_limit: int = DEFAULT_LINE_LIMIT) -> AgiEnvironment:
    """Parse the bytes before the blank line.

    Bytes that are not UTF-8 (a GBK caller name…) decode with U+FFFD.
    """
    if len(block) > line_limit:  # only then can one line be over the limit
        _check_line_lengths(block, line_limit)
    text = block.decode("utf-8", "replace")
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    else:
        # Runs for every call. The usual block: only plain `agi_key: value`
        # lines, each ending with a newline: one regex pass (~40% cheaper than
        # the loop below, measured) when every line is one of those.
        pairs = _PLAIN_ENV_LINE.findall(text)
        if len(pairs) == text.count("\n") and text.endswith("\n"):
            return AgiEnvironment(dict(pairs))
    values: dict[str, str] = {}
    numbered: dict[int, str] = {}
    # Runs for every call: the common `agi_key: value` line takes the short
    # branch; arguments and oddities go to a helper.
    for line in text.split("\n"):
        key, sep, value = line.partition(": ")
        if sep and key[:4] == "agi_" and key[4:8] != "arg_":
            values[key[4:]] = value
        elif line:
            _parse_unusual_line(line, values, numbered)
    return AgiEnvironment(values, _ordered_args(numbered))


def _check_line_lengths(block: bytes, line_limit: int) -> None:
    for raw in block.split(b"\n"):
        if len(raw) > line_limit:
            raise AgiLineTooLong(f"environment line of {len(raw)} bytes (limit {line_limit})")


def _parse_unusual_line(line: str, values: dict[str, str], numbered: dict[int, str]) -> None:
    """A line that is not a plain `agi_key: value`: an argument, or tolerated oddities."""
    key, sep, value = line.partition(": ")
    if not sep:
        # Tolerate `agi_key:` with nothing after it (an empty value, trimmed).
        key, sep, value = line.partition(":")
        if not sep or value.strip():
            raise AgiProtocolError(f"malformed environment line {line[:60]!r}")
        value = ""
    if not key:
        raise AgiProtocolError(f"environment line without a key {line[:60]!r}")
    key = key[4:] if key.startswith("agi_") else key
    index = _arg_index(key)
    if index is None:
        values[key] = value
    else:
        numbered[index] = value


def _arg_index(key: str) -> int | None:
    if not key.startswith("arg_"):
        return None
    digits = key[4:]
    if not (digits.isascii() and digits.isdigit()):
        return None
    index = int(digits)
    if not 1 <= index <= MAX_ARG_INDEX:
        raise AgiProtocolError(f"argument index out of range: {key[:40]!r}")
    return index


def _ordered_args(numbered: Mapping[int, str]) -> tuple[str, ...]:
    if not numbered:
        return ()
    # Asterisk numbers arguments 1..n without gaps; a gap keeps later positions stable.
    return tuple(numbered.get(i, "") for i in range(1, max(numbered) + 1))


def encode_env_block(values: Mapping[str, str], args: Sequence[str] = ()) -> bytes:
    """The inverse of `parse_env_block`, blank line included (fake Asterisk, tests, bench)."""
    if any(_UNSAFE_IN_COMMAND.search(s) for s in (*values, *values.values(), *args)):
        raise AgiEncodeError("environment keys and values must not contain CR, LF or NUL")
    lines = [f"agi_{key}: {value}\n" for key, value in values.items()]
    lines.extend(f"agi_arg_{i}: {value}\n" for i, value in enumerate(args, start=1))
    return "".join(lines).encode("utf-8") + b"\n"


# --------------------------------------------------------------------------- script routing


@dataclass(frozen=True, slots=True)
class ScriptRoute:
    """`route?x=1` → script `route`, params `{"x": "1"}`."""

    script: str
    params: Mapping[str, str] = field(default_factory=dict)


def parse_script(raw: str) -> ScriptRoute:
    """Split `agi_network_script` into a script name and its query parameters.

    Percent-escapes are decoded, but `+` is kept: `?caller=+8613800000000` is an
    E.164 number, not a space (the form-encoding rule does not apply here).
    """
    path, _, query = raw.partition("?")
    script = unquote(path, errors="replace").strip("/")
    params: dict[str, str] = {}
    for pair in query.split("&"):
        if not pair:
            continue
        key, _, value = pair.partition("=")
        params[unquote(key, errors="replace")] = unquote(value, errors="replace")
    return ScriptRoute(script, params)


def script_of(values: Mapping[str, str]) -> ScriptRoute:
    """The script of an environment: `network_script`, else the path of `request`.

    Asterisk omits `agi_network_script` when the URL has no path (`agi://host`).
    """
    raw = values.get("network_script")
    if raw is None:
        request = values.get("request", "")
        _, scheme_sep, rest = request.partition("://")
        raw = rest.partition("/")[2] if scheme_sep else ""
    return parse_script(raw)


# --------------------------------------------------------------------------- replies


@dataclass(frozen=True, slots=True)
class AgiReply:
    """One reply of Asterisk to one command.

    `text` is the reply as received (the lines of a multi-line reply joined with
    newlines); `result`, `data` and `fields` are filled for `200` replies:
    `200 result=1 (timeout) endpos=1234` → result `"1"`, data `"timeout"`,
    fields `{"endpos": "1234"}`. `usage` holds the usage lines of a `520-` block.
    """

    code: int
    text: str
    result: str | None = None
    data: str | None = None
    fields: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    usage: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.code == 200

    @property
    def result_int(self) -> int | None:
        try:
            return int(self.result) if self.result is not None else None
        except ValueError:
            return None


class _Hangup:
    """The unsolicited `HANGUP` line (a singleton event)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "HANGUP"


HANGUP: Final = _Hangup()

#: What the stream parser yields, in stream order.
AgiEvent = AgiEnvironment | AgiReply | _Hangup

# Replies so common that parsing them again is a waste (the objects are immutable).
_COMMON_REPLIES: Final[dict[str, AgiReply]] = {
    line: AgiReply(200, line, result)
    for line, result in (("200 result=1", "1"), ("200 result=0", "0"), ("200 result=-1", "-1"))
}


# The same, as whole reads: what a read usually holds once the environment is in.
_COMMON_READS: Final[dict[bytes, AgiReply | _Hangup]] = {
    **{line.encode() + b"\n": reply for line, reply in _COMMON_REPLIES.items()},
    b"HANGUP\n": HANGUP,
}


def parse_reply_line(line: str) -> AgiReply:
    """Parse a one-line reply (`200 …`, `510 …`, `511 …`, `520 …`, `100 …`)."""
    cached = _COMMON_REPLIES.get(line)
    if cached is not None:
        return cached
    code = _reply_code(line)
    if len(line) > 3 and line[3] != " ":
        raise AgiProtocolError(f"malformed reply {line[:60]!r}")
    if code == 200:
        return _parse_success(line)
    return AgiReply(code, line)


def _reply_code(line: str) -> int:
    head = line[:3]
    if len(head) != 3 or not (head.isascii() and head.isdigit()):
        raise AgiProtocolError(f"not an AGI reply {line[:60]!r}")
    return int(head)


def _parse_success(line: str) -> AgiReply:
    rest = line[4:]
    if not rest.startswith("result="):
        return AgiReply(200, line)
    result, _, tail = rest[7:].partition(" ")
    data: str | None = None
    if tail.startswith("("):
        end = _data_end(tail)
        if end < 0:  # unterminated: keep what is there rather than fail the call
            data, tail = tail[1:], ""
        else:
            data, tail = tail[1:end], tail[end + 1 :]
    fields = {k: v for k, sep, v in (t.partition("=") for t in tail.split()) if sep}
    return AgiReply(200, line, result, data, fields or _EMPTY)


def _data_end(tail: str) -> int:
    """Index of the `)` closing the data: the last one followed only by `key=value`s.

    The data itself may hold parentheses (a variable's value), so the first `)`
    is not enough.
    """
    end = len(tail)
    while (index := tail.rfind(")", 0, end)) > 0:
        if _TRAILING_FIELDS.fullmatch(tail, index + 1):
            return index
        end = index
    return -1


# --------------------------------------------------------------------------- stream parser


class AgiStreamParser:
    """Turns the bytes Asterisk sends into events, whatever the chunking.

    First the environment block (one `AgiEnvironment` event), then replies and
    `HANGUP` lines. Interim `100 Trying…` replies are dropped; a `520-` block is
    assembled into one reply. Lines over `line_limit` and blocks over
    `MAX_REPLY_BLOCK_BYTES` are refused as soon as the buffer shows it, so
    memory stays bounded.
    """

    __slots__ = (
        "_block",
        "_block_bytes",
        "_buf",
        "_env_done",
        "_env_limit",
        "_line_limit",
        "_scan_from",
    )

    def __init__(
        self, *, line_limit: int = DEFAULT_LINE_LIMIT, env_limit: int = ENV_BLOCK_LIMIT
    ) -> None:
        if line_limit < 64:
            raise ValueError("line_limit must be at least 64 bytes")
        self._line_limit = line_limit
        self._env_limit = max(env_limit, line_limit)
        self._buf = bytearray()
        self._env_done = False
        self._scan_from = 0
        self._block: list[str] | None = None  # lines of a multi-line reply in progress
        self._block_bytes = 0  # their size, newlines included

    @property
    def environment_received(self) -> bool:
        return self._env_done

    @property
    def pending_bytes(self) -> int:
        """Bytes received but not yet part of an event (a partial line or block)."""
        return len(self._buf) + self._block_bytes

    def feed(self, data: bytes) -> list[AgiEvent]:
        if not self._env_done:
            return self._feed_env(data)
        if not self._buf and self._block is None:
            # The usual read: exactly one common reply line (or HANGUP), nothing pending.
            known = _COMMON_READS.get(data)
            if known is not None:
                return [known]
        return self._feed_lines(data)

    # -- environment phase

    def _feed_env(self, data: bytes) -> list[AgiEvent]:
        if (
            not self._buf
            and data.find(b"\n\n") == len(data) - 2 > 0
            and len(data) <= self._env_limit + 1
            and b"\n\r\n" not in data
            and not data.startswith((b"\n", b"\r\n"))  # an empty block, then more
        ):
            # The usual read: the whole block, ending with its blank line, and nothing more.
            self._env_done = True
            return [parse_env_block(data[:-1], line_limit=self._line_limit)]
        buf = self._buf
        line_start = buf.rfind(b"\n") + 1  # where the line this chunk continues began
        buf += data
        found = self._find_blank_line()
        if found is None:
            self._check_env_growth(line_start)
            return []
        end, after = found
        if end > self._env_limit:
            raise AgiProtocolError(f"environment block over {self._env_limit} bytes")
        environment = parse_env_block(bytes(buf[:end]), line_limit=self._line_limit)
        rest = bytes(buf[after:])
        buf.clear()
        self._env_done = True
        events: list[AgiEvent] = [environment]
        if rest:
            events.extend(self._feed_lines(rest))
        return events

    def _find_blank_line(self) -> tuple[int, int] | None:
        """(end of block, start of what follows) once the blank line is in the buffer."""
        buf = self._buf
        if buf.startswith(b"\n"):
            return 0, 1
        if buf.startswith(b"\r\n"):
            return 0, 2
        start = self._scan_from
        lf = buf.find(b"\n\n", start)
        crlf = buf.find(b"\n\r\n", start)
        # A new chunk may complete a terminator that began in the previous one.
        self._scan_from = max(len(buf) - 2, 0)
        if lf < 0 and crlf < 0:
            return None
        if crlf < 0 or 0 <= lf < crlf:
            return lf + 1, lf + 2
        return crlf + 1, crlf + 3

    def _check_env_growth(self, line_start: int) -> None:
        """Refuse a line over the limit as soon as it shows, complete or not."""
        buf = self._buf
        if any(len(line) > self._line_limit for line in buf[line_start:].split(b"\n")):
            raise AgiLineTooLong(f"environment line over {self._line_limit} bytes")
        if len(buf) > self._env_limit:
            raise AgiProtocolError(f"environment block over {self._env_limit} bytes")

    # -- dialogue phase

    def _feed_lines(self, data: bytes) -> list[AgiEvent]:
        buf = self._buf
        if b"\n" not in data:
            buf += data
            if len(buf) > self._line_limit:
                raise AgiLineTooLong(f"reply line over {self._line_limit} bytes")
            if self._block is not None:
                self._check_block_size(len(buf))
            return []
        if buf:
            data = bytes(buf) + data
            buf.clear()
        lines = data.split(b"\n")
        tail = lines.pop()
        if len(tail) > self._line_limit:
            raise AgiLineTooLong(f"reply line over {self._line_limit} bytes")
        buf += tail
        events: list[AgiEvent] = []
        for raw in lines:
            if len(raw) > self._line_limit:
                raise AgiLineTooLong(f"reply line of {len(raw)} bytes (limit {self._line_limit})")
            event = self._on_line(raw.decode("utf-8", "replace"))
            if event is not None:
                events.append(event)
        if self._block is not None:
            self._check_block_size(len(buf))
        return events

    def _on_line(self, line: str) -> AgiReply | _Hangup | None:
        if line.endswith("\r"):
            line = line[:-1]
        if self._block is not None:
            return self._on_block_line(line)
        if line == "HANGUP":
            return HANGUP
        if not line:
            return None  # a stray blank line carries nothing
        if len(line) > 3 and line[3] == "-":
            _reply_code(line)  # validates the code
            self._block = [line]
            self._block_bytes = len(line) + 1
            return None
        reply = parse_reply_line(line)
        return None if reply.code == 100 else reply  # `100 Trying…` is interim

    def _on_block_line(self, line: str) -> AgiReply | None:
        block = self._block
        assert block is not None
        head = block[0][:3]
        if line.startswith(head + " ") or line == head:
            self._block = None
            self._block_bytes = 0
            return AgiReply(int(head), "\n".join((*block, line)), usage=tuple(block[1:]))
        if len(block) >= MAX_REPLY_BLOCK_LINES:
            raise AgiProtocolError(f"multi-line reply over {MAX_REPLY_BLOCK_LINES} lines")
        block.append(line)
        self._block_bytes += len(line) + 1
        self._check_block_size()
        return None

    def _check_block_size(self, unfinished: int = 0) -> None:
        """Refuse a `520-` block (with its `unfinished` last line) over the byte bound."""
        if self._block_bytes + unfinished > MAX_REPLY_BLOCK_BYTES:
            raise AgiProtocolError(f"multi-line reply over {MAX_REPLY_BLOCK_BYTES} bytes")


# --------------------------------------------------------------------------- commands


def quote_arg(value: str) -> str:
    """Quote one argument so that Asterisk's `parse_args` gives `value` back.

    Always quoted: an empty value or one with spaces stays one argument.
    """
    if _UNSAFE_IN_COMMAND.search(value):
        raise AgiEncodeError(f"argument contains CR, LF or NUL: {value[:40]!r}")
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@lru_cache(maxsize=128)
def _command_prefix(command: str) -> str:
    if not _COMMAND_WORDS.fullmatch(command):
        raise AgiEncodeError(f"not an AGI command name: {command[:40]!r}")
    return command


def encode_command(command: str, *args: str) -> bytes:
    """`encode_command("SET VARIABLE", "X", "a b")` → `b'SET VARIABLE "X" "a b"\\n'`.

    `command` is the command's name (letters and single spaces); every
    argument is quoted as `quote_arg` does. Refuses a line Asterisk would not
    read as one command.
    """
    prefix = _command_prefix(command)
    if args:
        joined = "".join(args)  # one scan of all arguments on the common path
        if _UNSAFE_IN_COMMAND.search(joined):
            _refuse_unsafe(args)
        if '"' in joined or "\\" in joined:
            args = tuple(a.replace("\\", "\\\\").replace('"', '\\"') for a in args)
        line = prefix + ' "' + '" "'.join(args) + '"\n'
    else:
        line = prefix + "\n"
    try:
        data = line.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise AgiEncodeError(f"argument is not encodable as UTF-8: {exc.reason}") from None
    if len(data) > MAX_COMMAND_BYTES:
        raise AgiEncodeError(
            f"command of {len(data)} bytes; Asterisk reads at most {MAX_COMMAND_BYTES}"
        )
    return data


def _refuse_unsafe(args: tuple[str, ...]) -> None:
    for arg in args:
        if _UNSAFE_IN_COMMAND.search(arg):
            raise AgiEncodeError(f"argument contains CR, LF or NUL: {arg[:40]!r}")


def split_command(line: str) -> list[str]:
    """Split a command line the way Asterisk's `parse_args` does.

    The inverse of `encode_command`; a fake Asterisk in tests and the benchmark
    uses it. A quote that opens after whitespace starts an argument (so `""`
    is an empty argument); a backslash makes the next character literal.
    """
    words: list[str] = []
    current: list[str] = []
    in_word = quoted = escaped = False
    for ch in line:
        if ch == '"' and not escaped:
            quoted = not quoted
            if quoted and not in_word:
                in_word, current = True, []
            continue
        if ch in " \t" and not quoted and not escaped:
            if in_word:
                words.append("".join(current))
                in_word = False
            continue
        if ch == "\\" and not escaped:
            escaped = True
            continue
        if not in_word:
            in_word, current = True, []
        current.append(ch)
        escaped = False
    if in_word:
        words.append("".join(current))
    return words
