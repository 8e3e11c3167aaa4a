"""Configuration: every bad input gives one line naming the key, exit status 2."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from hotline_pbx.api.schemas.schedule import schedule_from_dict
from hotline_pbx.cli import EXIT_CONFIG, main
from hotline_pbx.config import (
    OTHER_VARIABLES,
    ConfigError,
    Secret,
    load_settings,
    redacted,
    routing_settings,
    setting_variables,
)
from hotline_pbx.domain.calendar import BusinessCalendar
from hotline_pbx.domain.errors import ValidationError
from hotline_pbx.domain.roster import Roster
from hotline_pbx.domain.routing import (
    MAX_QUEUE_TIMEOUT,
    MAX_RING_TIMEOUT,
    MIN_QUEUE_TIMEOUT,
    MIN_RING_TIMEOUT,
    RoutingSnapshot,
)
from hotline_pbx.domain.routing import RoutingSettings as DomainRoutingSettings
from tests.conftest import CHECKOUT

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
        ("[cluster]\nnode = \"pbx 1\"\n", {}, "cluster.node"),
        ("[cluster]\nnode = \"-pbx\"\n", {}, "cluster.node"),
        ("[cluster]\nnode = \"" + "p" * 64 + "\"\n", {}, "cluster.node"),
        ("[cluster]\ntakeover_window = 0\n", {}, "cluster.takeover_window"),
        ("[cluster]\nlock_retry = -1\n", {}, "cluster.lock_retry"),
        # Several daemons share one PostgreSQL: the embedded one is a daemon's own.
        ("[cluster]\nenabled = true\n", {}, "cluster.enabled"),
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
    monkeypatch.setenv("HOTLINE_ARI_URL", "http://asterisk:ari-password@127.0.0.1:8088")
    assert main(["check-config"]) == 0
    out = capsys.readouterr().out
    assert "very-secret-ami" not in out and "db-password" not in out
    assert '"secret": "***"' in out and '"dsn": "***"' in out
    # userinfo in any URL setting (issue #9 item 14)
    assert "ari-password" not in out and "asterisk:" not in out
    assert '"url": "http://***@127.0.0.1:8088"' in out


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


# -- issue #9 item 14 -------------------------------------------------------------------


@pytest.mark.parametrize(("toml", "env"), [
    ("[ami]\nsecret = 918273645\n", {}),
    ("[ami]\nsecret = [\"918273645\"]\n", {}),
    ("[ari]\npassword = 918273645\n", {}),
    ("[database]\ndsn = 918273645\n", {}),
])
def test_a_secret_of_the_wrong_type_is_refused_without_showing_it(
        tmp_path: Path, toml: str, env: dict[str, str]) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, toml), {"HOTLINE_AMI_ENABLED": "false", **env})
    assert "must be a string" in str(caught.value)
    assert "918273645" not in str(caught.value)


@pytest.mark.parametrize("key", ["agi.read_timeout", "agi.idle_timeout", "ami.ping_timeout",
                                 "database.command_timeout", "daemon.drain_seconds",
                                 "kpi.short_abandon_seconds", "agi.port"])
@pytest.mark.parametrize("value", ["inf", "-inf", "nan"])
def test_non_finite_numbers_are_refused(tmp_path: Path, key: str, value: str) -> None:
    section, name = key.split(".")
    for source, env in ((f"[{section}]\n{name} = {value}\n", {}),  # a TOML float literal
                        ("", {f"HOTLINE_{section}_{name}".upper(): value})):
        with pytest.raises(ConfigError) as caught:
            load_settings(write(tmp_path, source), {**SECRET_ENV, **env})
        assert caught.value.key == key


def test_a_bad_ari_url_error_hides_its_userinfo(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {**SECRET_ENV, "HOTLINE_ARI_ENABLED": "true",
                             "HOTLINE_ARI_PASSWORD": "p",
                             "HOTLINE_ARI_URL": "ftp://asterisk:ari-password@127.0.0.1"})
    assert caught.value.key == "ari.url" and "ari-password" not in str(caught.value)


ROUTING_LIMITS = [
    ("HOTLINE_ROUTING_QUEUE_TIMEOUT", MIN_QUEUE_TIMEOUT, MAX_QUEUE_TIMEOUT,
     "routing.queue_timeout"),
    ("HOTLINE_ROUTING_RING_TIMEOUT", MIN_RING_TIMEOUT, MAX_RING_TIMEOUT, "routing.ring_timeout"),
]


@pytest.mark.parametrize(("variable", "low", "high", "key"), ROUTING_LIMITS)
@given(value=st.integers(-10, 5000) | st.integers(0, 15)
       | st.sampled_from((299, 300, 301, 3599, 3600, 3601)))  # around every limit
@hypothesis_settings(max_examples=60, deadline=None)
def test_config_accepts_exactly_what_the_routing_snapshot_accepts(
        variable: str, low: int, high: int, key: str, value: int) -> None:
    """The limits are the snapshot's: check-config passes ⇔ the snapshot builds."""
    try:
        settings = load_settings(None, {**SECRET_ENV, variable: str(value)})
    except ConfigError as error:
        assert error.key == key
        assert not low <= value <= high
        return
    assert low <= value <= high
    snapshot = RoutingSnapshot(BusinessCalendar(), Roster(), routing_settings(settings))
    assert snapshot.settings.queue_timeout_seconds == settings.routing.queue_timeout


