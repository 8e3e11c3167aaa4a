"""The aiohttp application: health, metrics and the REST API on one port.

``app.py`` builds it with :func:`build_app`; tests build the same app on a
test server. The endpoint lists of the routes modules are collected here once
(no decorators, no registry filled by imports), each handler wrapped by
:func:`_guarded`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Sequence

from aiohttp import web
from aiohttp.typedefs import Middleware
from sqlalchemy.ext.asyncio import AsyncConnection

from hotline_pbx.api import (
    routes_callbacks,
    routes_calls,
    routes_campaigns,
    routes_complaints,  # the complaint register (issue 13)
    routes_config,
    routes_line,
    routes_long_calls,
    routes_reports,
    routes_staffing,  # staffing advisor (issue 15)
    routes_stats,
)
from hotline_pbx.api.auth import Principal, bearer_token, hash_token, require, unauthorized
from hotline_pbx.api.connections import quiet_malformed_requests
from hotline_pbx.api.context import ApiContext, Call, Endpoint, json_response
from hotline_pbx.api.health import add_health_routes
from hotline_pbx.api.openapi import openapi_document
from hotline_pbx.api.params import check_query
from hotline_pbx.api.problems import Problem, invalid, problem_middleware
from hotline_pbx.api.routes_complaint_visits import ENDPOINTS as VISIT_ENDPOINTS  # issue 13
from hotline_pbx.api.routes_monthly import ENDPOINTS as MONTHLY_ENDPOINTS  # issue 15
from hotline_pbx.api.routes_purposes import ENDPOINTS as PURPOSE_ENDPOINTS  # issue 13
from hotline_pbx.api.sessions import CSRF_HEADER, SAFE_METHODS, SESSION_COOKIE
from hotline_pbx.console.pages import add_console_routes
from hotline_pbx.domain.errors import ValidationError
from hotline_pbx.lifecycle import ReadinessBoard

ENDPOINTS: tuple[Endpoint, ...] = (
    *routes_config.ENDPOINTS,
    *routes_calls.ENDPOINTS,
    *routes_stats.ENDPOINTS,
    *routes_reports.ENDPOINTS,
    *routes_line.ENDPOINTS,
    *routes_callbacks.ENDPOINTS,  # callback tasks (issue 12)
    *routes_long_calls.ENDPOINTS,  # issue 12: long calls
    *routes_campaigns.ENDPOINTS,  # issue 12: emergency campaigns
    # -- purposes, complaint visits, monthly statistics (issues 13, 15) --
    *PURPOSE_ENDPOINTS,
    *VISIT_ENDPOINTS,
    *MONTHLY_ENDPOINTS,
    # -- end purposes, complaint visits, monthly statistics --
    # -- staffing advisor (issue 15) --
    *routes_staffing.ENDPOINTS,
    *routes_complaints.ENDPOINTS,  # the complaint register (issue 13)
    # -- end staffing advisor --
)

CONTEXT_KEY = web.AppKey("hotline_api", ApiContext)


def build_app(api: ApiContext, readiness: ReadinessBoard,
              middlewares: Sequence[Middleware] = ()) -> web.Application:
    """The app; `/readyz` answers from `readiness`; `middlewares` run inside
    `problem_middleware`, so their errors are problems."""
    quiet_malformed_requests()
    app = web.Application(client_max_size=api.settings.http.max_body_bytes,
                          middlewares=[problem_middleware,
                                       routes_campaigns.upload_limit(api.settings),
                                       *middlewares])
    app[CONTEXT_KEY] = api
    add_health_routes(app, readiness)
    add_api_routes(app, api, ENDPOINTS)
    add_console_routes(app, api)
    return app


def add_api_routes(app: web.Application, api: ApiContext,
                   endpoints: Iterable[Endpoint]) -> None:
    document = openapi_document()

    async def openapi(_request: web.Request) -> web.StreamResponse:
        return json_response(document)

    app.router.add_get("/api/v1/openapi.json", openapi)
    for endpoint in endpoints:
        app.router.add_route(endpoint.method, endpoint.path, _guarded(api, endpoint))


def _guarded(api: ApiContext, endpoint: Endpoint
             ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    what = f"{endpoint.method} {endpoint.path}"

    async def principal_of(conn: AsyncConnection, token_hash: str) -> Principal:
        principal = await api.principal_for(conn, token_hash)
        if principal is None:
            raise unauthorized("the token is unknown or revoked")
        require(principal, endpoint.role, what)
        return principal

    async def serve(request: web.Request, principal: Principal,
                    conn: AsyncConnection | None) -> web.StreamResponse:
        # A streaming endpoint (conn None) opens short transactions of its own.
        try:
            query = check_query(request, endpoint.query)
            if conn is None:
                async with asyncio.timeout(endpoint.deadline or api.deadline):
                    return await endpoint.handler(Call(api, request, principal, query))
            async with conn.begin():
                return await endpoint.handler(Call(api, request, principal, query, conn))
        except ValidationError as error:
            raise _shown(principal, invalid(error)) from error
        except Problem as problem:
            raise _shown(principal, problem) from None

    async def handle(request: web.Request) -> web.StreamResponse:
        token = credential_of(api, request)
        if endpoint.streams:
            async with api.connection() as conn:
                principal = await principal_of(conn, token)
            return await serve(request, principal, None)
        async with api.connection(endpoint.deadline) as conn:
            principal = await principal_of(conn, token)
            return await serve(request, principal, conn)

    handle.__name__ = endpoint.handler.__name__
    return handle


def credential_of(api: ApiContext, request: web.Request) -> str:
    """The hash of the token a request authenticates with: its bearer token, or
    the console session of its cookie — a write from the console must then
    carry the session's CSRF token (docs/console.md). 401 otherwise."""
    header = request.headers.get("Authorization")
    cookie = request.cookies.get(SESSION_COOKIE)
    if header is None and cookie is not None:
        session = api.sessions.find(cookie)
        if session is None:
            raise unauthorized("the console session has expired or is unknown; log in again")
        if request.method not in SAFE_METHODS and not session.csrf_matches(
                request.headers.get(CSRF_HEADER)):
            raise Problem(403, "csrf", "Forbidden",
                          f"a write from the console needs the {CSRF_HEADER} header of "
                          "its session")
        return session.token_hash
    return hash_token(bearer_token(header))


def _shown(principal: Principal, problem: Problem) -> Problem:
    """An error answer as this caller may read it: masked for a viewer."""
    problem.masked = principal.masked
    return problem
