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


async def test_odd_callback_queries_and_bodies_are_answered_never_a_500(api: Api) -> None:
    import base64
    import json as jsonlib
    queries = ["from=2026-10-02&to=2026-10-01", "from=2026-10-01&to=2026-10-01",
               "from=9999-01-01", "to=2100-12-31", "to=2100-12-31T23:59:59-14:00",
               "from=2000-01-01T00:00:00%2B14:00", "from=2026-10-01T00:00:00+14:00",
               "from=2026-13-01", "from=2026-02-30", "due=1", "done=True", "overdue=",
               "limit=-1", "limit=99999999999", "state=", "from=" + "9" * 5000,
               "cursor=" + base64.urlsafe_b64encode(b'["2026-01-01T00:00:00+00:00",-1]')
               .decode(),
               "cursor=" + base64.urlsafe_b64encode(b'["9999-12-31T23:59:59-14:00",1]')
               .decode(),
               "cursor=" + base64.urlsafe_b64encode(jsonlib.dumps(
                   ["2026-01-01T00:00:00+00:00", 2**70]).encode()).decode(),
               "cursor=" + base64.urlsafe_b64encode(b'{"a":1}').decode(),
               "cursor=%00", "cursor=" + "A" * 10000]
    for query in queries:
        status, body, _ = await api.call("GET", f"/api/v1/callbacks?{query}")
        assert status in (200, 400), (query, status, body)
    for raw in ("0", "-1", str(2**63), "x"):
        status, body, _ = await api.call("GET", f"/api/v1/callbacks/{raw}")
        assert status == 404, (raw, body)
    bodies: list[Any] = [[], "x", 1, None, {"result": ["reached"]}, {"result": {"a": 1}},
                         {"result": "reached", "note": 5}, {"result": "reached", "note": None},
                         {"result": "reached", "note": "x" * 100_000},
                         {"result": "reached", "note": "\u0000"}, {"result": True}]
    for body in bodies:
        status, answer, _ = await api.call("POST", "/api/v1/callbacks/1/done", json=body)
        assert status in (400, 404, 413, 415, 422), (body, status, answer)


async def test_odd_long_call_linkedids_are_404_never_a_500(api: Api) -> None:
    for linkedid in ("x" * 5000, "%E4%B8%AD%E6%96%87", "a%2Fb", "..", "%2E%2E", "%00",
                     "1700000000.1"):
        status, body, _ = await api.call("POST", f"/api/v1/long-calls/{linkedid}/callback",
                                         role="supervisor")
        assert status in (404,), (linkedid, status, body)


async def _csv(api: Api, data: bytes, query: str = "") -> tuple[int, Any]:
    status, body, _ = await api.call(
        "POST", f"{PATH}?name=x&message_text=hello{query}", data=data,
        headers={"Content-Type": "text/csv"})
    return status, body


async def test_csv_files_as_spreadsheets_write_them(api: Api) -> None:
    # A BOM and CRLF: stored, lines numbered from the header's 1.
    status, body = await _csv(api, "\ufeffphone,name,account\r\n13800138000,a,1\r\n"
                              "\r\n139 0013 9000,b,2\r\n".encode())
    assert status == 201 and body["targets"] == 2, body
    # GB18030 bytes: refused with their line, nothing guessed.
    status, body = await _csv(api, "name,account,phone\n张三,1,13700137000\n".encode("gb18030"))
    assert status == 422 and body["errors"][0]["field"] == "line 2", body
    # Extra and missing columns: each refused with its line; partial keeps the rest.
    data = b"name,account,phone\na,1,13600136000,extra\nb,2\nc,3,13500135000\n"
    status, body = await _csv(api, data)
    assert status == 422 and [e["field"] for e in body["errors"]] == ["line 2", "line 3"]
    status, body = await _csv(api, data, "&partial=true")
    assert status == 201 and body["targets"] == 1 and body["refused_count"] == 2, body
    # A huge field: refused, not a crash.
    status, body = await _csv(api, b"name,account,phone\n" + b"x" * 200_000 + b",1,1\n")
    assert status == 422, body


