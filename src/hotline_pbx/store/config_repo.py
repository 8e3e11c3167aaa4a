"""Routing configuration in PostgreSQL ↔ the in-memory routing snapshot.

The schedule and the roster are validated JSON documents (one row each),
dated exceptions and absences are rows, the override is at most one row.
Every write happens in one transaction together with ``NOTIFY hotline_config``
so each running daemon reloads (see :mod:`hotline_pbx.store.notify`).

:class:`RoutingState` holds the snapshot the ``/route`` handler reads: a
reload builds a complete new snapshot and swaps it in; if the stored data
does not validate, the previous snapshot stays in force.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import delete, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline_pbx.config import Settings
from hotline_pbx.domain.calendar import (
    BusinessCalendar,
    calendar_from_dict,
    exception_from_dict,
    exception_to_dict,
    override_from_dict,
    override_to_dict,
    schedule_from_dict,
    schedule_to_dict,
)
from hotline_pbx.domain.calendar import add_exception as domain_add_exception
from hotline_pbx.domain.errors import ValidationError
from hotline_pbx.domain.roster import Roster, roster_from_dict
from hotline_pbx.domain.routing import RoutingSettings, RoutingSnapshot
from hotline_pbx.domain.statutory import chinese_statutory_source
from hotline_pbx.store import models

log = logging.getLogger(__name__)

def default_schedule(timezone: str = "Asia/Shanghai") -> dict[str, Any]:
    """The company's written hours (Mon-Fri 08:30-12:00, 13:00-17:30) in
    ``routing.timezone``, until an admin stores a schedule of their own."""
    return {
        "timezone": timezone,
        "weekly": [
            {"day": day, "start": start, "end": end}
            for day in ("mon", "tue", "wed", "thu", "fri")
            for start, end in (("08:30", "12:00"), ("13:00", "17:30"))
        ],
    }


def routing_settings(settings: Settings) -> RoutingSettings:
    r = settings.routing
    return RoutingSettings(
        queue_name=r.queue, dial_template=r.dial_template, ring_timeout_seconds=r.ring_timeout,
        queue_timeout_seconds=r.queue_timeout, inbound_endpoint=settings.trunks.hotline,
    )


# -- reading ---------------------------------------------------------------------


async def read_documents(conn: AsyncConnection,
                         default_timezone: str = "Asia/Shanghai") -> dict[str, Any]:
    """The stored configuration as the JSON documents the API speaks."""
    schedule_doc = (await conn.execute(select(models.schedule.c.document))).scalar()
    roster_doc = (await conn.execute(select(models.roster.c.document))).scalar()
    exceptions = [
        _exception_doc(row) for row in
        await conn.execute(select(models.calendar_exceptions).order_by("day"))
    ]
    absences = [
        {"person_id": row.person_id, "from": row.starts_at.isoformat(),
         "to": row.ends_at.isoformat() if row.ends_at else None,
         "reason": row.reason, "note": row.note}
        for row in await conn.execute(select(models.absences).order_by("starts_at", "id"))
    ]
    override_row = (await conn.execute(select(models.override))).first()
    override = None
    if override_row is not None:
        override = {"mode": override_row.mode, "until": override_row.until.isoformat(),
                    "note": override_row.reason}
    roster_doc = dict(roster_doc or {"supervisor": None, "deputies": []})
    roster_doc["absences"] = absences
    return {"schedule": schedule_doc or default_schedule(default_timezone),
            "exceptions": exceptions,
            "override": override, "roster": roster_doc}


def _exception_doc(row: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"date": row.day.isoformat(), "kind": row.kind, "note": row.note}
    if row.kind == "open":
        doc["periods"] = row.periods
    return doc


def build_snapshot(documents: Mapping[str, Any], settings: Settings, *, version: int,
                   now: datetime) -> RoutingSnapshot:
    """Validate the documents into a snapshot (raises ValidationError)."""
    statutory = chinese_statutory_source() if settings.routing.use_statutory_calendar else None
    override = documents.get("override")
    if override is not None and datetime.fromisoformat(override["until"]) <= now:
        override = None  # expired: it no longer decides anything
    calendar = calendar_from_dict(
        {"schedule": documents["schedule"], "exceptions": documents["exceptions"],
         "override": override},
        statutory=statutory,
    )
    roster: Roster = roster_from_dict(documents["roster"], path="roster")
    return RoutingSnapshot(calendar, roster, routing_settings(settings), version)


class RoutingState:
    """The current routing snapshot, replaced whole on every reload."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings
        self._version = 0
        self.snapshot = RoutingSnapshot(
            BusinessCalendar(schedule_from_dict(default_schedule(settings.routing.timezone))),
            Roster(),
            routing_settings(settings), 0,
        )
        self.loaded_at: datetime | None = None

    async def reload(self) -> None:
        async with self._engine.connect() as conn:
            documents = await read_documents(conn, self._settings.routing.timezone)
        now = datetime.now(UTC)
        snapshot = build_snapshot(documents, self._settings, version=self._version + 1, now=now)
        self._version += 1
        self.snapshot = snapshot
        self.loaded_at = now
        missing = snapshot.calendar.missing_statutory_years(now)
        if missing:
            log.warning("no statutory holiday data for %s: routing uses the weekly schedule "
                        "on those days; enter the year's holidays as dated exceptions",
                        ", ".join(map(str, missing)))
        log.info("routing configuration loaded (version %d)", snapshot.version)


