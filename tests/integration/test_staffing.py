"""The staffing advisor over the real schema: the history's bucketing by local
weekday and half hour on working days only (a statutory holiday's calls left
out, a make-up Saturday counted), and ``GET /api/v1/staffing`` (422s naming
``weeks``, an empty history labelled as such, advice from recorded calls)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from hotline_pbx.domain.staffing import SlotHistory
from hotline_pbx.store.config_repo import business_calendar
from hotline_pbx.store.database import Database
from hotline_pbx.store.staffing_repo import read_history
from tests.integration.api_fixtures import SETTINGS, Api, api, call_row  # noqa: F401

ZONE = ZoneInfo("Asia/Shanghai")


def at(day: str, hhmm: str) -> datetime:
    return datetime.fromisoformat(f"{day}T{hhmm}").replace(tzinfo=ZONE)


# National Day 2025: 1-8 October statutory holidays, Saturday 11 October a make-up
# working day. The two weeks before Monday 13 October hold five working days:
# Mon 29 Sep, Tue 30 Sep, Thu 9 Oct, Fri 10 Oct, Sat 11 Oct (Mon 6 Oct is a holiday).
FIXTURE = [
    call_row("mon-1", at("2025-09-29", "10:05"), wait=10.0, talk=100.0),
    call_row("mon-2", at("2025-09-29", "10:20"), outcome="abandoned", wait=30.0),
    call_row("mon-3", at("2025-09-29", "10:40"), wait=25.0, talk=200.0),
    call_row("mon-4", at("2025-09-29", "10:59"), outcome="missed", wait=60.0),
    call_row("sat-1", at("2025-10-11", "09:10"), wait=4.0, talk=50.0),
    # left out: a holiday, a closed-period call, a test call, a short abandon,
    # today (partial), the day before the window
    call_row("holiday", at("2025-10-06", "10:05")),
    call_row("closed", at("2025-09-29", "12:30"), period="closed"),
    call_row("test", at("2025-09-29", "10:06"), is_test=True),
    call_row("short", at("2025-09-29", "10:07"), outcome="short_abandoned", wait=2.0),
    call_row("today", at("2025-10-13", "10:05")),
    call_row("before", at("2025-09-28", "10:05")),
]


async def test_history_is_bucketed_by_weekday_and_half_hour_on_working_days(
        api: Api, db: Database) -> None:  # noqa: F811
    await api.insert_calls(FIXTURE)
    async with db.engine.connect() as conn:
        calendar = await business_calendar(conn, SETTINGS, at("2025-10-13", "11:00"))
        history = await read_history(conn, calendar, today=date(2025, 10, 13), weeks=2,
                                     service_level_seconds=20.0)
    assert (history.first_day, history.last_day) == (date(2025, 9, 29), date(2025, 10, 12))
    assert history.working_days == 5
    assert history.slots == (
        SlotHistory(weekday=0, slot=20, days=1, calls=2, answered=1, abandoned=1,
                    answered_within=1, talk_sum=100.0, wait_sum=40.0),
        SlotHistory(weekday=0, slot=21, days=1, calls=2, answered=1, abandoned=0,
                    answered_within=0, talk_sum=200.0, wait_sum=85.0),
        SlotHistory(weekday=5, slot=18, days=1, calls=1, answered=1, abandoned=0,
                    answered_within=1, talk_sum=50.0, wait_sum=4.0),
    )


@pytest.mark.parametrize("weeks", ["0", "27", "abc", "4.5", "-1", "", "٤"])
async def test_bad_weeks_is_a_422_naming_it(api: Api, weeks: str) -> None:  # noqa: F811
    status, body, _ = await api.call("GET", f"/api/v1/staffing?weeks={weeks}", "viewer")
    assert status == 422, body
    assert body["errors"][0]["field"] == "weeks"


async def test_an_empty_history_is_labelled_empty(api: Api) -> None:  # noqa: F811
    status, body, _ = await api.call("GET", "/api/v1/staffing", "viewer")
    assert status == 200, body
    assert body["empty"] is True and body["rows"] == [] and body["calls"] == 0
    assert body["weeks"] == 4 and "nothing to advise" in body["note"]
    assert body["now"]["watching"] is False and body["now"]["logged_in"] is None


async def test_advice_from_recorded_calls(api: Api) -> None:  # noqa: F811
    today = datetime.now(ZONE).date()
    rows = []
    for back in range(1, 15):  # 20 calls at 10:00-10:30 on each of the last 14 days
        day = (today - timedelta(days=back)).isoformat()
        for i in range(20):
            outcome = "abandoned" if i % 5 == 0 else "answered"
            rows.append(call_row(f"{day}-{i}", at(day, f"10:{i:02d}"), outcome=outcome,
                                 wait=30.0, talk=240.0))
    await api.insert_calls(rows)
    status, body, _ = await api.call("GET", "/api/v1/staffing?weeks=2", "viewer")
    assert status == 200, body
    assert body["empty"] is False and body["rows"]
    assert {row["start"] for row in body["rows"]} == {"10:00"}
    for row in body["rows"]:
        assert row["arrivals_per_hour"] == 40.0  # 20 calls a working day in half an hour
        assert row["aht_seconds"] == 240.0
        assert row["observed_answer_rate"] == 0.8
        assert row["agents_needed"] >= 3  # 2.67 Erlangs
        assert row["predicted_answer_rate"] >= 0.85
        assert row["predicted_service_level"] >= 0.8
    # 4 abandons per 600 s of waiting a day: patience 150 s
    assert body["patience_seconds"] == pytest.approx(150.0)
    assert len(body["rows"]) <= 7


def test_the_staffing_command_prints_the_table(
        pg_dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
        ) -> None:
    import json
    import os

    from hotline_pbx.cli import main
    from tests.conftest import truncate_all

    truncate_all(pg_dsn)
    for key in [k for k in os.environ if k.startswith("HOTLINE_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("HOTLINE_DATABASE_DSN", pg_dsn)
    monkeypatch.setenv("HOTLINE_AMI_ENABLED", "false")
    assert main(["staffing", "--weeks", "2", "--json"]) == 0
    body = json.loads(capsys.readouterr().out)
    assert body["empty"] is True and body["weeks"] == 2
    assert main(["staffing"]) == 0
    assert "nothing to advise" in capsys.readouterr().out
    assert main(["staffing", "--weeks", "27"]) == 2
    assert "--weeks must be from 1 to 26" in capsys.readouterr().out