async def test_a_quoted_newline_keeps_the_spreadsheets_row_numbers(api: Api) -> None:
    # Row 2 holds a newline in its name (refused); the rows after it are rows 3
    # and 4 as a spreadsheet shows the file, not the physical lines 4 and 5.
    data = (b'name,account,phone\n"two\nlines",1,13800138000\nb,2,12\n'
            b'c,3,13900139000\n')
    status, body = await _csv(api, data)
    assert status == 422, body
    assert [e["field"] for e in body["errors"]] == ["line 2.name", "line 3.phone"], body


def _csv_of_size(size: int) -> bytes:
    head = b"name,account,phone\nZhang,A-1,13800138000\n"
    return head + b" " * (size - len(head) - 1) + b"\n"  # blank line padding is skipped


async def test_the_import_limit_is_exact_with_and_without_a_content_length(db: Any) -> None:
    import dataclasses
    import io

    from tests.integration.api_fixtures import SETTINGS, start_api
    limit = 65536
    settings = dataclasses.replace(
        SETTINGS, dialer=dataclasses.replace(SETTINGS.dialer, max_import_bytes=limit))
    probe = await start_api(db, settings)
    try:
        for size, expected in ((limit, 201), (limit + 1, 413)):
            for data in (_csv_of_size(size), io.BytesIO(_csv_of_size(size))):
                status, body = await _csv(probe, data)  # type: ignore[arg-type]
                assert status == expected, (size, type(data), status, body)
    finally:
        await probe.client.close()


async def test_twenty_parallel_uploads_all_end_and_store_every_list(api: Api) -> None:
    import asyncio
    import time

    def data(k: int) -> bytes:
        lines = ["name,account,phone"] + [f"C{i},A{i},13{k:02d}{i:07d}" for i in range(5000)]
        return ("\n".join(lines) + "\n").encode()

    started = time.monotonic()
    answers = await asyncio.gather(*(_csv(api, data(k)) for k in range(20)))
    took = time.monotonic() - started
    print(f"\n20 parallel 5,000-row uploads: {took:.1f}s")
    statuses = sorted(status for status, _ in answers)
    assert set(statuses) <= {201, 503}, answers
    stored = [body for status, body in answers if status == 201]
    assert stored and all(body["targets"] == 5000 for body in stored)
    t = models.dialer_targets
    async with api.db.engine.connect() as conn:
        count = len((await conn.execute(select(t.c.id))).all())
    assert count == 5000 * len(stored)
    status, _body, _ = await api.call("GET", PATH, role="viewer")
    assert status == 200


async def test_a_finished_big_campaign_is_read_in_bounded_lists(api: Api) -> None:
    # 100,000 unreached targets made GET /campaigns/{id} a 15 MB answer built in
    # memory on a pooled connection, for any viewer, with no limit on how many at once.
    from sqlalchemy import update

    from hotline_pbx.api.routes_campaigns import LIST_LIMIT
    rows = [{"name": f"c{i}", "account": "", "phone": f"13{i:09d}"}
            for i in range(LIST_LIMIT + 500)]
    status, body, _ = await api.call("POST", PATH, json=_body(rows))
    assert status == 201, body
    async with api.db.engine.begin() as conn:
        await conn.execute(update(models.dialer_targets).values(state="unreached"))
    status, page, _ = await api.call("GET", f"{PATH}/{body['id']}", role="viewer")
    assert status == 200
    assert len(page["not_reached"]) == LIST_LIMIT and page["listed_at_most"] == LIST_LIMIT
    assert page["not_reached"][0]["line"] == 1 and page["counts"]["unreached"] == len(rows)
    status, text, _ = await api.call("GET", f"{PATH}/{body['id']}/export?list=not_reached",
                                     role="viewer")
    assert status == 200 and len(text.splitlines()) == len(rows) + 1


