"""``hotline-pbx install-systemd``: the systemd unit, written for this install.

The unit runs the daemon as its own user (never root: ``User=``, and
``NoNewPrivileges``), with the file system read-only but for its state
directory (``ProtectSystem=strict``, ``StateDirectory=``), a private /tmp, no
home directories, no new capabilities; ``LimitNOFILE`` is what the settings
need (:func:`hotline_pbx.fdlimit.open_files_needed`: ``agi.max_sessions`` +
``http.max_connections`` + the pool, with headroom); it restarts on failure
and ``systemctl reload`` sends SIGHUP (:meth:`hotline_pbx.app.Daemon.reload`).
``tests/unit/test_systemd_unit.py`` runs ``systemd-analyze verify`` on it.
docs/operations.md says how to install and run it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import Any

from hotline_pbx.config import ConfigError, Settings, load_settings
from hotline_pbx.fdlimit import open_files_needed

UNIT_NAME = "hotline-pbx.service"
DEFAULT_UNIT_DIR = "/etc/systemd/system"
DEFAULT_USER = "hotline-pbx"
STATE_DIR = "/var/lib/hotline-pbx"  # StateDirectory=hotline-pbx
EXIT_OK, EXIT_FAILURE, EXIT_USAGE = 0, 1, 2

_UNIT = """\
# hotline-pbx: written by `hotline-pbx install-systemd` (docs/operations.md).
[Unit]
Description=hotline-pbx: routing, records and supervision of the 400 hotline
After=network-online.target postgresql.service
Wants=network-online.target

[Service]
Type=exec
User={user}
Group={user}
ExecStart={exec} --config {config} run
# SIGHUP: routing reloaded from the database now; the config file re-read and
# any setting that changed named in the log (it applies at the next restart).
ExecReload=/bin/kill -HUP $MAINPID
# SIGTERM drains the FastAGI sessions in flight (daemon.drain_seconds), then stops.
KillSignal=SIGTERM
TimeoutStopSec={stop_timeout}
Restart=on-failure
RestartSec=2
# agi.max_sessions + http.max_connections + the database pool + fixed ({needed}), doubled.
LimitNOFILE={nofile}
Environment=HOTLINE_DAEMON_DATA_DIR={state}
# The AMI, ARI and database secrets: KEY=value lines, mode 0600, owned by root.
EnvironmentFile=-/etc/hotline-pbx/secrets.env
StateDirectory=hotline-pbx
StateDirectoryMode=0750
WorkingDirectory={state}
UMask=0027
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
RestrictSUIDSGID=yes
RestrictRealtime=yes
RestrictNamespaces=yes
LockPersonality=yes
RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX
CapabilityBoundingSet=
AmbientCapabilities=
SystemCallArchitectures=native

[Install]
WantedBy=multi-user.target
"""


def render_unit(settings: Settings, *, executable: str, config: str,
                user: str = DEFAULT_USER) -> str:
    needed = open_files_needed(settings)
    return _UNIT.format(
        user=user, exec=executable, config=config, needed=needed,
        nofile=max(4096, 2 * needed), state=STATE_DIR,
        stop_timeout=int(settings.daemon.drain_seconds) + 30)


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    parser = sub.add_parser("install-systemd", parents=[common],
                            help="write the systemd unit for this install (or --print it)")
    parser.add_argument("--unit-dir", default=DEFAULT_UNIT_DIR,
                        help=f"where to write {UNIT_NAME} (default {DEFAULT_UNIT_DIR})")
    parser.add_argument("--user", default=DEFAULT_USER,
                        help=f"the daemon's user (default {DEFAULT_USER}); never root")
    parser.add_argument("--print", action="store_true", dest="print_only",
                        help="print the unit instead of writing it")


def run_install(args: argparse.Namespace, config: str | None) -> int:
    if args.user in ("root", "0", ""):
        print("hotline-pbx install-systemd: the daemon never runs as root; give --user")
        return EXIT_USAGE
    if config is None:
        print("hotline-pbx install-systemd: give --config FILE: the unit runs the daemon "
              "with it (e.g. /etc/hotline-pbx/hotline.toml)")
        return EXIT_USAGE
    # The unit carries no secret (the daemon reads them from secrets.env when it
    # starts): the file is checked with a stand-in AMI secret if none is set here.
    environ = {**os.environ}
    if not (environ.get("HOTLINE_AMI_SECRET") or environ.get("HOTLINE_AMI_SECRET_FILE")):
        environ["HOTLINE_AMI_SECRET"] = "set-in-secrets.env"
    try:
        settings = load_settings(config, environ)
    except ConfigError as exc:
        print(f"hotline-pbx install-systemd: configuration error: {exc}")
        return EXIT_FAILURE
    executable = shutil.which("hotline-pbx") or str(Path(sys.argv[0]).resolve())
    unit = render_unit(settings, executable=executable,
                       config=str(Path(config).resolve()), user=args.user)
    if args.print_only:
        print(unit, end="")
        return EXIT_OK
    target = Path(args.unit_dir) / UNIT_NAME
    try:
        target.write_text(unit)
    except OSError as exc:
        print(f"hotline-pbx install-systemd: cannot write {target}: {exc.strerror}")
        return EXIT_FAILURE
    print(f"wrote {target}; now: systemctl daemon-reload && systemctl enable --now "
          f"{UNIT_NAME}")
    return EXIT_OK
