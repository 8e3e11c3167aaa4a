"""The printable statistics pack: the pack's dict (``store.monthly_stats``) as
an HTML document with its charts, in Chinese or English, and that document as
a PDF (WeasyPrint, which draws the inline SVG charts itself).

The HTML is self-contained (styles and charts inline, no external request),
so the same file opens in a browser, is mailed, or is printed. Jinja2 escapes
every value; the charts escape their own labels (:mod:`.charts`).

Rendering a PDF is CPU work of a second or more: callers on the event loop run
:func:`render_pdf` in a worker thread (``api/routes_monthly.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import cache
from importlib.resources import files
from typing import Any

from jinja2 import Environment, Template, select_autoescape
from markupsafe import Markup

from hotline_pbx.documents import charts
from hotline_pbx.documents.labels import DEFAULT_LANGUAGE, LANGUAGES, word, words
from hotline_pbx.domain.staffing import WEEKDAYS

__all__ = ["DEFAULT_LANGUAGE", "LANGUAGES", "render_html", "render_pdf"]


@cache
def _template() -> Template:
    """The pack's template, compiled once."""
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True),
                      keep_trailing_newline=True)
    source = (files("hotline_pbx.documents") / "templates" / "pack.html").read_text("utf-8")
    return env.from_string(source)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _helpers(pack: dict[str, Any], w: dict[str, str]) -> dict[str, Callable[..., str]]:
    purposes = {p["purpose"]: p for p in pack["purposes"]}
    departments = {d["id"]: d for d in pack.get("departments", [])}
    english = w is words("en")

    def named(entry: dict[str, Any] | None, key: str) -> str:
        if entry is None:
            return key
        return (entry.get("name_en") if english else None) or entry.get("name") or key

    def secs(value: float | None) -> str:
        return "-" if value is None else f"{value:.1f} {w['seconds']}"

    def duration(value: float | None) -> str:
        if value is None:
            return "-"
        hours, rest = divmod(round(value), 3600)
        return f"{hours} {w['hours']} {rest // 60} {w['minutes']}" if hours else \
            f"{rest // 60} {w['minutes']} {rest % 60} {w['seconds']}"

    return {
        "pct": _pct, "secs": secs, "duration": duration,
        "word": lambda key: word(w, key),
        "floor_class": lambda ok: "" if ok is None else ("meets" if ok else "below"),
        "floor_word": lambda ok: "-" if ok is None else w["meets_floor" if ok else "below_floor"],
        "purpose_name": lambda p: w["none_yet"] if p["purpose"] is None
        else named(p, p["purpose"]),
        "category_name": lambda key: named(purposes.get(key), key),
        "department_name": lambda key: named(departments.get(key), key),
        "local_time": lambda iso: datetime.fromisoformat(iso).strftime("%Y-%m-%d %H:%M:%S"),
    }


def _charts(pack: dict[str, Any], w: dict[str, str]) -> dict[str, Markup]:
    names = [w[f"weekday_{i}"] for i in range(7)]
    bars = [charts.DayBar(d["day"][-2:], (d["open_hours"] or {}).get("answer_rate"),
                          d["working_day"]) for d in pack["days"]]
    staffing = pack["staffing"]
    return {
        "daily": Markup(charts.daily_rates(bars, w["chart_daily"], w["floor"])),
        "heat": Markup(charts.heat_map(pack["heat_map"], names, w["heat"], w["hour"],
                                       w["no_calls"])),
        "staffing": Markup(charts.staffing_lines(staffing["rows"], WEEKDAYS, names,
                                                 w["staffing"], w["agents_needed"])),
    }


def render_html(pack: dict[str, Any], language: str = DEFAULT_LANGUAGE) -> str:
    """The pack as one self-contained HTML document; KeyError for an unknown
    language (callers check against :data:`LANGUAGES` first)."""
    w = words(language)
    kind = pack["kind"]
    generated = datetime.fromisoformat(pack["generated_at"]).astimezone(
        datetime.fromisoformat(pack["from"]).tzinfo)
    return _template().render(
        pack=pack, w=w, lang=language, charts=_charts(pack, w),
        title=w[f"title_{kind}"].format(label=pack[kind]),
        subtitle=w["subtitle"].format(zone=pack["timezone"],
                                      generated=generated.strftime("%Y-%m-%d %H:%M")),
        **_helpers(pack, w))


def render_pdf(html: str) -> bytes:
    """The document as PDF (A4). Blocking: run it in a thread off the event loop."""
    from weasyprint import HTML  # imported here: half a second, and only PDFs need it

    pdf = HTML(string=html).write_pdf()
    if not isinstance(pdf, bytes):  # without a target, write_pdf() returns the bytes
        raise RuntimeError("WeasyPrint returned no PDF")
    return pdf
