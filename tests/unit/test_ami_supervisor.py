"""The AMI supervisor's reconnect loop, against real sockets on loopback."""

from __future__ import annotations

import asyncio
import logging

import pytest

from hotline_pbx.ami.supervisor import AmiSupervisor, describe
from hotline_pbx.config import AmiSettings, Secret


async def _failure_logged(caplog: pytest.LogCaptureFixture, timeout: float) -> str:
    async with asyncio.timeout(timeout):
        while True:
            for record in caplog.records:
                if "failed:" in record.getMessage():
                    return record.getMessage()
            await asyncio.sleep(0.05)


async def test_a_login_that_times_out_is_logged_with_its_type_and_limit(
        caplog: pytest.LogCaptureFixture) -> None:
    """A peer that accepts the connection and never speaks (no banner, no login
    reply), as Asterisk does when it is overloaded: the reason must not be empty."""
    silent: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        silent.append(writer)

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    supervisor = AmiSupervisor(AmiSettings(host="127.0.0.1", port=port, secret=Secret("s"),
                                           connect_timeout=0.3, reconnect_backoff_max=0.5))
    caplog.set_level(logging.WARNING, logger="hotline_pbx.ami.supervisor")
    await supervisor.start()
    try:
        message = await _failure_logged(caplog, 10)
    finally:
        await supervisor.stop()
        for writer in silent:
            writer.close()
        server.close()
        await server.wait_closed()
    assert message.endswith("failed: TimeoutError after 0.3s (no AMI banner or login reply)")
    assert silent  # it did connect: the login, not the TCP connect, timed out


def test_an_exception_without_text_is_described_by_its_type() -> None:
    assert describe(TimeoutError()) == "TimeoutError"
    assert describe(ConnectionResetError("peer reset")) == "peer reset"
