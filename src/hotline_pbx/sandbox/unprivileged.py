"""The daemon user: how the tests and the demo, which run as root, run the
product's processes without root.

The daemon never runs as root (DESIGN.md); the Asterisk sandbox needs root
(chroot, mount). So, under root, the daemon, its CLI and the tests' own
PostgreSQL servers run as :data:`DAEMON_USER`, which ``scripts/setup.sh``
creates. That user can reach neither a checkout in a private directory (a
``mktemp -d`` clone, anything under ``/root``) nor the checkout's venv (its
Python may live under root's home), so it runs the *runtime venv* that
``scripts/setup.sh`` builds from ``/usr/bin/python3`` under
``/var/cache/hotline-pbx`` (the product's dependencies only), on a copy of
this package made in a temporary directory the user owns. Not root, it is all
the invoking user's: the same layout, this interpreter, no change of user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import weakref
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import hotline_pbx
from hotline_pbx.resources import PACKAGE_DATA, SHIPPED, shipped_dir

DAEMON_USER = "hotline-pbx"  # scripts/setup.sh creates it under this name
# scripts/setup.sh writes the runtime venv's path into this file of the checkout's venv.
RUNTIME_MARKER = "hotline-runtime"


class NotSetUp(RuntimeError):
    """What scripts/setup.sh provides is missing; the message says so."""


def as_root() -> bool:
    return os.geteuid() == 0


def daemon_account() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(DAEMON_USER)
    except KeyError:
        raise NotSetUp(f"no user {DAEMON_USER!r}: run scripts/setup.sh as root first") from None


def runtime_venv() -> Path:
    """The venv the daemon user can run (as root), else the one running us."""
    if not as_root():
        return Path(sys.prefix)
    marker = Path(sys.prefix) / RUNTIME_MARKER
    try:
        return Path(marker.read_text().strip())
    except FileNotFoundError:
        raise NotSetUp(f"{marker} is missing: run scripts/setup.sh as root first") from None


def runtime_python() -> Path:
    return runtime_venv() / "bin" / "python" if as_root() else Path(sys.executable)


def user_options() -> dict[str, Any]:
    """subprocess options that run the child as the daemon user (none unless root)."""
    if not as_root():
        return {}
    account = daemon_account()
    return {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}


def give_to_daemon_user(path: Path) -> None:
    """chown -R to the daemon user (as root; otherwise it is ours already)."""
    if not as_root():
        return
    account = daemon_account()
    for directory, _, files in os.walk(path):
        for name in (directory, *(os.path.join(directory, f) for f in files)):
            os.chown(name, account.pw_uid, account.pw_gid, follow_symlinks=False)


class DaemonHome:
    """A temporary directory of the daemon user's: ``src/`` (a copy of this
    package laid out as an install has it, its shipped files in ``_data/``:
    see :mod:`hotline_pbx.resources`), ``data/`` (``daemon.data_dir``),
    ``home/`` (``$HOME``) and ``run/`` (``$XDG_RUNTIME_DIR``).

    Removed by :meth:`remove`, or at the latest when the object is collected
    or the interpreter exits.
    """

    def __init__(self, prefix: str = "hotline-daemon-") -> None:
        self.path = Path(tempfile.mkdtemp(prefix=prefix))
        self._finalizer = weakref.finalize(self, shutil.rmtree, self.path, ignore_errors=True)
        package = Path(hotline_pbx.__file__).parent
        copy = self.path / "src" / package.name
        shutil.copytree(package, copy, ignore=shutil.ignore_patterns("__pycache__", PACKAGE_DATA))
        # Whether we run from a checkout or an install, the copy has its shipped
        # files (migrations above all) where an installed package keeps them.
        for name in SHIPPED:
            shutil.copytree(shipped_dir(name), copy / PACKAGE_DATA / name,
                            ignore=shutil.ignore_patterns("__pycache__"))
        for name in ("data", "home", "run"):
            (self.path / name).mkdir(mode=0o700)
        give_to_daemon_user(self.path)

    @property
    def data_dir(self) -> Path:
        return self.path / "data"

    def environment(self, env: Mapping[str, str]) -> dict[str, str]:
        """``env`` for a process of the daemon user running the copied package."""
        return {**env, "PYTHONPATH": str(self.path / "src"), "HOME": str(self.path / "home"),
                "XDG_RUNTIME_DIR": str(self.path / "run"),
                "HOTLINE_DAEMON_DATA_DIR": str(self.data_dir)}

    def cli(self, *args: str) -> list[str]:
        """The argv of ``hotline-pbx ARGS`` on the runtime venv."""
        return [str(runtime_python()), "-m", "hotline_pbx.cli", *args]

    def popen(self, args: list[str], env: Mapping[str, str],
              **options: Any) -> subprocess.Popen[bytes]:
        return subprocess.Popen(self.cli(*args), env=self.environment(env), cwd=self.path,
                                **user_options(), **options)

    def run(self, args: list[str], env: Mapping[str, str],
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.cli(*args), env=self.environment(env), cwd=self.path,
                              capture_output=True, text=True, timeout=timeout, check=False,
                              **user_options())

    def remove(self) -> None:
        self._finalizer()
