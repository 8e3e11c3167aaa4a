"""AriEvents against a scripted ARI on loopback: dispatch, reconnects, the
heartbeat, back-pressure and what readiness, the gauge and the log say."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiohttp import WSMsgType, web

from hotline_pbx.ari.errors import AriAuthError, AriUnavailable
from hotline_pbx.ari.events import AriEvent, AriEvents
from hotline_pbx.config import AriSettings, Secret
from hotline_pbx.sandbox.pbx import free_port

from .conftest import PASSWORD, ScriptedAri, ari_connected, eventually

LOGGER = "hotline_pbx.ari.events"


@asynccontextmanager
async def running(events: AriEvents) -> AsyncIterator[AriEvents]:
    await events.start()
    try:
        yield events
    finally:
        await events.stop()


def sender(events: list[dict[str, Any]], then: Callable[[web.WebSocketResponse], Awaitable[None]]
           | None = None) -> Callable[[web.WebSocketResponse], Awaitable[None]]:
    async def script(ws: web.WebSocketResponse) -> None:
        for event in events:
            await ws.send_str(json.dumps(event))
        if then is not None:
            await then(ws)
        else:
            async for _message in ws:
                pass

    return script


async def test_events_reach_handlers_in_order_filtered_by_type(ari: ScriptedAri) -> None:
    kinds = ["StasisStart", "ChannelVarset", "ChannelDestroyed", "StasisEnd"]
    sent = [{"type": kinds[i % 4], "seq": i} for i in range(200)]
    ari.on_websocket = sender(sent)
    everything: list[int] = []
    destroyed: list[int] = []

    async def on_destroyed(event: AriEvent) -> None:
        await asyncio.sleep(0)  # an async handler: awaited before the next event
        destroyed.append(event["seq"])

    events = AriEvents(ari.settings())
    events.subscribe("*", lambda event: everything.append(event["seq"]))
    events.subscribe("ChannelDestroyed", on_destroyed)
    async with running(events):
        await eventually(lambda: len(everything) == 200, 10, "200 events")
        await eventually(lambda: len(destroyed) == 50, 10, "50 ChannelDestroyed")
    assert everything == list(range(200))
    assert destroyed == list(range(2, 200, 4))
    assert ari.websocket_query == [{"app": "hotline-test", "subscribeAll": "false"}]


async def test_a_raising_handler_is_logged_once_and_the_others_still_run(
        ari: ScriptedAri, caplog: pytest.LogCaptureFixture) -> None:
    ari.on_websocket = sender([{"type": "ChannelDestroyed", "seq": i} for i in range(20)])
    before: list[int] = []
    after: list[int] = []

    def broken(_event: AriEvent) -> None:
        raise KeyError("cause")

    async def broken_async(event: AriEvent) -> None:
        if event["seq"] % 2:
            raise RuntimeError("odd")

    caplog.set_level(logging.INFO, logger=LOGGER)
    events = AriEvents(ari.settings())
    events.subscribe("*", lambda event: before.append(event["seq"]))
    events.subscribe("ChannelDestroyed", broken)
    events.subscribe("*", broken_async)
    events.subscribe("ChannelDestroyed", lambda event: after.append(event["seq"]))
    async with running(events):
        await eventually(lambda: len(after) == 20, 10, "20 events past the broken handlers")
    assert before == after == list(range(20))
    assert events.failures == 20 + 10
    failures = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert [(r.getMessage(), r.exc_info is not None) for r in failures] == [
        ("ARI event handler test_a_raising_handler_is_logged_once_and_the_others_still_run."
         "<locals>.broken failed on ChannelDestroyed", True),
        ("ARI event handler test_a_raising_handler_is_logged_once_and_the_others_still_run."
         "<locals>.broken_async failed on ChannelDestroyed", True),
    ]


async def test_frames_that_are_not_events_are_skipped_with_one_warning(
        ari: ScriptedAri, caplog: pytest.LogCaptureFixture) -> None:
    async def script(ws: web.WebSocketResponse) -> None:
        for frame in ("not json", "[1, 2]", '{"no": "type"}', '{"type": 7}'):
            await ws.send_str(frame)
        await ws.send_bytes(b"\x00binary")
        await ws.send_str('{"type": "StasisStart", "seq": 1}')
        async for _message in ws:
            pass

    ari.on_websocket = script
    got: list[AriEvent] = []
    caplog.set_level(logging.INFO, logger=LOGGER)
    events = AriEvents(ari.settings())
    events.subscribe("*", got.append)
    async with running(events):
        await eventually(lambda: got, 10, "the one real event")
    assert got == [{"type": "StasisStart", "seq": 1}]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert warnings == ["ARI sent a frame that is not an event object; skipped: 'not json'"]


async def test_reconnects_with_doubling_backoff_and_logs_state_changes_only(
        ari: ScriptedAri, caplog: pytest.LogCaptureFixture) -> None:
    async def drop(ws: web.WebSocketResponse) -> None:
        await ws.close()  # Asterisk restarting: every connection is closed at once

    ari.on_websocket = drop
    caplog.set_level(logging.INFO, logger=LOGGER)
    events = AriEvents(ari.settings(), backoff_first=0.1, backoff_max=0.4)
    async with running(events):
        await eventually(lambda: len(ari.upgrades) >= 6, 15, "six connections")
    gaps = [b - a for a, b in zip(ari.upgrades, ari.upgrades[1:], strict=False)][:5]
    # 0.1, 0.2, 0.4, 0.4, 0.4 plus connection set-up: doubling, then capped.
    assert gaps[0] >= 0.09 and gaps[1] >= 0.18 and gaps[2] >= 0.36
    assert gaps[1] > gaps[0] * 1.4 and gaps[2] > gaps[1] * 1.4
    assert all(gap < 0.4 + 1.0 for gap in gaps)
    assert events.attempts >= 6
    # Each connect and each drop is a change of state: logged; nothing in between.
    messages = [r.getMessage() for r in caplog.records][:4]
    assert messages[0] == f"ARI events connected to {ari.url} (app hotline-test)"
    assert messages[1].startswith("ARI events not connected: ARI events websocket: closed by "
                                  f"{ari.url} (code 1000)")
    assert messages[2] == (f"ARI events connected to {ari.url} (app hotline-test) "
                           "after 1 failed attempt")


async def test_the_same_failure_again_is_not_logged_on_every_retry(
        caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    settings = AriSettings(enabled=True, url=f"http://127.0.0.1:{port}", password=Secret("x"))
    caplog.set_level(logging.INFO, logger=LOGGER)
    events = AriEvents(settings, backoff_first=0.02, backoff_max=0.02)
    async with running(events):
        await eventually(lambda: events.attempts >= 20, 10, "twenty attempts")
    lines = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert lines == [f"ARI events not connected: ARI events websocket: cannot connect to "
                     f"http://127.0.0.1:{port}: Connection refused; retrying, at most 0.02s apart"]


async def test_bad_credentials_read_differently_from_unreachable_in_readiness(
        ari: ScriptedAri) -> None:
    wrong = AriEvents(ari.settings(password="wrong-0451"), backoff_first=0.05, backoff_max=0.05)
    async with running(wrong):
        await eventually(lambda: len(ari.refused) >= 2, 10, "the upgrade to be refused")
        refused = wrong.readiness()
        assert isinstance(wrong.last_error, AriAuthError) and wrong.last_error.status == 401
        assert ari_connected() == 0
    assert not refused.ok
    assert refused.detail == (
        "not connected: ARI events websocket: 401; ARI refused the credentials of user "
        "'hotline': check ari.username/ari.password and the user in Asterisk's ari.conf")
    assert "wrong-0451" not in refused.detail and PASSWORD not in refused.detail

    port = free_port()
    nobody = AriEvents(AriSettings(enabled=True, url=f"http://127.0.0.1:{port}",
                                   password=Secret("x")), backoff_first=0.05)
    assert nobody.readiness().detail == "ari-events not started"
    async with running(nobody):
        await eventually(lambda: nobody.last_error is not None, 10, "a failed attempt")
        unreachable = nobody.readiness()
    assert isinstance(nobody.last_error, AriUnavailable)
    assert unreachable == (False, f"not connected: ARI events websocket: cannot connect to "
                                  f"http://127.0.0.1:{port}: Connection refused")


async def test_the_gauge_and_connected_follow_the_connection(ari: ScriptedAri) -> None:
    drop_now = asyncio.Event()

    async def hold_until_told(ws: web.WebSocketResponse) -> None:
        await drop_now.wait()
        await ws.close()

    ari.on_websocket = hold_until_told
    events = AriEvents(ari.settings(), backoff_first=30.0, backoff_max=30.0)
    assert ari_connected() == 0
    async with running(events):
        async with asyncio.timeout(10):
            await events.connected.wait()
        assert ari_connected() == 1
        assert events.readiness() == (True, f"connected to {ari.url} (app hotline-test)")
        drop_now.set()
        await eventually(lambda: not events.connected.is_set(), 10, "the drop to be noticed")
        assert ari_connected() == 0
        assert events.readiness().detail.startswith("not connected: ARI events websocket: "
                                                    "closed by")
        drop_now.clear()
    assert ari_connected() == 0
    assert events.readiness() == (False, "ari-events stopped")


async def test_a_peer_that_stops_answering_pings_is_dropped_within_one_and_a_half_heartbeats(
        ari: ScriptedAri) -> None:
    ari.autoping = False  # the server reads our pings and never answers: a dead peer
    events = AriEvents(ari.settings(), heartbeat=0.4, backoff_first=30.0)
    async with running(events):
        async with asyncio.timeout(10):
            await events.connected.wait()
        up = time.monotonic()
        await eventually(lambda: not events.connected.is_set(), 10, "the dead peer noticed")
        took = time.monotonic() - up
    assert 0.5 < took < 0.6 + 1.0
    assert str(events.last_error) == (f"ARI events websocket: no reply to a ping from "
                                      f"{ari.url} within 0.2s (peer gone?)")


async def test_pings_from_asterisk_are_answered(ari: ScriptedAri) -> None:
    pongs: list[bytes] = []
    ari.autoping = False

    async def ping(ws: web.WebSocketResponse) -> None:
        await ws.ping(b"are you there")
        async for message in ws:
            if message.type is WSMsgType.PONG:
                pongs.append(message.data)

    ari.on_websocket = ping
    async with running(AriEvents(ari.settings(), heartbeat=30.0)):
        await eventually(lambda: pongs, 10, "our pong")
    assert pongs == [b"are you there"]


async def test_a_full_queue_stalls_the_sender_and_loses_nothing(ari: ScriptedAri) -> None:
    """A handler that holds up dispatch: the reader awaits the queue, stops reading,
    and the server's own sends stall (TCP flow control) — longer than two heartbeats,
    without the heartbeat taking that for a dead peer. Released, every event
    arrives, in order, on the same connection."""
    total = 1000
    pad = "x" * 65536  # 1000 × 64 kB: more than every buffer between the two ends
    sent: list[int] = []

    async def flood(ws: web.WebSocketResponse) -> None:
        for seq in range(total):
            await ws.send_str(json.dumps({"type": "ChannelVarset", "seq": seq, "pad": pad}))
            sent.append(seq)
        async for _message in ws:
            pass

    ari.on_websocket = flood
    gate = asyncio.Event()
    got: list[int] = []

    async def slow(event: AriEvent) -> None:
        await gate.wait()
        got.append(event["seq"])

    events = AriEvents(ari.settings(), queue_size=2, heartbeat=0.3)
    events.subscribe("ChannelVarset", slow)
    async with running(events):
        await eventually(lambda: sent, 10, "the first send")
        # Stalled: no send completes for a while, long before the last one.
        while True:
            count = len(sent)
            await asyncio.sleep(1.0)  # > 2 heartbeats
            if len(sent) == count:
                break
        assert len(sent) < total, len(sent)
        assert events.queue.qsize() == 2
        assert events.connected.is_set() and len(ari.upgrades) == 1
        gate.set()
        await eventually(lambda: len(got) == total, 30, "every event after the release")
        assert len(ari.upgrades) == 1
    assert got == list(range(total))
