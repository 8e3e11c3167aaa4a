"""Where ARI is and who we are to it: the part the REST client and the events
websocket share.

``ari.url`` is the root of Asterisk's HTTP server (``http://127.0.0.1:8088``,
with http.conf's ``prefix`` if one is set); a trailing ``/ari`` is accepted
too. A user name or password written into the URL is ignored: the
credentials are ``ari.username`` and ``ari.password``, sent as a Basic
``Authorization`` header, so they appear in no URL, log line or exception.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from urllib.parse import quote

import aiohttp
from yarl import URL

from hotline_pbx.ari.errors import AriAuthError, AriBadRequest, AriUnavailable
from hotline_pbx.config import AriSettings, redact_url


class AriEndpoint:
    def __init__(self, settings: AriSettings) -> None:
        if ":" in settings.username:
            raise AriAuthError("ari.username may not contain ':' (HTTP Basic authentication)")
        self.settings = settings
        root = URL(settings.url).with_user(None).with_password(None).with_query(None)
        path = root.path.rstrip("/").removesuffix("/ari")
        self.base = root.with_fragment(None).with_path(f"{path}/ari")
        self.shown = redact_url(settings.url)
        token = base64.b64encode(
            f"{settings.username}:{settings.password}".encode()).decode("ascii")
        self.headers: Mapping[str, str] = {"Authorization": f"Basic {token}"}

    def url(self, *segments: str) -> URL:
        """``/ari/<segments…>``, each segment quoted whole (an id may hold any
        character, ``/`` included); an empty, ``.`` or ``..`` id is refused."""
        for segment in segments:
            if segment in ("", ".", ".."):
                raise AriBadRequest(f"ARI: {segment!r} is not a valid id")
        path = "/".join(quote(segment, safe="") for segment in segments)
        return self.base.with_path(f"{self.base.raw_path}/{path}", encoded=True)

    def unavailable(self, what: str, exc: BaseException, timeout: float) -> AriUnavailable:
        """The :class:`AriUnavailable` for a request ``what`` that got no answer."""
        return AriUnavailable(f"{what}: {self.no_answer(exc, timeout)}")

    def no_answer(self, exc: BaseException, timeout: float) -> str:
        """Why ARI did not answer, for a person: unreachable, silent or cut off."""
        if isinstance(exc, TimeoutError):
            return f"no answer from {self.shown} within {timeout:g}s"
        if isinstance(exc, aiohttp.ClientConnectorError):
            errno = exc.os_error.errno
            reason = os.strerror(errno) if errno else str(exc.os_error) or "failed"
            return f"cannot connect to {self.shown}: {reason}"
        if isinstance(exc, aiohttp.ServerDisconnectedError | ConnectionResetError
                      | aiohttp.ClientPayloadError):
            return f"connection to {self.shown} lost ({type(exc).__name__})"
        text = str(exc).strip()
        return f"{self.shown}: {type(exc).__name__}" + (f": {text}" if text else "")
