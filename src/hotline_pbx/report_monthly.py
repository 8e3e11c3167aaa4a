"""``hotline-pbx report --month 2026-11`` / ``--day 2026-11-03``: the statistics
pack as a terminal table, or ``--format json|csv|html|pdf`` (``--json``: the
shape of ``GET /api/v1/reports/monthly``), ``--lang zh-CN|en``, ``--output FILE``.
Same numbers and documents as the API: both use
:func:`hotline_pbx.store.monthly_stats.monthly_pack` and :mod:`hotline_pbx.documents`.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hotline_pbx.config import Settings
from hotline_pbx.domain.contract import DEFAULT_LANGUAGE
from hotline_pbx.domain.errors import ValidationError
from hotline_pbx.domain.monthly import Span, parse_day, parse_month

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def _span(settings: Settings, args: argparse.Namespace, now: datetime) -> Span:
    zone = ZoneInfo(settings.routing.timezone)
    days = settings.retention.days
    if args.month and getattr(args, "day", None):
        raise ValidationError("month", "and --day are two packs: give one of them", "2026-11")
    if args.month:
        return parse_month(args.month, zone, now, retention_days=days)
    return parse_day(args.day, zone, now, retention_days=days)


async def run_monthly(settings: Settings, args: argparse.Namespace,
                      now: datetime | None = None) -> int:
    from hotline_pbx.store.database import DatabaseUnavailable, open_database
    from hotline_pbx.store.monthly_stats import monthly_pack

    now = now or datetime.now(UTC)
    fmt = "json" if args.json else getattr(args, "pack_format", "table")
    output = getattr(args, "output", None)
    if fmt == "pdf" and not output:
        print("hotline-pbx report: --format pdf needs --output FILE")
        return EXIT_USAGE
    try:
        span = _span(settings, args, now)
    except ValidationError as exc:
        print(f"hotline-pbx report: --{exc.field} {exc.reason} (e.g. {exc.example})")
        return EXIT_USAGE
    try:
        db = await open_database(settings.database, settings.data_dir)
    except DatabaseUnavailable as exc:
        print(f"hotline-pbx report: {exc}")
        return EXIT_FAILURE
    try:
        async with db.engine.connect() as conn:
            pack = (await monthly_pack(conn, settings, span, now)).to_dict()
    finally:
        await db.close()
    return deliver(render_pack(pack, fmt, getattr(args, "lang", DEFAULT_LANGUAGE)), output,
                   f"the {span.label} pack ({fmt})")


def deliver(body: str | bytes, output: str | None, what: str) -> int:
    """Print the body, or write it to ``output`` (the CLI is done with its loop's
    work by now: this blocking write holds nothing up)."""
    if output is None:
        print(body if isinstance(body, str) else body.decode())
        return EXIT_OK
    try:
        Path(output).write_bytes(body if isinstance(body, bytes) else body.encode("utf-8"))
    except OSError as exc:
        print(f"hotline-pbx report: cannot write {output}: {exc.strerror}")
        return EXIT_FAILURE
    print(f"hotline-pbx report: wrote {what} to {output}")
    return EXIT_OK


def render_pack(pack: dict[str, Any], fmt: str, language: str) -> str | bytes:
    """The pack in one of the CLI's formats (the API's, plus the terminal table)."""
    from hotline_pbx.documents.pack_csv import pack_csv
    from hotline_pbx.documents.pack_document import render_html, render_pdf

    if fmt == "json":
        return json.dumps(pack, indent=2, ensure_ascii=False)
    if fmt == "csv":
        return pack_csv(pack)
    if fmt == "html":
        return render_html(pack, language)
    if fmt == "pdf":
        return render_pdf(render_html(pack, language))
    return render_month(pack)


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _floor(value: bool | None) -> str:
    return "-" if value is None else ("ok" if value else "BELOW")


def _day(row: dict[str, Any]) -> str:
    k = row["open_hours"] or {}
    every = row["all_periods"] or {}
    asa = k.get("asa_seconds")
    return (f"{row['day']:10} {row['mark']:17} {every.get('offered', 0):7d} "
            f"{k.get('offered', 0):7d} {k.get('answered', 0):8d} {k.get('abandoned', 0):9d} "
            f"{k.get('short_abandoned', 0):5d} {k.get('missed', 0):6d} "
            f"{_pct(k.get('answer_rate')):>11} {_floor(k.get('meets_floor')):>6} "
            f"{_pct(k.get('service_level')):>8} {'-' if asa is None else f'{asa:.1f} s':>8}")


def render_month(pack: dict[str, Any]) -> str:
    title = "monthly" if pack["kind"] == "month" else "daily"
    lines = [f"Hotline {title} statistics {pack[pack['kind']]} ({pack['timezone']})"
             + (" - month in progress" if pack["partial"] else ""), ""]
    if pack["empty"]:
        lines += [f"No calls: {pack['note']}.", ""]
    lines.append(f"{'day':10} {'mark':17} {'all':>7} {'offered':>7} {'answered':>8} "
                 f"{'abandoned':>9} {'short':>5} {'missed':>6} {'answer rate':>11} "
                 f"{'85 %':>6} {'SL':>8} {'ASA':>8}")
    lines += [_day(row) for row in pack["days"]]
    lines.append(_day({"day": "total", "mark": f"{pack['working_days']} working days",
                       "open_hours": pack["open_hours"], "all_periods": pack["all_periods"]}))
    lines += ["", "open-hours KPIs (period open; closed periods never pull them down); "
              "'all' = offered in every period.", "", "Call purposes:"]
    for p in pack["purposes"]:
        target = "" if p["met_target"] is None else \
            f", met target {p['met_target']}/{p['calls']}"
        lines.append(f"  {p['purpose'] or '(none yet)':18} {p['calls']:6d} calls{target}")
    lines += ["", *_complaint_lines(pack["complaints"]), "", *_visit_lines(pack["visits"])]
    return "\n".join(lines)


def _complaint_lines(c: dict[str, Any]) -> list[str]:
    hours = c["mean_resolution_working_hours"]
    lines = [f"Complaints received: {c['received']}, resolved: {c['resolved']}, mean "
             f"resolution {'-' if hours is None else f'{hours:.1f}'} working hours"]
    for group in ("by_department", "by_category", "by_severity"):
        items = ", ".join(f"{k} {n}" for k, n in c[group].items()) or "-"
        lines.append(f"  {group.replace('_', ' ')}: {items}")
    for name, sla in c["sla"].items():
        lines.append(f"  resolved within {name.replace('_', ' ')}: {sla['met']}/{sla['due']} "
                     f"({_pct(sla['compliance'])})")
    return lines


def _visit_lines(v: dict[str, Any]) -> list[str]:
    lines = [f"Callback visits: {v['count']} (dialer {v['by_dialer']}, "
             f"person {v['by_person']})"]
    for s in v["per_scale"]:
        dist = " ".join(f"{k}:{n}" for k, n in s["distribution"].items())
        lines.append(f"  scale 1-{s['scale']}: {s['count']} visits, mean {s['mean']:.2f} ({dist})")
    return lines
