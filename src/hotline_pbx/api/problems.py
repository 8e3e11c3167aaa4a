"""Errors as ``application/problem+json`` (RFC 9457), for every path of the server.

Every error a client can cause is a :class:`Problem`: a status, a title, a
sentence saying what to do, and for bad input the list of fields with the
reason and an example of a valid value (``errors``; the first one is repeated
at the top level as ``field``/``reason``/``example`` so a person reading the
body sees it at once). The domain's :class:`ValidationError` becomes a 422
with all its problems; aiohttp's own errors (404 for an unknown path, 405, 413
for a body over ``http.max_body_bytes``) get the same shape. An unexpected
exception is logged with its traceback and answered with a 500 that says
nothing about the inside; a database that cannot be reached is a 503.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import Any

import sqlalchemy.exc
from aiohttp import web

from hotline_pbx.domain.errors import ValidationError
from hotline_pbx.domain.masking import mask_json
from hotline_pbx.logs import RateLimitedLog

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
TYPE_PREFIX = "urn:hotline-pbx:problem:"
STREAMING = web.RequestKey("hotline_streaming", bool)  # the response has started

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Problem(Exception):
    """An error answer: raise it anywhere in a handler."""

    def __init__(self, status: int, slug: str, title: str, detail: str, *,
                 errors: Sequence[ValidationError] = (),
                 headers: dict[str, str] | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(detail)
        #: members of the body beyond RFC 9457's (e.g. a 409's ``allowed`` states)
        self.extra = dict(extra or {})
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.errors = tuple(errors)
        self.headers = headers or {}
        #: set for a viewer: a detail may echo a stored value or the request
        self.masked = False

    def body(self, instance: str) -> dict[str, Any]:
        body = self._body(instance)
        return mask_json(body) if self.masked else body

    def _body(self, instance: str) -> dict[str, Any]:
        body: dict[str, Any] = {"type": TYPE_PREFIX + self.slug, "title": self.title,
                                "status": self.status, "detail": self.detail,
                                "instance": instance}
        if self.errors:
            first = self.errors[0]
            body.update(field=first.field, reason=first.reason, example=first.example)
            body["errors"] = [e.as_dict() for e in self.errors]
        body.update(self.extra)
        return body

    def response(self, instance: str) -> web.Response:
        return web.Response(
            status=self.status, text=json.dumps(self.body(instance), ensure_ascii=False),
            content_type=PROBLEM_JSON, charset="utf-8", headers=self.headers,
        )


def invalid(errors: ValidationError | Iterable[ValidationError], *, status: int = 422,
            what: str = "the request body") -> Problem:
    """A validation problem listing every bad field."""
    items = errors.errors if isinstance(errors, ValidationError) else tuple(errors)
    first = items[0]
    detail = (f"{what} is not valid: {first.field or '(body)'} {first.reason}"
              if len(items) == 1 else
              f"{what} has {len(items)} problems; the first: {first.field or '(body)'} "
              f"{first.reason}")
    return Problem(status, "validation", "Invalid input", detail, errors=items)


def bad_query(field: str, reason: str, example: str) -> Problem:
    return invalid(ValidationError(field, reason, example), status=400,
                   what="the query string")


def busy(status: int, detail: str, retry_after: int) -> Problem:
    """The server is at a limit it sets itself (429) or out of database
    connections (503): nothing is wrong with the request; send it again later."""
    title = "Too many requests" if status == 429 else "Service busy"
    return Problem(status, "busy", title, detail, headers={"Retry-After": str(retry_after)})


def not_found(detail: str) -> Problem:
    return Problem(404, "not-found", "Not found", detail)


def conflict(error: ValidationError) -> Problem:
    return Problem(409, "conflict", "Conflict", f"{error.field}: {error.reason}",
                   errors=[error])


_HTTP_SLUGS = {
    404: ("not-found", "Not found",
          "there is no such path; GET /api/v1/openapi.json lists every path"),
    405: ("method-not-allowed", "Method not allowed",
          "this path does not accept that method; see the Allow header"),
    413: ("too-large", "Request body too large",
          "the body is larger than http.max_body_bytes; send a smaller document"),
}


def _from_http_exception(exc: web.HTTPException) -> Problem:
    slug, title, detail = _HTTP_SLUGS.get(
        exc.status, ("http-" + str(exc.status), exc.reason, exc.text or exc.reason))
    if exc.status == 413:
        detail = f"the body is over the server's limit (http.max_body_bytes): {exc.text}"
        return Problem(413, slug, title, detail,
                       errors=[ValidationError("(body)", "is too large",
                                               "a JSON document under the size limit")])
    headers = {}
    if "Allow" in exc.headers:
        headers["Allow"] = exc.headers["Allow"]
    return Problem(exc.status, slug, title, detail, headers=headers)


@web.middleware
async def problem_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Turn every error into problem+json; nothing inside leaks out."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects are answers, not errors
        return _from_http_exception(exc).response(request.path)
    except Exception as exc:
        if request.get(STREAMING):
            # Headers and part of the body are out (a CSV export): no second
            # answer is possible; aiohttp closes the connection, and the client
            # sees a truncated download instead of a silently short file.
            if isinstance(exc, _CLIENT_GONE):  # a normal ending: one line
                log.warning("%s %s: download cut short: %s", request.method, request.path,
                            type(exc).__name__)
            else:
                log.exception("%s %s failed while streaming", request.method, request.path)
            raise
        return _problem_for(request, exc).response(request.path)


class ClientGone(Exception):
    """The client closed its connection before its request was in (mid-body):
    a normal ending, and nothing to do with the database. Raised by
    :func:`read_body`, where the client's I/O is the only I/O, because by
    type alone a reset from the client and one from PostgreSQL (asyncpg
    raises ``OSError`` as it is) look the same."""


async def read_body(request: web.Request) -> bytes:
    """The request body (kept by aiohttp: read again for free)."""
    try:
        return await request.read()
    except ConnectionError as exc:  # aiohttp: ConnectionResetError("Connection lost")
        raise ClientGone(f"{type(exc).__name__}: {exc}") from None


# The client went away, or read so slowly that the export's deadline passed.
_CLIENT_GONE = (ConnectionError, TimeoutError)
_DATABASE_DOWN = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError,
                  sqlalchemy.exc.TimeoutError, OSError, TimeoutError)
# While PostgreSQL is down every request fails the same way: one line per interval.
DATABASE_LOG_INTERVAL = 10.0
_database_log = RateLimitedLog(DATABASE_LOG_INTERVAL)


def _problem_for(request: web.Request, exc: Exception) -> Problem:
    if isinstance(exc, Problem):
        return exc
    if isinstance(exc, ValidationError):
        return invalid(exc)
    if isinstance(exc, ClientGone):  # nobody is left to read the answer
        log.debug("%s %s: the client closed the connection mid-request (%s)",
                  request.method, request.path, exc)
        return Problem(400, "client-gone", "Client closed the connection",
                       "the connection closed before the whole request arrived")
    if isinstance(exc, sqlalchemy.exc.TimeoutError):  # the pool's wait (pool_timeout)
        _database_log.warning(log, "%s %s: every database connection is in use",
                              request.method, request.path)
        return busy(503, "every database connection is in use right now; try again in a "
                    "few seconds", retry_after=2)
    if isinstance(exc, _DATABASE_DOWN):
        _database_log.warning(log, "%s %s: database unavailable: %s", request.method,
                              request.path, type(exc).__name__)
        return Problem(503, "unavailable", "Service unavailable",
                       "the database cannot be reached right now; try again shortly",
                       headers={"Retry-After": "5"})
    log.exception("%s %s failed", request.method, request.path, exc_info=exc)
    return Problem(500, "internal", "Internal error",
                   "the server failed to handle this request; it has been logged")
