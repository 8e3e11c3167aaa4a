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
