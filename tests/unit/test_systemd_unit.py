"""The systemd unit `hotline-pbx install-systemd` writes: systemd itself accepts it
(`systemd-analyze verify`, no warning), it never runs the daemon as root, it is
hardened, and its open-files limit covers what the settings need."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hotline_pbx.cli import main
from hotline_pbx.config import load_settings
from hotline_pbx.fdlimit import open_files_needed
from hotline_pbx.systemd_unit import UNIT_NAME, render_unit

SETTINGS = load_settings(None, {"HOTLINE_AMI_SECRET": "x", "HOTLINE_AGI_MAX_SESSIONS": "5000"})
EXECUTABLE = str(Path(sys.executable).with_name("hotline-pbx"))


def directives(unit: str) -> dict[str, str]:
    found = {}
    for line in unit.splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            found[key] = value
    return found


def test_systemd_verifies_the_unit_without_a_warning(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze is not None, "systemd-analyze (systemd) is installed by scripts/setup.sh"
    unit = tmp_path / UNIT_NAME
    unit.write_text(render_unit(SETTINGS, executable=EXECUTABLE, config="/etc/hotline.toml"))
    done = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert UNIT_NAME not in done.stdout + done.stderr, done.stdout + done.stderr
    # and it can fail: a directive systemd does not know is reported
    broken = tmp_path / "broken.service"
    broken.write_text(unit.read_text().replace("ProtectSystem=strict", "ProtectSystem=bogus"))
    done = subprocess.run([analyze, "verify", str(broken)], capture_output=True, text=True,
                          timeout=60, check=False)
    assert "bogus" in done.stdout + done.stderr


def test_the_unit_is_hardened_and_sized() -> None:
    d = directives(render_unit(SETTINGS, executable=EXECUTABLE, config="/etc/h.toml"))
    assert d["User"] == "hotline-pbx" and d["NoNewPrivileges"] == "yes"
    assert d["ProtectSystem"] == "strict" and d["ProtectHome"] == "yes"
    assert d["CapabilityBoundingSet"] == "" and d["Restart"] == "on-failure"
    assert d["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert d["ExecStart"] == f"{EXECUTABLE} --config /etc/h.toml run"
    assert int(d["LimitNOFILE"]) >= open_files_needed(SETTINGS) > 5000
    assert int(d["TimeoutStopSec"]) > SETTINGS.daemon.drain_seconds


def test_install_systemd_writes_the_unit_and_refuses_root(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOTLINE_AMI_SECRET", raising=False)  # the unit needs no secret
    config = tmp_path / "hotline.toml"
    config.write_text("[agi]\nmax_sessions = 3000\n")
    assert main(["--config", str(config), "install-systemd", "--unit-dir",
                 str(tmp_path)]) == 0
    written = directives((tmp_path / UNIT_NAME).read_text())
    assert written["ExecStart"].endswith(f"--config {config} run")
    assert int(written["LimitNOFILE"]) >= 3000
    assert main(["--config", str(config), "install-systemd", "--user", "root"]) == 2
    assert main(["install-systemd", "--print"]) == 2  # which config would it run with?
    assert main(["--config", str(config), "install-systemd", "--unit-dir",
                 str(tmp_path / "missing")]) == 1
    out = capsys.readouterr().out
    assert "never runs as root" in out and "give --config" in out and "cannot write" in out
