"""Routing configuration in PostgreSQL ↔ the in-memory routing snapshot.

The schedule and the roster are validated JSON documents (one row each),
dated exceptions and absences are rows, the override is at most one row.
Every write happens in one transaction together with ``NOTIFY hotline_config``
so each running daemon reloads (see :mod:`hotline_pbx.store.notify`).

:class:`RoutingState` holds the snapshot the ``/route`` handler reads: a
reload builds a complete new snapshot and swaps it in. Each document loads on
its own: one that does not (written by hand or by an older version) is
reported (log, ``/readyz``, ``hotline_config_invalid{document}``) and keeps
its last good value, or the default, while the other documents still apply.
A write loads what it stored with the same functions before it commits.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, Text, cast, delete, func, insert, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from hotline_pbx.api.schemas.exceptions import exception_from_dict, exception_to_dict
from hotline_pbx.api.schemas.override import override_from_dict, override_to_dict
from hotline_pbx.api.schemas.roster import absence_from_dict, roster_from_dict, roster_to_dict
from hotline_pbx.api.schemas.schedule import schedule_from_dict, schedule_to_dict
from hotline_pbx.config import Settings, routing_settings
from hotline_pbx.domain.calendar import (
    BusinessCalendar,
    DateException,
    Override,
    Schedule,
    default_schedule,
    exception_exists,
)
from hotline_pbx.domain.contract import DEFAULT_TIMEZONE
from hotline_pbx.domain.errors import ValidationError
from hotline_pbx.domain.roster import Absence, Roster
from hotline_pbx.domain.routing import RoutingSnapshot
from hotline_pbx.domain.statutory import chinese_statutory_source
from hotline_pbx.lifecycle import Readiness
from hotline_pbx.metrics import CONFIG_DOCUMENTS, CONFIG_INVALID, CONFIG_RELOADS
from hotline_pbx.store import models

T = TypeVar("T")

log = logging.getLogger(__name__)

def default_schedule_document(timezone: str = DEFAULT_TIMEZONE) -> dict[str, Any]:
    """The company's written hours (the domain's default schedule) in
    ``routing.timezone``, until an admin stores a schedule of their own."""
    return schedule_to_dict(default_schedule(timezone))


# -- reading ---------------------------------------------------------------------


# PostgreSQL holds instants and dates that Python cannot (``infinity``,
# ``-infinity``, years BC or after 9999), and asyncpg reads ±infinity as naive
# datetime.max/min and fails on the rest: one such row, written by SQL, would
# fail the whole read. So the configuration's instants and dates are read as
# the text PostgreSQL renders, in UTC: what loads parses, what does not is
# reported by the loader, shown as stored by the API and matched by DELETE.
_BC = " BC"


def _date_text(column: Any) -> ColumnElement[str]:
    """``2026-10-01``; ``infinity``, ``-infinity``, ``10000-01-01``, ``0044-03-15 BC``."""
    return func.coalesce(func.regexp_replace(func.to_char(column, f"YYYY-MM-DD{_BC}"),
                                             " AD$", ""), cast(column, Text))


def _utc_text(column: Any) -> ColumnElement[str]:
    """``2026-10-01T00:30:00.000000+00:00``; ``infinity``, ``-infinity``, a year BC
    or after 9999 in the same form (with `` BC``)."""
    utc = func.to_char(func.timezone("UTC", column), f'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"{_BC}')
    return func.coalesce(func.regexp_replace(utc, " AD$", ""), cast(column, Text))


def stored_instant(text: str) -> str:
    """A stored instant's text, in Python's ISO form when Python can hold it."""
    try:
        return datetime.fromisoformat(text).isoformat()
    except ValueError:
        return text


async def read_override(conn: AsyncConnection) -> dict[str, Any] | None:
    """The stored override with who set it when (instants as :func:`stored_instant`)."""
    o = models.override.c
    row = (await conn.execute(select(
        o.mode, _utc_text(o.until).label("until"), o.reason, o.set_by,
        _utc_text(o.set_at).label("set_at")))).first()
    if row is None:
        return None
    return {"mode": row.mode, "until": stored_instant(row.until), "note": row.reason,
            "set_by": row.set_by, "set_at": stored_instant(row.set_at)}


def _override_document(stored: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The override as the document PUT takes (without who set it when)."""
    return None if stored is None else {key: stored[key] for key in ("mode", "until", "note")}


