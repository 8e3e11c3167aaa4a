"""Calls, notes, the CSV register, stats, faults, blocked outbound and the audit
log through the REST API over real PostgreSQL (rows inserted as the tracker
and the monitors would write them)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from hotline_pbx.store import models
from tests.integration.api_fixtures import Api, api, call_row

__all__ = ["api"]

# Tuesday 2026-11-24, 10:00 in Shanghai.
T0 = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)


async def seed_calls(api: Api) -> list[int]:
    return await api.insert_calls([
        call_row("c1", T0, caller="13800138000"),
        call_row("c2", T0 + timedelta(minutes=1), outcome="abandoned", caller="13900139000",
                 wait=30),
        call_row("c3", T0 + timedelta(minutes=2), outcome="missed", period="closed",
                 caller="=HYPERLINK(\"x\")", wait=120),
        call_row("c4", T0 + timedelta(minutes=3), caller="13800138000",
                 details={"timeline": [{"at": "2026-11-24T10:03:00+08:00",
                                        "event": "ringing Local/13800138000@agents"}]}),
        call_row("c5", T0 + timedelta(minutes=4), is_test=True),
    ])


async def test_list_filters_and_cursor_pagination(api: Api) -> None:
    await seed_calls(api)
    status, page, _ = await api.call("GET", "/api/v1/calls?limit=2")
    assert status == 200
    assert [c["call_key"] for c in page["items"]] == ["c4", "c3"]  # newest first, no tests
    keys = [c["call_key"] for c in page["items"]]
    while page["next_cursor"]:
        page = (await api.call("GET", f"/api/v1/calls?limit=2&cursor={page['next_cursor']}"))[1]
        keys += [c["call_key"] for c in page["items"]]
    assert keys == ["c4", "c3", "c2", "c1"]
    first = (await api.call("GET", "/api/v1/calls?outcome=answered"))[1]["items"]
    assert [c["call_key"] for c in first] == ["c4", "c1"]
    assert first[0]["started_at"] == "2026-11-24T10:03:00+08:00"
    closed = (await api.call("GET", "/api/v1/calls?period=closed"))[1]["items"]
    assert [c["call_key"] for c in closed] == ["c3"]
    by_caller = (await api.call("GET", "/api/v1/calls?caller=13800138000",
                                "supervisor"))[1]["items"]
    assert [c["call_key"] for c in by_caller] == ["c4", "c1"]
    window = "from=2026-11-24T10:01:00%2B08:00&to=2026-11-24T10:03:00Z"
    assert [c["call_key"] for c in (await api.call(
        "GET", f"/api/v1/calls?{window}"))[1]["items"]] == ["c4", "c3", "c2"]
    # a + that was not percent-encoded arrives as a space and still means +08:00
    unencoded = "from=2026-11-24T10:02:00+08:00"
    assert [c["call_key"] for c in (await api.call(
        "GET", f"/api/v1/calls?{unencoded}"))[1]["items"]] == ["c4", "c3"]
    day = (await api.call("GET", "/api/v1/calls?from=2026-11-24&to=2026-11-24"))[1]["items"]
    assert len(day) == 4
    tests = (await api.call("GET", "/api/v1/calls?include_test=true"))[1]["items"]
    assert len(tests) == 5


async def test_bad_queries_name_the_field(api: Api) -> None:
    for query, field in (("from=yesterday", "from"), ("from=2026-13-01", "from"),
                         ("to=2026-11-24T10:00:00", "to"), ("outcome=lost", "outcome"),
                         ("limit=0", "limit"), ("limit=501", "limit"), ("cursor=abc", "cursor"),
                         ("page=2", "page"), ("from=2026-11-25&to=2026-11-24", "to"),
                         ("include_test=yes", "include_test"), ("from=1999-01-01", "from")):
        status, problem, _ = await api.call("GET", f"/api/v1/calls?{query}")
        assert (status, problem["field"]) == (400, field), query
        assert problem["reason"] and problem["example"]


async def test_viewers_see_masked_numbers_and_cannot_search_by_number(api: Api) -> None:
    ids = await seed_calls(api)
    items = (await api.call("GET", "/api/v1/calls", "viewer"))[1]["items"]
    assert {c["caller"] for c in items} >= {"*******8000", "*******9000"}
    assert (await api.call("GET", "/api/v1/calls?caller=13800138000", "viewer"))[0] == 403
    detail = (await api.call("GET", f"/api/v1/calls/{ids[3]}", "viewer"))[1]
    assert detail["caller"] == "*******8000"
    assert detail["timeline"][0]["event"] == "ringing Local/*******8000@agents"
    assert "13800138000" not in str(detail)


REPORTED = ("138 0013 8000", "138-0013-8000", "+86-139-1234-5678")  # issue #9 item 5
# what a viewer must never see of the numbers below: their middle groups
HIDDEN = ("0013", "139-1234", "139 1234", "1391234", "13800138000", "13912345678")


# 13912345678 as the QA probe wrote it past the first masker (follow-up of items 5, 11)
PROBED = ("139/1234/5678", "139_1234_5678", "139,1234,5678", "139~1234~5678",
          "139    1234    5678", "139 ... 1234 ... 5678", "139\u00ad1234\u00ad5678",
          "139\u034f1234\u034f5678", "1\u03383\u03389\u0338 1234 5678", "1391234 + 5678")


async def seed_hostile_call(api: Api) -> int:
    """A call whose every free field carries a number in one of the reported formats."""
    details = {
        "timeline": [{"at": "2026-11-24T10:00:00+08:00",
                      "event": "ringing Local/+86-139-1234-5678@mobiles"}],
        "13800138000": "a number as a dictionary key",
        "callback": {"+86 139 1234 5678": 13912345678, "mobile": 13800138000,
                     "tries": 2, "queued_at": "2026-11-24T10:00:01+08:00"},
        PROBED[2]: PROBED[3], "probed": list(PROBED),
    }
    [call_id] = await api.insert_calls([call_row(
        "h1", T0, caller="+86 138 0013 8000", caller_name="Wang 138-0013-8000",
        answered_by="Local/138.0013.8000@mobiles", details=details)])
    for body in REPORTED + PROBED:
        await api.call("POST", f"/api/v1/calls/{call_id}/notes", "supervisor",
                       json={"body": f"call back on {body} please"})
    return call_id


def assert_no_whole_number(text: str) -> None:
    # The notes' created_at (the server's clock, microseconds included:
    # "08.139405", "35.800134") may hold any group of digits by chance.
    text = re.sub(r"\d{4}-\d\d-\d\dT[\d:.]+[+-]\d\d:\d\d", "", text)
    for hidden in HIDDEN:
        assert hidden not in text, (hidden, text)
    assert "139" not in text, text  # the first group of every probed number


def only_digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


async def test_a_viewer_sees_no_number_whole_in_any_format_anywhere(api: Api) -> None:
    call_id = await seed_hostile_call(api)
    status, detail, _ = await api.call("GET", f"/api/v1/calls/{call_id}", "viewer")
    assert status == 200
    assert_no_whole_number(json.dumps(detail, ensure_ascii=False))
    assert detail["caller"] == "+** *** **** 8000"
    assert detail["caller_name"] == "Wang ***-****-8000"
    bodies = [n["body"] for n in detail["notes"]]
    assert bodies[:3] == [
        "call back on *** **** 8000 please", "call back on ***-****-8000 please",
        "call back on +**-***-****-5678 please"]
    # every probed format: the same text, only its last 4 digits left
    assert [only_digits(body) for body in bodies[3:]] == ["5678"] * len(PROBED)
    assert [len(body) for body in bodies[3:]] == [len(f"call back on {p} please")
                                                  for p in PROBED]
    assert detail["details"]["*******8000"] == "a number as a dictionary key"
    assert detail["details"]["***,****,5678"] == "***~****~5678"
    assert [only_digits(p) for p in detail["details"]["probed"]] == ["5678"] * len(PROBED)
    assert detail["details"]["callback"] == {
        "+** *** **** 5678": "*******5678", "mobile": "*******8000", "tries": 2,
        "queued_at": "2026-11-24T10:00:01+08:00"}
    assert detail["timeline"][0] == {"at": "2026-11-24T10:00:00+08:00",
                                     "event": "ringing Local/+**-***-****-5678@mobiles"}
    listed = (await api.call("GET", "/api/v1/calls", "viewer"))[1]
    assert_no_whole_number(json.dumps(listed, ensure_ascii=False))
    csv_text = (await api.call("GET", "/api/v1/calls.csv", "viewer"))[1]
    assert_no_whole_number(csv_text)
    [row] = list(csv.reader(io.StringIO(csv_text.lstrip("\ufeff"))))[1:]
    # A cell starting with "+" that is not a plain number could run as a
    # formula: "'" keeps it text, masked or not (docs/api.md, the register).
    assert row[2] == "'+** *** **** 8000"
    assert "***-****-8000" in row[8] and "+**-***-****-5678" in row[8]
    assert only_digits(row[8]).endswith("5678" * len(PROBED))


async def test_a_viewer_sees_no_number_whole_in_config_faults_blocked_or_errors(
        api: Api) -> None:
    """Every other place a person could have written a number: roster names and
    absence notes, override and exception notes, blocked-outbound fields, fault
    details, and error bodies that echo the request."""
    roster = {
        "supervisor": {"id": "li.na", "name": f"Li Na {PROBED[4]}", "mobile": "13800138000"},
        "deputies": [{"id": "wang.wei", "name": f"Wang {PROBED[0]}", "mobile": "13900139000"}],
        "absences": [{"person_id": "li.na", "from": "2026-10-01T00:00:00+08:00",
                      "to": "2026-10-08T00:00:00+08:00", "reason": "leave",
                      "note": f"call {PROBED[6]}"}]}
    assert (await api.call("PUT", "/api/v1/roster", "supervisor", json=roster))[0] == 200
    assert (await api.call("POST", "/api/v1/exceptions", json={
        "date": "2026-10-01", "kind": "closed", "note": f"duty {PROBED[5]}"}))[0] == 201
    until = (datetime.now(UTC) + timedelta(hours=2)).replace(microsecond=0)
    assert (await api.call("PUT", "/api/v1/override", json={
        "mode": "closed", "until": until.isoformat(), "note": f"typhoon {PROBED[9]}"}))[0] == 200
    async with api.db.engine.begin() as conn:
        await conn.execute(insert(models.line_faults), [{
            "cause": "no_answer", "started_at": T0, "ended_at": None,
            "details": {PROBED[4]: PROBED[7], "test_number": PROBED[1]}}])
        await conn.execute(insert(models.blocked_outbound), [{
            "event_key": "probe", "occurred_at": T0, "source_channel": f"PJSIP/{PROBED[1]}-01",
            "source": PROBED[8], "dialled_number": PROBED[0], "method": "dial",
            "action": "hung_up", "reaction_ms": 1.0,
            "details": {PROBED[2]: PROBED[3], "raw": PROBED[9]}}])
    shown = {path: (await api.call("GET", path, "viewer"))[1] for path in (
        "/api/v1/roster", "/api/v1/exceptions", "/api/v1/override", "/api/v1/faults",
        "/api/v1/blocked-outbound")}
    for body in shown.values():
        assert_no_whole_number(json.dumps(body, ensure_ascii=False))
    assert shown["/api/v1/roster"]["supervisor"]["name"] == "Li Na ***    ****    5678"
    assert shown["/api/v1/roster"]["absences"][0]["from"] == "2026-10-01T00:00:00+08:00"
    [exception] = shown["/api/v1/exceptions"]["items"]
    assert exception["date"] == "2026-10-01" and exception["note"] == "duty *** ... **** ... 5678"
    assert shown["/api/v1/override"]["override"]["note"] == "typhoon ******* + 5678"
    [blocked] = shown["/api/v1/blocked-outbound"]["items"]
    assert blocked["dialled_number"] == "***/****/5678"
    for query in ("outcome=139/1234/5678", "from=139_1234_5678", "caller=139,1234,5678",
                  "period=139%20...%201234%20...%205678", "limit=139~1234~5678"):
        status, problem, _ = await api.call("GET", f"/api/v1/calls?{query}", "viewer")
        assert status in (400, 403), (query, problem)
        assert_no_whole_number(json.dumps(problem, ensure_ascii=False))
    admin = (await api.call("GET", "/api/v1/blocked-outbound"))[1]["items"][0]
    assert admin["dialled_number"] == PROBED[0]  # masked for viewers only


async def test_admin_and_supervisor_see_every_number_in_full(api: Api) -> None:
    call_id = await seed_hostile_call(api)
    for role in ("admin", "supervisor"):
        detail = (await api.call("GET", f"/api/v1/calls/{call_id}", role))[1]
        assert detail["caller"] == "+86 138 0013 8000"
        assert detail["caller_name"] == "Wang 138-0013-8000"
        assert detail["details"]["callback"]["+86 139 1234 5678"] == 13912345678
        assert [n["body"] for n in detail["notes"]] == [
            f"call back on {body} please" for body in REPORTED + PROBED]
    csv_text = (await api.call("GET", "/api/v1/calls.csv"))[1]
    assert "+86-139-1234-5678" in csv_text and "Local/138.0013.8000@mobiles" in csv_text


async def test_a_problem_echoing_a_viewers_input_is_masked(api: Api) -> None:
    status, problem, _ = await api.call("GET", "/api/v1/calls?from=138%200013%208000",
                                        "viewer")
    assert status == 400 and problem["field"] == "from"
    assert "*** **** 8000" in problem["detail"]
    assert_no_whole_number(json.dumps(problem))
    admin = (await api.call("GET", "/api/v1/calls?from=138%200013%208000"))[1]
    assert "138 0013 8000" in admin["detail"]


async def test_one_call_with_timeline_and_appended_notes(api: Api) -> None:
    ids = await seed_calls(api)
    status, detail, _ = await api.call("GET", f"/api/v1/calls/{ids[0]}")
    assert status == 200 and detail["notes"] == [] and detail["note_count"] == 0
    assert [t["event"] for t in detail["timeline"]] == ["started"]
    status, note, _ = await api.call("POST", f"/api/v1/calls/{ids[0]}/notes", "supervisor",
                                     json={"body": "called back 13800138000, solved"})
    assert status == 201 and note["author"] == "supervisor-user"
    assert note["created_at"].endswith("+08:00")
    await api.call("POST", f"/api/v1/calls/{ids[0]}/notes", json={"body": "closed\nby admin"})
    detail = (await api.call("GET", f"/api/v1/calls/{ids[0]}"))[1]
    assert [n["body"] for n in detail["notes"]] == ["called back 13800138000, solved",
                                                    "closed\nby admin"]
    assert detail["note_count"] == 2
    masked = (await api.call("GET", f"/api/v1/calls/{ids[0]}", "viewer"))[1]
    assert masked["notes"][0]["body"] == "called back *******8000, solved"
    assert (await api.call("POST", f"/api/v1/calls/{ids[0]}/notes", "viewer",
                           json={"body": "x"}))[0] == 403
    for body, field in (({"body": ""}, "body"), ({"body": 5}, "body"),
                        ({"text": "x"}, "text"), ({"body": "x" * 4001}, "body")):
        status, problem, _ = await api.call("POST", f"/api/v1/calls/{ids[0]}/notes", json=body)
        assert (status, problem["field"]) == (422, field)
    assert (await api.call("POST", "/api/v1/calls/999999/notes", json={"body": "x"}))[0] == 404
    assert (await api.call("GET", "/api/v1/calls/999999"))[0] == 404
    assert (await api.call("GET", "/api/v1/calls/abc"))[0] == 404
    assert (await api.call("GET", f"/api/v1/calls/{2**64}"))[0] == 404


async def test_csv_register(api: Api) -> None:
    ids = await seed_calls(api)
    await api.call("POST", f"/api/v1/calls/{ids[0]}/notes", json={"body": "=cmd|' /C calc'!A0"})
    await api.call("POST", f"/api/v1/calls/{ids[0]}/notes", json={"body": "回访完成"})
    status, text, headers = await api.call("GET", "/api/v1/calls.csv?from=2026-11-24")
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert "attachment" in headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0] == ["date", "time", "caller", "period", "outcome", "wait_seconds",
                       "talk_seconds", "answered_by", "notes", "purpose"]  # issue 13: purpose
    assert rows[1] == ["2026-11-24", "10:00:00", "13800138000", "open", "answered", "5.0",
                       "60.0", "agent1", "admin-user: =cmd|' /C calc'!A0 | admin-user: 回访完成",
                       ""]
    assert rows[3][2] == "'=HYPERLINK(\"x\")"  # a caller id cannot become a formula
    assert len(rows) == 5
    viewer = (await api.call("GET", "/api/v1/calls.csv", "viewer"))[1]
    assert "13800138000" not in viewer and "*******8000" in viewer


async def test_reads_of_customer_data_are_audited(api: Api) -> None:
    ids = await seed_calls(api)
    await api.call("GET", "/api/v1/calls?outcome=answered", "viewer")
    await api.call("GET", f"/api/v1/calls/{ids[0]}", "supervisor")
    await api.call("GET", "/api/v1/calls.csv")
    await api.call("GET", "/api/v1/calls?outcome=nonsense")  # refused: not a read
    audit = await api.audit()
    assert [(a.actor, a.action, a.target) for a in audit] == [
        ("token:viewer-user", "calls.list", "calls"),
        ("token:supervisor-user", "call.read", f"call:{ids[0]}"),
        ("token:admin-user", "calls.export", "calls")]
    assert audit[0].after == {"query": {"outcome": "answered"}, "count": 2}
    status, page, _ = await api.call("GET", "/api/v1/audit?action=call.read")
    assert status == 200 and [e["target"] for e in page["items"]] == [f"call:{ids[0]}"]
    assert page["items"][0]["at"].endswith("+08:00")


async def test_reads_of_faults_blocked_roster_stats_and_audit_are_audited(api: Api) -> None:
    """Issue #9 item 12: every read of customer data leaves an audit row."""
    await api.call("GET", "/api/v1/faults?cause=no_answer", "viewer")
    await api.call("GET", "/api/v1/blocked-outbound?limit=5", "supervisor")
    await api.call("GET", "/api/v1/roster", "viewer")
    await api.call("GET", "/api/v1/stats?from=2026-11-24&to=2026-11-25")
    await api.call("GET", "/api/v1/audit?action=stats.read")
    await api.call("GET", "/api/v1/faults?cause=not%20a%20cause")  # refused: not a read
    audit = await api.audit()
    assert [(a.actor, a.action, a.target) for a in audit] == [
        ("token:viewer-user", "faults.list", "faults"),
        ("token:supervisor-user", "blocked_outbound.list", "blocked-outbound"),
        ("token:viewer-user", "roster.read", "roster"),
        ("token:admin-user", "stats.read", "stats"),
        ("token:admin-user", "audit.list", "audit")]
    assert audit[0].after == {"query": {"cause": "no_answer"}, "count": 0}
    assert audit[3].after == {"query": {"from": "2026-11-24", "to": "2026-11-25"}}
    assert audit[4].after == {"query": {"action": "stats.read"}, "count": 1}


