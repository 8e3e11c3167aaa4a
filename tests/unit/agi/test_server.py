"""The FastAGI server on a real socket, driven by a scripted Asterisk."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
import weakref
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from hotline_pbx.agi import (
    AgiChannel,
    AgiCommandError,
    AgiConnectionLost,
    AgiEncodeError,
    AgiHangup,
    AgiProtocolError,
    AgiSession,
    AgiStateError,
    AgiTimeout,
    FastAgiServer,
)
from hotline_pbx.agi.protocol import MAX_REPLY_BLOCK_BYTES
from hotline_pbx.metrics import REGISTRY

from .conftest import Counts, RecordingHandler, eventually
from .fake_asterisk import (
    HANGUP_LINE,
    REPLY_510,
    REPLY_511,
    REPLY_520,
    REPLY_OK,
    REPLY_UNSET,
    WAIT,
    FakeAsterisk,
    env_bytes,
    env_with_raw,
)

StartServer = Callable[..., Awaitable[FastAgiServer]]


async def finished(server: FastAgiServer) -> None:
    await eventually(lambda: server.active_sessions == 0)


# -- normal sessions


async def test_session_with_set_variable_round_trips(
    start_server: StartServer, counts: Counts
) -> None:
    async def route(session: AgiSession, channel: AgiChannel) -> None:
        await channel.set_variable("HOTLINE_ROUTE", "queue")
        await channel.set_variable("HOTLINE_TARGET_1", "PJSIP/agent1 with space")
        assert await channel.get_variable("HOTLINE_OVERRIDE") is None
        assert await channel.get_variable("CALLERID(num)") == "13800138000"

    handler = RecordingHandler(route)
    server = await start_server({"route": handler})
    asterisk = await FakeAsterisk.start(server.port, "route")
    assert await asterisk.answer() == ["SET", "VARIABLE", "HOTLINE_ROUTE", "queue"]
    assert await asterisk.answer() == [
        "SET",
        "VARIABLE",
        "HOTLINE_TARGET_1",
        "PJSIP/agent1 with space",
    ]
    assert await asterisk.answer(REPLY_UNSET) == ["GET", "VARIABLE", "HOTLINE_OVERRIDE"]
    await asterisk.answer(b"200 result=1 (13800138000)\n")
    assert await asterisk.expect_closed() == b""
    await finished(server)
    assert handler.errors == []
    [session] = handler.sessions
    assert (session.uniqueid, session.channel) == ("1754380000.1", "PJSIP/carrier-00000001")
    assert (session.callerid, session.calleridname, session.dnid) == (
        "13800138000",
        "Zhang San",
        "4008001234",
    )
    assert session.extension == "4008001234" and session.context == "hotline-inbound"
    assert counts.delta() == {("route", "ok"): 1}
    assert counts.seconds_count("route") >= 1


async def test_query_string_script_and_arguments(start_server: StartServer) -> None:
    handler = RecordingHandler()
    server = await start_server({"route": handler})
    asterisk = await FakeAsterisk.start(
        server.port,
        "route?caller=%2B8613800138000&linkedid=1754380000.1&test",
        args=["4008001234", "two words", ""],
    )
    await asterisk.expect_closed()
    await handler.done.wait()
    [session] = handler.sessions
    assert session.script == "route"
    assert session.params == {
        "caller": "+8613800138000",
        "linkedid": "1754380000.1",
        "test": "",
    }
    assert session.linkedid == "1754380000.1"
    assert session.args == ("4008001234", "two words", "")


async def test_unknown_caller_id_reads_as_none(start_server: StartServer) -> None:
    handler = RecordingHandler()
    server = await start_server({"route": handler})
    asterisk = await FakeAsterisk.start(server.port, callerid="unknown", calleridname="unknown")
    await asterisk.expect_closed()
    await handler.done.wait()
    assert handler.sessions[0].callerid is None
    assert handler.sessions[0].calleridname is None


async def test_non_utf8_caller_name(start_server: StartServer, counts: Counts) -> None:
    async def route(session: AgiSession, channel: AgiChannel) -> None:
        await channel.set_variable("HOTLINE_CALLER_NAME", session.calleridname or "")

    handler = RecordingHandler(route)
    server = await start_server({"route": handler})
    env = env_with_raw({"calleridname": "张三".encode("gbk") + b"\xff\xfe"})
    asterisk = await FakeAsterisk.connect(server.port, env)
    words = await asterisk.answer()
    assert words[:3] == ["SET", "VARIABLE", "HOTLINE_CALLER_NAME"]
    assert "\ufffd" in words[3]
    await asterisk.expect_closed()
    await finished(server)
    assert counts.delta() == {("route", "ok"): 1}


async def test_pipelined_final_variables(start_server: StartServer, counts: Counts) -> None:
    async def route(session: AgiSession, channel: AgiChannel) -> None:
        await channel.set_variables({"A": "1", "B": "two words", "C": ""}, final=True)
        with pytest.raises(AgiStateError):
            await channel.set_variable("D", "too late")

    handler = RecordingHandler(route)
    server = await start_server({"route": handler})
    asterisk = await FakeAsterisk.start(server.port)
    # All three commands arrive before any reply is sent, then our end-of-stream.
    commands = [await asterisk.command() for _ in range(3)]
    assert commands == [
        ["SET", "VARIABLE", "A", "1"],
        ["SET", "VARIABLE", "B", "two words"],
        ["SET", "VARIABLE", "C", ""],
    ]
    assert await asyncio.wait_for(asterisk.reader.read(), WAIT) == b""  # half-closed
    # Asterisk answers, sees our end-of-stream, ends the AGI with its usual HANGUP.
    await asterisk.send(REPLY_OK * 3 + HANGUP_LINE)
    await handler.done.wait()
    await finished(server)
    assert handler.errors == []
    assert counts.delta() == {("route", "ok"): 1}


async def test_session_seconds_are_measured_finer_than_the_loop_clock(
    start_server: StartServer,
) -> None:
    """``hotline_agi_request_seconds`` of sub-millisecond sessions: uvloop's
    ``loop.time()`` counts whole milliseconds, so sessions timed with it would
    all read 0, 1 or 2 ms and /route's p50 would come from rounded values."""
    sessions = 20
    script = "timed"

    def seconds_sum() -> float:
        return REGISTRY.get_sample_value("hotline_agi_request_seconds_sum",
                                         {"script": script}) or 0.0

    before = seconds_sum()
    server = await start_server({script: RecordingHandler(
        lambda s, c: c.set_variables({"A": "1"}, final=True))})
    for _ in range(sessions):
        asterisk = await FakeAsterisk.start(server.port, script=script)
        await asterisk.command()
        await asterisk.send(REPLY_OK + HANGUP_LINE)
        await asterisk.expect_closed()
    await finished(server)
    total_ms = (seconds_sum() - before) * 1000
    assert total_ms > 0
    assert abs(total_ms - round(total_ms)) > 1e-6, "every session measured in whole ms"