async def read_documents(conn: AsyncConnection,
                         default_timezone: str = DEFAULT_TIMEZONE) -> dict[str, Any]:
    """The stored configuration as the JSON documents the API speaks.

    Nothing is validated here: a stored document that does not load (written
    by hand or by an older version) is passed on as it is, for the loader to
    report and for the API to show so that it can be replaced.
    """
    schedule_doc = (await conn.execute(select(models.schedule.c.document))).scalar()
    people = (await conn.execute(select(models.roster.c.document))).scalar()
    exceptions = [_exception_doc(row) for row in await conn.execute(_exception_rows())]
    a = models.absences.c
    absences = [
        {"person_id": row.person_id, "from": stored_instant(row.starts_at),
         "to": None if row.ends_at is None else stored_instant(row.ends_at),
         "reason": row.reason, "note": row.note}
        for row in await conn.execute(
            select(a.person_id, _utc_text(a.starts_at).label("starts_at"),
                   _utc_text(a.ends_at).label("ends_at"), a.reason, a.note)
            .order_by(a.starts_at, a.id))
    ]
    override = _override_document(await read_override(conn))
    if people is None:
        people = {"supervisor": None, "deputies": []}
    # A roster document that is not an object is kept as it is: loading reports it.
    roster = {**people, "absences": absences} if isinstance(people, Mapping) else people
    return {"schedule": default_schedule_document(default_timezone) if schedule_doc is None
            else schedule_doc,
            "exceptions": exceptions, "override": override, "roster": roster}


def _exception_columns() -> tuple[ColumnElement[Any], ...]:
    t = models.calendar_exceptions.c
    return _date_text(t.day).label("day"), t.kind, t.periods, t.note


def _exception_rows() -> Select[Any]:
    return select(*_exception_columns()).order_by(models.calendar_exceptions.c.day)