def test_queue_timeout_5_to_9_is_refused_by_check_config() -> None:
    for value in range(5, 10):
        with pytest.raises(ConfigError) as caught:
            load_settings(None, {**SECRET_ENV, "HOTLINE_ROUTING_QUEUE_TIMEOUT": str(value)})
        assert caught.value.key == "routing.queue_timeout"


def test_one_default_for_the_routing_settings() -> None:
    configured = routing_settings(load_settings(None, SECRET_ENV))
    assert configured == DomainRoutingSettings(inbound_endpoint="carrier")
    assert configured.queue_timeout_seconds == 120  # README, dialplan HOTLINE_QUEUE_TIMEOUT


# -- issue #9 follow-ups: URL settings, zone names, wording -----------------------------

URL_SECRET = "Qz7PWsecret"
MALFORMED_URLS = [
    f"http://u:{URL_SECRET}@[::1",  # urlsplit: "Invalid IPv6 URL"
    f"http:/u:{URL_SECRET}@host",
    f"http:\\\\u:{URL_SECRET}@host",
    f"//u:{URL_SECRET}@host",
    f"http://u\n:{URL_SECRET}@host",  # a line break in the user part
    f"http://u:{URL_SECRET}@host:80x",
    f"http://u:%{URL_SECRET}@host",
]


@pytest.mark.parametrize("enabled", ["true", "false"])
@pytest.mark.parametrize("url", MALFORMED_URLS)
def test_a_malformed_url_is_one_line_exit_two_without_its_secret(
        url: str, enabled: str, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**SECRET_ENV, "HOTLINE_ARI_ENABLED": enabled,
                        "HOTLINE_ARI_PASSWORD": "p", "HOTLINE_ARI_URL": url}.items():
        monkeypatch.setenv(name, value)
    for command in ("check-config", "run"):
        assert main([command]) == EXIT_CONFIG
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and "ari.url" in lines[0], captured.err
        assert URL_SECRET not in captured.err + captured.out


@pytest.mark.parametrize(("url", "shown"), [
    ("https://Host:8088/ari?token=QSECRET&password=QPW2", "https://Host:8088/ari?***"),
    ("http://u:p@127.0.0.1:8088/x#QSECRET", "http://***@127.0.0.1:8088/x#***"),
    ("http://[::1]:8088", "http://[::1]:8088"),
    ("http://127.0.0.1:8088/u:QSECRET@x", "http://127.0.0.1:8088/***"),
])
def test_check_config_shows_a_url_without_anything_that_could_be_a_credential(
        url: str, shown: str) -> None:
    settings = load_settings(None, {**SECRET_ENV, "HOTLINE_ARI_URL": url})
    assert redacted(settings)["ari"]["url"] == shown


_url_parts = st.lists(st.sampled_from(
    ["http", "https", "ftp", "://", ":", "/", "//", "\\", "@", "?", "#", "[", "]", "%", "=",
     "&", " ", "\n", "\t", ".", "h", "host", "127.0.0.1", "::1", "8088", "u", "token"]),
    max_size=8).map("".join)
_placements = st.sampled_from(["u:{}@", "{}@", "?token={}", "?{}", "#{}", "?a=1&password={}"])


@given(prefix=_url_parts, placement=_placements, suffix=_url_parts,
       enabled=st.sampled_from(["true", "false"]))
