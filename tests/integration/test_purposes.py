"""Call purposes: the catalogue (GET/PUT /api/v1/purposes), a call's purpose
(with a note or on its own), and its place in the call JSON and the CSV."""

from __future__ import annotations

import copy
import csv
import io
import logging
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, insert, select

from hotline_pbx.domain.purposes import DEFAULT_CATALOGUE
from hotline_pbx.store import models, purpose_repo
from hotline_pbx.store.database import Database
from tests.integration.api_fixtures import Api, api, call_row
from tests.integration.complaint_rows import add_complaint

__all__ = ["api"]

START = datetime(2026, 11, 2, 1, 0, tzinfo=UTC)


def _document() -> dict[str, Any]:
    return copy.deepcopy(DEFAULT_CATALOGUE.as_document())


async def test_the_default_catalogue_until_one_is_stored(api: Api, db: Database) -> None:
    status, body, _ = await api.call("GET", "/api/v1/purposes", "viewer")
    assert status == 200 and body == DEFAULT_CATALOGUE.as_document()
    changed = _document()
    changed["purposes"].append({"id": "billing_query", "name": "账单查询",
                                "department": "billing", "talk_target_seconds": 120})
    status, body, _ = await api.call("PUT", "/api/v1/purposes", "admin", json=changed)
    assert status == 200, body
    status, body, _ = await api.call("GET", "/api/v1/purposes", "viewer")
    assert [p["id"] for p in body["purposes"]][-1] == "billing_query"
    [entry] = [a for a in await api.audit() if a.action == "purposes.update"]
    assert entry.before == DEFAULT_CATALOGUE.as_document() and entry.after == body


@pytest.mark.parametrize(("change", "field"), [
    (lambda d: d["purposes"][1].update(department="nowhere"), "purposes[1].department"),
    (lambda d: d["purposes"][0].update(talk_target_seconds=-1),
     "purposes[0].talk_target_seconds"),
    (lambda d: d["purposes"].append(dict(d["purposes"][0])), "purposes[6].id"),
    (lambda d: d.update(colour="red"), "colour"),
    (lambda d: d["purposes"][2].update(department={}), "purposes[2].department"),
])
async def test_a_bad_catalogue_is_refused_naming_the_field(api: Api, change: Any,
                                                           field: str) -> None:
    document = _document()
    change(document)
    status, problem, _ = await api.call("PUT", "/api/v1/purposes", "admin", json=document)
    assert status == 422 and problem["errors"][0]["field"] == field, problem
    status, _, _ = await api.call("PUT", "/api/v1/purposes", "supervisor", json=_document())
    assert status == 403
    _, body, _ = await api.call("GET", "/api/v1/purposes", "viewer")
    assert body == DEFAULT_CATALOGUE.as_document()


async def test_a_purpose_or_department_in_use_is_not_removed(api: Api, db: Database) -> None:
    [call_id] = await api.insert_calls([call_row("c1", START)])
    status, _, _ = await api.call("PUT", f"/api/v1/calls/{call_id}/purpose", "supervisor",
                                  json={"purpose": "recruitment"})
    assert status == 200
    without = _document()
    without["purposes"] = [p for p in without["purposes"] if p["id"] != "recruitment"]
    status, problem, _ = await api.call("PUT", "/api/v1/purposes", "admin", json=without)
    assert status == 409 and "'recruitment'" in problem["detail"], problem
    async with db.engine.begin() as conn:
        await add_complaint(conn, department="billing")
    no_billing = _document()
    no_billing["departments"] = [d for d in no_billing["departments"] if d["id"] != "billing"]
    status, problem, _ = await api.call("PUT", "/api/v1/purposes", "admin", json=no_billing)
    assert status == 409 and "'billing'" in problem["detail"], problem
    renamed = _document()
    renamed["purposes"][4]["name"] = "招聘咨询"  # renaming one in use is fine
    status, _, _ = await api.call("PUT", "/api/v1/purposes", "admin", json=renamed)
    assert status == 200


async def test_a_stored_catalogue_that_no_longer_loads_falls_back(
        db: Database, caplog: pytest.LogCaptureFixture) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(insert(models.call_purposes).values(
            id=1, document={"departments": [], "purposes": "broken"}))
    with caplog.at_level(logging.ERROR):
        async with db.engine.connect() as conn:
            assert await purpose_repo.load_catalogue(conn) == DEFAULT_CATALOGUE
    assert "do not load" in caplog.text


async def _notes(db: Database) -> int:
    async with db.engine.connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(models.call_notes)))
                   .scalar_one())


async def test_a_note_sets_the_calls_purpose(api: Api, db: Database) -> None:
    [call_id, other] = await api.insert_calls([call_row("c1", START),
                                               call_row("c2", START.replace(hour=2))])
    notes = f"/api/v1/calls/{call_id}/notes"
    status, problem, _ = await api.call("POST", notes, "supervisor",
                                        json={"body": "asked the price", "purpose": "gossip"})
    assert status == 422 and problem["errors"][0]["field"] == "purpose"
    assert "gossip" in problem["detail"] and await _notes(db) == 0
    status, note, _ = await api.call("POST", notes, "supervisor",
                                     json={"body": "asked the price", "purpose": "query"})
    assert status == 201 and note["purpose"] == "query"
    status, plain, _ = await api.call("POST", f"/api/v1/calls/{other}/notes", "supervisor",
                                      json={"body": "no purpose given"})
    assert status == 201 and "purpose" not in plain
    _, shown, _ = await api.call("GET", f"/api/v1/calls/{call_id}", "viewer")
    assert (shown["purpose"], shown["purpose_set_by"]) == ("query", "supervisor-user")
    _, listed, _ = await api.call("GET", "/api/v1/calls", "viewer")
    assert {c["id"]: c["purpose"] for c in listed["items"]} == {call_id: "query", other: None}
    status, body, _ = await api.call("PUT", f"/api/v1/calls/{other}/purpose", "supervisor",
                                     json={"purpose": "consultation"})
    assert status == 200 and body["purpose"] == "consultation"
    [entry] = [a for a in await api.audit() if a.action == "call.purpose"]
    assert (entry.before["purpose"], entry.after["purpose"]) == (None, "consultation")
    for bad, code in (({"purpose": "nope"}, 422), ({"purpose": 3}, 422), ({}, 422)):
        status, _, _ = await api.call("PUT", f"/api/v1/calls/{other}/purpose", "supervisor",
                                      json=bad)
        assert status == code
    status, _, _ = await api.call("PUT", "/api/v1/calls/999999/purpose", "supervisor",
                                  json={"purpose": "query"})
    assert status == 404
    status, text, _ = await api.call("GET", "/api/v1/calls.csv", "viewer")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][-1] == "purpose" and [r[-1] for r in rows[1:]] == ["query", "consultation"]