def _exception_doc(row: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {"date": row.day, "kind": row.kind, "note": row.note}
    if row.kind == "open":
        doc["periods"] = row.periods
    return doc


# -- loading: the one validation for the API and for reload -------------------------
#
# Each document loads on its own. ``reload`` reports one that does not and
# keeps its last good value (or the default), while the others still apply;
# every API write loads what it stored, in its transaction, with the same
# functions, so a write that would not load is refused and rolled back.


def load_schedule(documents: Mapping[str, Any], now: datetime) -> Schedule:
    return schedule_from_dict(documents["schedule"])


def load_override(documents: Mapping[str, Any], now: datetime) -> Override | None:
    """The override in force at ``now``; an expired one no longer decides anything."""
    doc = documents["override"]
    if doc is None:
        return None
    override = override_from_dict(doc)
    return override if override.is_active(now) else None


def load_roster(documents: Mapping[str, Any], now: datetime) -> Roster:
    return roster_from_dict(documents["roster"])


def load_roster_for_routing(documents: Mapping[str, Any]
                            ) -> tuple[Roster, tuple[ValidationError, ...]]:
    """The roster routing uses, and the stored absences it had to skip.

    The people (supervisor, deputies) load as one: with one of them bad, who
    is to be rung is unknown, so the whole roster keeps its last good value.
    Each absence loads on its own, and one that does not (a bad instant or
    reason, someone not on the roster, written by SQL) is skipped and
    reported while the people stay in routing. The choice: a skipped absence
    may ring a person who is on leave, who can pass the call on; dropping the
    roster would leave after-hours callers with nobody to ring at all.
    """
    doc = documents["roster"]
    try:
        return load_roster(documents, datetime.now(UTC)), ()
    except ValidationError:
        if not isinstance(doc, Mapping) or not isinstance(doc.get("absences"), list):
            raise
    people = roster_from_dict({key: value for key, value in doc.items() if key != "absences"})
    kept: list[Absence] = []
    skipped: list[ValidationError] = []
    for i, item in enumerate(doc["absences"]):
        try:
            absence = absence_from_dict(item, path=f"absences[{i}]")
            people.check_absence(absence, f"absences[{i}]")
        except ValidationError as error:
            skipped.append(error)
            continue
        kept.append(absence)
    try:
        roster = Roster(people.supervisor, people.deputies, tuple(kept))
    except ValidationError as error:  # more absences than a roster holds
        return people, (*skipped, error)
    return roster, tuple(skipped)


def load_exception(doc: Mapping[str, Any]) -> DateException:
    """One stored dated exception: each row loads (or is reported) on its own,
    so one bad row never holds back an exception added after it."""
    return exception_from_dict(doc)


def override_in_force(stored: Mapping[str, Any] | None, now: datetime) -> bool:
    """Whether the stored override (:func:`read_override`) decides routing at
    ``now``, as the reload sees it: one that does not load decides nothing."""
    try:
        return load_override({"override": _override_document(stored)}, now) is not None
    except ValidationError:
        return False


@dataclass(frozen=True)
class LoadedConfig:
    """The last value of each document that loaded (or its default)."""

    schedule: Schedule
    #: by the stored date (``"2026-10-01"``)
    exceptions: Mapping[str, DateException]
    override: Override | None
    roster: Roster


@dataclass(frozen=True)
class ConfigProblem:
    """A stored document (or one exception row) that did not load."""

    document: str  # one of CONFIG_DOCUMENTS
    error: ValidationError

    def __str__(self) -> str:
        return str(self.error)  # its field path starts with the document's name


def default_config(settings: Settings) -> LoadedConfig:
    """What routing uses for a document that never loaded: the documented defaults."""
    return LoadedConfig(default_schedule(settings.routing.timezone), {}, None, Roster())


def load_config(documents: Mapping[str, Any], *, now: datetime, last_good: LoadedConfig
                ) -> tuple[LoadedConfig, tuple[ConfigProblem, ...]]:
    """Load every document; one that does not load keeps its ``last_good`` value."""
    problems: list[ConfigProblem] = []

    def attempt(document: str, path: str, load: Callable[[], T], fallback: T) -> T:
        try:
            return load()
        except ValidationError as error:
            problems.append(ConfigProblem(document, error.at(path)))
            return fallback

    schedule = attempt("schedule", "schedule", lambda: load_schedule(documents, now),
                       last_good.schedule)
    exceptions: dict[str, DateException] = {}
    for doc in documents["exceptions"]:
        day = doc["date"]
        loaded = attempt("exceptions", f"exceptions[{day}]",
                         functools.partial(load_exception, doc), last_good.exceptions.get(day))
        if loaded is not None:
            exceptions[day] = loaded
    override = attempt("override", "override", lambda: load_override(documents, now),
                       last_good.override)
    nothing_skipped: tuple[ValidationError, ...] = ()
    roster, skipped = attempt("roster", "roster", lambda: load_roster_for_routing(documents),
                              (last_good.roster, nothing_skipped))
    problems += (ConfigProblem("roster", error.at("roster")) for error in skipped)
    return LoadedConfig(schedule, exceptions, override, roster), tuple(problems)


def build_snapshot(config: LoadedConfig, settings: Settings, *, version: int
                   ) -> RoutingSnapshot:
    statutory = chinese_statutory_source() if settings.routing.use_statutory_calendar else None
    exceptions = sorted(config.exceptions.values(), key=lambda e: e.day)
    calendar = BusinessCalendar(config.schedule, tuple(exceptions), config.override, statutory)
    return RoutingSnapshot(calendar, config.roster, routing_settings(settings), version)


class RoutingState:
    """The current routing snapshot, replaced whole on every reload."""

    def __init__(self, engine: AsyncEngine, settings: Settings) -> None:
        self._engine = engine
        self._settings = settings
        self._version = 0
        self._good = default_config(settings)
        self.snapshot = build_snapshot(self._good, settings, version=0)
        self.loaded_at: datetime | None = None
        #: the stored documents that did not load at the last reload
        self.problems: tuple[ConfigProblem, ...] = ()

    async def reload(self) -> None:
        async with self._engine.connect() as conn:
            documents = await read_documents(conn, self._settings.routing.timezone)
        now = datetime.now(UTC)
        config, problems = load_config(documents, now=now, last_good=self._good)
        snapshot = build_snapshot(config, self._settings, version=self._version + 1)
        self._version += 1
        self._good = config
        self.snapshot = snapshot
        self.loaded_at = now
        self.problems = problems
        CONFIG_RELOADS.inc()  # what shows from outside that a change has been applied
        _report_problems(problems)
        missing = snapshot.calendar.missing_statutory_years(now)
        if missing:
            log.warning("no statutory holiday data for %s: routing uses the weekly schedule "
                        "on those days; enter the year's holidays as dated exceptions",
                        ", ".join(map(str, missing)))
        log.info("routing configuration loaded (version %d)", snapshot.version)

    def readiness(self) -> Readiness:
        """Routing is ready once loaded. A stored document that does not load is
        named here but does not make the daemon unready: routing goes on with
        the last good value, and the API that can replace it stays in service."""
        if self.loaded_at is None:
            return Readiness(False, "not loaded yet")
        detail = f"version {self.snapshot.version} loaded at {self.loaded_at.isoformat()}"
        if self.problems:
            detail += ("; stored documents that do not load (using the last good value or "
                       "the default): " + "; ".join(map(str, self.problems)))
        return Readiness(True, detail)


def _report_problems(problems: tuple[ConfigProblem, ...]) -> None:
    for document in CONFIG_DOCUMENTS:
        CONFIG_INVALID.labels(document).set(sum(p.document == document for p in problems))
    for problem in problems:
        log.error("stored routing configuration does not load, %s; routing keeps its last "
                  "good value (or the default) until it is replaced", problem)


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


async def _check_loads(conn: AsyncConnection,
                       load: Callable[[Mapping[str, Any], datetime], object]) -> None:
    """Load what this transaction stored, read back exactly as ``reload`` reads it.

    The one validation for the API and the running system: a document that
    would not load raises ValidationError here, the transaction rolls back and
    the API answers 422, so nothing the API stores can fail to load.
    """
    load(await read_documents(conn), datetime.now(UTC))


async def save_schedule(conn: AsyncConnection, document: Mapping[str, Any], actor: str) -> None:
    normalised = schedule_to_dict(schedule_from_dict(document))
    stmt = pg_insert(models.schedule).values(id=1, document=normalised, updated_by=actor)
    await conn.execute(stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={"document": normalised, "updated_by": actor, "updated_at": text("now()")}))
    await _check_loads(conn, load_schedule)
    await notify_change(conn, "schedule")


