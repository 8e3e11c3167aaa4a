"""Emergency campaigns through the REST API over real PostgreSQL: bad lists
(malformed, duplicate, 400-range numbers, non-UTF-8, too large), partial
imports, 100,000 rows, progress and the three lists, viewer masking, export,
cancel, the audit trail."""

from __future__ import annotations

import base64
import io
import time
import wave
from typing import Any

from sqlalchemy import select, update

from hotline_pbx.store import models
from tests.integration.api_fixtures import Api, api

__all__ = ["api"]

PATH = "/api/v1/campaigns"
GOOD = [{"name": "Zhang San", "account": "A-1", "phone": "138 0013 8000"},
        {"name": "Li Si", "account": "A-2", "phone": "139-0013-9000"},
        {"name": "Wang Wu", "account": "A-3", "phone": ""}]


def _body(rows: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {"name": "gas leak", "message_text": "Gas is off until six.", "rows": rows, **extra}


async def _targets(api: Api) -> list[Any]:
    t = models.dialer_targets
    async with api.db.engine.connect() as conn:
        return list((await conn.execute(select(t).order_by(t.c.line_no))).all())


async def test_a_valid_list_is_stored_with_its_no_number_row(api: Api) -> None:
    status, body, _ = await api.call("POST", PATH, json=_body(GOOD, max_attempts=2))
    assert status == 201, body
    assert body["targets"] == 3 and body["no_number"] == 1 and body["refused"] == []
    targets = await _targets(api)
    assert [(t.line_no, t.phone, t.state) for t in targets] == [
        (1, "13800138000", "pending"), (2, "13900139000", "pending"), (3, None, "no_number")]
    j = models.dialer_jobs
    async with api.db.engine.connect() as conn:
        job = (await conn.execute(select(j))).one()
    assert (job.job_type, job.dialog, job.options["max_attempts"]) == ("emergency", "confirm", 2)
    assert job.created_by.endswith("admin-user")
    assert any(a.action == "campaign.create" for a in await api.audit())


async def test_bad_rows_are_refused_with_their_lines_and_nothing_is_stored(api: Api) -> None:
    rows = [*GOOD, {"name": "dup", "account": "", "phone": "13800138000"},
            {"name": "hotline", "account": "", "phone": "400-800-1234"},
            {"name": "short", "account": "", "phone": "12345"},
            {"name": "letters", "account": "", "phone": "13800x38000"}, "not a row"]
    status, body, _ = await api.call("POST", PATH, json=_body(rows))
    assert status == 422, body
    assert [e["field"] for e in body["errors"]] == [
        "line 4.phone", "line 5.phone", "line 6.phone", "line 7.phone", "line 8"]
    assert "5 row(s) refused, nothing stored" in body["detail"]
    assert await _targets(api) == []
    # partial: the valid rows are kept, the refusals reported.
    status, body, _ = await api.call("POST", PATH, json=_body(rows, partial=True))
    assert status == 201 and body["targets"] == 3 and body["refused_count"] == 5
    assert [e["field"] for e in body["refused"]][:2] == ["line 4.phone", "line 5.phone"]
    assert len(await _targets(api)) == 3


async def test_the_head_of_the_form_is_checked(api: Api) -> None:
    for body, field in [
        ({"rows": GOOD, "message_text": "x"}, "name"),
        (_body(GOOD, message_text=""), "message_text"),
        (_body([]), "rows"),
        (_body(GOOD, partial="yes"), "partial"),
        (_body(GOOD, max_attempts=0), "max_attempts"),
        (_body(GOOD, colour="red"), "colour"),
        (_body(GOOD, message_wav="bm90IGEgd2F2"), "message_wav"),
    ]:
        status, answer, _ = await api.call("POST", PATH, json=body)
        assert status == 422, (body, answer)
        assert field in [e["field"] for e in answer["errors"]], answer
    status, answer, _ = await api.call("POST", PATH, data=b"{", headers={
        "Content-Type": "application/json"})
    assert status == 400
    status, answer, _ = await api.call("POST", PATH, data=b"x", headers={
        "Content-Type": "text/plain"})
    assert status == 415
    for role in ("supervisor", "viewer"):
        status, _answer, _ = await api.call("POST", PATH, role, json=_body(GOOD))
        assert status == 403
    assert await _targets(api) == []


def _wav(rate: int) -> str:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(2)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x10" * 2 * rate)
    return base64.b64encode(out.getvalue()).decode()


async def test_an_uploaded_wav_is_kept_as_8khz_mono(api: Api) -> None:
    body = _body(GOOD)
    del body["message_text"]
    status, answer, _ = await api.call("POST", PATH, json={**body, "message_wav": _wav(44100)})
    assert status == 201, answer
    j = models.dialer_jobs
    async with api.db.engine.connect() as conn:
        options = (await conn.execute(select(j.c.options))).scalar_one()
    with wave.open(io.BytesIO(base64.b64decode(options["message_wav"]))) as w:
        assert (w.getnchannels(), w.getframerate(), w.getsampwidth()) == (1, 8000, 2)
        assert abs(w.getnframes() - 8000) <= 1


async def test_a_csv_upload_numbers_its_lines_as_a_spreadsheet_does(api: Api) -> None:
    csv_text = ("\ufeffname,account,phone\r\nZhang San,A-1,13800138000\r\n\r\n"
                "Li Si,A-2,4008001234\r\nWang Wu,A-3\r\n\"Zhao, Liu\",A-4,\r\n")
    path = f"{PATH}?name=outage&message_text=Gas+is+off&partial=true"
    status, body, _ = await api.call("POST", path, data=csv_text.encode(),
                                     headers={"Content-Type": "text/csv"})
    assert status == 201, body
    assert [e["field"] for e in body["refused"]] == ["line 4.phone", "line 5"]
    assert [(t.line_no, t.name, t.phone) for t in await _targets(api)] == [
        (2, "Zhang San", "13800138000"), (6, "Zhao, Liu", None)]


async def test_a_csv_that_is_not_utf8_is_refused_naming_its_line(api: Api) -> None:
    data = "name,account,phone\n张三,A-1,13800138000\n".encode("gb18030")
    status, body, _ = await api.call("POST", f"{PATH}?name=x&message_text=y", data=data,
                                     headers={"Content-Type": "text/csv"})
    assert status == 422, body
    assert body["errors"][0]["field"] == "line 2" and "UTF-8" in body["errors"][0]["reason"]
    status, body, _ = await api.call("POST", f"{PATH}?name=x&message_text=y",
                                     data=b"phone,name\n1,2\n",
                                     headers={"Content-Type": "text/csv"})
    assert status == 422 and body["errors"][0]["field"] == "line 1"
    assert await _targets(api) == []


async def test_100000_rows_are_checked_and_stored_and_more_are_refused(api: Api) -> None:
    lines = ["name,account,phone"] + [f"Customer {i},A-{i},13{i:09d}" for i in range(100_000)]
    data = ("\n".join(lines) + "\n").encode()
    started = time.monotonic()
    status, body, _ = await api.call("POST", f"{PATH}?name=big&message_text=m",
                                     data=io.BytesIO(data), headers={"Content-Type": "text/csv"})
    took = time.monotonic() - started
    print(f"\n100,000-row CSV ({len(data) / 1e6:.1f} MB): stored in {took:.1f}s")
    assert status == 201, body
    assert body["targets"] == 100_000
    status, page, _ = await api.call("GET", PATH, "viewer")
    assert status == 200 and page["campaigns"][0]["counts"]["pending"] == 100_000
    more = data + b"One More,A-x,13999999999\n"
    status, body, _ = await api.call("POST", f"{PATH}?name=big&message_text=m",
                                     data=io.BytesIO(more), headers={"Content-Type": "text/csv"})
    assert status == 413 and "100000" in body["detail"], body


async def test_a_body_over_the_import_limit_is_413(api: Api) -> None:
    data = b"name,account,phone\n" + b"x" * 33_000_000
    status, body, _ = await api.call("POST", f"{PATH}?name=x&message_text=y",
                                     data=io.BytesIO(data), headers={"Content-Type": "text/csv"})
    assert status == 413 and "dialer.max_import_bytes" in body["detail"]


async def test_progress_lists_masking_export_and_cancel(api: Api) -> None:
    rows = [*GOOD, {"name": "Zhou", "account": "A-4", "phone": "13700137000"}]
    status, created, _ = await api.call("POST", PATH, json=_body(rows))
    job = created["id"]
    t = models.dialer_targets
    async with api.db.engine.begin() as conn:  # as the dialer would leave them
        await conn.execute(update(t).where(t.c.line_no == 1)
                           .values(state="done", attempts=1, result="confirmed"))
        await conn.execute(update(t).where(t.c.line_no == 2)
                           .values(state="unreached", attempts=3, result="no_answer"))
    status, body, _ = await api.call("GET", f"{PATH}/{job}")
    assert status == 200
    assert [r["phone"] for r in body["notified"]] == ["13800138000"]
    assert [(r["phone"], r["attempts"]) for r in body["not_reached"]] == [("13900139000", 3)]
    assert [r["name"] for r in body["no_number"]] == ["Wang Wu"]
    assert body["counts"]["pending"] == 1 and body["total"] == 4
    status, viewed, _ = await api.call("GET", f"{PATH}/{job}", "viewer")
    assert viewed["notified"][0]["phone"] == "*******8000"
    status, text, headers = await api.call("GET", f"{PATH}/{job}/export?list=not_reached",
                                           "viewer")
    assert status == 200 and headers["Content-Type"].startswith("text/csv")
    assert text.splitlines()[0].lstrip("\ufeff").startswith("line,name,account,phone")
    assert "*******9000" in text and "13900139000" not in text
    status, _text, _ = await api.call("GET", f"{PATH}/{job}/export?list=everyone")
    assert status == 400
    status, _text, _ = await api.call("GET", f"{PATH}/{job + 1}/export?list=notified")
    assert status == 404
    status, cancelled, _ = await api.call("DELETE", f"{PATH}/{job}")
    assert status == 200 and cancelled["state"] == "cancelled"
    assert cancelled["targets_cancelled"] == 1 and cancelled["counts"]["cancelled"] == 1
    status, _ignored, _ = await api.call("DELETE", f"{PATH}/{job}", "supervisor")
    assert status == 403
    assert (await api.call("GET", f"{PATH}/{job + 1}"))[0] == 404
    actions = [a.action for a in await api.audit()]
    for action in ("campaign.read", "campaign.export", "campaign.cancel"):
        assert action in actions
