"""The open-file budget at start (issue 9, item 7), each case in a subprocess whose
RLIMIT_NOFILE is lowered first, so the test process keeps its own limit."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from hotline_pbx.config import Settings
from hotline_pbx.fdlimit import open_files_needed

CHECK = """
import json, resource, sys
from hotline_pbx.config import ConfigError, load_settings
from hotline_pbx.fdlimit import ensure_open_file_limit
resource.setrlimit(resource.RLIMIT_NOFILE, (int(sys.argv[1]), int(sys.argv[2])))
try:
    ensure_open_file_limit(load_settings(environ={"HOTLINE_AMI_ENABLED": "false",
                                                  **json.loads(sys.argv[3])}))
except ConfigError as exc:
    print(json.dumps({"error": str(exc)}))
else:
    print(json.dumps({"soft": resource.getrlimit(resource.RLIMIT_NOFILE)[0]}))
"""


def check(soft: int, hard: int, **env: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-c", CHECK, str(soft), str(hard), json.dumps(env)],
                          capture_output=True, text=True, timeout=60, check=True)
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_the_budget_counts_sessions_connections_and_the_pool() -> None:
    settings = Settings()
    base = open_files_needed(settings)
    more = open_files_needed(Settings(agi=type(settings.agi)(max_sessions=3000)))
    assert more - base == 3000 - settings.agi.max_sessions
    assert base > settings.agi.max_sessions + settings.http.max_connections


def test_a_low_soft_limit_is_raised_to_what_the_settings_need() -> None:
    """The service default of 1,024 is below the 2,000 AGI sessions alone."""
    assert check(1024, 20000) == {"soft": open_files_needed(Settings())}


def test_a_sufficient_soft_limit_is_left_alone() -> None:
    assert check(5000, 20000) == {"soft": 5000}


@pytest.mark.parametrize("hard", [1024, 2100])
def test_a_hard_limit_too_small_refuses_the_config_naming_the_keys(hard: int) -> None:
    result = check(hard, hard)
    error = str(result["error"])
    assert error.startswith("agi.max_sessions: ")
    assert "http.max_connections" in error and f"at most {hard}" in error


def test_smaller_settings_fit_a_small_hard_limit() -> None:
    small = {"HOTLINE_AGI_MAX_SESSIONS": "500", "HOTLINE_HTTP_MAX_CONNECTIONS": "100"}
    assert check(256, 1024, **small) == {"soft": 500 + 100 + 5 + 10 + 64}
