"""AriClient against a scripted ARI on loopback: requests as sent, replies decoded,
every failure its own typed exception, every call bounded by its timeout."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator

import pytest

from hotline_pbx.ari.client import AriClient
from hotline_pbx.ari.errors import (
    AriAuthError,
    AriBadRequest,
    AriConflict,
    AriError,
    AriNotFound,
    AriServerError,
    AriUnavailable,
)
from hotline_pbx.config import AriSettings, Secret
from hotline_pbx.sandbox.pbx import free_port

from .conftest import PASSWORD, USER, ScriptedAri


@pytest.fixture
async def client(ari: ScriptedAri) -> AsyncIterator[AriClient]:
    async with AriClient(ari.settings(), request_timeout=2.0) as c:
        yield c


CHANNEL = {"id": "1700000000.1", "name": "Local/x@y-00000001;1", "state": "Down"}


async def test_originate_always_names_our_app_and_sends_the_variables_as_json(
        ari: ScriptedAri, client: AriClient) -> None:
    ari.reply("POST", "/ari/channels", 200, CHANNEL)
    channel = await client.originate("PJSIP/4008001234@general-trunk", channel_id="test-1",
                                     caller_id="Line test <4000>", timeout=20,
                                     variables={"HOTLINE_TEST": "1"}, app_args="line-test")
    assert channel == CHANNEL
    seen = ari.seen[-1]
    assert seen.query == {"endpoint": "PJSIP/4008001234@general-trunk", "app": "hotline-test",
                          "timeout": "20", "appArgs": "line-test", "callerId": "Line test <4000>",
                          "channelId": "test-1"}
    assert seen.body == {"variables": {"HOTLINE_TEST": "1"}}


async def test_originate_without_options_sends_only_what_is_set(
        ari: ScriptedAri, client: AriClient) -> None:
    ari.reply("POST", "/ari/channels", 200, CHANNEL)
    await client.originate("Local/1@ctx")
    assert ari.seen[-1].query == {"endpoint": "Local/1@ctx", "app": "hotline-test",
                                  "timeout": "30"}
    assert ari.seen[-1].body is None


async def test_every_call_goes_to_its_resource_and_decodes_the_reply(
        ari: ScriptedAri, client: AriClient) -> None:
    cid = "1700000000.1"
    ari.reply("DELETE", f"/ari/channels/{cid}", 204)
    ari.reply("GET", f"/ari/channels/{cid}", 200, CHANNEL)
    ari.reply("GET", "/ari/channels", 200, [CHANNEL])
    ari.reply("GET", f"/ari/channels/{cid}/variable", 200, {"value": "42"})
    ari.reply("POST", f"/ari/channels/{cid}/variable", 204)
    ari.reply("POST", f"/ari/channels/{cid}/answer", 204)
    ari.reply("POST", f"/ari/channels/{cid}/play", 201, {"id": "pb-1", "state": "queued"})
    ari.reply("POST", "/ari/bridges", 200, {"id": "br-1", "bridge_type": "mixing"})
    ari.reply("POST", "/ari/bridges/br-1/addChannel", 204)
    ari.reply("DELETE", "/ari/bridges/br-1", 204)
    ari.reply("GET", "/ari/applications", 200, [{"name": "hotline-test"}])
    ari.reply("GET", "/ari/asterisk/info", 200, {"system": {"version": "22.10.1"}})

    assert await client.hangup(cid, reason="busy") is None
    assert await client.get_channel(cid) == CHANNEL
    assert await client.list_channels() == [CHANNEL]
    assert await client.get_variable(cid, "CALLERID(num)") == "42"
    await client.set_variable(cid, "HOTLINE_TEST", "yes")
    await client.answer(cid)
    assert await client.play(cid, "sound:hello-world") == {"id": "pb-1", "state": "queued"}
    assert (await client.create_bridge())["id"] == "br-1"
    await client.add_to_bridge("br-1", [cid, "1700000000.2"])
    await client.destroy_bridge("br-1")
    assert await client.applications() == [{"name": "hotline-test"}]
    assert (await client.asterisk_info())["system"]["version"] == "22.10.1"

    asked = [(s.method, s.path, s.query) for s in ari.seen]
    assert asked == [
        ("DELETE", f"/ari/channels/{cid}", {"reason": "busy"}),
        ("GET", f"/ari/channels/{cid}", {}),
        ("GET", "/ari/channels", {}),
        ("GET", f"/ari/channels/{cid}/variable", {"variable": "CALLERID(num)"}),
        ("POST", f"/ari/channels/{cid}/variable", {"variable": "HOTLINE_TEST", "value": "yes"}),
        ("POST", f"/ari/channels/{cid}/answer", {}),
        ("POST", f"/ari/channels/{cid}/play", {"media": "sound:hello-world"}),
        ("POST", "/ari/bridges", {"type": "mixing"}),
        ("POST", "/ari/bridges/br-1/addChannel", {"channel": f"{cid},1700000000.2"}),
        ("DELETE", "/ari/bridges/br-1", {}),
        ("GET", "/ari/applications", {}),
        ("GET", "/ari/asterisk/info", {}),
    ]


async def test_credentials_are_sent_as_basic_auth_on_every_call(
        ari: ScriptedAri, client: AriClient) -> None:
    ari.reply("GET", "/ari/asterisk/info", 200, {})
    ari.reply("GET", "/ari/applications", 200, [])
    await client.asterisk_info()
    await client.applications()
    for seen in ari.seen:
        scheme, _, token = seen.authorization.partition(" ")
        assert scheme == "Basic"
        assert base64.b64decode(token).decode() == f"{USER}:{PASSWORD}"


async def test_an_id_is_quoted_whole_so_it_cannot_reach_another_resource(
        ari: ScriptedAri, client: AriClient) -> None:
    ari.reply("GET", "/ari/channels/a%2Fb%3Fc", 200, CHANNEL)
    assert await client.get_channel("a/b?c") == CHANNEL
    for bad in ("", ".", ".."):
        with pytest.raises(AriBadRequest, match="not a valid id"):
            await client.hangup(bad)


@pytest.mark.parametrize(("status", "kind"), [
    (400, AriBadRequest), (422, AriBadRequest), (401, AriAuthError), (403, AriAuthError),
    (404, AriNotFound), (409, AriConflict), (500, AriServerError), (503, AriServerError),
    (418, AriError), (302, AriError),
])
async def test_each_status_raises_its_own_error_with_asterisks_reason(
        ari: ScriptedAri, client: AriClient, status: int, kind: type[AriError]) -> None:
    ari.reply("DELETE", "/ari/channels/c1", status, {"message": "Channel not\nin Stasis"})
    with pytest.raises(AriError) as caught:
        await client.hangup("c1")
    error = caught.value
    assert type(error) is kind
    assert error.status == status
    message = str(error)
    assert message.startswith(f"ARI DELETE /ari/channels/c1: {status}")
    assert "\n" not in message
    assert PASSWORD not in message
    if kind is AriAuthError:
        assert "check ari.username/ari.password" in message and "ari.conf" in message
    else:
        assert message.endswith("Channel not in Stasis")


async def test_wrong_password_is_an_auth_error_that_never_shows_the_password(
        ari: ScriptedAri) -> None:
    wrong = "wrong-Pw-0451"
    async with AriClient(ari.settings(password=wrong)) as client:
        with pytest.raises(AriAuthError) as caught:
            await client.applications()
    assert caught.value.status == 401
    assert wrong not in str(caught.value) and PASSWORD not in str(caught.value)
    assert "user 'hotline'" in str(caught.value)


async def test_a_reply_that_is_not_the_json_it_should_be_is_an_ari_error(
        ari: ScriptedAri, client: AriClient) -> None:
    ari.reply("GET", "/ari/channels", 200, b"<html>proxy error</html>")
    with pytest.raises(AriError, match="not JSON"):
        await client.list_channels()
    ari.reply("GET", "/ari/asterisk/info", 200, [1, 2])
    with pytest.raises(AriError, match="expected a JSON object"):
        await client.asterisk_info()


async def test_a_server_that_never_answers_is_unavailable_within_the_timeout() -> None:
    held: list[asyncio.StreamWriter] = []

    async def accept(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)  # read nothing, answer nothing

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = AriSettings(enabled=True, url=f"http://127.0.0.1:{port}", password=Secret("x"))
    try:
        async with AriClient(settings, request_timeout=0.5) as client:
            started = time.monotonic()
            with pytest.raises(AriUnavailable) as caught:
                await client.originate("Local/1@ctx")
            took = time.monotonic() - started
    finally:
        for writer in held:
            writer.close()
        server.close()
        await server.wait_closed()
    assert 0.4 < took < 1.5
    assert caught.value.status is None
    assert str(caught.value) == (f"ARI POST /ari/channels: no answer from "
                                 f"http://127.0.0.1:{port} within 0.5s")
    assert held  # the TCP connection was made: the reply, not the connect, timed out


async def test_nothing_listening_is_unavailable_and_says_cannot_connect() -> None:
    port = free_port()
    settings = AriSettings(enabled=True, url=f"http://127.0.0.1:{port}", password=Secret("x"))
    async with AriClient(settings, request_timeout=2.0) as client:
        with pytest.raises(AriUnavailable) as caught:
            await client.asterisk_info()
    assert str(caught.value) == (f"ARI GET /ari/asterisk/info: cannot connect to "
                                 f"http://127.0.0.1:{port}: Connection refused")


async def test_a_connection_reset_mid_reply_is_unavailable() -> None:
    async def half_reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 100\r\n\r\n{\"id\":")
        await writer.drain()
        writer.transport.abort()  # RST, as a crashing Asterisk would

    server = await asyncio.start_server(half_reply, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    settings = AriSettings(enabled=True, url=f"http://127.0.0.1:{port}", password=Secret("x"))
    try:
        async with AriClient(settings, request_timeout=2.0) as client:
            with pytest.raises(AriUnavailable, match=r"connection to .* lost"):
                await client.get_channel("c1")
    finally:
        server.close()
        await server.wait_closed()


async def test_the_url_may_end_in_ari_and_credentials_in_it_are_ignored(
        ari: ScriptedAri) -> None:
    ari.reply("GET", "/ari/asterisk/info", 200, {"ok": True})
    settings = AriSettings(enabled=True, url=f"http://someone:else@127.0.0.1:{ari.port}/ari/",
                           username=USER, password=Secret(PASSWORD))
    async with AriClient(settings) as client:
        assert await client.asterisk_info() == {"ok": True}
        assert client.endpoint.shown == f"http://***@127.0.0.1:{ari.port}/ari/"


async def test_a_call_before_start_or_after_stop_says_so(ari: ScriptedAri) -> None:
    client = AriClient(ari.settings())
    assert not client.readiness().ok
    with pytest.raises(AriError, match="not started"):
        await client.applications()
    await client.start()
    assert client.readiness().ok
    await client.stop()
    with pytest.raises(AriError, match="not started"):
        await client.applications()