async def save_roster(conn: AsyncConnection, document: Mapping[str, Any], actor: str) -> None:
    roster = roster_from_dict(document)
    people = {key: value for key, value in roster_to_dict(roster).items() if key != "absences"}
    stmt = pg_insert(models.roster).values(id=1, document=people, updated_by=actor)
    await conn.execute(stmt.on_conflict_do_update(
        index_elements=["id"],
        set_={"document": people, "updated_by": actor, "updated_at": text("now()")}))
    await conn.execute(delete(models.absences))
    for absence in roster.absences:
        await conn.execute(insert(models.absences).values(
            person_id=absence.person_id, starts_at=absence.start,
            ends_at=absence.end, reason=absence.reason.value, note=absence.note))
    await _check_loads(conn, load_roster)
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
        await _check_loads(conn, load_override)
    await notify_change(conn, "override")


class ExceptionExists(ValidationError):
    """A dated exception for that date is already stored (the API answers 409)."""


async def add_exception(conn: AsyncConnection, document: Mapping[str, Any],
                        actor: str) -> dict[str, Any]:
    """Validate and store one dated exception; returns it as stored.

    A second exception for the same date is refused (delete the first): with
    the row-level unique key, two admins adding the same date at once cannot
    both succeed either. Rows of other dates are not looked at: one that does
    not load (written by hand) never blocks adding another.
    """
    new = exception_from_dict(document)
    doc = exception_to_dict(new)
    table = models.calendar_exceptions
    stmt = pg_insert(table).values(
        day=new.day, kind=new.kind.value, periods=doc.get("periods", []), note=new.note,
        created_by=actor).on_conflict_do_nothing(index_elements=["day"]).returning(
            *_exception_columns())
    row = (await conn.execute(stmt)).first()
    if row is None:
        exists = exception_exists(new.day)
        raise ExceptionExists(exists.field, exists.reason, exists.example)
    stored = _exception_doc(row)
    load_exception(stored)  # as reload reads it back
    await notify_change(conn, "exceptions")
    return stored


async def delete_exception(conn: AsyncConnection, day: str, actor: str
                           ) -> dict[str, Any] | None:
    """Remove the exception whose stored date reads ``day`` (as ``read_documents``
    shows it, so a row of any year, ``infinity`` included, can be removed);
    returns what was removed, None if none."""
    table = models.calendar_exceptions
    rows = (await conn.execute(delete(table).where(_date_text(table.c.day) == day)
                               .returning(*_exception_columns()))).all()
    if not rows:
        return None
    log.info("exception for %s deleted by %s", day, actor)
    await notify_change(conn, "exceptions")
    return _exception_doc(rows[0])


async def business_calendar(conn: AsyncConnection, settings: Settings,
                            now: datetime) -> BusinessCalendar:
    """The business calendar routing uses, read from the stored documents (a
    stored document that does not load is skipped, as routing skips it): for the
    deadlines and statistics computed outside the daemon's routing state."""
    documents = await read_documents(conn, settings.routing.timezone)
    config, _problems = load_config(documents, now=now, last_good=default_config(settings))
    return build_snapshot(config, settings, version=0).calendar
