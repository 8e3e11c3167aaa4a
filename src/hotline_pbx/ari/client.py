"""A thin asyncio client for ARI's REST calls (Asterisk 22), on aiohttp.

One :class:`AriClient` owns one ``aiohttp.ClientSession`` between
:meth:`~AriClient.start` and :meth:`~AriClient.stop`. Every call:

* is bounded by ``request_timeout`` (connect, send and the whole reply);
* returns the decoded JSON (``dict`` or ``list``), or ``None`` for a 204;
* raises a typed :mod:`hotline_pbx.ari.errors` exception otherwise —
  :class:`AriUnavailable` when Asterisk did not answer, :class:`AriAuthError`,
  :class:`AriNotFound`, :class:`AriConflict`, :class:`AriBadRequest`,
  :class:`AriServerError` by status, the base :class:`AriError` for any other
  status or a reply that is not the JSON it should be.

Channels originated here always go to our Stasis app (``ari.app``), so their
events reach :class:`hotline_pbx.ari.events.AriEvents`. That app exists in
Asterisk only while our events websocket is connected: originate after
``AriEvents.connected`` is set.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

import aiohttp

from hotline_pbx.ari.endpoint import AriEndpoint
from hotline_pbx.ari.errors import AriError, for_status
from hotline_pbx.config import AriSettings
from hotline_pbx.lifecycle import READY, Readiness

log = logging.getLogger(__name__)

# Replies larger than this are refused (a channel list of a busy PBX is a few
# hundred kB; nothing ARI sends us legitimately comes near).
MAX_REPLY_BYTES = 16 * 1024 * 1024

Params = Mapping[str, str | int]


class AriClient:
    def __init__(self, settings: AriSettings, *, request_timeout: float = 5.0) -> None:
        if not request_timeout > 0:
            raise ValueError("request_timeout must be a positive number of seconds")
        self.name = "ARI client"
        self.settings = settings
        self.request_timeout = request_timeout
        self.endpoint = AriEndpoint(settings)
        self._session: aiohttp.ClientSession | None = None

    # -- lifecycle ------------------------------------------------------------

    async def start(self) -> None:
        if self._session is not None:
            raise RuntimeError(f"{self.name} already started")
        self._session = aiohttp.ClientSession(
            headers=self.endpoint.headers,
            timeout=aiohttp.ClientTimeout(total=self.request_timeout),
        )

    async def stop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def readiness(self) -> Readiness:
        # The client holds no connection of its own to watch: whether Asterisk
        # answers shows in each call's result and in AriEvents' readiness.
        return READY if self._session is not None else Readiness(False, "ARI client not started")

    async def __aenter__(self) -> AriClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- channels ---------------------------------------------------------------

    async def originate(self, endpoint: str, *, channel_id: str | None = None,
                        caller_id: str | None = None, timeout: int = 30,
                        variables: Mapping[str, str] | None = None,
                        app_args: str = "", app: str | None = None) -> dict[str, Any]:
        """Dial ``endpoint`` (``PJSIP/1234@general-trunk``, ``Local/x@ctx``); once it
        answers, the channel enters our Stasis app (``StasisStart``). Returns the
        new channel at once (state ``Down``); a failure to reach the far end shows
        later, as ``ChannelDestroyed`` with its ``cause``. ``timeout``: seconds of
        ringing before Asterisk gives up (-1: never). ``app``: another Stasis app
        of ours (the dialer's ``<ari.app>-dialer``), default ``ari.app``."""
        params: dict[str, str | int] = {"endpoint": endpoint, "app": app or self.settings.app,
                                        "timeout": timeout}
        if app_args:
            params["appArgs"] = app_args
        if caller_id is not None:
            params["callerId"] = caller_id
        if channel_id is not None:
            params["channelId"] = channel_id
        body = {"variables": dict(variables)} if variables else None
        return _object(await self._call("POST", ("channels",), params, body), "originate")

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        """Hang up; :class:`AriNotFound` when the channel is already gone (callers
        that only want it gone may ignore that)."""
        await self._call("DELETE", ("channels", channel_id), {"reason": reason})

    async def get_channel(self, channel_id: str) -> dict[str, Any]:
        return _object(await self._call("GET", ("channels", channel_id)), "get_channel")

    async def list_channels(self) -> list[dict[str, Any]]:
        return _objects(await self._call("GET", ("channels",)), "list_channels")

    async def get_variable(self, channel_id: str, name: str) -> str:
        """A channel variable or function (``CALLERID(num)``); :class:`AriNotFound`
        for an unknown channel (Asterisk also answers 404 for an unset variable)."""
        reply = _object(await self._call("GET", ("channels", channel_id, "variable"),
                                         {"variable": name}), "get_variable")
        value = reply.get("value")
        if not isinstance(value, str):
            raise AriError(f"ARI get_variable {name}: reply without a string value")
        return value

    async def set_variable(self, channel_id: str, name: str, value: str) -> None:
        await self._call("POST", ("channels", channel_id, "variable"),
                         {"variable": name, "value": value})

    async def answer(self, channel_id: str) -> None:
        await self._call("POST", ("channels", channel_id, "answer"))

    async def play(self, channel_id: str, media: str, *,
                   playback_id: str | None = None) -> dict[str, Any]:
        """Start playing ``media`` (``sound:hello-world``, ``tone:ring``…, several
        comma-separated); returns the playback (its ``id``; ``PlaybackFinished``
        follows as an event). ``playback_id``: the id to give it, so a caller can
        wait for its end before the reply is in."""
        path = ("channels", channel_id, "play") if playback_id is None \
            else ("channels", channel_id, "play", playback_id)
        return _object(await self._call("POST", path, {"media": media}), "play")

    # -- snoop (long calls, issue 12: a whisper to the agent alone) -------------------

    async def snoop(self, channel_id: str, *, app: str, whisper: str = "none",
                    spy: str = "none", snoop_id: str | None = None) -> dict[str, Any]:
        """A snoop channel on ``channel_id`` (any channel, ours or not), put into
        Stasis app ``app``. ``whisper="out"``: what is played on the snoop channel
        is mixed into the audio Asterisk sends *to* ``channel_id`` only (that
        channel's party hears it, its peer does not); ``"in"`` would send it to
        the peer, as if spoken by the snooped party. Returns the snoop channel."""
        params: dict[str, str | int] = {"app": app, "whisper": whisper, "spy": spy}
        if snoop_id is not None:
            params["snoopId"] = snoop_id
        return _object(await self._call("POST", ("channels", channel_id, "snoop"), params),
                       "snoop")

    # -- bridges ----------------------------------------------------------------

    async def create_bridge(self, kind: str = "mixing") -> dict[str, Any]:
        return _object(await self._call("POST", ("bridges",), {"type": kind}), "create_bridge")

    async def add_to_bridge(self, bridge_id: str, channel_ids: str | Iterable[str]) -> None:
        ids = [channel_ids] if isinstance(channel_ids, str) else list(channel_ids)
        await self._call("POST", ("bridges", bridge_id, "addChannel"),
                         {"channel": ",".join(ids)})

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self._call("DELETE", ("bridges", bridge_id))

    # -- Asterisk -----------------------------------------------------------------

    async def applications(self) -> list[dict[str, Any]]:
        """The Stasis apps Asterisk knows now (ours while our websocket is up)."""
        return _objects(await self._call("GET", ("applications",)), "applications")

    async def asterisk_info(self) -> dict[str, Any]:
        return _object(await self._call("GET", ("asterisk", "info")), "asterisk_info")

    # -- the one request path -------------------------------------------------------

    async def _call(self, method: str, segments: tuple[str, ...], params: Params | None = None,
                    body: Mapping[str, Any] | None = None) -> Any:
        session = self._session
        if session is None:
            raise AriError("ARI client is not started")
        url = self.endpoint.url(*segments)
        what = f"ARI {method} {url.raw_path}"
        try:
            async with asyncio.timeout(self.request_timeout):
                async with session.request(method, url, params=params, json=body,
                                           allow_redirects=False) as reply:
                    status = reply.status
                    data = await _read_limited(reply, what)
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            raise self.endpoint.unavailable(what, exc, self.request_timeout) from None
        if status >= 300:
            raise for_status(status, what, _detail(data), username=self.settings.username)
        if not data.strip():
            return None
        try:
            return json.loads(data)
        except ValueError:
            raise AriError(f"{what}: {status} with a reply that is not JSON", status) from None


async def _read_limited(reply: aiohttp.ClientResponse, what: str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in reply.content.iter_chunked(65536):
        size += len(chunk)
        if size > MAX_REPLY_BYTES:
            raise AriError(f"{what}: reply larger than {MAX_REPLY_BYTES} bytes", reply.status)
        chunks.append(chunk)
    return b"".join(chunks)


def _detail(data: bytes) -> str:
    """Asterisk's reason in an error reply (``{"message": "Channel not found"}``)."""
    text = data[:2000].decode("utf-8", "replace")
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    if isinstance(parsed, dict):
        for key in ("message", "error"):
            if isinstance(parsed.get(key), str):
                return str(parsed[key])
    return text


def _object(value: Any, call: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AriError(f"ARI {call}: expected a JSON object, got {type(value).__name__}")
    return value


def _objects(value: Any, call: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise AriError(f"ARI {call}: expected a JSON list of objects")
    return value
