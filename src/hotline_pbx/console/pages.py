"""The console's pages under ``/console/`` (docs/console.md).

Server-rendered (Jinja2, every value escaped) with one small vanilla script,
``static/console.js``, that talks to the REST API with the session cookie:
every editor posts to the API endpoint an integration would use, so the API's
validation is the only one and its problem details are shown next to the
field. Nothing is fetched from outside the daemon.

* ``GET /console/login``, ``POST /console/login`` (a token, form-encoded) →
  a session cookie; ``POST /console/logout`` (CSRF) ends it.
* ``GET /console/`` the wallboard, fed by ``GET /console/events`` (server-sent
  events of :mod:`hotline_pbx.console.wallboard`).
* ``GET /console/schedule`` the day/night switch; ``/console/calls`` the call
  register; ``/console/reports`` the monthly pack.
* ``GET /console/static/{name}`` the script and the style sheet.

A page without a live session redirects to the login page; the role is the
token's, checked on every request against the database, as the API does.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import cache
from importlib.resources import files
from typing import Any

from aiohttp import web
from jinja2 import Environment, FunctionLoader, select_autoescape

from hotline_pbx.api.auth import TOKEN_PREFIX, Principal, hash_token
from hotline_pbx.api.context import ApiContext
from hotline_pbx.api.sessions import CSRF_HEADER, SESSION_COOKIE, Session
from hotline_pbx.console.labels import DEFAULT_LANGUAGE, LANG_COOKIE, LANGUAGES, words
from hotline_pbx.console.lists import LIST_PAGES
from hotline_pbx.domain.contract import AccessRole

PREFIX = "/console"
STATIC = {"console.js": "application/javascript", "console.css": "text/css"}
HEARTBEAT_SECONDS = 15.0  # an SSE comment line, so proxies keep the stream open
WRITE_TIMEOUT = 5.0  # a viewer whose socket takes longer to accept a board is dropped
# No external request, no inline script (the page's data goes in data- attributes).
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; frame-src 'self'; frame-ancestors 'self'; form-action 'self'; "
       "base-uri 'none'")

Page = Callable[[web.Request, ApiContext, Session, Principal], Awaitable[web.StreamResponse]]


def _template(name: str) -> str:
    return (files("hotline_pbx.console") / "templates" / name).read_text("utf-8")


@cache
def _environment() -> Environment:
    return Environment(loader=FunctionLoader(_template),
                       autoescape=select_autoescape(default=True, default_for_string=True))


def language_of(request: web.Request) -> str:
    wanted = request.query.get("lang") or request.cookies.get(LANG_COOKIE)
    return wanted if wanted in LANGUAGES else DEFAULT_LANGUAGE


def render(request: web.Request, name: str, *, status: int = 200,
           **values: Any) -> web.Response:
    language = language_of(request)
    html = _environment().get_template(name).render(
        w=words(language), lang=language, prefix=PREFIX, **values)
    response = web.Response(text=html, content_type="text/html", charset="utf-8",
                            status=status, headers=_headers())
    if request.query.get("lang") in LANGUAGES:
        response.set_cookie(LANG_COOKIE, language, max_age=365 * 86400, httponly=True,
                            samesite="Strict", secure=request.secure, path=PREFIX)
    return response


def _headers() -> dict[str, str]:
    return {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin", "Cache-Control": "no-store"}


async def _principal(api: ApiContext, token_hash: str) -> Principal | None:
    async with api.connection() as conn:
        return await api.principal_for(conn, token_hash)


def _see_other(location: str) -> web.Response:
    return web.Response(status=303, headers={"Location": location, **_headers()})


def _to_login(request: web.Request) -> web.StreamResponse:
    response = _see_other(f"{PREFIX}/login")
    if SESSION_COOKIE in request.cookies:
        response.del_cookie(SESSION_COOKIE, path="/")
    return response


def page(api: ApiContext, handler: Page) -> Callable[[web.Request],
                                                     Awaitable[web.StreamResponse]]:
    async def serve(request: web.Request) -> web.StreamResponse:
        session = api.sessions.find(request.cookies.get(SESSION_COOKIE))
        principal = None if session is None else await _principal(api, session.token_hash)
        if session is None or principal is None:
            return _to_login(request)
        return await handler(request, api, session, principal)

    return serve


# -- login ------------------------------------------------------------------------------


async def login_form(request: web.Request) -> web.StreamResponse:
    return render(request, "login.html", failed=False)


def login(api: ApiContext) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def post(request: web.Request) -> web.StreamResponse:
        form = await request.post()
        token = str(form.get("token", "")).strip()
        found = None
        if token.startswith(TOKEN_PREFIX) and len(token) <= 120:
            found = await _principal(api, hash_token(token))
        if found is None:
            return render(request, "login.html", status=401, failed=True)
        session = api.sessions.open(hash_token(token))
        response = _see_other(f"{PREFIX}/")
        response.set_cookie(SESSION_COOKIE, session.id, max_age=int(api.sessions.lifetime),
                            httponly=True, samesite="Strict", secure=request.secure, path="/")
        return response

    return post


def logout(api: ApiContext) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def post(request: web.Request) -> web.StreamResponse:
        session = api.sessions.find(request.cookies.get(SESSION_COOKIE))
        if session is not None:
            form = await request.post()
            offered = request.headers.get(CSRF_HEADER) or str(form.get("csrf", ""))
            if not session.csrf_matches(offered):
                raise web.HTTPForbidden(text="the logout form's CSRF token is missing")
            api.sessions.close(session.id)
        return _to_login(request)

    return post


# -- pages --------------------------------------------------------------------------------


#: The navigation, in order: (page, path under /console/).
NAVIGATION = (("wallboard", ""), ("schedule", "schedule"), ("roster", "roster"),
              ("calls", "calls"), ("callbacks", "callbacks"), ("complaints", "complaints"),
              ("faults", "faults"), ("campaigns", "campaigns"), ("blocked", "blocked"),
              ("reports", "reports"))


def _page(template: str, page_name: str | None = None, **extra: Any) -> Page:
    async def handler(request: web.Request, api: ApiContext, session: Session,
                      principal: Principal) -> web.StreamResponse:
        offset = datetime.now(api.zone).strftime("%z")
        values = {**extra}
        if "call_id" in request.match_info:
            call_id = request.match_info["call_id"]
            if not (call_id.isascii() and call_id.isdigit() and len(call_id) <= 18):
                raise web.HTTPNotFound(text="no such call")
            values["call_id"] = call_id
        return render(request, template, csrf=session.csrf, principal=principal,
                      role=principal.role.key,
                      page=page_name or template.removesuffix(".html"),
                      navigation=NAVIGATION, can_edit=principal.role >= AccessRole.ADMIN,
                      can_roster=principal.role >= AccessRole.SUPERVISOR,
                      can_note=principal.role >= AccessRole.SUPERVISOR,
                      zone_offset=f"{offset[:3]}:{offset[3:]}", **values)

    return handler


async def events(request: web.Request, api: ApiContext, session: Session,
                 principal: Principal) -> web.StreamResponse:
    """The wallboard's stream: the current board at once, then each change."""
    wallboard = api.wallboard
    if wallboard is None:
        raise web.HTTPServiceUnavailable(text="this instance has no wallboard (no call "
                                         "tracking)")
    viewer = wallboard.join()
    if viewer is None:
        raise web.HTTPServiceUnavailable(
            text=f"{wallboard.max_viewers} wallboards are open, the most this server "
            "serves (console.max_wallboards)", headers={"Retry-After": "30"})
    response = web.StreamResponse(headers={
        "Content-Type": "text/event-stream", "Cache-Control": "no-store",
        "X-Accel-Buffering": "no"})
    try:
        await response.prepare(request)
        while not viewer.dropped:
            try:
                async with asyncio.timeout(HEARTBEAT_SECONDS):
                    payload = await viewer.queue.get()
            except TimeoutError:
                payload = None
            if viewer.dropped or payload == "":
                break
            chunk = b": keep-alive\n\n" if payload is None else \
                f"event: board\ndata: {payload}\n\n".encode()
            async with asyncio.timeout(WRITE_TIMEOUT):
                await response.write(chunk)
    except (TimeoutError, ConnectionResetError):
        pass  # a viewer that does not read, or went away
    finally:
        wallboard.leave(viewer)
    with contextlib.suppress(ConnectionResetError):
        await response.write_eof()
    return response