@hypothesis_settings(max_examples=400, deadline=None)
def test_a_secret_in_a_url_never_appears_in_check_config_or_the_error(
        prefix: str, placement: str, suffix: str, enabled: str) -> None:
    url = prefix + placement.format(URL_SECRET) + suffix
    env = {**SECRET_ENV, "HOTLINE_ARI_ENABLED": enabled, "HOTLINE_ARI_PASSWORD": "p",
           "HOTLINE_ARI_URL": url}
    try:
        shown = json.dumps(redacted(load_settings(None, env)))
    except ConfigError as error:
        shown = str(error)
        assert error.key == "ari.url" and "\n" not in shown
    assert URL_SECRET not in shown


HOST_DEPENDENT_ZONES = ["localtime", "posixrules", "Factory", "right/UTC",
                        "posix/Asia/Shanghai"]


@pytest.mark.parametrize("zone", HOST_DEPENDENT_ZONES)
def test_host_dependent_zone_names_are_refused_by_config_and_the_schedule_alike(
        zone: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {**SECRET_ENV, "HOTLINE_ROUTING_TIMEZONE": zone})
    assert caught.value.key == "routing.timezone" and "IANA" in str(caught.value)
    with pytest.raises(ValidationError) as refused:
        schedule_from_dict({"timezone": zone, "weekly": []})
    assert refused.value.field == "timezone"
    for canonical in ("Asia/Shanghai", "UTC", "Etc/GMT+12", "Pacific/Kiritimati"):
        assert load_settings(None, {**SECRET_ENV, "HOTLINE_ROUTING_TIMEZONE": canonical})
        assert schedule_from_dict({"timezone": canonical, "weekly": []}).timezone == canonical


@pytest.mark.parametrize(("variable", "words"), [("HOTLINE_AGI_PORT", "a whole number"),
                                                 ("HOTLINE_AGI_READ_TIMEOUT", "a number")])