async def test_variables_without_final_go_one_round_trip_at_a_time(
    start_server: StartServer,
) -> None:
    handler = RecordingHandler(lambda s, c: c.set_variables({"A": "1", "B": "2"}))
    server = await start_server({"route": handler})
    asterisk = await FakeAsterisk.start(server.port)
    assert await asterisk.command() == ["SET", "VARIABLE", "A", "1"]
    assert await asterisk.nothing_sent_within(0.05)
    await asterisk.send(REPLY_OK)
    await asterisk.answer()
    await asterisk.expect_closed()
    await handler.done.wait()
    assert handler.errors == []


async def test_unsafe_value_is_refused_before_anything_is_sent(start_server: StartServer) -> None:
    async def route(session: AgiSession, channel: AgiChannel) -> None:
        with pytest.raises(AgiEncodeError):
            await channel.set_variable("X", "x\nEXEC Dial PJSIP/premium-rate")
        await channel.verbose("still in sync")

    handler = RecordingHandler(route)
    server = await start_server({"route": handler})
    asterisk = await FakeAsterisk.start(server.port)
    assert await asterisk.answer() == ["VERBOSE", "still in sync", "1"]
    await asterisk.expect_closed()
    await handler.done.wait()
    assert handler.errors == []


# -- hang-ups and error replies


