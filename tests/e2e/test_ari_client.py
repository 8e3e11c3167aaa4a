"""The ARI client against the sandbox's real Asterisk 22 (res_ari on http.conf's port).

Calls go to the stand-in mobiles of sandbox/extensions_site.conf through Local
channels. A Local channel comes in two halves: ``;1`` is the one we originate
(it enters our Stasis app when the far end answers), ``;2`` runs the dialplan.
When the far end refuses (Busy(), Congestion()), the refusal shows as the
``dialstatus`` of the ``Dial`` event and as the ``cause`` of the ``;2``
half's ``ChannelDestroyed``; the ``;1`` half ends with cause 0 (Unknown).
A ring timeout ends the originated ``;1`` channel itself with cause 19.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import pytest

from hotline_pbx.ari.client import AriClient
from hotline_pbx.ari.errors import AriAuthError, AriConflict, AriNotFound, AriUnavailable
from hotline_pbx.ari.events import AriEvent, AriEvents
from hotline_pbx.config import AriSettings, Secret
from hotline_pbx.sandbox.pbx import AsteriskSandbox, free_port

APP = "hotline-e2e-ari"
# 138 R TT xxxxx: rings 1 s, answers, talks 30 s (we hang up long before).
ANSWERS = "Local/13813000000@sandbox-mobiles"
BUSY = "Local/13700000000@sandbox-mobiles"
NEVER_ANSWERS = "Local/13900000000@sandbox-mobiles"


def settings_for(pbx: AsteriskSandbox, password: str | None = None) -> AriSettings:
    return AriSettings(enabled=True, url=f"http://127.0.0.1:{pbx.ports.http}",
                       username=pbx.ari_user,
                       password=Secret(pbx.ari_password if password is None else password),
                       app=APP)


class Recorder:
    """Every event of our app, in order, and a way to wait for one."""

    def __init__(self) -> None:
        self.events: list[AriEvent] = []
        self._arrived = asyncio.Event()

    def __call__(self, event: AriEvent) -> None:
        self.events.append(event)
        self._arrived.set()

    async def wait_for(self, predicate: Callable[[AriEvent], bool], what: str,
                       timeout: float = 15.0) -> AriEvent:
        deadline = time.monotonic() + timeout
        while True:
            for event in self.events:
                if predicate(event):
                    return event
            self._arrived.clear()
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                seen = [e.get("type") for e in self.events]
                raise AssertionError(f"no {what} within {timeout}s; saw {seen}")
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._arrived.wait()


def of(event_type: str, channel_id: str | None = None) -> Callable[[AriEvent], bool]:
    def match(event: AriEvent) -> bool:
        if event.get("type") != event_type:
            return False
        return channel_id is None or event.get("channel", {}).get("id") == channel_id

    return match


@pytest.fixture
async def ari(pbx_clean: AsteriskSandbox) -> AsyncIterator[tuple[AriClient, Recorder]]:
    """A connected client and events websocket for our app; every channel hung up after."""
    settings = settings_for(pbx_clean)
    recorder = Recorder()
    events = AriEvents(settings, heartbeat=5.0)
    events.subscribe("*", recorder)
    async with AriClient(settings) as client:
        await events.start()
        try:
            async with asyncio.timeout(10):
                await events.connected.wait()
            yield client, recorder
        finally:
            for channel in await client.list_channels():
                with contextlib.suppress(AriNotFound):
                    await client.hangup(channel["id"])
            await events.stop()


async def test_connected_websocket_registers_our_app(
        ari: tuple[AriClient, Recorder]) -> None:
    client, _ = ari
    assert APP in [app["name"] for app in await client.applications()]
    info = await client.asterisk_info()
    assert info["system"]["version"].startswith("22.")


async def test_an_answered_call_is_ours_to_drive_until_hangup(
        ari: tuple[AriClient, Recorder]) -> None:
    client, recorder = ari
    channel = await client.originate(ANSWERS, caller_id="Line test <4000>", timeout=10,
                                     variables={"HOTLINE_E2E": "originated"})
    cid = channel["id"]
    assert channel["state"] == "Down"
    start = await recorder.wait_for(of("StasisStart", cid), "StasisStart")
    assert start["application"] == APP
    assert start["channel"]["state"] == "Up"

    assert await client.get_variable(cid, "HOTLINE_E2E") == "originated"
    await client.set_variable(cid, "HOTLINE_E2E", "seen")
    assert await client.get_variable(cid, "HOTLINE_E2E") == "seen"
    assert (await client.get_channel(cid))["caller"]["number"] == "4000"
    assert cid in [c["id"] for c in await client.list_channels()]

    await client.answer(cid)  # already up: Asterisk accepts it
    playback = await client.play(cid, "sound:hello-world")
    await recorder.wait_for(
        lambda e: e.get("type") == "PlaybackStarted"
        and e.get("playback", {}).get("id") == playback["id"], "PlaybackStarted")

    bridge = await client.create_bridge()
    await client.add_to_bridge(bridge["id"], [cid])
    entered = await recorder.wait_for(of("ChannelEnteredBridge", cid), "ChannelEnteredBridge")
    assert entered["bridge"]["id"] == bridge["id"]
    await client.destroy_bridge(bridge["id"])
    # Our app follows the channel, not the bridge (subscribeAll=false): the
    # channel leaving is what it sees of the bridge going.
    left = await recorder.wait_for(of("ChannelLeftBridge", cid), "ChannelLeftBridge")
    assert left["bridge"]["id"] == bridge["id"]
    # Destroying it again: 404 once it is gone, 409 ("Bridge not in Stasis
    # application") while Asterisk is still tearing it down (seen under load).
    with pytest.raises((AriNotFound, AriConflict)):
        await client.destroy_bridge(bridge["id"])

    await client.hangup(cid)
    destroyed = await recorder.wait_for(of("ChannelDestroyed", cid), "ChannelDestroyed")
    assert (destroyed["cause"], destroyed["cause_txt"]) == (16, "Normal Clearing")
    with pytest.raises(AriNotFound):
        await client.hangup(cid)  # already gone: callers may ignore this


async def test_a_busy_target_shows_in_dial_status_and_cause(
        ari: tuple[AriClient, Recorder]) -> None:
    client, recorder = ari
    cid = (await client.originate(BUSY, timeout=10))["id"]
    dial = await recorder.wait_for(
        lambda e: e.get("type") == "Dial" and e.get("dialstatus")
        and e.get("peer", {}).get("id") == cid, "the Dial result")
    assert dial["dialstatus"] == "BUSY"
    ours = await recorder.wait_for(of("ChannelDestroyed", cid), "our channel destroyed")
    far = await recorder.wait_for(
        lambda e: e.get("type") == "ChannelDestroyed"
        and e["channel"]["name"] == ours["channel"]["name"].replace(";1", ";2"),
        "the Local ;2 half destroyed")
    assert (far["cause"], far["cause_txt"]) == (17, "User busy")
    assert not [e for e in recorder.events if of("StasisStart", cid)(e)]


async def test_a_ring_timeout_ends_the_originated_channel_with_no_answer(
        ari: tuple[AriClient, Recorder]) -> None:
    client, recorder = ari
    cid = (await client.originate(NEVER_ANSWERS, timeout=2))["id"]
    destroyed = await recorder.wait_for(of("ChannelDestroyed", cid), "ChannelDestroyed")
    assert (destroyed["cause"], destroyed["cause_txt"]) == (19, "User alerting, no answer")


async def test_wrong_password_is_an_auth_error_for_rest_and_websocket(
        pbx_clean: AsteriskSandbox) -> None:
    settings = settings_for(pbx_clean, password="not-the-password")
    async with AriClient(settings) as client:
        with pytest.raises(AriAuthError) as caught:
            await client.applications()
    assert caught.value.status == 401
    assert "not-the-password" not in str(caught.value)

    events = AriEvents(settings, backoff_first=0.2, backoff_max=0.2)
    await events.start()
    try:
        for _ in range(200):  # 10 s
            if events.last_error is not None:
                break
            await asyncio.sleep(0.05)
        readiness = events.readiness()
    finally:
        await events.stop()
    assert isinstance(events.last_error, AriAuthError)
    assert not readiness.ok
    assert "ARI refused the credentials of user 'hotline'" in readiness.detail


async def test_nothing_listening_is_unavailable() -> None:
    settings = AriSettings(enabled=True, url=f"http://127.0.0.1:{free_port()}",
                           password=Secret("x"), app=APP)
    async with AriClient(settings, request_timeout=2.0) as client:
        with pytest.raises(AriUnavailable, match="Connection refused"):
            await client.originate(ANSWERS)