async def test_stats_match_the_worked_example_of_kpi_md(api: Api) -> None:
    """docs/kpi.md: 10 answered, 4 abandoned, 3 short, 1 missed → 10/15, 8/15, 4/15, 15 s."""
    waits = [4, 6, 8, 10, 12, 15, 18, 20, 27, 30]
    talks = [120, 95, 300, 240, 180, 60, 400, 210, 150, 245]
    rows = [call_row(f"a{i}", T0 + timedelta(seconds=i), wait=w, talk=t)
            for i, (w, t) in enumerate(zip(waits, talks, strict=True))]
    rows += [call_row(f"b{i}", T0, outcome="abandoned", wait=w)
             for i, w in enumerate([9, 25, 40, 61])]
    rows += [call_row(f"s{i}", T0, outcome="short_abandoned", wait=w)
             for i, w in enumerate([2, 3, 4.5])]
    rows += [call_row("m0", T0, outcome="missed", wait=120)]
    # noise that must not count: another period, a test call, another day
    rows += [call_row("x1", T0, outcome="missed", period="closed"),
             call_row("x2", T0, is_test=True, outcome="missed"),
             call_row("x3", T0 + timedelta(days=1), outcome="missed")]
    await api.insert_calls(rows)
    status, stats, _ = await api.call(
        "GET", "/api/v1/stats?from=2026-11-24&to=2026-11-25&period=open", "viewer")
    assert status == 200
    assert (stats["offered"], stats["answered"], stats["abandoned"],
            stats["short_abandoned"], stats["missed"]) == (19, 10, 4, 3, 2)
    assert stats["test_calls"] == 1
    day = stats["days"][0]
    assert day["day"] == "2026-11-24" and day["offered"] == 18
    assert day["answer_rate"] == 10 / 15 and day["service_level"] == 8 / 15
    assert day["abandon_rate"] == 4 / 15 and day["asa_seconds"] == 15
    assert day["mean_talk_seconds"] == 200
    assert stats["days"][1]["offered"] == 1 and stats["days"][1]["answer_rate"] == 0
    assert stats["from"] == "2026-11-24T00:00:00+08:00"
    assert stats["to"] == "2026-11-26T00:00:00+08:00"
    empty = (await api.call("GET", "/api/v1/stats?from=2020-01-01&to=2020-01-03"))[1]
    assert empty["answer_rate"] is None and len(empty["days"]) == 3
    assert empty["days"][1] == {"day": "2020-01-02", **{k: empty[k] for k in (
        "offered", "answered", "abandoned", "short_abandoned", "missed",
        "answered_within_service_level", "answer_rate", "service_level", "abandon_rate",
        "asa_seconds", "mean_talk_seconds")}}
    status, problem, _ = await api.call("GET", "/api/v1/stats?from=2026-01-01")
    assert (status, problem["field"]) == (400, "to")
    status, problem, _ = await api.call("GET", "/api/v1/stats?from=2020-01-01&to=2026-01-01")
    assert (status, problem["field"]) == (400, "to")


