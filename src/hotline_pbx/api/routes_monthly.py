"""``GET /api/v1/reports/monthly?month=YYYY-MM`` and ``GET /api/v1/reports/daily?day=
YYYY-MM-DD`` (viewer): the statistics pack as JSON, ``&format=csv`` as CSV (one
table after another: days, purposes, complaints, visits), ``&format=html`` or
``&format=pdf`` as the printable document with its charts, in ``&lang=zh-CN``
(the default) or ``en``. Built by :func:`hotline_pbx.store.monthly_stats.monthly_pack`
(the same numbers ``hotline-pbx report --month`` prints). A malformed month or
day, one not begun yet or one older than ``retention.days``: 422 naming it (a
missing one, an unknown ``format`` or ``lang``: 400). A span without calls:
``"empty": true`` and a note saying so, rates null, not 0 %. No caller's number
or name is in the pack; the read is audited all the same.

A PDF is rendered in a worker thread, at most ``http.max_exports`` at once (one
more: 429 with Retry-After), within :data:`PDF_TIMEOUT` seconds (else 503).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime

from aiohttp import web

from hotline_pbx.api.context import Call, Endpoint, json_response
from hotline_pbx.api.problems import Problem, bad_query, invalid
from hotline_pbx.documents.pack_csv import pack_csv
from hotline_pbx.documents.pack_document import render_html, render_pdf
from hotline_pbx.domain.contract import DEFAULT_LANGUAGE, LANGUAGES, AccessRole
from hotline_pbx.domain.errors import ValidationError
from hotline_pbx.domain.monthly import (
    DAY_EXAMPLE,
    MONTH_EXAMPLE,
    Span,
    parse_day,
    parse_month,
)
from hotline_pbx.store.monthly_stats import monthly_pack

API = "/api/v1"
FORMATS = ("json", "csv", "html", "pdf")
PDF_TIMEOUT = 60.0  # seconds; a month renders in about a second


async def get_monthly(call: Call) -> web.StreamResponse:
    if "month" not in call.query:
        raise bad_query("month", "is required", MONTH_EXAMPLE)
    return await _pack_response(call, lambda now: parse_month(
        call.query["month"], call.zone, now, retention_days=call.api.settings.retention.days))


async def get_daily(call: Call) -> web.StreamResponse:
    if "day" not in call.query:
        raise bad_query("day", "is required", DAY_EXAMPLE)
    return await _pack_response(call, lambda now: parse_day(
        call.query["day"], call.zone, now, retention_days=call.api.settings.retention.days))


def _format_and_language(call: Call) -> tuple[str, str]:
    fmt = call.query.get("format", "json")
    if fmt not in FORMATS:
        raise bad_query("format", f"must be one of {', '.join(FORMATS)}", "pdf")
    language = call.query.get("lang", DEFAULT_LANGUAGE)
    if language not in LANGUAGES:
        raise bad_query("lang", f"must be one of {', '.join(LANGUAGES)}", "en")
    return fmt, language


async def _pack_response(call: Call, parse: Callable[[datetime], Span]
                         ) -> web.StreamResponse:
    fmt, language = _format_and_language(call)
    now = datetime.now(UTC)
    try:
        span: Span = parse(now)
    except ValidationError as exc:
        raise invalid(exc, what="the query string") from None
    pack = (await monthly_pack(call.conn, call.api.settings, span, now)).to_dict()
    await call.audit_read(f"reports.{'monthly' if span.kind == 'month' else 'daily'}",
                          f"{span.kind}:{span.label}")
    name = f"hotline-{span.label}"
    if fmt == "json":
        return json_response(pack)
    if fmt == "csv":
        return _download(pack_csv(pack).encode("utf-8"),
                         "text/csv; charset=utf-8", f"{name}.csv")
    html = render_html(pack, language)
    if fmt == "html":
        return web.Response(text=html, content_type="text/html", charset="utf-8")
    return _download(await _pdf(call, html), "application/pdf", f"{name}-{language}.pdf")


async def _pdf(call: Call, html: str) -> bytes:
    async with call.api.exports.download():
        try:
            async with asyncio.timeout(PDF_TIMEOUT):
                return await asyncio.to_thread(render_pdf, html)
        except (ImportError, OSError) as exc:  # WeasyPrint or its Pango libraries missing
            raise Problem(501, "unavailable", "Not implemented",
                          f"this server cannot render PDFs ({str(exc)[:200]}); "
                          "format=html gives the same document") from None
        except TimeoutError:
            raise Problem(503, "unavailable", "Service unavailable",
                          f"the PDF took longer than {PDF_TIMEOUT:.0f} s to render; "
                          "try again, or ask for format=html",
                          headers={"Retry-After": "30"}) from None


def _download(body: bytes, content_type: str, filename: str) -> web.Response:
    return web.Response(body=body, headers={
        "Content-Type": content_type,
        "Content-Disposition": f'attachment; filename="{filename}"'})


ENDPOINTS = (
    Endpoint("GET", f"{API}/reports/monthly", get_monthly, AccessRole.VIEWER,
             frozenset({"month", "format", "lang"})),
    Endpoint("GET", f"{API}/reports/daily", get_daily, AccessRole.VIEWER,
             frozenset({"day", "format", "lang"})),
)