@cache
def _static_body(name: str) -> bytes:
    """A file of static/, read once: afterwards served from memory."""
    return (files("hotline_pbx.console") / "static" / name).read_bytes()


async def static(request: web.Request) -> web.StreamResponse:
    name = request.match_info["name"]
    if name not in STATIC:
        raise web.HTTPNotFound()
    body = _static_body(name)
    return web.Response(body=body, headers={**_headers(), "Content-Type": STATIC[name],
                                            "Cache-Control": "max-age=300"})


def add_console_routes(app: web.Application, api: ApiContext) -> None:
    router = app.router

    async def to_console(_request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(f"{PREFIX}/")

    router.add_get(PREFIX, to_console)
    router.add_get(f"{PREFIX}/login", login_form)
    router.add_post(f"{PREFIX}/login", login(api))
    router.add_post(f"{PREFIX}/logout", logout(api))
    router.add_get(f"{PREFIX}/static/{{name}}", static)
    router.add_get(f"{PREFIX}/", page(api, _page("wallboard.html")))
    router.add_get(f"{PREFIX}/events", page(api, events))
    for name in ("schedule", "roster", "calls", "reports"):
        router.add_get(f"{PREFIX}/{name}", page(api, _page(f"{name}.html")))
    router.add_get(f"{PREFIX}/calls/{{call_id}}", page(api, _page("call.html", "calls")))
    for listed in LIST_PAGES:
        router.add_get(f"{PREFIX}/{listed.name}",
                       page(api, _page("list.html", listed.name, list=listed)))
