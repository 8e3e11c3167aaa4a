"""A hand-computed month for the statistics pack's tests: September 2026, in
which Sunday the 20th is a statutory make-up working day and Friday the 25th a
statutory holiday (China's 2026 National Day and Mid-Autumn arrangement)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from hotline_pbx.store.database import Database
from tests.integration.api_fixtures import call_row
from tests.integration.complaint_rows import add_complaint

ZONE = ZoneInfo("Asia/Shanghai")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 9, day, hour, minute, tzinfo=ZONE)


def september_calls() -> list[dict[str, object]]:
    rows = [  # the make-up Sunday, open hours: 3 answered, 1 abandoned
        call_row("s1", at(20, 9), wait=5, talk=50, purpose="query"),
        call_row("s2", at(20, 9, 10), wait=10, talk=70, purpose="query"),
        call_row("s3", at(20, 9, 20), wait=30, talk=20, purpose="consultation"),
        call_row("s4", at(20, 9, 30), outcome="abandoned", wait=40),
        # the holiday: closed, to the supervisor's mobile
        call_row("h1", at(25, 10), period="closed", outcome="missed", wait=30),
        call_row("h2", at(25, 11), period="closed", wait=8, talk=100),
        # an ordinary Monday: 9 answered, 1 short abandon; a test call, an unrouted one
        call_row("m0", at(21, 9), outcome="short_abandoned", wait=2),
        call_row("t1", at(21, 9, 1), is_test=True),
        call_row("u1", at(21, 9, 2), period="unrouted", outcome="abandoned", wait=1),
    ]
    rows += [call_row(f"m{i}", at(21, 10, i), wait=4, talk=30,
                      purpose="consultation" if i <= 3 else None) for i in range(1, 10)]
    return [{"purpose": None, **row} for row in rows]


async def september_complaints(db: Database) -> None:
    async with db.engine.begin() as conn:
        # resolved within 2 working hours; visited, score 4
        await add_complaint(conn, received_at=at(21, 9), resolved_at=at(21, 11),
                            resolve_target=at(22, 9), resolve_due=at(22, 9),
                            resolve_hard_max=at(24, 9), visit_state="done", visit_scale=5,
                            visit_score=4, visit_by="dialer", visited_at=at(22, 10))
        # complex, 16:30 Monday to 09:30 Tuesday: 1 h + 1 h of working time; score 2
        await add_complaint(conn, received_at=at(21, 16, 30), resolved_at=at(22, 9, 30),
                            severity="complex", department="engineering",
                            resolve_target=at(28, 16), resolve_due=at(28, 16),
                            resolve_hard_max=at(30, 16), visit_state="done", visit_scale=5,
                            visit_score=2, visit_by="张经理", visited_at=at(23, 10))
        # never resolved; its target and hard maximum have passed
        await add_complaint(conn, received_at=at(22, 9), state="assigned",
                            category="emergency_report", resolve_target=at(23, 9),
                            resolve_due=at(23, 9), resolve_hard_max=at(25, 9))
        # October's: not in September's pack
        await add_complaint(conn, received_at=datetime(2026, 10, 9, 9, tzinfo=ZONE))