async def test_hangup_before_a_pipelined_reply(start_server: StartServer, counts: Counts) -> None:
    handler = RecordingHandler(lambda s, c: c.set_variables({"A": "1", "B": "2"}, final=True))
    server = await start_server({"route": handler})
    asterisk = await FakeAsterisk.start(server.port)
    await asterisk.command()
    await asterisk.command()
    await asterisk.send(REPLY_OK + HANGUP_LINE + REPLY_OK)
    await handler.done.wait()
    assert isinstance(handler.errors[0], AgiHangup)
    await finished(server)
    assert counts.delta() == {("route", "hangup"): 1}


async def test_peer_gone_right_after_the_request_is_a_quiet_hangup(
    start_server: StartServer, counts: Counts, caplog: pytest.LogCaptureFixture
) -> None:
    """Asterisk sends the request and closes at once (the caller hung up): our pipelined
    answer, then our end-of-stream to a socket already reset. On asyncio's loop the
    shutdown(SHUT_WR) failed with ENOTCONN (OSError 107), logged as an ERROR traceback
    and counted as error; it is a hang-up: counted so, logged in one line at most."""
    caplog.set_level(logging.INFO, logger="hotline_pbx.agi")
    handler = RecordingHandler(lambda s, c: c.set_variables({"A": "1", "B": "2"}, final=True))
    server = await start_server({"route": handler})
    caplog.clear()  # the session's lines only
    with socket.create_connection(("127.0.0.1", server.port), timeout=WAIT) as peer:
        peer.sendall(env_bytes())  # the whole request, then gone
    await handler.done.wait()
    assert isinstance(handler.errors[0], AgiConnectionLost)
    await finished(server)
    assert counts.delta() == {("route", "hangup"): 1}
    records = [r for r in caplog.records if r.name.startswith("hotline_pbx.agi")]
    assert len(records) <= 1 and all(r.levelno <= logging.INFO for r in records), [
        (r.levelname, r.getMessage()) for r in records
    ]
    assert all(r.exc_info is None for r in records)


async def test_hangup_after_the_handler_returned_is_ok(
    start_server: StartServer, counts: Counts
) -> None:
    returned = asyncio.Event()

    async def route(session: AgiSession, channel: AgiChannel) -> None:
        await channel.set_variable("A", "1")
        await eventually(lambda: channel.hung_up)  # the decision is made; then the caller left
        returned.set()

    server = await start_server({"route": RecordingHandler(route)})
    asterisk = await FakeAsterisk.start(server.port)
    await asterisk.answer(REPLY_OK + HANGUP_LINE)
    await asterisk.expect_closed()
    await finished(server)
    assert returned.is_set()
    assert counts.delta() == {("route", "ok"): 1}


async def test_hangup_before_the_reply(start_server: StartServer, counts: Counts) -> None:
    handler = RecordingHandler(lambda s, c: c.set_variable("A", "1"))
    server = await start_server({"route": handler})
    asterisk = await FakeAsterisk.start(server.port)
    await asterisk.command()
    await asterisk.send(HANGUP_LINE + REPLY_OK)
    await asterisk.expect_closed()
    await handler.done.wait()
    [error] = handler.errors
    assert isinstance(error, AgiHangup) and error.reply is not None and error.reply.code == 200
    await finished(server)
    assert counts.delta() == {("route", "hangup"): 1}


async def test_hangup_between_commands(start_server: StartServer, counts: Counts) -> None:
    hung_up_seen = asyncio.Event()

    async def route(session: AgiSession, channel: AgiChannel) -> None:
        await channel.set_variable("A", "1")
        await eventually(lambda: channel.hung_up)
        hung_up_seen.set()
        await channel.set_variable("B", "2")  # not sent: raises AgiHangup

    handler = RecordingHandler(route)
    server = await start_server({"route": handler})
    asterisk = await FakeAsterisk.start(server.port)
    await asterisk.answer()
    await asterisk.send(HANGUP_LINE)
    await hung_up_seen.wait()
    assert await asterisk.expect_closed() == b""  # the second command never went out
    await handler.done.wait()
    assert isinstance(handler.errors[0], AgiHangup)
    await finished(server)
    assert counts.delta() == {("route", "hangup"): 1}


