"""``hotline-pbx staffing --weeks 4``: the staffing advice as a terminal table
(or ``--json``, the body of ``GET /api/v1/staffing`` without the live agents)."""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from hotline_pbx.config import Settings
from hotline_pbx.domain.contract import (
    DEFAULT_STAFFING_WEEKS,
    MAX_STAFFING_WEEKS,
    MIN_STAFFING_WEEKS,
)

EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("staffing", parents=[common],
                            help="agents needed per half hour (Erlang A) from recorded calls")
    parser.add_argument("--weeks", type=int, default=DEFAULT_STAFFING_WEEKS,
                        help=f"weeks of history, {MIN_STAFFING_WEEKS}..{MAX_STAFFING_WEEKS} "
                             f"(default {DEFAULT_STAFFING_WEEKS})")
    parser.add_argument("--json", action="store_true", help="print JSON (the API's shape)")


async def run_staffing(settings: Settings, args: argparse.Namespace) -> int:
    from hotline_pbx.store.config_repo import business_calendar
    from hotline_pbx.store.database import DatabaseUnavailable, open_database
    from hotline_pbx.store.staffing_repo import staffing_advice

    if not MIN_STAFFING_WEEKS <= args.weeks <= MAX_STAFFING_WEEKS:
        print(f"hotline-pbx staffing: --weeks must be from {MIN_STAFFING_WEEKS} to "
              f"{MAX_STAFFING_WEEKS}, not {args.weeks}")
        return EXIT_USAGE
    try:
        db = await open_database(settings.database, settings.data_dir)
    except DatabaseUnavailable as exc:
        print(f"hotline-pbx staffing: {exc}")
        return EXIT_FAILURE
    sl = settings.kpi.service_level_seconds
    now = datetime.now(ZoneInfo(settings.routing.timezone))
    try:
        async with db.engine.connect() as conn:
            calendar = await business_calendar(conn, settings, now)
            body = await staffing_advice(conn, calendar, today=now.date(), weeks=args.weeks,
                                         service_level_seconds=sl)
    finally:
        await db.close()
    print(json.dumps(body, indent=2, ensure_ascii=False) if args.json else render(body))
    return EXIT_OK


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def render(body: dict[str, Any]) -> str:
    head = (f"staffing advice from {body['from']} to {body['to']} ({body['working_days']} "
            f"working days, {body['calls']} calls); targets: answer rate >= "
            f"{_pct(body['answer_rate_floor'])}, {_pct(body['service_level_target'])} "
            f"within {body['service_level_seconds']:g}s")
    if body["empty"]:
        return f"{head}\n{body['note']}"
    lines = [head, f"{'day':<4}{'start':<7}{'calls/h':>8}{'AHT s':>7}{'patience s':>11}"
                   f"{'agents':>7}{'pred. AR':>9}{'pred. SL':>9}{'seen AR':>9}"]
    for row in body["rows"]:
        patience = row["patience_seconds"]
        lines.append(
            f"{row['weekday']:<4}{row['start']:<7}{row['arrivals_per_hour']:>8.1f}"
            f"{row['aht_seconds'] or 0:>7.0f}{patience if patience else '-':>11}"
            f"{row['agents_needed'] or '-':>7}{_pct(row['predicted_answer_rate']):>9}"
            f"{_pct(row['predicted_service_level']):>9}{_pct(row['observed_answer_rate']):>9}")
    return "\n".join(lines)
