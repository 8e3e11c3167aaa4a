"""The statistics pack's operations sections, heat map and daily pack against a
hand-computed September 2026, and the printable document (HTML, and PDF read
back with poppler's pdftotext/pdffonts/pdftoppm and Pillow), in both languages."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import insert

from hotline_pbx.documents import charts
from hotline_pbx.store import models
from hotline_pbx.store.database import Database
from hotline_pbx.store.stats import compute_heat_map
from tests.conftest import truncate_all
from tests.integration.api_fixtures import Api, api, call_row
from tests.integration.september_month import ZONE, at, september_calls, september_complaints
from tests.integration.test_schemathesis import cli, daemon_env

__all__ = ["api"]

MONTHLY = "/api/v1/reports/monthly"
DAILY = "/api/v1/reports/daily"
CALLER = "13800138000"  # every fixture call's number: it must appear nowhere in the pack


def _night_calls() -> list[dict[str, Any]]:
    # one insert: every row carries every key (an executemany takes the first row's)
    defaults = {"purpose": None, "answered_role": None, "failover_attempts": 0,
                "long_call": False}
    return [{**defaults, **row} for row in (
        call_row("n1", at(21, 20), period="closed", answered_role="supervisor",
                 answered_by="p-zhang"),
        call_row("n2", at(22, 21), period="closed", answered_role="deputy",
                 answered_by="p-li", failover_attempts=1),
        call_row("n3", at(23, 22), period="override", outcome="missed", wait=90,
                 failover_attempts=2),
        call_row("fs1", at(24, 12), period="failsafe", answered_role="agent",
                 answered_by="1001"),
        call_row("l1", at(22, 14), talk=1500, long_call=True),
    )]


async def _operations(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(insert(models.blocked_outbound), [
            {"event_key": "b1", "occurred_at": at(3, 10), "method": "ami",
             "action": "refused"},
            {"event_key": "b2", "occurred_at": at(30, 23), "method": "ami",
             "action": "hung_up"},
            {"event_key": "b3", "occurred_at": datetime(2026, 10, 1, 0, 0, tzinfo=ZONE),
             "method": "ami", "action": "refused"}])
        await conn.execute(insert(models.line_faults), [
            {"fault_key": "f1", "cause": "busy", "started_at": at(10, 10),
             "ended_at": at(10, 11)},
            {"fault_key": "f2", "cause": "lost", "started_at": at(10, 10, 30),
             "ended_at": at(10, 12)},  # overlaps f1: 10:00-12:00 counts once
            {"fault_key": "f3", "cause": "carrier_unreachable",  # from August: 1 h in Sept
             "started_at": datetime(2026, 8, 31, 23, 0, tzinfo=ZONE),
             "ended_at": at(1, 1)}])
        await conn.execute(insert(models.line_tests), [
            {"test_key": f"t{i}", "started_at": at(5 + i, 8), "ended_at": at(5 + i, 8, 1),
             "passed": i != 2, "cause": None if i != 2 else "busy"} for i in range(3)])
        await conn.execute(insert(models.callbacks), [
            {"task_key": "c1", "caller": CALLER, "reason": "missed", "created_at": at(21, 10),
             "due_at": at(21, 12), "state": "done", "done_at": at(21, 11)},
            {"task_key": "c2", "caller": CALLER, "reason": "abandoned",
             "created_at": at(21, 10), "due_at": at(21, 12), "state": "done",
             "done_at": at(21, 13)},
            {"task_key": "c3", "caller": CALLER, "reason": "missed", "created_at": at(22, 10),
             "due_at": at(22, 12), "state": "open", "done_at": None},
            {"task_key": "c4", "caller": CALLER, "reason": "long_call",
             "created_at": at(23, 10), "due_at": at(23, 12), "state": "cancelled",
             "done_at": None}])


@pytest.fixture
async def september(api: Api, db: Database) -> Api:
    await api.insert_calls(september_calls())
    await api.insert_calls(_night_calls())
    await september_complaints(db)
    await _operations(db)
    return api


async def test_the_operations_sections_of_a_hand_computed_month(september: Api) -> None:
    status, pack, _ = await september.call("GET", f"{MONTHLY}?month=2026-09", "viewer")
    assert status == 200, pack
    assert pack["kind"] == "month"
    # h1 (missed) and h2 (answered by agent1, no role) on the holiday, and the night calls
    assert pack["after_hours"] == {
        "calls": 6, "answered": 4, "not_answered": 2,
        "by_period": {"closed": 4, "failsafe": 1, "override": 1},
        "taken_by": [{"role": "agent", "person": "1001", "calls": 1},
                     {"role": "deputy", "person": "p-li", "calls": 1},
                     {"role": "supervisor", "person": "p-zhang", "calls": 1},
                     {"role": "unknown", "person": "agent1", "calls": 1}]}
    assert pack["failovers"] == {"calls": 2, "attempts": 3, "answered": 1}
    assert pack["blocked_outbound"] == {"count": 2, "by_action": {"hung_up": 1, "refused": 1}}
    assert pack["line"] == {"faults": 2, "by_cause": {"busy": 1, "lost": 1}, "still_open": 0,
                            "downtime_seconds": 3 * 3600.0, "tests": 3, "tests_passed": 2}
    assert pack["callbacks"] == {"opened": 4, "done": 2, "done_by_deadline": 1,
                                 "on_time_rate": 0.5, "cancelled": 1, "overdue": 1,
                                 "by_reason": {"abandoned": 1, "long_call": 1, "missed": 2}}
    assert pack["long_calls"] == {"count": 1, "longest_talk_seconds": 1500.0}
    waits = [(w["wait_seconds"], w["outcome"], w["period"]) for w in pack["longest_waits"]]
    assert waits == [(90.0, "missed", "override"), (40.0, "abandoned", "open"),
                     (30.0, "answered", "open"), (30.0, "missed", "closed"),
                     (10.0, "answered", "open")]
    assert pack["longest_waits"][0]["started_at"] == "2026-09-23T22:00:00+08:00"
    assert CALLER not in json.dumps(pack)
    assert {d["id"] for d in pack["departments"]} >= {"customer_service", "engineering"}


async def test_the_heat_map_counts_open_hours_per_weekday_and_hour(september: Api,
                                                                   db: Database) -> None:
    _, pack, _ = await september.call("GET", f"{MONTHLY}?month=2026-09", "viewer")
    cells = {(c["weekday"], c["hour"]): c for c in pack["heat_map"]}
    sunday = cells[(6, 9)]  # the make-up Sunday: 3 of 4 answered
    assert (sunday["offered"], sunday["answered"], sunday["answer_rate"],
            sunday["meets_floor"]) == (4, 3, 0.75, False)
    assert cells[(0, 9)]["answer_rate"] is None  # only a short abandon: nothing countable
    assert (cells[(0, 10)]["answered"], cells[(0, 10)]["answer_rate"]) == (9, 1.0)
    assert cells[(1, 14)]["answered"] == 1  # the long call
    assert (4, 10) not in cells and (0, 20) not in cells  # holiday and night: not open hours
    assert sum(c["offered"] for c in pack["heat_map"]) == pack["open_hours"]["offered"]
    async with db.engine.connect() as conn:  # the same counts as the per-day KPIs
        heat = await compute_heat_map(conn, at(1, 0), datetime(2026, 10, 1, tzinfo=ZONE),
                                      "open", timezone="Asia/Shanghai")
    assert sum(c.kpis.answered for c in heat) == pack["open_hours"]["answered"]


async def test_the_daily_pack_is_one_day_of_the_same_sections(september: Api) -> None:
    status, pack, _ = await september.call("GET", f"{DAILY}?day=2026-09-20", "viewer")
    assert status == 200, pack
    assert (pack["kind"], pack["day"], "month" in pack) == ("day", "2026-09-20", False)
    assert [d["day"] for d in pack["days"]] == ["2026-09-20"]
    assert pack["days"][0]["mark"] == "make_up_workday" and pack["working_days"] == 1
    assert (pack["open_hours"]["offered"], pack["open_hours"]["answer_rate"]) == (4, 0.75)
    assert pack["after_hours"]["calls"] == 0 and pack["callbacks"]["opened"] == 0
    _, night, _ = await september.call("GET", f"{DAILY}?day=2026-09-22", "viewer")
    assert night["after_hours"]["taken_by"] == [{"role": "deputy", "person": "p-li",
                                                 "calls": 1}]
    entries = [a.target for a in await september.audit() if a.action == "reports.daily"]
    assert entries == ["day:2026-09-20", "day:2026-09-22"]


async def test_bad_days_formats_and_languages_are_refused_naming_them(api: Api) -> None:
    tomorrow = (datetime.now(ZONE) + timedelta(days=1)).date().isoformat()
    for day in ("2026-02-30", "2026-9-1", "20260901", tomorrow, "2020-01-01", "0000-01-01",
                "2026-09-01T00:00"):
        status, problem, _ = await api.call("GET", f"{DAILY}?day={day}", "viewer")
        assert status == 422, (day, problem)
        assert problem["errors"][0]["field"] == "day"
    status, problem, _ = await api.call("GET", DAILY, "viewer")
    assert status == 400 and problem["errors"][0]["field"] == "day"
    for query, field in (("format=docx", "format"), ("lang=fr", "lang"),
                         ("format=html&lang=zh", "lang")):
        status, problem, _ = await api.call("GET", f"{MONTHLY}?month=2026-09&{query}",
                                            "viewer")
        assert status == 400 and problem["errors"][0]["field"] == field, (query, problem)


async def test_the_html_document_in_both_languages(september: Api) -> None:
    status, zh, headers = await september.call(
        "GET", f"{MONTHLY}?month=2026-09&format=html", "viewer")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert "客服热线月度统计 2026-09" in zh and 'lang="zh-CN"' in zh
    assert "调休上班" in zh and "法定节假日" in zh and "值班主管" in zh
    assert zh.count("<svg") == 3  # the daily rates, the heat map, the staffing advice
    sunday = re.search(r'<rect class="bar" data-day="20"[^>]*fill="(#\w+)"', zh)
    assert sunday is not None and sunday[1] == charts.BELOW  # 75 %: below the floor
    assert 'class="floor"' in zh
    assert CALLER not in zh
    assert "http://" not in zh.replace("http://www.w3.org/2000/svg", "")  # no external fetch
    _, en, _ = await september.call("GET", f"{MONTHLY}?month=2026-09&format=html&lang=en",
                                    "viewer")
    assert "Hotline monthly statistics 2026-09" in en and "make-up workday" in en
    assert "Staffing advice (Erlang A)" in en and "p-zhang" in en
    _, daily, _ = await september.call("GET", f"{DAILY}?day=2026-09-20&format=html&lang=en",
                                       "viewer")
    assert "Hotline daily statistics 2026-09-20" in daily


async def test_names_in_the_document_are_escaped(september: Api) -> None:
    status, catalogue, _ = await september.call("GET", "/api/v1/purposes", "admin")
    assert status == 200
    script = '<script>alert("x")</script>'
    for department in catalogue["departments"]:
        if department["id"] == "engineering":
            department["name"] = department["name_en"] = script
    status, body, _ = await september.call("PUT", "/api/v1/purposes", "admin", json={
        "departments": catalogue["departments"], "purposes": catalogue["purposes"]})
    assert status == 200, body
    for lang in ("zh-CN", "en"):
        _, html, _ = await september.call(
            "GET", f"{MONTHLY}?month=2026-09&format=html&lang={lang}", "viewer")
        assert "<script" not in html
        assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html


def _pdf_tool(*args: str) -> str:
    tool = shutil.which(args[0])
    assert tool is not None, f"{args[0]} (poppler-utils) is installed by scripts/setup.sh"
    return subprocess.run([tool, *args[1:]], capture_output=True, text=True, check=True,
                          timeout=60).stdout


def _colour_pixels(image: Image.Image, hex_colour: str, tolerance: int = 24) -> int:
    want = tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    colours = image.convert("RGB").getcolors(maxcolors=1 << 24) or []
    return sum(count for count, pixel in colours
               if all(abs(a - b) <= tolerance for a, b in zip(pixel, want, strict=True)))


@dataclass
class ReadPdf:
    pages: int
    text: str
    fonts: str
    green: int  # pixels of the charts' "meets the floor" colour, over every page
    red: int  # and of "below the floor"


def _read_pdf(pdf: Path, prefix: Path) -> ReadPdf:
    info = _pdf_tool("pdfinfo", str(pdf))
    pages = int(next(line.split()[-1] for line in info.splitlines()
                     if line.startswith("Pages:")))
    _pdf_tool("pdftoppm", "-r", "50", "-png", str(pdf), str(prefix))
    images = [Image.open(p) for p in sorted(prefix.parent.glob(f"{prefix.name}*.png"))]
    assert len(images) == pages
    return ReadPdf(pages, _pdf_tool("pdftotext", "-layout", str(pdf), "-"),
                   _pdf_tool("pdffonts", str(pdf)),
                   sum(_colour_pixels(image, charts.MEETS) for image in images),
                   sum(_colour_pixels(image, charts.BELOW) for image in images))


async def test_the_pdf_has_its_pages_text_fonts_and_charts(september: Api,
                                                          tmp_path: Path) -> None:
    for lang, title in (("zh-CN", "客服热线月度统计 2026-09"),
                        ("en", "Hotline monthly statistics 2026-09")):
        response = await september.client.get(
            f"{MONTHLY}?month=2026-09&format=pdf&lang={lang}",
            headers=september.headers("viewer"))
        assert response.status == 200 and response.content_type == "application/pdf"
        assert f'hotline-2026-09-{lang}.pdf' in response.headers["Content-Disposition"]
        body = await response.read()
        assert body.startswith(b"%PDF-")
        pdf = tmp_path / f"pack-{lang}.pdf"
        await asyncio.to_thread(pdf.write_bytes, body)
        read = await asyncio.to_thread(_read_pdf, pdf, tmp_path / f"page-{lang}")
        assert read.pages >= 2
        assert title in read.text and CALLER not in read.text
        # text drawn only inside the charts: the heat map's weekdays, the staffing axis
        for drawn in (("周日", "所需坐席") if lang == "zh-CN" else ("Sun", "Agents needed")):
            assert drawn in read.text, drawn
        if lang == "zh-CN":  # Chinese glyphs come from an embedded CJK font
            assert "WenQuanYi" in read.fonts, read.fonts
        # the charts were drawn: green bars at or above the floor, red below it
        # (the Sunday) and the floor line
        assert read.green > 100 and read.red > 50, (read.green, read.red)


def test_the_cli_writes_the_pack_in_every_format(pg_dsn: str, tmp_path: Path) -> None:
    truncate_all(pg_dsn)
    env = daemon_env(pg_dsn, tmp_path)
    pdf = tmp_path / "pack.pdf"
    done = cli(env, "report", "--month", "2026-09", "--format", "pdf", "--lang", "en",
               "--output", str(pdf))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "wrote the 2026-09 pack (pdf)" in done.stdout and pdf.read_bytes()[:5] == b"%PDF-"
    html = cli(env, "report", "--day", "2026-09-20", "--format", "html")
    assert html.returncode == 0 and "本期没有来电记录" in html.stdout  # an empty day says so
    table = cli(env, "report", "--day", "2026-09-20")
    assert table.returncode == 0 and "Hotline daily statistics 2026-09-20" in table.stdout
    csv_out = cli(env, "report", "--month", "2026-09", "--format", "csv")
    assert csv_out.returncode == 0 and csv_out.stdout.startswith("\ufeffmonth,2026-09")
    refused = cli(env, "report", "--month", "2026-09", "--format", "pdf")
    assert refused.returncode == 2 and "needs --output" in refused.stdout
    bad = cli(env, "report", "--day", "2026-02-30")
    assert bad.returncode == 2 and "--day must be a date" in bad.stdout
    unwritable = cli(env, "report", "--month", "2026-09", "--format", "html", "--output",
                     str(tmp_path / "missing" / "x.html"))
    assert unwritable.returncode == 1 and "cannot write" in unwritable.stdout


async def test_a_server_without_pdf_libraries_says_so_and_html_still_works(
        september: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    # Stands in for a host without Pango (WeasyPrint raises OSError loading it):
    # that host cannot be made here, where the libraries are installed.
    def no_pango(html: str) -> bytes:
        raise OSError("cannot load library 'libpango-1.0-0'")

    monkeypatch.setattr("hotline_pbx.api.routes_monthly.render_pdf", no_pango)
    status, problem, _ = await september.call("GET", f"{MONTHLY}?month=2026-09&format=pdf",
                                              "viewer")
    assert status == 501 and "libpango" in problem["detail"]
    assert "format=html" in problem["detail"]
    status, _, _ = await september.call("GET", f"{MONTHLY}?month=2026-09&format=html",
                                        "viewer")
    assert status == 200


async def test_parallel_pdfs_are_bounded_and_the_api_keeps_answering(db: Database) -> None:
    import dataclasses

    from hotline_pbx.config import HttpSettings
    from tests.integration.api_fixtures import SETTINGS, start_api

    bounded = await start_api(db, dataclasses.replace(SETTINGS, http=HttpSettings(max_exports=1)))
    try:
        await bounded.insert_calls(september_calls())

        async def pdf() -> int:
            response = await bounded.client.get(f"{MONTHLY}?month=2026-09&format=pdf",
                                                headers=bounded.headers("viewer"))
            await response.read()
            if response.status == 429:
                assert response.headers["Retry-After"]
            return response.status

        async def schedule() -> int:
            await asyncio.sleep(0.05)  # while the PDFs render in their threads
            status, _, _ = await bounded.call("GET", "/api/v1/schedule", "viewer")
            return status

        *statuses, other = await asyncio.gather(*(pdf() for _ in range(4)), schedule())
        assert statuses.count(200) >= 1 and statuses.count(429) >= 1, statuses
        assert set(statuses) <= {200, 429} and other == 200
    finally:
        await bounded.client.close()