async def test_faults_and_blocked_outbound(api: Api) -> None:
    async with api.db.engine.begin() as conn:
        await conn.execute(insert(models.line_faults), [
            {"cause": "no_answer", "started_at": T0, "ended_at": T0 + timedelta(minutes=5)},
            {"cause": "congestion", "started_at": T0 + timedelta(hours=1), "ended_at": None}])
        await conn.execute(insert(models.blocked_outbound), [{
            "event_key": "e1", "occurred_at": T0, "source_channel": "PJSIP/agent1-0001",
            "source": "agent1", "dialled_number": "13800138000", "method": "dial",
            "action": "hung_up", "reaction_ms": 12.5}])
    faults = (await api.call("GET", "/api/v1/faults", "viewer"))[1]["items"]
    assert [(f["cause"], f["duration_seconds"]) for f in faults] == [
        ("congestion", None), ("no_answer", 300.0)]
    only = (await api.call("GET", "/api/v1/faults?cause=no_answer"))[1]["items"]
    assert len(only) == 1
    blocked = (await api.call("GET", "/api/v1/blocked-outbound"))[1]["items"]
    assert blocked[0]["dialled_number"] == "13800138000"
    masked = (await api.call("GET", "/api/v1/blocked-outbound", "viewer"))[1]["items"]
    assert masked[0]["dialled_number"] == "*******8000"


