"""Issue #9 item 3: the README's test command must pass from a checkout in any
directory the invoking user owns, e.g. a ``mktemp -d`` clone (0700) or one under
``/root``: there, the daemon user cannot reach anything in the checkout.

Each test runs a process of the daemon user's with the checkout hidden from it:
an empty, unreadable tmpfs mounted over the checkout in a private mount
namespace (no mode on this machine changes). Whatever still runs needs nothing
from where the checkout lives.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from hotline_pbx.sandbox.pbx import free_port
from hotline_pbx.sandbox.unprivileged import DaemonHome, daemon_account
from tests.conftest import CHECKOUT
from tests.integration.test_daemon_lifecycle import wait_http
from tests.private_postgres import _bin_dir

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mount namespaces need root")


def checkout_hidden(command: list[str]) -> list[str]:
    """``command`` as the daemon user, with the checkout hidden from it."""
    account = daemon_account()
    hide_then_run = ('mount -t tmpfs -o size=1m,mode=000 hidden "$0" && exec setpriv '
                     f'--reuid={account.pw_uid} --regid={account.pw_gid} --clear-groups -- "$@"')
    return ["unshare", "--mount", "--propagation", "private", "--",
            "sh", "-c", hide_then_run, str(CHECKOUT), *command]


def test_the_hiding_hides_the_checkout() -> None:
    """The other tests mean something: the daemon user really cannot see the checkout."""
    result = subprocess.run(checkout_hidden(["ls", str(CHECKOUT / "pyproject.toml")]),
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode != 0 and "Permission denied" in result.stderr


@pytest.mark.parametrize("tool", ["initdb", "pg_ctl", "postgres", "createdb"])
def test_the_tests_postgresql_binaries_run_without_the_checkout(tool: str) -> None:
    result = subprocess.run(checkout_hidden([str(_bin_dir() / tool), "--version"]),
                            capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    assert "PostgreSQL" in result.stdout


def test_the_daemon_runs_on_embedded_postgres_without_the_checkout(
        home: DaemonHome, tmp_path: Path) -> None:
    http_port = free_port()
    env = home.environment({
        **{k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")},
        "HOTLINE_AMI_ENABLED": "false", "HOTLINE_AGI_PORT": str(free_port()),
        "HOTLINE_HTTP_PORT": str(http_port)})
    with (tmp_path / "daemon.log").open("wb") as log:
        process = subprocess.Popen(checkout_hidden(home.cli("run")), env=env, cwd=home.path,
                                   stdout=log, stderr=subprocess.STDOUT)
    try:
        ready = wait_http(http_port, "/readyz", process, timeout=120)
    finally:
        process.terminate()  # SIGTERM reaches the daemon: sh and setpriv exec'd it
        code = process.wait(30)
    assert b"embedded PostgreSQL in" in ready, ready
    assert code == 0, (tmp_path / "daemon.log").read_text()