async def test_511_on_a_dead_channel_is_a_hangup(start_server: StartServer) -> None:
    handler = RecordingHandler(lambda s, c: c.execute("ANSWER"))
    server = await start_server({"route": handler})
    asterisk = await FakeAsterisk.start(server.port)
    assert await asterisk.answer(REPLY_511) == ["ANSWER"]
    await handler.done.wait()
    [error] = handler.errors
    assert isinstance(error, AgiHangup) and error.reply is not None and error.reply.code == 511


async def test_510_and_multi_line_520_keep_the_dialogue_in_sync(
    start_server: StartServer, counts: Counts
) -> None:
    async def route(session: AgiSession, channel: AgiChannel) -> None:
        with pytest.raises(AgiCommandError) as unknown:
            await channel.execute("FROBNICATE")
        assert unknown.value.code == 510
        with pytest.raises(AgiCommandError) as usage:
            await channel.execute("SET VARIABLE", "ONLY_NAME")
        assert usage.value.code == 520
        assert usage.value.reply.usage == ("Sets a variable to the current channel.",)
        await channel.set_variable("AFTER", "ok")

    handler = RecordingHandler(route)
    server = await start_server({"route": handler})
    asterisk = await FakeAsterisk.start(server.port)
    assert await asterisk.answer(REPLY_510) == ["FROBNICATE"]
    assert await asterisk.answer(REPLY_520) == ["SET", "VARIABLE", "ONLY_NAME"]
    assert await asterisk.answer() == ["SET", "VARIABLE", "AFTER", "ok"]
    await asterisk.expect_closed()
    await finished(server)
    assert handler.errors == []
    assert counts.delta() == {("route", "ok"): 1}


async def test_command_error_escaping_the_handler_counts_as_error(
    start_server: StartServer, counts: Counts
) -> None:
    handler = RecordingHandler(lambda s, c: c.execute("FROBNICATE"))
    server = await start_server({"route": handler})
    asterisk = await FakeAsterisk.start(server.port)
    await asterisk.answer(REPLY_510)
    await asterisk.expect_closed()
    await finished(server)
    assert counts.delta() == {("route", "error"): 1}


# -- peers that misbehave


async def test_client_closing_before_the_blank_line(
    start_server: StartServer, counts: Counts
) -> None:
    server = await start_server({"route": RecordingHandler()})
    asterisk = await FakeAsterisk.connect(server.port, env_bytes()[:-1])  # no blank line
    await eventually(lambda: server.active_sessions == 1)
    await asterisk.close()
    # A busy loop on EOF would block this event loop and fail here.
    await finished(server)
    assert counts.delta() == {("unknown", "protocol_error"): 1}


async def test_bare_connect_and_close_is_a_quiet_hangup(
    start_server: StartServer, counts: Counts
) -> None:
    server = await start_server({"route": RecordingHandler()})
    asterisk = await FakeAsterisk.connect(server.port)
    await eventually(lambda: server.active_sessions == 1)
    await asterisk.close()
    await finished(server)
    assert counts.delta() == {("unknown", "hangup"): 1}


async def test_no_request_within_the_read_timeout(
    start_server: StartServer, counts: Counts
) -> None:
    server = await start_server({"route": RecordingHandler()}, read_timeout=0.1)
    asterisk = await FakeAsterisk.connect(server.port, b"agi_network: yes\n")
    assert await asterisk.expect_closed() == b""
    await finished(server)
    assert counts.delta() == {("unknown", "timeout"): 1}


async def test_reply_not_within_the_read_timeout(start_server: StartServer, counts: Counts) -> None:
    handler = RecordingHandler(lambda s, c: c.set_variable("A", "1"))
    server = await start_server({"route": handler}, read_timeout=0.1)
    asterisk = await FakeAsterisk.start(server.port)
    await asterisk.command()  # and never answer
    assert await asterisk.expect_closed() == b""
    await handler.done.wait()
    assert isinstance(handler.errors[0], AgiTimeout)
    await finished(server)
    assert counts.delta() == {("route", "timeout"): 1}


