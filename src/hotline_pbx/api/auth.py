"""Bearer tokens and roles.

A token is ``hpx_`` + 43 random URL-safe characters (256 bits), shown once
when it is created (``hotline-pbx token create``) and stored only as its
SHA-256: with that much entropy a fast hash is as safe as a slow one, and a
lookup is one indexed query. Tokens are never logged.

Roles, from most to least powerful:

* ``admin`` - everything;
* ``supervisor`` - reads everything a viewer reads, edits the roster and
  adds notes to calls;
* ``viewer`` - reads; caller numbers (and every other phone number) masked
  (:mod:`hotline_pbx.domain.masking`, applied by ``Call.shown``).

401 for a missing, malformed, unknown or revoked token; 403 for a role that
may not do what it asked.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from hotline_pbx.api.problems import Problem
from hotline_pbx.domain.contract import AccessRole

TOKEN_PREFIX = "hpx_"
_TOKEN = re.compile(r"hpx_[A-Za-z0-9_-]{20,100}")
_WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="hotline-pbx"'}


ROLE_NAMES = tuple(role.key for role in sorted(AccessRole, reverse=True))


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: the token's id, name and role."""

    token_id: int
    name: str
    role: AccessRole

    @property
    def actor(self) -> str:
        """How the audit log names them."""
        return f"token:{self.name}"

    @property
    def masked(self) -> bool:
        """Viewers never see a whole phone number."""
        return self.role is AccessRole.VIEWER


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_token(header: str | None) -> str:
    """The token of an ``Authorization: Bearer …`` header, or a 401."""
    if not header:
        raise unauthorized("no Authorization header; send Authorization: Bearer <token> "
                           "(tokens are made with `hotline-pbx token create`)")
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise unauthorized("the Authorization header must be 'Bearer <token>'")
    if _TOKEN.fullmatch(token) is None:
        raise unauthorized("the token is malformed; tokens look like hpx_…")
    return token


def unauthorized(detail: str) -> Problem:
    return Problem(401, "unauthorized", "Unauthorized", detail, headers=_WWW_AUTHENTICATE)


def require(principal: Principal, role: AccessRole, what: str) -> None:
    if principal.role < role:
        raise Problem(403, "forbidden", "Forbidden",
                      f"{what} needs the {role.key} role; this token ({principal.name}) "
                      f"has {principal.role.key}")
