"""``hotline-pbx token create|list|revoke`` and ``hotline-pbx purge``.

Run on the daemon's host with its configuration: they open the same
database. Each change is written to the audit log with actor ``cli``. A new
token is printed once, alone on stdout (so ``TOKEN=$(hotline-pbx token create
…)`` works), and is never stored or logged: only its SHA-256 is kept.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from hotline_pbx.api.auth import ROLE_NAMES, hash_token, new_token
from hotline_pbx.config import Settings
from hotline_pbx.store import api_repo
from hotline_pbx.store.database import DatabaseUnavailable, open_database
from hotline_pbx.store.migrate import current_revision, head_revision, migrate


class AdminCommandFailed(RuntimeError):
    """The command could not be done; the message says why (exit status 1)."""


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser],
                common: argparse.ArgumentParser) -> None:
    token = sub.add_parser("token", parents=[common], help="create, list or revoke API tokens")
    actions = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = actions.add_parser("create", parents=[common],
                                help="create a token and print it once")
    create.add_argument("--name", required=True, help="who or what uses it, e.g. alice")
    create.add_argument("--role", required=True, choices=ROLE_NAMES)
    actions.add_parser("list", parents=[common], help="list tokens (never the tokens)")
    revoke = actions.add_parser("revoke", parents=[common], help="revoke a token at once")
    revoke.add_argument("name", metavar="NAME|ID")
    purge = sub.add_parser("purge", parents=[common],
                           help="delete records older than the retention period")
    purge.add_argument("--older-than", type=int, metavar="DAYS", default=None,
                       help="days to keep (default: retention.days)")
    purge.add_argument("--dry-run", action="store_true", help="only count what would go")


@asynccontextmanager
async def _transaction(settings: Settings) -> AsyncIterator[AsyncConnection]:
    try:
        db = await open_database(settings.database, settings.data_dir)
    except DatabaseUnavailable as exc:
        raise AdminCommandFailed(str(exc)) from None
    try:
        if db.embedded is not None:
            await migrate(db)
        elif await current_revision(db) != head_revision():
            raise AdminCommandFailed(f"the schema of {db.description} is not current; "
                                     "run `hotline-pbx migrate` first")
        async with db.engine.begin() as conn:
            yield conn
    finally:
        await db.close()


async def run_admin_command(settings: Settings, args: argparse.Namespace) -> int:
    if args.command == "purge":
        days = settings.retention.days if args.older_than is None else args.older_than
        return await purge_command(settings, days, dry_run=args.dry_run)
    if args.token_command == "create":
        return await token_create(settings, args.name, args.role)
    if args.token_command == "list":
        return await token_list(settings)
    return await token_revoke(settings, args.name)


async def token_create(settings: Settings, name: str, role: str) -> int:
    token = new_token()
    async with _transaction(settings) as conn:
        try:
            token_id = await api_repo.create_token(conn, name, role, hash_token(token))
        except api_repo.TokenError as exc:
            raise AdminCommandFailed(str(exc)) from None
        await api_repo.record_audit(conn, actor="cli", action="token.create",
                                    target=f"token:{name}", after={"id": token_id,
                                                                   "role": role})
    print(token)
    print(f"created token {token_id} {name!r} ({role}); it is shown only this once - "
          "store it now", file=sys.stderr)
    return 0


async def token_list(settings: Settings) -> int:
    async with _transaction(settings) as conn:
        rows = await api_repo.list_tokens(conn)
    print(f"{'ID':>4}  {'NAME':<24} {'ROLE':<10} {'CREATED':<20} {'LAST USED':<20} STATUS")
    for row in rows:
        status = "active" if row.revoked_at is None else f"revoked {_when(row.revoked_at)}"
        print(f"{row.id:>4}  {row.name:<24} {row.role:<10} {_when(row.created_at):<20} "
              f"{_when(row.last_used_at):<20} {status}")
    return 0


async def token_revoke(settings: Settings, name: str) -> int:
    async with _transaction(settings) as conn:
        row = await api_repo.revoke_token(conn, name)
        if row is None:
            raise AdminCommandFailed(f"no active token named {name!r}; "
                                     "`hotline-pbx token list` shows them")
        await api_repo.record_audit(conn, actor="cli", action="token.revoke",
                                    target=f"token:{row.name}", before={"id": row.id,
                                                                        "role": row.role})
    print(f"revoked token {row.id} {row.name!r} ({row.role}); it is refused from now on")
    return 0


async def purge_command(settings: Settings, days: int, *, dry_run: bool = False) -> int:
    if not 1 <= days <= 36500:
        raise AdminCommandFailed(f"--older-than must be 1 to 36500 days, not {days}")
    cutoff = datetime.now(UTC) - timedelta(days=days)
    async with _transaction(settings) as conn:
        counts = await api_repo.purge(conn, cutoff, dry_run=dry_run)
        if not dry_run:
            await api_repo.record_audit(conn, actor="cli", action="purge",
                                        target=f"older than {cutoff.isoformat()}",
                                        after={"days": days, **counts})
    verb = "would delete" if dry_run else "deleted"
    print(f"{verb} {counts['calls']} calls ({counts['call_notes']} notes), "
          f"{counts['blocked_outbound']} blocked outbound attempts, "
          f"{counts['line_faults']} ended line faults, {counts['callbacks']} settled callback "
          f"tasks, {counts['dialer_jobs']} finished dialer jobs, {counts['complaints']} "
          f"archived complaints, {counts['complaint_digests']} complaint digests and "
          f"{counts['audit_log']} "
          "audit entries "
          f"older than {days} days (before {cutoff.isoformat(timespec='seconds')})")
    return 0


def _when(value: datetime | None) -> str:
    return "-" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
