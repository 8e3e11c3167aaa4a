"""One FastAGI session: its state (`AgiSession`) and its command I/O (`AgiChannel`).

A handler receives both. The session is what Asterisk told us when it
connected; the channel is how the handler talks back, one command and one
reply at a time.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from hotline_pbx.agi.errors import AgiCommandError, AgiHangup, AgiStateError
from hotline_pbx.agi.protocol import AgiEnvironment, AgiReply, encode_command, script_of

# Asterisk's placeholder for a caller id or DNID that is absent (res_agi.c `S_COR(…, "unknown")`).
_ABSENT = "unknown"


@dataclass(slots=True)
class AgiSession:
    """What Asterisk sent when it connected: one object per connection."""

    peer: str
    script: str
    params: Mapping[str, str]
    env: Mapping[str, str]
    args: tuple[str, ...]

    @classmethod
    def from_environment(cls, environment: AgiEnvironment, *, peer: str) -> AgiSession:
        route = script_of(environment.values)
        return cls(peer, route.script, route.params, environment.values, environment.args)

    @property
    def uniqueid(self) -> str:
        return self.env.get("uniqueid", "")

    @property
    def channel(self) -> str:
        return self.env.get("channel", "")

    @property
    def callerid(self) -> str | None:
        """The caller's number, or None when Asterisk has none (`unknown`)."""
        return _present(self.env.get("callerid"))

    @property
    def calleridname(self) -> str | None:
        return _present(self.env.get("calleridname"))

    @property
    def dnid(self) -> str | None:
        """The number the caller dialled (the 400 number), or None."""
        return _present(self.env.get("dnid"))

    @property
    def extension(self) -> str:
        return self.env.get("extension", "")

    @property
    def context(self) -> str:
        return self.env.get("context", "")

    @property
    def linkedid(self) -> str | None:
        """Asterisk does not send it; the dialplan may pass `?linkedid=${CHANNEL(linkedid)}`."""
        return self.env.get("linkedid") or self.params.get("linkedid") or None


def _present(value: str | None) -> str | None:
    return None if value is None or value == _ABSENT or not value else value


class ReplyStream(Protocol):
    """What `AgiChannel` needs from the connection underneath."""

    @property
    def hung_up(self) -> bool: ...

    def send(self, data: bytes) -> None: ...

    def finish_sending(self) -> None: ...

    async def next_reply(self, timeout: float | None) -> tuple[AgiReply, bool]:
        """The next reply, and whether a `HANGUP` line came before it."""
        ...


class AgiChannel:
    """Sends AGI commands for one session and reads their replies in order.

    Raises `AgiHangup` when the caller has hung up (a `HANGUP` line before the
    reply, or a `511` reply) and `AgiCommandError` for `510`/`520`. Once the
    caller has hung up, further commands are not sent: they raise `AgiHangup`.
    """

    __slots__ = ("_finished", "_read_timeout", "_stream")

    def __init__(self, stream: ReplyStream, *, read_timeout: float | None) -> None:
        self._stream = stream
        self._read_timeout = read_timeout
        self._finished = False

    @property
    def hung_up(self) -> bool:
        return self._stream.hung_up

    async def execute(self, command: str, *args: str, timeout: float | None = None) -> AgiReply:
        """Send `command` with quoted `args` and return its `200` reply.

        `timeout` overrides the server's read timeout for this reply
        (`math.inf` waits for ever, e.g. for `EXEC Dial`).
        """
        data = encode_command(command, *args)  # refuse before anything is sent
        stream = self._stream
        if self._finished or stream.hung_up:
            self._check_usable()
        stream.send(data)
        reply, hangup_first = await stream.next_reply(
            self._read_timeout if timeout is None else self._timeout(timeout)
        )
        if reply.code == 200 and not hangup_first:
            return reply
        return _checked(reply, hangup_first)

    async def set_variable(self, name: str, value: str) -> None:
        await self.execute("SET VARIABLE", name, value)

    async def set_variables(self, values: Mapping[str, str], *, final: bool = False) -> None:
        """Set several channel variables.

        With `final=True` all commands go in one write, our side of the
        connection is then shut down, and the replies are read in order:
        one round trip instead of one per variable. It must be the session's
        last command: Asterisk (`run_agi` in res_agi.c) reads commands through
        a stdio buffer but polls the socket before each one, so a second
        pipelined command would sit in that buffer, unread, until more bytes
        or our end-of-stream arrive. Seeing the end-of-stream, Asterisk runs
        what it holds, replies, ends `AGI()` and the dialplan goes on.
        Without `final` the variables are set one round trip at a time.
        """
        if not final:
            for name, value in values.items():
                await self.set_variable(name, value)
            return
        payload = b"".join([encode_command("SET VARIABLE", k, v) for k, v in values.items()])
        self._check_usable()
        self._finished = True
        if payload:
            self._stream.send(payload)
        self._stream.finish_sending()
        await self._read_pipelined(len(values))

    async def get_variable(self, name: str) -> str | None:
        """The variable's value, or None when it is not set."""
        reply = await self.execute("GET VARIABLE", name)
        return reply.data if reply.result == "1" else None

    async def verbose(self, message: str, level: int = 1) -> None:
        """Write `message` to the Asterisk console/log at verbosity `level`."""
        await self.execute("VERBOSE", message, str(level))

    async def _read_pipelined(self, count: int) -> None:
        # Read every reply even after a failure, so each command is accounted for.
        failure: AgiCommandError | AgiHangup | None = None
        for _ in range(count):
            reply, hangup_first = await self._stream.next_reply(self._timeout(None))
            try:
                _checked(reply, hangup_first)
            except (AgiCommandError, AgiHangup) as exc:
                if failure is None or isinstance(exc, AgiHangup):
                    failure = exc
        if failure is not None:
            raise failure

    def _check_usable(self) -> None:
        if self._finished:
            raise AgiStateError("the session's command stream is already finished")
        if self._stream.hung_up:
            raise AgiHangup("the caller has hung up")

    def _timeout(self, timeout: float | None) -> float | None:
        if timeout is None:
            return self._read_timeout
        return None if math.isinf(timeout) else timeout


def _checked(reply: AgiReply, hangup_first: bool) -> AgiReply:
    if reply.code == 511:
        raise AgiHangup("command not permitted on a dead channel", reply)
    if hangup_first:
        raise AgiHangup("the caller hung up", reply)
    if reply.code != 200:
        raise AgiCommandError(reply)
    return reply
