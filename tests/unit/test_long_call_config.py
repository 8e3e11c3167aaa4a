"""``[long_call]``: defaults, overrides, and zero, negative or absurd values refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline_pbx.config import ConfigError, load_settings

SECRET_ENV = {"HOTLINE_AMI_SECRET": "s3cret-ami"}


def test_defaults() -> None:
    lc = load_settings(None, SECRET_ENV).long_call
    assert (lc.enabled, lc.threshold, lc.min_waiting, lc.only_while_waiting) == (
        True, 600.0, 1, True)
    assert lc.whisper_media == "sound:beep"


def test_file_and_environment(tmp_path: Path) -> None:
    path = tmp_path / "hotline.toml"
    path.write_text("[long_call]\nthreshold = 900\nmin_waiting = 3\n")
    lc = load_settings(path, {**SECRET_ENV, "HOTLINE_LONG_CALL_ONLY_WHILE_WAITING": "false",
                              "HOTLINE_LONG_CALL_THRESHOLD": "480"}).long_call
    assert (lc.threshold, lc.min_waiting, lc.only_while_waiting) == (480.0, 3, False)


@pytest.mark.parametrize(("key", "value"), [
    ("THRESHOLD", "0"), ("THRESHOLD", "-5"), ("THRESHOLD", "1e9"), ("THRESHOLD", "nan"),
    ("MIN_WAITING", "0"), ("MIN_WAITING", "-1"), ("MIN_WAITING", "1000000"),
    ("MIN_WAITING", "1.5"), ("WHISPER_SECONDS", "0"), ("WHISPER_SECONDS", "3600"),
    ("CHECK_EVERY", "0"), ("CHECK_EVERY", "86400"),
    ("WHISPER_MEDIA", "beep"), ("APOLOGY_MEDIA", "sound:a&media=sound:b"),
])
def test_bad_values_are_refused_naming_the_key(key: str, value: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings(None, {**SECRET_ENV, f"HOTLINE_LONG_CALL_{key}": value})
    assert error.value.key == f"long_call.{key.lower()}", error.value
