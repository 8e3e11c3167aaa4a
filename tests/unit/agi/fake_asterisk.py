"""A scripted Asterisk for driving the FastAGI server over a real socket.

It speaks the Asterisk side of the dialogue: sends the environment block,
reads our commands, and writes the replies a test tells it to.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Mapping, Sequence
from typing import ClassVar

from hotline_pbx.agi.protocol import encode_env_block, split_command

# Replies exactly as Asterisk 22 writes them (res/res_agi.c).
REPLY_OK = b"200 result=1\n"
REPLY_UNSET = b"200 result=0\n"
REPLY_510 = b"510 Invalid or unknown command\n"
REPLY_511 = b"511 Command Not Permitted on a dead channel or intercept routine\n"
# As the Asterisk 22 sandbox answered `SET VARIABLE "ONLY_NAME"`.
REPLY_520 = (
    b"520-Invalid command syntax.  Proper usage follows:\n"
    b"Sets a variable to the current channel.\n"
    b"520 End of proper usage.\n"
)
# Older releases print a longer usage text, blank lines included.
REPLY_520_LONG = (
    b"520-Invalid command syntax.  Proper usage follows:\n"
    b" Usage: SET VARIABLE <variablename> <value>\n"
    b"\n"
    b"Sets a variable to the current channel.\n"
    b"520 End of proper usage.\n"
)
HANGUP_LINE = b"HANGUP\n"

WAIT = 3.0  # generous bound for anything the server should do "at once"


def asterisk_env(
    script: str = "route",
    *,
    args: Sequence[str] = (),
    **overrides: str,
) -> dict[str, str]:
    """The environment Asterisk 22 sends for `AGI(agi://127.0.0.1:4573/<script>)`."""
    values = {
        "network": "yes",
        "network_script": script,
        "request": f"agi://127.0.0.1:4573/{script}",
        "channel": "PJSIP/carrier-00000001",
        "language": "en",
        "type": "PJSIP",
        "uniqueid": "1754380000.1",
        "version": "22.5.0",
        "callerid": "13800138000",
        "calleridname": "Zhang San",
        "callingpres": "0",
        "callingani2": "0",
        "callington": "0",
        "callingtns": "0",
        "dnid": "4008001234",
        "rdnis": "unknown",
        "context": "hotline-inbound",
        "extension": "4008001234",
        "priority": "2",
        "enhanced": "0.0",
        "accountcode": "",
        "threadid": "140234567890",
    }
    values.update(overrides)
    return values


def env_bytes(script: str = "route", *, args: Sequence[str] = (), **overrides: str) -> bytes:
    return encode_env_block(asterisk_env(script, **overrides), args)


class FakeAsterisk:
    # Every peer a test opened, so the fixture can close them all (no ResourceWarning).
    opened: ClassVar[list[FakeAsterisk]] = []

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        FakeAsterisk.opened.append(self)

    @classmethod
    async def close_all(cls) -> None:
        peers, cls.opened = cls.opened, []
        for peer in peers:
            await peer.close()

    @classmethod
    async def connect(cls, port: int, env: bytes | None = None) -> FakeAsterisk:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        peer = cls(reader, writer)
        if env is not None:
            await peer.send(env)
        return peer

    @classmethod
    async def start(
        cls, port: int, script: str = "route", *, args: Sequence[str] = (), **env: str
    ) -> FakeAsterisk:
        return await cls.connect(port, env_bytes(script, args=args, **env))

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()

    async def command(self) -> list[str]:
        """The next command the server sent, split as Asterisk splits it."""
        line = await asyncio.wait_for(self.reader.readline(), WAIT)
        assert line.endswith(b"\n"), f"connection closed instead of a command: {line!r}"
        return split_command(line[:-1].decode())

    async def answer(self, reply: bytes = REPLY_OK) -> list[str]:
        """Read one command and answer it."""
        words = await self.command()
        await self.send(reply)
        return words

    async def expect_closed(self) -> bytes:
        """Everything the server sends until it closes the connection."""
        try:
            return await asyncio.wait_for(self.reader.read(), WAIT)
        except ConnectionResetError:
            return b""
        finally:
            await self.close()

    async def nothing_sent_within(self, seconds: float) -> bool:
        try:
            data = await asyncio.wait_for(self.reader.read(1), seconds)
        except TimeoutError:
            return True
        return data == b""  # closed without sending is also "nothing sent"

    def reset(self) -> None:
        """Abort with a TCP RST (SO_LINGER 0), like a crashed peer."""
        sock = self.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.writer.transport.abort()

    async def close(self) -> None:
        self.writer.close()
        with contextlib.suppress(ConnectionError, OSError):
            await self.writer.wait_closed()


def replies(*lines: bytes) -> bytes:
    return b"".join(lines)


def env_with_raw(values: Mapping[str, bytes]) -> bytes:
    """An environment block with raw (possibly non-UTF-8) values."""
    text = env_bytes()
    block = text[:-1]  # drop the blank line
    for key, raw in values.items():
        block += b"agi_" + key.encode() + b": " + raw + b"\n"
    return block + b"\n"
