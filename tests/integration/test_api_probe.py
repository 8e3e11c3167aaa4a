"""Hostile and stranger input on the issue-12 rooms, over real PostgreSQL: what a
probe of the campaigns and callbacks API found (each test failed before its fix)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hotline_pbx.store import models
from tests.integration.api_fixtures import Api, api

__all__ = ["api"]

PATH = "/api/v1/campaigns"


def _body(rows: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"name": "gas leak", "message_text": "Gas is off until six.", "rows": rows, **extra}


async def _phones(api: Api) -> list[str | None]:
    t = models.dialer_targets
    async with api.db.engine.connect() as conn:
        return [r.phone for r in (await conn.execute(select(t).order_by(t.c.line_no))).all()]


async def test_a_csv_max_attempts_of_unicode_digits_is_refused_not_a_crash(api: Api) -> None:
    csv_text = "name,account,phone\nZhang,A-1,13800138000\n"
    for value in ("²", "٣", "１"):
        status, body, _ = await api.call(
            "POST", f"{PATH}?name=x&message_text=hello&max_attempts={value}",
            data=csv_text.encode(), headers={"Content-Type": "text/csv"})
        assert status == 422, (value, status, body)
        assert body["errors"][0]["field"] == "max_attempts"
    assert await _phones(api) == []


async def test_one_number_written_with_and_without_the_country_code_is_a_duplicate(
        api: Api) -> None:
    for other in ("+86 138 0013 8000", "008613800138000", "8613800138000"):
        rows = [{"name": "a", "account": "", "phone": "13800138000"},
                {"name": "b", "account": "", "phone": other}]
        status, body, _ = await api.call("POST", PATH, json=_body(rows))
        assert status == 422, (other, body)
        assert body["errors"][0]["field"] == "line 2.phone"
        assert "duplicate of line 1" in body["errors"][0]["reason"]


async def test_full_width_digits_are_read_as_digits(api: Api) -> None:
    rows = [{"name": "a", "account": "", "phone": "１３８ ００１３ ８０００"},
            {"name": "b", "account": "", "phone": "13800138000"}]
    status, body, _ = await api.call("POST", PATH, json=_body(rows))
    assert status == 422, body
    assert "duplicate of line 1" in body["errors"][0]["reason"]
    status, body, _ = await api.call("POST", PATH, json=_body(rows[:1]))
    assert status == 201, body
    assert await _phones(api) == ["13800138000"]


async def test_a_viewer_never_reads_a_number_in_a_campaign_name(api: Api) -> None:
    rows = [{"name": "a", "account": "", "phone": "13800138000"}]
    status, body, _ = await api.call("POST", PATH, json=_body(
        rows, name="call back 13912345678 first"))
    assert status == 201, body
    job = body["id"]
    for path in (PATH, f"{PATH}/{job}"):
        status, answer, _ = await api.call("GET", path, role="viewer")
        assert status == 200, answer
        assert "13912345678" not in str(answer), path
    status, answer, _ = await api.call("GET", f"{PATH}/{job}", role="admin")
    assert answer["name"] == "call back 13912345678 first"


async def test_the_export_is_spreadsheet_safe_and_masked_for_a_viewer(api: Api) -> None:
    rows = [{"name": "=cmd|' /C calc'!A0", "account": "+SUM(1,2)", "phone": "13800138000"},
            {"name": "@x", "account": "-2+3", "phone": ""}]
    status, body, _ = await api.call("POST", PATH, json=_body(rows))
    assert status == 201, body
    for role in ("admin", "viewer"):
        for which in ("not_reached", "no_number"):
            status, text, _ = await api.call(
                "GET", f"{PATH}/{body['id']}/export?list={which}", role=role)
            assert status == 200, text
            for cell in [c for line in text.splitlines()[1:] for c in line.split(",")]:
                assert not cell.startswith(("=", "+", "-", "@")) or cell.startswith("+86"), \
                    (role, which, cell)
            if role == "viewer":
                assert "13800138000" not in text


async def test_odd_campaign_ids_are_404_and_a_cancel_twice_or_at_once_is_harmless(
        api: Api) -> None:
    for raw in ("0", "-1", str(2**63), "1e3", "abc", "%20"):
        for method, path in (("GET", f"{PATH}/{raw}"), ("DELETE", f"{PATH}/{raw}"),
                             ("GET", f"{PATH}/{raw}/export?list=notified")):
            status, answer, _ = await api.call(method, path)
            assert status == 404, (method, path, status, answer)
    rows = [{"name": "a", "account": "", "phone": "13800138000"}]
    status, body, _ = await api.call("POST", PATH, json=_body(rows))
    job = body["id"]
    import asyncio
    answers = await asyncio.gather(*(api.call("DELETE", f"{PATH}/{job}") for _ in range(5)))
    assert [a[0] for a in answers] == [200] * 5, answers
    assert sum(a[1]["targets_cancelled"] for a in answers) == 1
    status, again, _ = await api.call("DELETE", f"{PATH}/{job}")
    assert status == 200 and again["targets_cancelled"] == 0 and again["state"] == "cancelled"
