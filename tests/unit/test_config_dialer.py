"""``[dialer]``: zero, negative or absurd pacing is refused at load, naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline_pbx.config import ConfigError, load_settings

SECRET_ENV = {"HOTLINE_AMI_SECRET": "s"}


def test_the_defaults_load_and_stay_idle_without_ari() -> None:
    dialer = load_settings(None, SECRET_ENV).dialer
    assert (dialer.enabled, dialer.max_channels, dialer.max_cps) == (True, 4, 2.0)
    assert dialer.reserve_when_waiting and dialer.max_attempts == 3


@pytest.mark.parametrize(("key", "value"), [
    ("max_channels", "0"), ("max_channels", "-1"), ("max_channels", "100000"),
    ("max_cps", "0"), ("max_cps", "-2"), ("max_cps", "1000"), ("max_cps", "nan"),
    ("ring_timeout", "0"), ("ring_timeout", "3600"), ("max_attempts", "0"),
    ("max_attempts", "1000"), ("retry_busy", "0"), ("retry_no_answer", "-5"),
    ("retry_congestion", "1e9"), ("retry_short_answer", "0"), ("retry_agent", "0"),
    ("short_answer_seconds", "-1"), ("dtmf_timeout", "0"), ("max_import_bytes", "10"),
    ("caller_id", "abc"), ("caller_id", "12"),
])
def test_bad_pacing_is_refused_naming_its_key(key: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {**SECRET_ENV, f"HOTLINE_DIALER_{key.upper()}": value})
    assert caught.value.key == f"dialer.{key}"


def test_a_toml_dialer_section_is_read(tmp_path: Path) -> None:
    path = tmp_path / "hotline.toml"
    path.write_text("[dialer]\nmax_channels = 8\nmax_cps = 0.5\ncaller_id = \"01088886666\"\n")
    dialer = load_settings(path, SECRET_ENV).dialer
    assert (dialer.max_channels, dialer.max_cps, dialer.caller_id) == (8, 0.5, "01088886666")
