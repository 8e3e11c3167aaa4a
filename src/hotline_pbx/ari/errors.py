"""What can go wrong talking to ARI, as exceptions a caller can act on.

Every message is one line a person can read, names the request (``ARI GET
/ari/channels/abc``) and never contains the password: ARI credentials travel
in a header, and a URL is shown with :func:`hotline_pbx.config.redact_url`.
``status`` is the HTTP status when Asterisk answered, ``None`` when it did not.
"""

from __future__ import annotations

import re


class AriError(Exception):
    """Any failed ARI request; the subclasses say why."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(one_line(message))
        self.status = status


class AriUnavailable(AriError):
    """No answer: cannot connect, the request timed out, or the connection was reset."""


class AriAuthError(AriError):
    """401/403: Asterisk refused our ARI user name or password."""


class AriNotFound(AriError):
    """404: no such channel, bridge, variable or application (a channel may
    simply have hung up already)."""


class AriConflict(AriError):
    """409: the resource is in the wrong state (a channel not in our Stasis app,
    a channel id already in use)."""


class AriBadRequest(AriError):
    """400/422: Asterisk rejected the request's parameters."""


class AriServerError(AriError):
    """5xx: Asterisk failed while handling the request."""


_LONGEST_DETAIL = 200


def one_line(text: str) -> str:
    """``text`` on one line: whitespace runs collapsed, cut to a readable length."""
    flat = re.sub(r"\s+", " ", text).strip()
    return flat if len(flat) <= _LONGEST_DETAIL * 2 else flat[: _LONGEST_DETAIL * 2 - 1] + "…"


def auth_hint(username: str) -> str:
    return (f"ARI refused the credentials of user {username!r}: check ari.username/"
            "ari.password and the user in Asterisk's ari.conf")


def for_status(status: int, what: str, detail: str, *, username: str) -> AriError:
    """The exception for an HTTP error ``status`` of request ``what`` (``ARI GET
    /ari/channels``); ``detail`` is Asterisk's own message, if any."""
    reason = f": {one_line(detail)[:_LONGEST_DETAIL]}" if detail.strip() else ""
    if status in (401, 403):
        return AriAuthError(f"{what}: {status}; {auth_hint(username)}", status)
    kind: type[AriError]
    if status == 404:
        kind = AriNotFound
    elif status == 409:
        kind = AriConflict
    elif status in (400, 422):
        kind = AriBadRequest
    elif status >= 500:
        kind = AriServerError
    else:
        kind = AriError
    return kind(f"{what}: {status}{reason}", status)