def test_a_number_that_is_not_one_says_what_it_must_be(variable: str, words: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(None, {**SECRET_ENV, variable: "soon"})
    assert f"must be {words}, not 'soon'" in str(caught.value)


# -- the line monitor (issue 11: bad input refused at load, the key named) -----------

_LINE_ON = ('[ari]\nenabled = true\npassword = "p"\n[line]\nenabled = true\n'
            'test_number = "4008001234"\ntest_caller = "01088886666"\n')


@pytest.mark.parametrize(("extra", "key"), [
    ("test_after = 0\n", "line.test_after"),
    ("test_after = -5\n", "line.test_after"),
    ("test_after = 1e12\n", "line.test_after"),
    ("test_after = nan\n", "line.test_after"),
    ("test_timeout = 0\n", "line.test_timeout"),
    ("test_timeout = 100000\n", "line.test_timeout"),
    ("retest_every = -1\n", "line.retest_every"),
    ("retest_every = 99999999\n", "line.retest_every"),
    ("test_timeout = 30\nretest_every = 20\n", "line.retest_every"),
])
def test_line_timings_out_of_range_are_refused(tmp_path: Path, extra: str, key: str) -> None:
    path = write(tmp_path, _LINE_ON.replace("[line]\n", "[line]\n" + extra))
    with pytest.raises(ConfigError) as caught:
        load_settings(path, SECRET_ENV)
    assert caught.value.key == key
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(("number", "key"), [
    ('""', "line.test_number"),
    ('"400 800 1234"', "line.test_number"),
    ('"PJSIP/4008001234@carrier"', "line.test_number"),
    ('"40"', "line.test_number"),
])
def test_a_test_number_that_cannot_be_dialled_is_refused(tmp_path: Path, number: str,
                                                         key: str) -> None:
    path = write(tmp_path, _LINE_ON.replace('"4008001234"', number))
    with pytest.raises(ConfigError) as caught:
        load_settings(path, SECRET_ENV)
    assert caught.value.key == key


def test_the_test_caller_must_differ_from_the_number_it_dials(tmp_path: Path) -> None:
    path = write(tmp_path, _LINE_ON.replace('"01088886666"', '"+4008001234"'))
    with pytest.raises(ConfigError) as caught:
        load_settings(path, SECRET_ENV)
    assert caught.value.key == "line.test_caller"


def test_the_line_monitor_needs_ari(tmp_path: Path) -> None:
    path = write(tmp_path, _LINE_ON.replace("[ari]\nenabled = true\n", "[ari]\n"))
    with pytest.raises(ConfigError) as caught:
        load_settings(path, SECRET_ENV)
    assert caught.value.key == "line.enabled"


def test_a_disabled_line_monitor_needs_no_numbers(tmp_path: Path) -> None:
    settings = load_settings(write(tmp_path, "[line]\ntest_after = 60\n"), SECRET_ENV)
    assert not settings.line.enabled and settings.line.test_after == 60
    enabled = load_settings(write(tmp_path, _LINE_ON), SECRET_ENV)
    assert enabled.line.enabled and enabled.line.retest_every == 300


# -- misspelt HOTLINE_* environment variables -----------------------------------------


@pytest.mark.parametrize(("variable", "closest"), [
    ("HOTLINE_AGI_PROT", "HOTLINE_AGI_PORT"),
    ("HOTLINE_AMII_HOST", "HOTLINE_AMI_HOST"),
    ("HOTLINE_AMI_SECRET_FIEL", "HOTLINE_AMI_SECRET_FILE"),
    ("HOTLINE_DATABASE_URL", "HOTLINE_DATABASE_DSN"),
])
def test_a_misspelt_variable_is_refused_naming_the_closest_known_one(
        variable: str, closest: str) -> None:
    """It was ignored: the daemon ran on the default it was meant to override."""
    with pytest.raises(ConfigError) as refused:
        load_settings(None, {**SECRET_ENV, variable: "1"})
    assert str(refused.value) == (f"{variable}: unknown environment variable (misspelt?); "
                                  f"the closest known one is {closest}")


def test_the_cli_refuses_a_misspelt_variable_in_one_line(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOTLINE_AMI_SECRET", "x")
    monkeypatch.setenv("HOTLINE_AGI_PROT", "1")
    assert main(["check-config"]) == EXIT_CONFIG
    assert capsys.readouterr().err == (
        "hotline-pbx: configuration error: HOTLINE_AGI_PROT: unknown environment variable "
        "(misspelt?); the closest known one is HOTLINE_AGI_PORT\n")


def test_settings_their_file_variants_and_the_other_variables_are_accepted(
        tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s")
    env = {name: "" for name in OTHER_VARIABLES if name != "HOTLINE_CONFIG"}
    env.update({"HOTLINE_AMI_SECRET_FILE": str(secret), "HOTLINE_AGI_PORT": "4700",
                "NOT_OURS_AGI_PROT": "1"})
    assert load_settings(None, env).agi.port == 4700
    assert len(setting_variables()) > 40  # every section's keys: agi, ami, http, routing…


# Where other parts read HOTLINE_* variables: Python's os.environ / getenv, and
# ${HOTLINE_…} in shell scripts and the compose file (the dialplan's channel
# variables are not environment variables: tests/unit/test_contract.py).
_PY_READ = re.compile(
    r"""(?:\b(?:environ|env)(?:\.get)?[(\[]|getenv\()\s*["'](HOTLINE_[A-Z0-9_]+)""")
_SHELL_READ = re.compile(r"\$\{?(HOTLINE_[A-Z0-9_]+)")


def _variables_read() -> dict[str, set[Path]]:
    found: dict[str, set[Path]] = {}
    sources = [*(CHECKOUT / d for d in ("src", "tests", "bench", "migrations"))]
    for path in (p for d in sources for p in d.rglob("*.py")):
        for name in _PY_READ.findall(path.read_text()):
            found.setdefault(name, set()).add(path)
    for path in [*(CHECKOUT / "scripts").glob("*.sh"), CHECKOUT / "docker" / "compose.yaml"]:
        for name in _SHELL_READ.findall(path.read_text()):
            found.setdefault(name, set()).add(path)
    return found


def test_every_variable_read_outside_the_settings_is_in_the_allow_list() -> None:
    """OTHER_VARIABLES is the one list of HOTLINE_* names that are not settings:
    a variable some part reads but the list lacks would be refused at start."""
    read = _variables_read()
    settings = set(setting_variables())
    settings |= {f"{name}_FILE" for name in settings}
    assert {"HOTLINE_CONFIG", "HOTLINE_SANDBOX_ROOT", "HOTLINE_E2E"} <= read.keys()
    assert {name: paths for name, paths in read.items()
            if name not in settings | OTHER_VARIABLES} == {}
    assert OTHER_VARIABLES - read.keys() == set()  # no name in the list that nothing reads