async def test_per_command_timeout_overrides_the_read_timeout(start_server: StartServer) -> None:
    handler = RecordingHandler(lambda s, c: c.execute("EXEC", "Wait", "1", timeout=float("inf")))
    server = await start_server({"route": handler}, read_timeout=0.05)
    asterisk = await FakeAsterisk.start(server.port)
    await asterisk.command()
    await asyncio.sleep(0.15)  # three read timeouts pass; an infinite wait is not cut
    await asterisk.send(REPLY_UNSET)
    await asterisk.expect_closed()
    await handler.done.wait()
    assert handler.errors == []


async def test_idle_handler_is_cut(start_server: StartServer, counts: Counts) -> None:
    handler = RecordingHandler(lambda s, c: asyncio.sleep(30))
    server = await start_server({"route": handler}, idle_timeout=0.1)
    asterisk = await FakeAsterisk.start(server.port)
    assert await asterisk.expect_closed() == b""
    await handler.done.wait()
    assert isinstance(handler.errors[0], asyncio.CancelledError)
    await finished(server)
    assert counts.delta() == {("route", "timeout"): 1}


async def test_environment_line_over_the_limit(start_server: StartServer, counts: Counts) -> None:
    server = await start_server({"route": RecordingHandler()}, line_limit=256)
    asterisk = await FakeAsterisk.connect(server.port, b"agi_calleridname: " + b"A" * 100_000)
    assert await asterisk.expect_closed() == b""
    await finished(server)
    assert counts.delta() == {("unknown", "protocol_error"): 1}


async def test_reply_line_over_the_limit(start_server: StartServer, counts: Counts) -> None:
    handler = RecordingHandler(lambda s, c: c.get_variable("HUGE"))
    server = await start_server({"route": handler}, line_limit=256)
    asterisk = await FakeAsterisk.start(server.port)
    await asterisk.command()
    await asterisk.send(b"200 result=1 (" + b"x" * 10_000)
    await asterisk.expect_closed()
    await handler.done.wait()
    assert isinstance(handler.errors[0], AgiProtocolError)
    await finished(server)
    assert counts.delta() == {("route", "protocol_error"): 1}


