"""The ``hotline-pbx`` command line.

Exit status: 0 success, 1 runtime failure (PostgreSQL unreachable, a port in
use…), 2 bad configuration or usage (``run`` as root without ``daemon.user``
included: see :mod:`hotline_pbx.privileges`). Every failure is one line a
person can act on; tracebacks only with ``--debug``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable, Sequence

from hotline_pbx import __version__
from hotline_pbx.config import ConfigError, Settings, load_settings, redacted
from hotline_pbx.logs import setup_logging
from hotline_pbx.privileges import leave_root

log = logging.getLogger("hotline_pbx")

EXIT_OK, EXIT_FAILURE, EXIT_CONFIG = 0, 1, 2


class CommandFailed(RuntimeError):
    """A command could not do its job; the message says why (exit status 1)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hotline-pbx",
        description="Routing, call records and supervision for a 400 hotline on Asterisk.")
    parser.add_argument("--config", help="TOML configuration file (or HOTLINE_CONFIG)")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    parser.add_argument("--version", action="version", version=f"hotline-pbx {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # --config is accepted after the command too (`hotline-pbx run --config F`).
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub.add_parser("run", parents=[common],
                   help="run the daemon (FastAGI, AMI, REST API, metrics)")
    sub.add_parser("migrate", parents=[common],
                   help="create or upgrade the database schema (idempotent)")
    sub.add_parser("check-config", parents=[common],
                   help="validate and print the effective configuration")
    from hotline_pbx.api.commands import add_parsers

    add_parsers(sub, common)  # token create|list|revoke, purge
    from hotline_pbx.report import add_parser as add_report_parser

    add_report_parser(sub, common)  # report --from --to --period
    # -- staffing advisor (issue 15) --
    from hotline_pbx.staffing_report import add_parser as add_staffing_parser

    add_staffing_parser(sub, common)  # staffing --weeks
    # -- end staffing advisor --
    from hotline_pbx.systemd_unit import add_parser as add_systemd_parser

    add_systemd_parser(sub, common)  # install-systemd
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "install-systemd":  # runs as root; needs no secret (see there)
        from hotline_pbx.systemd_unit import run_install

        return run_install(args, getattr(args, "config", None))
    try:
        settings = load_settings(args.config)
        if args.command != "check-config":  # before any command opens a file or a socket
            leave_root(settings.daemon.user, required=args.command == "run")
    except ConfigError as exc:
        print(f"hotline-pbx: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    daemon = settings.daemon
    setup_logging(daemon.log_format, "debug" if args.debug else daemon.log_level,
                  log_numbers=daemon.log_numbers)
    try:
        if args.command == "check-config":
            return check_config(settings)

        if args.command == "migrate":
            return asyncio.run(migrate_command(settings))
        if args.command == "run":
            return run_command(settings)
        if args.command in ("token", "purge"):
            return admin_command(settings, args)
        if args.command == "report":
            from hotline_pbx.report import run_report

            return asyncio.run(run_report(settings, args))
        # -- staffing advisor (issue 15) --
        if args.command == "staffing":
            from hotline_pbx.staffing_report import run_staffing

            return asyncio.run(run_staffing(settings, args))
        # -- end staffing advisor --
    except CommandFailed as exc:
        print(f"hotline-pbx: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except Exception as exc:
        if args.debug:
            raise
        print(f"hotline-pbx: {args.command} failed: {exc} (--debug shows where)", file=sys.stderr)
        return EXIT_FAILURE
    parser.error(f"unknown command {args.command}")  # pragma: no cover - argparse checked it
    return EXIT_CONFIG  # pragma: no cover


def check_config(settings: Settings) -> int:
    print(json.dumps({"source": settings.source, **redacted(settings)}, indent=2))
    return EXIT_OK


async def migrate_command(settings: Settings) -> int:
    from hotline_pbx.store.database import DatabaseUnavailable, open_database
    from hotline_pbx.store.migrate import SchemaFromNewerVersion, migrate

    try:
        db = await open_database(settings.database, settings.data_dir)
    except DatabaseUnavailable as exc:
        raise CommandFailed(str(exc)) from None
    try:
        before, after = await migrate(db)
    except SchemaFromNewerVersion as exc:
        raise CommandFailed(str(exc)) from None
    finally:
        await db.close()
    if before == after:
        print(f"{db.description}: schema already at {after}, nothing to do")
    else:
        print(f"{db.description}: schema migrated {before or 'empty'} → {after}")
    return EXIT_OK


def admin_command(settings: Settings, args: argparse.Namespace) -> int:
    from hotline_pbx.api.commands import AdminCommandFailed, run_admin_command

    try:
        return asyncio.run(run_admin_command(settings, args))
    except AdminCommandFailed as exc:
        raise CommandFailed(str(exc)) from None


def event_loop_factory(name: str) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """``daemon.event_loop``: None for asyncio's own loop, or uvloop's (checked
    installed when the settings loaded)."""
    if name == "uvloop":
        import uvloop

        return uvloop.new_event_loop
    return None


def run_command(settings: Settings) -> int:
    from hotline_pbx.app import StartupError, run_daemon

    try:
        with asyncio.Runner(loop_factory=event_loop_factory(settings.daemon.event_loop)) as runner:
            runner.run(run_daemon(settings))
    except StartupError as exc:
        raise CommandFailed(f"not started: {exc}") from None
    except ConfigError as exc:  # found only once the PBX answers, e.g. a trunk it lacks
        print(f"hotline-pbx: configuration error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