def blocked_row(n: int, at: datetime) -> dict[str, object]:
    return {"event_key": f"hangup:{n}", "occurred_at": at, "source_channel": "",
            "source": "", "dialled_number": f"12{n}", "method": "originate",
            "action": "hung_up", "reaction_ms": 3.5 + n,
            "details": {"channel": f"PJSIP/carrier-{n:08x}", "origin": "ami"}}


async def test_blocked_outbound_pages_newest_first_without_loss_or_repeat(api: Api) -> None:
    same_time = T0 + timedelta(minutes=5)
    async with api.db.engine.begin() as conn:
        await conn.execute(insert(models.blocked_outbound),
                           [blocked_row(n, T0 + timedelta(seconds=n)) for n in range(7)])
        # Two attempts in the same microsecond: the id breaks the tie.
        await conn.execute(insert(models.blocked_outbound),
                           [blocked_row(10, same_time), blocked_row(11, same_time)])
    page = (await api.call("GET", "/api/v1/blocked-outbound?limit=3"))[1]
    seen = [item["dialled_number"] for item in page["items"]]
    first = page["items"][0]
    while page["next_cursor"]:
        page = (await api.call(
            "GET", f"/api/v1/blocked-outbound?limit=3&cursor={page['next_cursor']}"))[1]
        seen += [item["dialled_number"] for item in page["items"]]
    assert seen == ["1211", "1210", "126", "125", "124", "123", "122", "121", "120"]
    assert first["occurred_at"] == "2026-11-24T10:05:00+08:00"
    assert first["method"] == "originate" and first["details"]["origin"] == "ami"
    # from is inclusive, to exclusive
    window = "from=2026-11-24T02:00:01Z&to=2026-11-24T10:00:03%2B08:00"
    page = (await api.call("GET", f"/api/v1/blocked-outbound?{window}"))[1]
    assert [item["dialled_number"] for item in page["items"]] == ["122", "121"]
    assert page["next_cursor"] is None


async def test_bad_blocked_outbound_queries_name_the_field(api: Api) -> None:
    naive_cursor = "WyIyMDI2LTExLTI0VDAyOjAwOjAwIiwgMV0"  # ["2026-11-24T02:00:00", 1]
    for query, field in (("from=2026-11-24T10:00:00", "from"),
                         ("from=2026-11-24T02:00:00Z&to=2026-11-24T02:00:00Z", "to"),
                         ("limit=0", "limit"), ("limit=501", "limit"),
                         ("cursor=not-a-cursor", "cursor"), (f"cursor={naive_cursor}", "cursor")):
        status, problem, _ = await api.call("GET", f"/api/v1/blocked-outbound?{query}")
        assert (status, problem["field"]) == (400, field), query
        assert problem["reason"] and problem["example"]
