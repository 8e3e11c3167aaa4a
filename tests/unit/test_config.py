"""Configuration: every bad input gives one line naming the key, exit status 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from hotline_pbx.cli import EXIT_CONFIG, main
from hotline_pbx.config import ConfigError, Secret, load_settings, redacted

SECRET_ENV = {"HOTLINE_AMI_SECRET": "s3cret-ami"}


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "hotline.toml"
    path.write_text(text)
    return path


def test_defaults_with_only_the_ami_secret() -> None:
    settings = load_settings(None, SECRET_ENV)
    assert settings.agi.port == 4573
    assert settings.routing.timezone == "Asia/Shanghai"
    assert settings.ami.secret == "s3cret-ami"
    assert isinstance(settings.ami.secret, Secret)
    assert settings.database.dsn == ""


def test_file_then_environment_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, '[agi]\nport = 4600\n[routing]\nqueue = "support"\n')
    settings = load_settings(path, {**SECRET_ENV, "HOTLINE_AGI_PORT": "4700"})
    assert settings.agi.port == 4700
    assert settings.routing.queue == "support"
    assert settings.source == str(path)


def test_secret_from_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "ami.secret"
    secret_file.write_text("from-a-file\n")
    settings = load_settings(None, {"HOTLINE_AMI_SECRET_FILE": str(secret_file)})
    assert settings.ami.secret == "from-a-file"


@pytest.mark.parametrize(
    ("toml", "env", "key"),
    [
        ("[agi]\nprot = 1\n", {}, "agi.prot"),
        ("[agi]\nport = 70000\n", {}, "agi.port"),
        ("[agi]\nport = \"x\"\n", {}, "agi.port"),
        ("[nonsense]\n", {}, "nonsense"),
        ("[routing]\ntimezone = \"Mars/Olympus\"\n", {}, "routing.timezone"),
        ("", {"HOTLINE_DATABASE_DSN": "mysql://x@y/z"}, "database.dsn"),
        ("", {"HOTLINE_DATABASE_DSN": "postgresql://u@h:99x/db"}, "database.dsn"),
        ("", {"HOTLINE_DATABASE_DSN": "postgresql://u@h:5432/"}, "database.dsn"),
        ("[agi]\nhost = \"not an address\"\n", {}, "agi.host"),
        ("[trunks]\nhotline = \"carrier\"\ngeneral = \"carrier\"\n", {}, "trunks.general"),
        ("[routing]\ndial_template = \"PJSIP/{number}@carrier\"\n", {}, "routing.dial_template"),
        ("[routing]\ndial_template = \"PJSIP/123@general-trunk\"\n", {}, "routing.dial_template"),
        ("[daemon]\nlog_format = \"xml\"\n", {}, "daemon.log_format"),
        ("[ami]\nenabled = \"maybe\"\n", {}, "ami.enabled"),
        ("", {"HOTLINE_AMI_SECRET": ""}, "ami.secret"),
    ],
)
def test_bad_values_name_their_key(tmp_path: Path, toml: str, env: dict[str, str],
                                   key: str) -> None:
    path = write(tmp_path, toml)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, {**SECRET_ENV, **env})
    assert caught.value.key == key
    assert str(caught.value).startswith(f"{key}: ")


def test_broken_toml_is_one_clear_line(tmp_path: Path) -> None:
    path = write(tmp_path, "[agi\nport = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(path, SECRET_ENV)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml", SECRET_ENV)


def test_check_config_never_prints_secrets(capsys: pytest.CaptureFixture[str],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_AMI_SECRET", "very-secret-ami")
    monkeypatch.setenv("HOTLINE_DATABASE_DSN", "postgresql://u:db-password@127.0.0.1:5432/h")
    assert main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert "very-secret-ami" not in out and "db-password" not in out
    assert '"secret": "***"' in out and '"dsn": "***"' in out


def test_secret_repr_hides_the_value() -> None:
    assert "abc" not in repr(Secret("abc"))
    settings = load_settings(None, {"HOTLINE_AMI_SECRET": "abc"})
    assert "abc" not in repr(settings)
    assert redacted(settings)["ami"]["secret"] == "***"


def test_cli_exit_status_two_on_bad_config(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_AMI_SECRET", "x")
    path = write(tmp_path, "[http]\nport = -1\n")
    assert main(["--config", str(path), "run"]) == EXIT_CONFIG
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "http.port" in err[0]
    # --config is accepted after the command as well.
    assert main(["check-config", "--config", str(path)]) == EXIT_CONFIG
