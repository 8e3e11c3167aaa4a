"""The /route INFO line for a hostile caller id (issue #9 item 11): the real
FastAGI server and RouteHandler, driven by the scripted Asterisk over a socket,
logging through the daemon's own formatter."""

from __future__ import annotations

import asyncio
import io
import logging
from collections.abc import Awaitable, Callable, Iterator

import pytest

from hotline_pbx.agi import FastAgiServer
from hotline_pbx.agi.route_handler import RouteHandler
from hotline_pbx.domain.calendar import BusinessCalendar
from hotline_pbx.domain.roster import Person, Roster
from hotline_pbx.domain.routing import RoutingSnapshot
from hotline_pbx.logs import MAX_VALUE, formatter

from .conftest import eventually
from .fake_asterisk import REPLY_OK, WAIT, FakeAsterisk, asterisk_env

StartServer = Callable[..., Awaitable[FastAgiServer]]


class Snapshot:
    snapshot = RoutingSnapshot(BusinessCalendar(), Roster(Person("li.na", "Li Na", "13800000001")))


def env_with_raw_caller(caller: bytes) -> bytes:
    """An environment block whose caller id carries bytes a well-behaved
    encoder refuses (a PBX passes on what the carrier sent)."""
    lines = [f"agi_{k}: {v}\n".encode() for k, v in asterisk_env("route").items()
             if k != "callerid"]
    return b"agi_callerid: " + caller + b"\n" + b"".join(lines) + b"\n"


@pytest.fixture(params=[False, True], ids=["masked", "log_numbers"])
def route_log(request: pytest.FixtureRequest) -> Iterator[tuple[io.StringIO, bool]]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter("text", log_numbers=request.param))
    logger = logging.getLogger("hotline_pbx.agi.route_handler")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream, request.param
    logger.removeHandler(handler)
    logger.setLevel(level)


async def route_one_call(start_server: StartServer, env: bytes, stream: io.StringIO) -> str:
    server = await start_server({"route": RouteHandler(Snapshot())})
    asterisk = await FakeAsterisk.connect(server.port, env)
    while await asyncio.wait_for(asterisk.reader.readline(), WAIT):
        await asterisk.send(REPLY_OK)  # every pipelined SET VARIABLE, until the server closes
    await asterisk.close()
    await eventually(lambda: "call " in stream.getvalue())
    [line] = stream.getvalue().splitlines()
    return line


async def test_cr_nul_and_ansi_in_a_caller_id_cannot_forge_a_log_line(
        start_server: StartServer, route_log: tuple[io.StringIO, bool]) -> None:
    stream, log_numbers = route_log
    forged = b"138 0013 8000\r2026-12-01 10:00:00,000 INFO    forged\x00\x1b[2J\x1b[31m"
    line = await route_one_call(start_server, env_with_raw_caller(forged), stream)
    assert "\r" not in line and "\x00" not in line and "\x1b" not in line
    number = "138 0013 8000" if log_numbers else "*** **** ****"  # "\r2026" joins the run
    assert f"call 1754380000.1 from {number}\\r" in line  # the call id stays whole
    assert "forged\\x00\\x1b[2J\\x1b[31m" in line


async def test_an_8_kb_caller_id_is_cut_and_masked(
        start_server: StartServer, route_log: tuple[io.StringIO, bool]) -> None:
    stream, log_numbers = route_log
    caller = "+86-139-1234-5678" + "9" * 8000
    line = await route_one_call(start_server, env_with_raw_caller(caller.encode()), stream)
    shown = line.split(" from ", 1)[1]
    assert shown.startswith(caller[:MAX_VALUE] if log_numbers else "+**-***-****-****")
    assert f"…({len(caller) - MAX_VALUE} more)" in shown
    assert len(line) < 400