async def test_a_520_block_that_never_ends_is_cut_after_a_few_kib(
    start_server: StartServer, counts: Counts, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 9 item 10: 64 usage lines of 1 KB (under the 256-line bound) used to
    be held until the read timeout; now the session ends at the byte bound."""
    handler = RecordingHandler(lambda s, c: c.execute("SET VARIABLE", "ONLY_NAME"))
    server = await start_server({"route": handler}, read_timeout=30.0, idle_timeout=30.0)
    asterisk = await FakeAsterisk.start(server.port)
    await asterisk.command()
    with contextlib.suppress(ConnectionError):
        await asterisk.send(b"520-Invalid command syntax.  Proper usage follows:\n")
        for _ in range(64):
            await asterisk.send(b"u" * 1000 + b"\n")
    await asterisk.expect_closed()
    await handler.done.wait()
    [error] = handler.errors
    assert isinstance(error, AgiProtocolError)
    assert f"multi-line reply over {MAX_REPLY_BLOCK_BYTES} bytes" in str(error)
    await finished(server)
    assert counts.delta() == {("route", "protocol_error"): 1}
    assert [r for r in caplog.records if "multi-line reply over" in r.getMessage()]


async def test_tcp_reset_mid_session(
    start_server: StartServer, counts: Counts, caplog: pytest.LogCaptureFixture
) -> None:
    handler = RecordingHandler(lambda s, c: c.set_variable("A", "1"))
    server = await start_server({"route": handler})
    asterisk = await FakeAsterisk.start(server.port)
    await asterisk.command()
    asterisk.reset()
    await handler.done.wait()
    assert isinstance(handler.errors[0], AgiConnectionLost)
    await finished(server)
    assert counts.delta() == {("route", "hangup"): 1}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


# A 520 block of ~7 KB: three of them exceed the queued-bytes bound (issue 9 item 10).
_BIG_520 = b"520-usage follows:\n" + b"u" * 7000 + b"\n520 End of proper usage.\n"


@pytest.mark.parametrize("unsolicited", [REPLY_OK * 100, _BIG_520 * 3], ids=["many", "big"])
async def test_unsolicited_replies_are_a_protocol_error(
    start_server: StartServer, counts: Counts, unsolicited: bytes
) -> None:
    """Replies nobody asked for are bounded in number and in bytes."""
    handler = RecordingHandler(lambda s, c: asyncio.sleep(1))
    server = await start_server({"route": handler})
    asterisk = await FakeAsterisk.start(server.port)
    with contextlib.suppress(ConnectionError):
        await asterisk.send(unsolicited)
    await asterisk.expect_closed()
    await finished(server)
    assert counts.delta() == {("route", "protocol_error"): 1}


# -- robustness of the server itself


async def test_a_session_ending_in_a_hangup_is_freed_without_the_cyclic_gc(
    start_server: StartServer,
) -> None:
    # Exceptions' tracebacks would otherwise keep each such session in a
    # reference cycle until a full collection, which blocks the loop.
    connections: list[weakref.ref[object]] = []

    async def route(session: AgiSession, channel: AgiChannel) -> None:
        connections.append(weakref.ref(channel._stream))
        await channel.set_variable("A", "1")

    server = await start_server({"route": RecordingHandler(route)})
    gc.collect()
    gc.disable()
    try:
        asterisk = await FakeAsterisk.start(server.port)
        await asterisk.command()
        await asterisk.close()
        await finished(server)
        await asyncio.sleep(0.01)
        assert connections[0]() is None
    finally:
        gc.enable()


async def test_unknown_script(start_server: StartServer, counts: Counts) -> None:
    server = await start_server({"route": RecordingHandler()})
    asterisk = await FakeAsterisk.start(server.port, "nosuch?x=1")
    words = await asterisk.answer()
    assert words[0] == "VERBOSE" and "nosuch" in words[1]
    assert await asterisk.expect_closed() == b""
    await finished(server)
    assert counts.delta() == {("unknown", "unknown_script"): 1}


async def test_handler_exception_does_not_take_the_server_down(
    start_server: StartServer, counts: Counts, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0

    async def flaky(session: AgiSession, channel: AgiChannel) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("boom")
        await channel.set_variable("OK", "1")

    server = await start_server({"route": RecordingHandler(flaky)})
    first = await FakeAsterisk.start(server.port)
    assert await first.expect_closed() == b""  # closed cleanly, the dialplan goes on
    second = await FakeAsterisk.start(server.port)
    assert await second.answer() == ["SET", "VARIABLE", "OK", "1"]
    await second.expect_closed()
    await finished(server)
    assert counts.delta() == {("route", "error"): 1, ("route", "ok"): 1}
    [failure] = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert failure.exc_info is not None and "boom" in str(failure.exc_info[1])


async def test_sessions_beyond_max_are_refused(
    start_server: StartServer, counts: Counts, caplog: pytest.LogCaptureFixture
) -> None:
    release = asyncio.Event()

    async def hold(session: AgiSession, channel: AgiChannel) -> None:
        await release.wait()

    server = await start_server({"route": RecordingHandler(hold)}, max_sessions=2)
    held = [await FakeAsterisk.start(server.port) for _ in range(2)]
    await eventually(lambda: server.active_sessions == 2)
    extra = [await FakeAsterisk.start(server.port) for _ in range(3)]
    for peer in extra:
        assert await peer.expect_closed() == b""
    assert server.active_sessions == 2
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING and "refused" in r.msg]
    assert len(warnings) == 1  # rate limited
    release.set()
    for peer in held:
        await peer.expect_closed()
    await finished(server)
    again = await FakeAsterisk.start(server.port)
    await again.expect_closed()
    await finished(server)
    assert counts.delta() == {("route", "ok"): 3, ("unknown", "refused"): 3}


async def test_stop_drains_sessions_in_flight_and_refuses_new_ones(
    start_server: StartServer, counts: Counts
) -> None:
    release = asyncio.Event()

    async def route(session: AgiSession, channel: AgiChannel) -> None:
        await release.wait()
        await channel.set_variable("DONE", "1")

    handler = RecordingHandler(route)
    server = await start_server({"route": handler})
    port = server.port
    asterisk = await FakeAsterisk.start(port)
    await handler.started.wait()
    stopping = asyncio.create_task(server.stop(drain_deadline=WAIT))
    await asyncio.sleep(0.02)
    with pytest.raises(ConnectionRefusedError):
        await FakeAsterisk.connect(port)
    assert not stopping.done()
    release.set()
    assert await asterisk.answer() == ["SET", "VARIABLE", "DONE", "1"]
    await asyncio.wait_for(stopping, WAIT)
    assert server.active_sessions == 0
    assert counts.delta() == {("route", "ok"): 1}


async def test_stop_cuts_sessions_still_open_at_the_deadline(
    start_server: StartServer, counts: Counts
) -> None:
    handler = RecordingHandler(lambda s, c: asyncio.sleep(30))
    server = await start_server({"route": handler}, idle_timeout=30)
    waiting = await FakeAsterisk.connect(server.port, b"agi_network: yes\n")  # mid-request
    asterisk = await FakeAsterisk.start(server.port)
    await handler.started.wait()
    await asyncio.wait_for(server.stop(drain_deadline=0.1), WAIT)  # does not wait for the handler
    assert server.active_sessions == 0
    assert await asterisk.expect_closed() == b""
    assert await waiting.expect_closed() == b""
    assert isinstance(handler.errors[0], asyncio.CancelledError)
    assert counts.delta() == {("route", "timeout"): 1, ("unknown", "timeout"): 1}


async def test_concurrent_sessions_are_independent(start_server: StartServer) -> None:
    async def route(session: AgiSession, channel: AgiChannel) -> None:
        await channel.set_variable("ECHO", session.args[0])

    server = await start_server({"route": RecordingHandler(route)})
    peers = [await FakeAsterisk.start(server.port, args=[f"call-{i}"]) for i in range(20)]

    async def answer(i: int, peer: FakeAsterisk) -> list[str]:
        words = await peer.answer()
        await peer.expect_closed()
        return words

    results = await asyncio.gather(*(answer(i, p) for i, p in enumerate(reversed(peers))))
    assert sorted(w[3] for w in results) == sorted(f"call-{i}" for i in range(20))
    await finished(server)


class SyncHandler:
    def handle(self, session: AgiSession, channel: AgiChannel) -> None:
        pass


@pytest.mark.parametrize("handler", [object(), SyncHandler()])
def test_handlers_are_checked_when_the_server_is_built(handler: object) -> None:
    with pytest.raises(TypeError):
        FastAgiServer(
            {"route": handler},  # type: ignore[dict-item]
            host="127.0.0.1",
            port=0,
            max_sessions=1,
            read_timeout=1,
            idle_timeout=1,
        )


@pytest.mark.parametrize(
    "bad",
    [
        {"max_sessions": 0},
        {"read_timeout": 0},
        {"idle_timeout": -1},
        {"line_limit": 10},
        {"backlog": 100},
    ],
)
def test_settings_are_checked(bad: dict[str, Any]) -> None:
    settings: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "max_sessions": 1,
        "read_timeout": 1,
        "idle_timeout": 1,
    }
    with pytest.raises(ValueError):
        FastAgiServer({}, **(settings | bad))


async def test_port_before_start_and_double_start(start_server: StartServer) -> None:
    server = FastAgiServer(
        {}, host="127.0.0.1", port=0, max_sessions=1, read_timeout=1, idle_timeout=1
    )
    with pytest.raises(RuntimeError):
        _ = server.port
    await server.stop(drain_deadline=0)  # not started: nothing to do
    started = await start_server({})
    with pytest.raises(RuntimeError):
        await started.start()
