"""``hotline-pbx report``: the KPIs of stored calls, per day and in total.

    hotline-pbx report --from 2026-11-02 --to 2026-11-06 --period open
    hotline-pbx report --from 2026-11-02T08:30 --to 2026-11-02T12:00 --json

A date is a whole local day in ``routing.timezone`` (``--to`` includes that
day); a time without an offset is local time too; with an offset it is taken
as given. Without ``--from``/``--to``: today so far. Same numbers as
``GET /api/v1/stats`` (both use :func:`hotline_pbx.store.stats.compute_stats`).
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hotline_pbx.config import Settings
from hotline_pbx.domain.contract import DEFAULT_LANGUAGE, LANGUAGES
from hotline_pbx.domain.kpi import KpiSet
from hotline_pbx.store.stats import PERIODS, Stats, compute_stats

_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


class ReportUsageError(ValueError):
    """A bad --from/--to/--period; the message says what is expected."""


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("report", parents=[common],
                            help="answer rate, abandons, ASA… of stored calls, per day")
    parser.add_argument("--from", dest="start", metavar="WHEN",
                        help="first day (YYYY-MM-DD) or instant (default: today 00:00)")
    parser.add_argument("--to", dest="end", metavar="WHEN",
                        help="last day, included, or instant, excluded (default: now)")
    parser.add_argument("--period", default="all", choices=[*PERIODS, "all"],
                        help="open (the open-hours KPIs), closed, override, failsafe or all")
    parser.add_argument("--json", action="store_true", help="print JSON (the /stats shape)")
    # -- monthly statistics (issue 15) --
    parser.add_argument("--month", metavar="YYYY-MM",
                        help="the monthly pack of that month (days against the 85 %% floor, "
                             "heat map, operations, purposes, complaints, visits, staffing); "
                             "--json prints GET /api/v1/reports/monthly's shape")
    parser.add_argument("--day", metavar="YYYY-MM-DD",
                        help="the daily pack of that local day (GET /api/v1/reports/daily)")
    parser.add_argument("--format", dest="pack_format", default="table",
                        choices=("table", "json", "csv", "html", "pdf"),
                        help="the pack as a terminal table (default), JSON, CSV, or the "
                             "printable document as HTML or PDF")
    parser.add_argument("--lang", default=DEFAULT_LANGUAGE, choices=LANGUAGES,
                        help=f"the document's language (html, pdf; default {DEFAULT_LANGUAGE})")
    parser.add_argument("--output", metavar="FILE",
                        help="write the pack to FILE instead of standard output "
                             "(required for pdf)")
    # -- end monthly statistics --


def window(start: str | None, end: str | None, zone: ZoneInfo,
           now: datetime) -> tuple[datetime, datetime]:
    local_now = now.astimezone(zone)
    first = (_when(start, zone, end_of_day=False) if start
             else datetime.combine(local_now.date(), time(), zone))
    last = _when(end, zone, end_of_day=True) if end else now
    if last <= first:
        raise ReportUsageError(f"--to ({last.isoformat()}) must be after --from "
                               f"({first.isoformat()})")
    return first, last


def _when(text: str, zone: ZoneInfo, *, end_of_day: bool) -> datetime:
    if _DATE.fullmatch(text):
        try:
            day = datetime.strptime(text, "%Y-%m-%d").date()
        except ValueError:
            raise ReportUsageError(f"{text!r} is not a date; write e.g. 2026-11-02") from None
        if end_of_day:
            day += timedelta(days=1)
        return datetime.combine(day, time(), zone)
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ReportUsageError(f"{text!r} is neither a date (2026-11-02) nor a time "
                               "(2026-11-02T08:30 or 2026-11-02T08:30+08:00)") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=zone)


async def run_report(settings: Settings, args: argparse.Namespace,
                     now: datetime | None = None) -> int:
    from hotline_pbx.store.database import DatabaseUnavailable, open_database

    zone = ZoneInfo(settings.routing.timezone)
    if getattr(args, "month", None) or getattr(args, "day", None):  # the pack (issue 15)
        from hotline_pbx.report_monthly import run_monthly

        return await run_monthly(settings, args, now)
    try:
        start, end = window(args.start, args.end, zone, now or datetime.now(zone))
    except ReportUsageError as exc:
        print(f"hotline-pbx report: {exc}")
        return EXIT_USAGE
    try:
        db = await open_database(settings.database, settings.data_dir)
    except DatabaseUnavailable as exc:
        print(f"hotline-pbx report: {exc}")
        return EXIT_FAILURE
    try:
        async with db.engine.connect() as conn:
            stats = await compute_stats(conn, start, end, args.period,
                                        timezone=settings.routing.timezone,
                                        service_level_seconds=settings.kpi.service_level_seconds)
    finally:
        await db.close()
    print(json.dumps(stats.to_dict(), indent=2) if args.json else render(stats, zone))
    return EXIT_OK


def render(stats: Stats, zone: ZoneInfo) -> str:
    start = stats.start.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    end = stats.end.astimezone(zone).strftime("%Y-%m-%d %H:%M")
    lines = [f"Hotline calls {start} → {end} ({stats.timezone}), period: {stats.period or 'all'}",
             "",
             f"{'':10} {'offered':>7} {'answered':>8} {'abandoned':>9} {'short':>5} "
             f"{'missed':>6} {'answer rate':>11} {'service level':>13} {'ASA':>8}"]
    for day in stats.days:
        lines.append(_row(day.day.isoformat(), day.kpis))
    lines.append(_row("total", stats.total))
    lines += [
        "",
        "answer rate = answered / (offered - short); service level = answered within "
        f"{stats.service_level_seconds:g} s / (offered - short);",
        "ASA = mean wait of answered calls; - = no countable call (docs/kpi.md).",
    ]
    if stats.unrouted or stats.test_calls:
        lines.append(f"Not counted: {stats.unrouted} callers who hung up before routing, "
                     f"{stats.test_calls} line-monitor test calls.")
    return "\n".join(lines)


def _row(label: str, k: KpiSet) -> str:
    return (f"{label:10} {k.offered:7d} {k.answered:8d} {k.abandoned:9d} "
            f"{k.short_abandoned:5d} {k.missed:6d} {_pct(k.answer_rate):>11} "
            f"{_pct(k.service_level):>13} {_secs(k.asa_seconds):>8}")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.1f} %"


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} s"
