"""The monthly statistics pack against a hand-computed month (September 2026:
Sunday the 20th is a statutory make-up working day, Friday the 25th a
statutory holiday) and against the SQL KPIs of store/stats.py."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from hotline_pbx.report_monthly import render_month
from hotline_pbx.store.database import Database
from hotline_pbx.store.stats import compute_stats
from tests.integration.api_fixtures import Api, api
from tests.integration.september_month import ZONE, at, september_calls, september_complaints

__all__ = ["api"]

MONTHLY = "/api/v1/reports/monthly"


async def test_the_pack_of_a_hand_computed_month(api: Api, db: Database) -> None:
    await api.insert_calls(september_calls())
    await september_complaints(db)
    status, pack, _ = await api.call("GET", f"{MONTHLY}?month=2026-09", "viewer")
    assert status == 200, pack
    assert (pack["month"], pack["empty"], pack["partial"], pack["note"]) == (
        "2026-09", False, False, None)
    assert pack["working_days"] == 22  # 22 weekdays - the 25th + Sunday the 20th
    opened = pack["open_hours"]
    assert (opened["offered"], opened["answered"], opened["abandoned"],
            opened["short_abandoned"], opened["missed"]) == (14, 12, 1, 1, 0)
    assert opened["answer_rate"] == pytest.approx(12 / 13)
    assert opened["service_level"] == pytest.approx(11 / 13)
    assert opened["asa_seconds"] == pytest.approx((5 + 10 + 30 + 9 * 4) / 12)
    assert opened["meets_floor"] is True
    assert pack["all_periods"]["offered"] == 16
    assert (pack["unrouted"], pack["test_calls"]) == (1, 1)
    days = {d["day"]: d for d in pack["days"]}
    assert len(days) == 30
    sunday, holiday, monday = days["2026-09-20"], days["2026-09-25"], days["2026-09-21"]
    assert (sunday["mark"], sunday["working_day"]) == ("make_up_workday", True)
    assert sunday["open_hours"]["answer_rate"] == pytest.approx(0.75)
    assert sunday["open_hours"]["meets_floor"] is False
    assert (holiday["mark"], holiday["working_day"], holiday["open_hours"]) == (
        "statutory_holiday", False, None)  # closed calls never pull the rate down
    assert holiday["all_periods"]["offered"] == 2
    assert (monday["mark"], monday["open_hours"]["answer_rate"],
            monday["open_hours"]["meets_floor"]) == ("working", 1.0, True)
    assert days["2026-09-26"]["mark"] == "statutory_holiday"  # a Saturday of the holiday
    assert days["2026-09-19"]["mark"] == "non_working"
    purposes = {p["purpose"]: p for p in pack["purposes"]}
    # query: talk 50 met, 70 not; consultation (answered at once = within the 20 s
    # service level): waits 30, 4, 4, 4 -> 3 met
    assert (purposes["query"]["calls"], purposes["query"]["met_target"]) == (2, 1)
    assert (purposes["consultation"]["calls"], purposes["consultation"]["met_target"]) == (4, 3)
    assert (purposes["complaint"]["calls"], purposes["complaint"]["met_target"]) == (0, None)
    assert purposes[None]["calls"] == 16 - 6
    c = pack["complaints"]
    assert (c["received"], c["resolved"]) == (3, 2)
    assert c["by_department"] == {"customer_service": 2, "engineering": 1}
    assert c["by_category"] == {"complaint": 2, "emergency_report": 1}
    assert c["by_severity"] == {"complex": 1, "general": 2}
    assert c["sla"]["target"] == {"due": 3, "met": 2, "compliance": pytest.approx(2 / 3)}
    assert c["sla"]["hard_max"]["met"] == 2
    assert c["mean_resolution_working_hours"] == pytest.approx(2.0)
    assert pack["visits"] == {"count": 2, "by_dialer": 1, "by_person": 1, "per_scale": [
        {"scale": 5, "count": 2, "mean": 3.0,
         "distribution": {"1": 0, "2": 1, "3": 0, "4": 1, "5": 0}}]}
    [entry] = [a for a in await api.audit() if a.action == "reports.monthly"]
    assert entry.target == "month:2026-09"
    table = render_month(pack)
    assert "2026-09-20 make_up_workday" in table and "BELOW" in table
    assert "mean 3.00" in table


async def test_the_pack_equals_the_sql_kpis(api: Api, db: Database) -> None:
    await api.insert_calls(september_calls())
    _, pack, _ = await api.call("GET", f"{MONTHLY}?month=2026-09", "viewer")
    async with db.engine.connect() as conn:
        for period, key in (("open", "open_hours"), (None, "all_periods")):
            stats = await compute_stats(conn, at(1, 0), datetime(2026, 10, 1, tzinfo=ZONE),
                                        period, timezone="Asia/Shanghai")
            expected = stats.total.to_dict()
            assert {k: pack[key][k] for k in expected} == expected
            by_day = {d.day.isoformat(): d.kpis.to_dict() for d in stats.days}
            assert {d["day"]: {k: d[key][k] for k in expected}
                    for d in pack["days"] if d[key] is not None} == by_day


async def test_csv_has_every_day_and_the_sections(api: Api) -> None:
    await api.insert_calls(september_calls())
    status, text, headers = await api.call("GET", f"{MONTHLY}?month=2026-09&format=csv",
                                           "viewer")
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    days = [r for r in rows if r and r[0].startswith("2026-09-")]
    assert len(days) == 30
    sunday = next(r for r in days if r[0] == "2026-09-20")
    assert sunday[1:3] == ["make_up_workday", "yes"] and sunday[10] == "no"
    assert ["purpose", "name", "talk_target_seconds", "calls", "answered",
            "met_target"] in rows


async def test_an_empty_month_says_so(api: Api) -> None:
    status, pack, _ = await api.call("GET", f"{MONTHLY}?month=2026-08", "viewer")
    assert status == 200
    assert pack["empty"] is True and pack["note"] == "no calls were recorded in 2026-08"
    assert pack["open_hours"]["answer_rate"] is None
    assert pack["open_hours"]["meets_floor"] is None
    assert all(d["open_hours"] is None for d in pack["days"])
    assert pack["visits"]["count"] == 0 and pack["complaints"]["received"] == 0


async def test_bad_months_are_refused_naming_month(api: Api) -> None:
    now = datetime.now(ZONE)
    future = (now.replace(day=1) + timedelta(days=32)).strftime("%Y-%m")
    for month in (future, "2026-13", "2026-1", "november", "2020-01", "0000-01"):
        status, problem, _ = await api.call("GET", f"{MONTHLY}?month={month}", "viewer")
        assert status == 422, (month, problem)
        assert problem["errors"][0]["field"] == "month"
    status, problem, _ = await api.call("GET", MONTHLY, "viewer")
    assert status == 400 and problem["errors"][0]["field"] == "month"
    status, problem, _ = await api.call("GET", f"{MONTHLY}?month=2026-09&format=xml", "viewer")
    assert status == 400 and problem["errors"][0]["field"] == "format"
    status, pack, _ = await api.call("GET", f"{MONTHLY}?month={now:%Y-%m}", "viewer")
    assert status == 200 and pack["partial"] is True
    assert datetime.fromisoformat(pack["generated_at"]) <= datetime.now(UTC)
