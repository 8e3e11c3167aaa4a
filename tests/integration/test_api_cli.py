"""``hotline-pbx token …`` and ``hotline-pbx purge`` as an operator runs them,
against the run's real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select

from hotline_pbx.api.auth import hash_token
from hotline_pbx.config import DatabaseSettings, Secret
from hotline_pbx.store import models
from hotline_pbx.store.database import open_database
from tests.conftest import truncate_all
from tests.integration.complaint_rows import complaint_row
from tests.integration.test_schemathesis import cli, daemon_env


def query(dsn: str, statement: object) -> list[tuple[object, ...]]:
    async def run() -> list[tuple[object, ...]]:
        db = await open_database(DatabaseSettings(dsn=Secret(dsn)), Path.cwd())
        try:
            async with db.engine.begin() as conn:
                result = await conn.execute(statement)  # type: ignore[call-overload]
                return [tuple(row) for row in result] if result.returns_rows else []
        finally:
            await db.close()

    return asyncio.run(run())


def test_token_create_list_revoke(pg_dsn: str, tmp_path: Path) -> None:
    truncate_all(pg_dsn)
    env = daemon_env(pg_dsn, tmp_path)
    made = cli(env, "token", "create", "--name", "alice", "--role", "supervisor")
    assert made.returncode == 0, made.stderr
    token = made.stdout.strip()
    assert token.startswith("hpx_") and "\n" not in token
    assert "shown only this once" in made.stderr
    stored = query(pg_dsn, select(models.api_tokens.c.name, models.api_tokens.c.role,
                                  models.api_tokens.c.token_hash))
    assert stored == [("alice", "supervisor", hash_token(token))]  # never the token itself
    again = cli(env, "token", "create", "--name", "alice", "--role", "admin")
    assert again.returncode == 1 and "already exists" in again.stderr
    bad = cli(env, "token", "create", "--name", "al ice", "--role", "admin")
    assert bad.returncode == 1 and "not a valid token name" in bad.stderr
    assert cli(env, "token", "create", "--name", "x", "--role", "root").returncode == 2
    listing = cli(env, "token", "list")
    assert listing.returncode == 0 and "alice" in listing.stdout and "active" in listing.stdout
    assert token not in listing.stdout and hash_token(token) not in listing.stdout
    revoked = cli(env, "token", "revoke", "alice")
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    assert cli(env, "token", "revoke", "alice").returncode == 1
    # the name is free again for a rotated token
    assert cli(env, "token", "create", "--name", "alice", "--role", "viewer").returncode == 0
    assert "revoked" in cli(env, "token", "list").stdout
    actions = query(pg_dsn, select(models.audit_log.c.actor, models.audit_log.c.action)
                    .order_by(models.audit_log.c.id))
    assert actions == [("cli", "token.create"), ("cli", "token.revoke"),
                       ("cli", "token.create")]


def test_purge_deletes_what_is_past_retention_and_says_how_many(
        pg_dsn: str, tmp_path: Path) -> None:
    truncate_all(pg_dsn)
    now = datetime.now(UTC)
    old, recent = now - timedelta(days=800), now - timedelta(days=10)
    calls = query(pg_dsn, insert(models.calls).returning(models.calls.c.id).values([
        {"call_key": key, "started_at": when, "period": "open", "outcome": "answered"}
        for key, when in (("old1", old), ("old2", old), ("new", recent))]))
    query(pg_dsn, insert(models.call_notes).values([
        {"call_id": calls[0][0], "author": "a", "body": "x"},
        {"call_id": calls[0][0], "author": "a", "body": "y"},
        {"call_id": calls[2][0], "author": "a", "body": "z"}]))
    query(pg_dsn, insert(models.line_faults).values([
        {"cause": "no_answer", "started_at": old, "ended_at": old + timedelta(hours=1)},
        {"cause": "still_down", "started_at": old, "ended_at": None}]))
    query(pg_dsn, insert(models.blocked_outbound).values([
        {"event_key": "b1", "occurred_at": old, "method": "dial", "action": "hung_up"}]))
    query(pg_dsn, insert(models.audit_log).values([
        {"at": old, "actor": "token:x", "action": "calls.list"}]))
    # Customers' numbers in outbound work: settled tasks and finished jobs go, open
    # and active ones stay whatever their age.
    query(pg_dsn, insert(models.callbacks).values([
        {"task_key": key, "caller": "13800000001", "reason": "missed", "created_at": old,
         "due_at": old, "state": state} for key, state in (("t1", "done"), ("t2", "open"))]))
    jobs = query(pg_dsn, insert(models.dialer_jobs).returning(models.dialer_jobs.c.id).values([
        {"job_key": key, "job_type": "emergency", "dialog": "confirm", "created_at": old,
         "state": state} for key, state in (("j1", "done"), ("j2", "active"))]))
    query(pg_dsn, insert(models.dialer_targets).values([
        {"job_id": jobs[0][0], "line_no": 1, "phone": "13800000002"}]))
    # Complaints (issue 13): archived ones go with their events, open ones stay.
    query(pg_dsn, insert(models.complaints).values([complaint_row(
        old, state=state, archived_at=old if state == "archived" else None)
        for state in ("archived", "assigned")]))
    query(pg_dsn, insert(models.complaint_digests).values([
        {"day": old.date(), "generated_at": old}]))
    env = daemon_env(pg_dsn, tmp_path)
    dry = cli(env, "purge", "--dry-run")  # retention.days = 730 by default
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.startswith("would delete 2 calls (2 notes), 1 blocked outbound "
                                 "attempts, 1 ended line faults, 1 settled callback tasks, "
                                 "1 finished dialer jobs, 1 archived complaints, "
                                 "1 complaint digests and 1 audit entries")
    assert query(pg_dsn, select(func.count()).select_from(models.calls)) == [(3,)]
    done = cli({**env, "HOTLINE_RETENTION_DAYS": "365"}, "purge")
    assert done.returncode == 0 and done.stdout.startswith("deleted 2 calls (2 notes)")
    assert "older than 365 days" in done.stdout
    assert query(pg_dsn, select(models.calls.c.call_key)) == [("new",)]
    assert query(pg_dsn, select(func.count()).select_from(models.call_notes)) == [(1,)]
    assert query(pg_dsn, select(models.line_faults.c.cause)) == [("still_down",)]
    assert query(pg_dsn, select(models.callbacks.c.task_key)) == [("t2",)]
    assert query(pg_dsn, select(models.dialer_jobs.c.job_key)) == [("j2",)]
    assert query(pg_dsn, select(models.complaints.c.state)) == [("assigned",)]
    assert query(pg_dsn, select(func.count()).select_from(models.dialer_targets)) == [(0,)]
    audit = query(pg_dsn, select(models.audit_log.c.action, models.audit_log.c.after))
    assert audit == [("purge", {"days": 365, "call_notes": 2, "calls": 2,
                                "blocked_outbound": 1, "line_faults": 1, "callbacks": 1,
                                "dialer_jobs": 1, "complaints": 1,
                                "complaint_digests": 1, "audit_log": 1})]
    again = cli(env, "purge", "--older-than", "365")
    assert again.stdout.startswith("deleted 0 calls (0 notes)")
    bad = cli(env, "purge", "--older-than", "0")
    assert bad.returncode == 1 and "--older-than" in bad.stderr
