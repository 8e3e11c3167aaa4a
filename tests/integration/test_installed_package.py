"""Issue #10 item 6: the README's "``pip install .`` then ``hotline-pbx migrate``"
works from a real, non-editable install, away from the checkout.

The checkout (its working tree, as it is now) is copied, built into a wheel the
way ``pip install .`` builds it, and installed into a fresh venv that borrows
only the *dependencies* from the running venv (a ``.pth`` line: ``.pth`` files
inside that directory, such as the editable install's, are not processed).
That install then migrates a fresh database and finds its shipped files.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import asyncpg
import pytest

from hotline_pbx.resources import SHIPPED
from hotline_pbx.store.migrate import head_revision
from tests.conftest import CHECKOUT

# What a build does not read, and what a previous local build may have left.
NOT_BUILT_FROM = shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info",
                                        "__pycache__", ".*_cache", ".hypothesis")


def run(argv: list[str | Path], timeout: float = 120, **options: object
        ) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True,
                            timeout=timeout, check=False, **options)  # type: ignore[call-overload]
    assert result.returncode == 0, f"{argv}:\n{result.stdout}\n{result.stderr}"
    return result  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with hotline-pbx installed from a wheel of the checkout."""
    work = tmp_path_factory.mktemp("installed")
    source = work / "source"
    shutil.copytree(CHECKOUT, source, ignore=NOT_BUILT_FROM)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir",
         work / "wheels", source])
    (wheel,) = (work / "wheels").glob("hotline_pbx-*.whl")
    venv = work / "venv"
    run([sys.executable, "-m", "venv", "--without-pip", venv])
    python = venv / "bin" / "python"
    site = Path(run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]
                    ).stdout.strip())
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
         "--quiet", wheel])
    shutil.rmtree(source)  # nothing of the checkout's copy may be what makes it work
    return venv


def installed_env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("HOTLINE_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, **values}


async def _alembic_version(dsn: str) -> list[str]:
    conn = await asyncpg.connect(dsn, timeout=5)
    try:
        return [row[0] for row in await conn.fetch("SELECT version_num FROM alembic_version")]
    finally:
        await conn.close()


def test_the_install_is_not_the_checkout(installed: Path) -> None:
    """The other tests mean something: the venv imports the installed copy."""
    where = run([installed / "bin" / "python", "-c",
                 "import hotline_pbx, hotline_pbx.resources as r; "
                 "print(hotline_pbx.__file__); print(r.checkout_root())"],
                cwd=installed, env=installed_env()).stdout.split()
    assert Path(where[0]).is_relative_to(installed), where
    assert where[1] == "None"


def test_installed_migrate_brings_an_empty_database_to_head(
        installed: Path, empty_database: str, tmp_path: Path) -> None:
    head = head_revision()
    assert head is not None
    env = installed_env(HOTLINE_DATABASE_DSN=empty_database, HOTLINE_AMI_ENABLED="false",
                        HOTLINE_DAEMON_DATA_DIR=str(tmp_path / "data"))
    first = run([installed / "bin" / "hotline-pbx", "migrate"], cwd=tmp_path, env=env)
    assert f"schema migrated empty → {head}" in first.stdout
    assert asyncio.run(_alembic_version(empty_database)) == [head]
    again = run([installed / "bin" / "hotline-pbx", "migrate"], cwd=tmp_path, env=env)
    assert f"schema already at {head}, nothing to do" in again.stdout


def test_installed_package_carries_the_shipped_files(installed: Path) -> None:
    """asterisk-conf/ and dialplan/ (and migrations/) come with the install, the same
    files as the checkout's; the sandbox's stand-ins do not, and it says so in a line."""
    probe = (
        "import json, hotline_pbx.resources as r\n"
        "from hotline_pbx.sandbox.pbx import SandboxError, config_sources\n"
        "found = {n: {str(p.relative_to(r.shipped_dir(n))): p.read_text()\n"
        "             for p in r.shipped_dir(n).rglob('*')\n"
        "             if p.is_file() and '__pycache__' not in p.parts} for n in r.SHIPPED}\n"
        "try:\n"
        "    config_sources()\n"
        "    error = None\n"
        "except SandboxError as exc:\n"
        "    error = str(exc)\n"
        "print(json.dumps({'found': found, 'sandbox': error}))\n"
    )
    report = json.loads(run([installed / "bin" / "python", "-c", probe], cwd=installed,
                            env=installed_env()).stdout)
    assert set(report["found"]) == set(SHIPPED)
    for name in SHIPPED:
        checkout = {str(p.relative_to(CHECKOUT / name)): p.read_text()
                    for p in (CHECKOUT / name).rglob("*")
                    if p.is_file() and "__pycache__" not in p.parts}
        assert checkout, name
        assert report["found"][name] == checkout, name
    assert {"manager.conf", "pjsip.conf"} <= set(report["found"]["asterisk-conf"])
    assert "extensions_hotline.conf" in report["found"]["dialplan"]
    assert report["sandbox"] is not None and "\n" not in report["sandbox"]
    assert "needs a checkout of hotline-pbx" in report["sandbox"]
