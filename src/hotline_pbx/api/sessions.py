"""The console's login sessions: a token exchanged for a cookie.

A person logs in with an API token (``hotline-pbx token create``); the console
keeps, in this process's memory, a session that remembers the token's *hash*
(never the token), a CSRF token and an expiry, and gives the browser only a
random session id in a cookie (``HttpOnly``, ``SameSite=Strict``, ``Secure``
behind TLS, ``Max-Age`` the session's lifetime). Every request re-checks the
token's hash against the database (``store.api_repo.authenticate``, as the
API does): a revoked token ends its sessions at once, and the role is the
token's, so the console grants exactly what the API grants.

Every write (any method but GET/HEAD) must carry the session's CSRF token in
the ``X-CSRF-Token`` header (the console's scripts send it; a form post from
another site cannot read it). Sessions do not survive a restart of the daemon,
and each instance has its own: behind a load balancer, keep a console user on
one instance (docs/console.md).

The store is bounded (``console.max_sessions``): at the limit, expired sessions
are dropped first, then the oldest one — a login never fails for room.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

SESSION_COOKIE = "hotline_session"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})  # no CSRF token needed
_ID_BYTES = 32


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    token_hash: str
    csrf: str
    expires_at: float  # monotonic seconds

    def csrf_matches(self, offered: str | None) -> bool:
        return offered is not None and hmac.compare_digest(offered, self.csrf)


class SessionStore:
    def __init__(self, *, lifetime: float, max_sessions: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.lifetime = lifetime
        self.max_sessions = max_sessions
        self._clock = clock
        self._sessions: OrderedDict[str, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._sessions)

    def open(self, token_hash: str) -> Session:
        self._make_room()
        session = Session(secrets.token_urlsafe(_ID_BYTES), token_hash,
                          secrets.token_urlsafe(_ID_BYTES), self._clock() + self.lifetime)
        self._sessions[session.id] = session
        return session

    def find(self, session_id: str | None) -> Session | None:
        """The live session of this cookie value; None for a forged, unknown or
        expired one (an expired one is forgotten)."""
        if not session_id or len(session_id) > 100:
            return None
        session = self._sessions.get(session_id)
        if session is None:
            return None
        if session.expires_at <= self._clock():
            del self._sessions[session_id]
            return None
        return session

    def close(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)

    def close_token(self, token_hash: str) -> None:
        """Forget every session of a token the database no longer accepts."""
        for key in [k for k, s in self._sessions.items() if s.token_hash == token_hash]:
            del self._sessions[key]

    def _make_room(self) -> None:
        now = self._clock()
        for key in [k for k, s in self._sessions.items() if s.expires_at <= now]:
            del self._sessions[key]
        while len(self._sessions) >= self.max_sessions:
            self._sessions.popitem(last=False)  # the oldest login