# -- writing (each in one transaction with NOTIFY) --------------------------------

# The documents stored as one row each. A writer takes the document's lock
# before it reads the state its audit entry records as ``before``: concurrent
# writers queue, each sees what the one before it wrote (last writer wins,
# and the audit chain is true). An advisory lock, because an absent row (no
# override, the default schedule) has nothing for SELECT … FOR UPDATE to lock.
SINGLETONS = ("schedule", "roster", "override")
_LOCK_NAMESPACE = 400_800  # first key of pg_advisory_xact_lock(int, int)


async def lock_document(conn: AsyncConnection, name: str) -> None:
    """Hold the write lock of a singleton document until the transaction ends."""
    await conn.execute(text("SELECT pg_advisory_xact_lock(:namespace, :key)"),
                       {"namespace": _LOCK_NAMESPACE, "key": SINGLETONS.index(name)})



async def notify_change(conn: AsyncConnection, what: str) -> None:
    await conn.execute(text("SELECT pg_notify(:channel, :payload)"),
                       {"channel": models.CONFIG_CHANNEL, "payload": what})


async def save_schedule(conn: AsyncConnection, document: Mapping[str, Any], actor: str) -> None:
    normalised = schedule_to_dict(schedule_from_dict(document))
    stmt = pg_insert(models.schedule).values(id=1, document=normalised, updated_by=actor)
    await conn.execute(stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={"document": normalised, "updated_by": actor, "updated_at": text("now()")}))
    await notify_change(conn, "schedule")


async def save_roster(conn: AsyncConnection, document: Mapping[str, Any], actor: str) -> None:
    roster = roster_from_dict(document)
    people = {"supervisor": document.get("supervisor"), "deputies": document.get("deputies", [])}
    stmt = pg_insert(models.roster).values(id=1, document=people, updated_by=actor)
    await conn.execute(stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={"document": people, "updated_by": actor, "updated_at": text("now()")}))
    await conn.execute(delete(models.absences))
    for absence in roster.absences:
        await conn.execute(insert(models.absences).values(
            person_id=absence.person_id, starts_at=absence.start,
            ends_at=absence.end, reason=absence.reason.value, note=absence.note))
    await notify_change(conn, "roster")


async def save_override(conn: AsyncConnection, override: Mapping[str, Any] | None,
                        actor: str) -> None:
    """Set (an upsert: two writers never collide on the key) or clear the override."""
    if override is None:
        await conn.execute(delete(models.override))
    else:
        value = override_from_dict(override, now=datetime.now(UTC))
        doc = override_to_dict(value)
        row = {"mode": doc["mode"], "until": value.until, "reason": doc["note"],
               "set_by": actor}
        stmt = pg_insert(models.override).values(id=1, **row)
        await conn.execute(stmt.on_conflict_do_update(
            index_elements=["id"], set_={**row, "set_at": text("now()")}))
    await notify_change(conn, "override")


class ExceptionExists(ValidationError):
    """A dated exception for that date is already stored (the API answers 409)."""


async def add_exception(conn: AsyncConnection, document: Mapping[str, Any],
                        actor: str) -> dict[str, Any]:
    """Validate and store one dated exception; returns it as stored.

    A second exception for the same date is refused (delete the first): with
    the row-level unique key, two admins adding the same date at once cannot
    both succeed either.
    """
    new = exception_from_dict(document)
    rows = await conn.execute(select(models.calendar_exceptions)
                              .where(models.calendar_exceptions.c.day == new.day))
    existing = [exception_from_dict(_exception_doc(row)) for row in rows]
    try:
        domain_add_exception(existing, new)
    except ValidationError as error:
        raise ExceptionExists(error.field, error.reason, error.example) from None
    doc = exception_to_dict(new)
    stmt = pg_insert(models.calendar_exceptions).values(
        day=new.day, kind=new.kind.value, periods=doc.get("periods", []), note=new.note,
        created_by=actor).on_conflict_do_nothing(index_elements=["day"])
    if (await conn.execute(stmt)).rowcount != 1:
        raise ExceptionExists("date", f"there is already an exception for "
                              f"{new.day.isoformat()}; delete the existing one first",
                              new.day.isoformat())
    await notify_change(conn, "exceptions")
    return doc


async def delete_exception(conn: AsyncConnection, day: date, actor: str
                           ) -> dict[str, Any] | None:
    """Remove the exception of ``day``; returns what was removed, None if none."""
    table = models.calendar_exceptions
    rows = (await conn.execute(delete(table).where(table.c.day == day).returning(*table.c))).all()
    if not rows:
        return None
    log.info("exception for %s deleted by %s", day.isoformat(), actor)
    await notify_change(conn, "exceptions")
    return _exception_doc(rows[0])