async def test_control_characters_in_the_head_of_a_campaign_are_refused(api: Api) -> None:
    # A NUL or a lone surrogate in the name or message reached PostgreSQL: a 500.
    import json
    rows = [{"name": "a", "account": "", "phone": "13800138000"}]
    for field, value in (("name", "gas\u0000leak"), ("name", "gas\ud800"),
                         ("name", "line\nbreak"), ("message_text", "off\u0000"),
                         ("message_text", "\udfff off")):
        raw = json.dumps(_body(rows, **{field: value}))  # ASCII escapes, as a client sends
        status, body, _ = await api.call("POST", PATH, data=raw.encode(),
                                         headers={"Content-Type": "application/json"})
        assert status == 422, (field, value, status, body)
        assert body["errors"][0]["field"] == field
    status, body, _ = await api.call(
        "POST", f"{PATH}?name=gas%00leak&message_text=off",
        data=b"name,account,phone\na,,13800138000\n", headers={"Content-Type": "text/csv"})
    assert status == 422 and body["errors"][0]["field"] == "name", (status, body)
    status, body, _ = await api.call("POST", PATH, json=_body(
        rows, message_text="Gas is off.\nStay calm."))
    assert status == 201, body


async def test_cancelling_a_finished_campaign_changes_nothing(api: Api) -> None:
    from sqlalchemy import update
    rows = [{"name": "a", "account": "", "phone": "13800138000"}]
    status, body, _ = await api.call("POST", PATH, json=_body(rows))
    j = models.dialer_jobs
    async with api.db.engine.begin() as conn:
        await conn.execute(update(models.dialer_targets).values(state="done", result="confirmed"))
        await conn.execute(update(j).values(state="done", finished_at=j.c.created_at))
    status, answer, _ = await api.call("DELETE", f"{PATH}/{body['id']}")
    assert status == 200, answer
    assert answer["state"] == "done" and answer["targets_cancelled"] == 0
    assert answer["cancelled_at"] is None, answer
    async with api.db.engine.connect() as conn:
        job = (await conn.execute(select(j))).one()
    assert (job.cancelled_at, job.cancelled_by) == (None, "")


async def test_a_body_sent_byte_by_byte_holds_no_database_connection(db: Any) -> None:
    """Through the daemon's own listener (its connection guard reads the body)."""
    import asyncio
    import dataclasses

    from hotline_pbx.api.context import ApiContext
    from hotline_pbx.api.server import HttpServer
    from tests.integration.api_fixtures import SETTINGS, _readiness, start_api
    http = dataclasses.replace(SETTINGS.http, body_timeout=2.0, port=0)
    settings = dataclasses.replace(SETTINGS, http=http)
    probe = await start_api(db, settings)  # for its tokens
    server = HttpServer(ApiContext(db.engine, settings), _readiness(), http)
    await server.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        body = b"name,account,phone\na,,13800138000\n"
        writer.write((f"POST {PATH}?name=x&message_text=y HTTP/1.1\r\nHost: t\r\n"
                      f"Authorization: Bearer {probe.tokens['admin']}\r\n"
                      f"Content-Type: text/csv\r\nContent-Length: {len(body)}\r\n\r\n")
                     .encode())
        held = []
        for byte in body[:12]:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.2)
            held.append(db.engine.pool.checkedout())
        status_line = await asyncio.wait_for(reader.readline(), 5)
        writer.close()
        assert max(held) == 0, held
        assert b" 408 " in status_line, status_line
        status, answer, _ = await probe.call("GET", PATH)
        assert status == 200 and answer["campaigns"] == []
    finally:
        await server.stop()
        await probe.client.close()


async def test_a_task_done_by_hand_leaves_no_pending_target_in_its_cancelled_job(
        api: Api) -> None:
    from tests.integration.test_callbacks import opening, tasks, write
    await write(api.db, opening("probe-1", auto_dial=True))
    [task] = await tasks(api.db)
    status, body, _ = await api.call("POST", f"/api/v1/callbacks/{task.id}/done",
                                     role="supervisor", json={"result": "reached"})
    assert status == 200, body
    async with api.db.engine.connect() as conn:
        job = (await conn.execute(select(models.dialer_jobs))).one()
        target = (await conn.execute(select(models.dialer_targets))).one()
    assert job.state == "cancelled" and job.cancelled_by.endswith("supervisor-user")
    assert target.state == "cancelled", target
