"""Configuration: one TOML file plus ``HOTLINE_*`` environment overrides.

Everything is validated before anything starts. A bad value gives one line
naming the key and how to fix it (:class:`ConfigError`); the CLI turns that
into exit status 2. Secrets (AMI/ARI passwords, the database DSN) come from
the environment or from files named by ``*_FILE`` variables, are kept in
:class:`Secret` and never printed.

Environment overrides are ``HOTLINE_<SECTION>_<KEY>`` (``HOTLINE_AGI_PORT=4574``),
and ``HOTLINE_<SECTION>_<KEY>_FILE`` reads the value from a file (for secrets).
Any other ``HOTLINE_*`` variable is refused (a misspelt one would be ignored
silently), naming the closest known name, unless it is one of
:data:`OTHER_VARIABLES`.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib.util
import ipaddress
import math
import os
import re
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from hotline_pbx.domain import callbacks as callbacks_domain
from hotline_pbx.domain import contract, line_health, long_calls
from hotline_pbx.domain import routing as domain_routing
from hotline_pbx.domain.calendar import load_zone
from hotline_pbx.domain.errors import ValidationError


class ConfigError(ValueError):
    """One invalid setting: ``key`` names it, the message says how to fix it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


class Secret(str):
    """A string that never shows itself in repr, logs or check-config output."""

    def __repr__(self) -> str:
        return "Secret('***')" if self else "Secret('')"

    def redacted(self) -> str:
        return "***" if self else ""


NO_SECRET = Secret("")

#: ``HOTLINE_*`` environment variables that are not settings: read by other parts
#: of the product, its sandbox, scripts, tests and benchmarks, and by docker
#: compose for its own substitutions. Never refused as misspelt settings; a name
#: read anywhere must be here or be a setting (tests/unit/test_config.py checks).
OTHER_VARIABLES: frozenset[str] = frozenset({
    "HOTLINE_CONFIG",  # the TOML file (load_settings)
    "HOTLINE_MIGRATIONS_DIR",  # store/migrate.py
    "HOTLINE_SANDBOX_ROOT",  # sandbox/pbx.py, scripts/build-asterisk-root.sh
    "HOTLINE_DEBIAN_MIRROR",  # scripts/build-asterisk-root.sh
    "HOTLINE_E2E",  # scripts/test.sh, tests
    "HOTLINE_SCREENSHOTS",  # tests/e2e/test_console.py: where the console screenshots go
    "HOTLINE_TEST_ADMIN_DSN",  # tests, bench
    "HOTLINE_SCHEMATHESIS_SEED",  # tests
    "HOTLINE_BENCH_ADMIN_DSN",  # bench
    "HOTLINE_DB_PASSWORD",  # docker/compose.yaml
    "HOTLINE_AGI_BIND",  # docker/compose.yaml
})

#: The event loops `daemon.event_loop` may name.
EVENT_LOOPS = ("asyncio", "uvloop")

#: Connections the database pool may open beyond `database.pool_size` (SQLAlchemy's
#: `max_overflow`); counted in the daemon's open-file budget.
DATABASE_POOL_OVERFLOW = 10


@dataclass(frozen=True)
class DaemonSettings:
    log_format: str = "text"  # text | json
    log_level: str = "info"
    log_numbers: bool = False  # true: phone numbers in logs unmasked (logs.py)
    drain_seconds: float = 10.0
    data_dir: str = "~/.local/share/hotline-pbx"
    user: str = ""  # started as root: become this user first (else `run` refuses)
    event_loop: str = "uvloop"  # uvloop | asyncio (docs/performance.md: what it saves)


@dataclass(frozen=True)
class DatabaseSettings:
    dsn: Secret = NO_SECRET  # empty: start the embedded PostgreSQL in data_dir
    connect_timeout: float = 5.0
    command_timeout: float = 10.0
    pool_size: int = 5


@dataclass(frozen=True)
class AgiSettings:
    host: str = "127.0.0.1"
    port: int = 4573
    max_sessions: int = 2000
    read_timeout: float = 5.0
    idle_timeout: float = 30.0


@dataclass(frozen=True)
class AmiSettings:
    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 5038
    username: str = "hotline"
    secret: Secret = NO_SECRET
    ping_interval: float = 10.0
    ping_timeout: float = 5.0
    connect_timeout: float = 5.0
    reconnect_backoff_max: float = 15.0  # seconds between attempts, doubling from 0.5
    # Seconds the rest of a burst of events may wait to be read with the next
    # (ami/read_gathering.py): fewer wake-ups. 0: every read as it comes.
    gather_window: float = 0.005


@dataclass(frozen=True)
class AriSettings:
    enabled: bool = False
    url: str = "http://127.0.0.1:8088"
    username: str = "hotline"
    password: Secret = NO_SECRET
    app: str = "hotline"


# -- [dialer] (issue 12: outbound calls on the general trunk) ---------------------------
@dataclass(frozen=True)
class DialerSettings:
    """The dialer (:mod:`hotline_pbx.dialer`): callbacks, visits, campaigns over ARI.
    Idle without jobs; needs ``ari.enabled`` to dial (else jobs wait)."""

    enabled: bool = True
    max_channels: int = 4  # dialer channels at once, an agent-first call's agent leg included
    max_cps: float = 2.0  # originates a second, at most
    reserve_when_waiting: bool = True  # no new attempt while callers wait in the queue
    ring_timeout: int = 30  # seconds a customer's phone rings
    max_attempts: int = 3  # customer attempts per target (a job may ask for fewer or more)
    retry_no_answer: float = 900.0  # seconds before the next attempt, by the last result
    retry_busy: float = 300.0
    retry_congestion: float = 120.0
    retry_short_answer: float = 1800.0
    retry_agent: float = 60.0  # no free agent, or the agent did not answer
    short_answer_seconds: float = 4.0  # answered, gone this fast with no key: voicemail-like
    dtmf_timeout: float = 8.0  # seconds to wait for a key after a prompt (asked twice)
    caller_id: str = ""  # digits shown on outbound calls (empty: the trunk's default)
    sounds_dir: str = "~/.local/share/hotline-pbx/sounds"  # where the dialer writes messages
    # The same directory as Asterisk sees it (a chroot, another host's mount);
    # empty: sounds_dir.
    sounds_media_dir: str = ""
    max_import_bytes: int = 32_000_000  # a campaign upload's body, at most (413 beyond)


@dataclass(frozen=True)
class HttpSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 65536
    # Concurrent connections; beyond, the one waiting longest without a request is closed.
    max_connections: int = 256
    # Seconds to deliver a request head (from connect or the previous response).
    header_timeout: float = 10.0
    # Seconds to deliver a request body once its head is in.
    body_timeout: float = 10.0
    max_exports: int = 16  # CSV downloads at once; one more gets 429 + Retry-After


@dataclass(frozen=True)
class RoutingSection:
    """The ``[routing]`` table; :func:`routing_settings` makes the snapshot's
    ``RoutingSettings`` of it, whose check is the one for these limits."""

    timezone: str = contract.DEFAULT_TIMEZONE
    queue: str = contract.DEFAULT_QUEUE
    dial_template: str = contract.DEFAULT_DIAL_TEMPLATE
    ring_timeout: int = contract.DEFAULT_RING_TIMEOUT
    queue_timeout: int = contract.DEFAULT_QUEUE_TIMEOUT
    use_statutory_calendar: bool = True


@dataclass(frozen=True)
class TrunkSettings:
    hotline: str = "carrier"  # the inbound-only 400 trunk (PJSIP endpoint)
    general: str = "general-trunk"  # outbound: failover to mobiles, callbacks


@dataclass(frozen=True)
class LineSettings:
    """The line monitor (:mod:`hotline_pbx.line_monitor`): test-dial a quiet line."""

    enabled: bool = False  # needs ari.enabled and the two numbers below
    # The hotline's own number as the general trunk dials it (the public number).
    test_number: str = ""
    # The caller number test calls carry, as they arrive on the 400 trunk (the
    # general trunk's own number): /route recognises a test call by it while a
    # test is in flight.
    test_caller: str = ""
    test_after: float = line_health.DEFAULT_TEST_AFTER
    test_timeout: float = line_health.DEFAULT_TEST_TIMEOUT
    retest_every: float = line_health.DEFAULT_RETEST_EVERY


@dataclass(frozen=True)
class CallbackSettings:
    """Callback tasks (:mod:`hotline_pbx.callbacks`): every call the hotline failed."""

    enabled: bool = True
    # Seconds of *working time* (business calendar) until a task is due.
    due_within: float = callbacks_domain.DEFAULT_DUE_WITHIN
    # Hand each new task to the dialer (agent first, then the customer).
    auto_dial: bool = True
    # After a callback reached the customer, a satisfaction visit by the dialer
    # (DTMF score on the scale, 5: 1-5, 2: 1 satisfied / 2 not), stored on the task.
    satisfaction_visit: bool = False
    satisfaction_scale: int = 5


@dataclass(frozen=True)
class KpiSettings:
    short_abandon_seconds: float = contract.DEFAULT_SHORT_ABANDON_SECONDS
    service_level_seconds: float = contract.DEFAULT_SERVICE_LEVEL_SECONDS


# -- long calls (issue 12) ---------------------------------------------------------
@dataclass(frozen=True)
class LongCallSettings:
    """``[long_call]``: a call connected longer than ``threshold`` seconds while at
    least ``min_waiting`` callers wait (or always, ``only_while_waiting = false``)
    is flagged and the agent hears ``whisper_media``; ``apology_media`` is played
    to the caller before a "continue from another line" hang-up."""

    enabled: bool = True
    threshold: float = 600.0
    min_waiting: int = 1
    only_while_waiting: bool = True
    whisper_media: str = "sound:beep"
    whisper_seconds: float = 3.0  # the most the whisper may take before its channel ends
    apology_media: str = "sound:im-sorry"
    check_every: float = 1.0  # seconds between two looks at the connected calls
# -- end long calls ------------------------------------------------------------------


# -- complaints (issue 13) ----------------------------------------------------------
@dataclass(frozen=True)
class ComplaintSettings:
    """``[complaints]``: the complaint register (:mod:`hotline_pbx.complaints`).

    A resolved complaint gets a callback visit: by the dialer's satisfaction
    dialog (``visit_by = "dialer"``, DTMF score on ``visit_scale``) or by a
    person who records the result through the API (``"person"``). The daily
    digest of what must be chased is written at ``digest_time`` (local, HH:MM)."""

    visit_by: str = "dialer"  # dialer | person
    visit_scale: int = 5  # 5: 1-5, 2: 1 satisfied / 2 not
    digest_time: str = "08:30"
    check_every: float = 30.0  # seconds between two counts of the overdue complaints
# -- end complaints ------------------------------------------------------------------


@dataclass(frozen=True)
class ConsoleSettings:
    """``[console]``: the supervisor console under ``/console/`` (docs/console.md)."""

    session_hours: float = 8.0  # a login lasts this long
    max_sessions: int = 1000  # beyond, the oldest login is ended
    max_wallboards: int = 200  # wallboard streams at once; one more gets 503
    wallboard_buffer: int = 8  # boards queued for a viewer; a viewer this far behind is dropped
    wallboard_interval: float = 0.5  # seconds between two looks at the board


@dataclass(frozen=True)
class ClusterSettings:
    """``[cluster]``: several daemons on one PostgreSQL (docs/operations.md#several-daemons).

    Every daemon follows its Asterisk's calls; the one holding the node's
    tracking lock writes their records and counts them in its metrics. A
    daemon taking the lock over writes the calls that ended in the last
    ``takeover_window`` seconds too (those its predecessor may not have
    written); the store keeps one row per node and Linkedid.
    """

    enabled: bool = False
    node: str = ""  # the Asterisk node this daemon's AMI is; stored with each call
    takeover_window: float = 60.0
    lock_retry: float = 1.0  # seconds between two tries for the tracking lock


@dataclass(frozen=True)
class RetentionSettings:
    # Call records, notes, blocked-outbound attempts, closed line faults and
    # audit entries older than this are deleted by `hotline-pbx purge`.
    days: int = 730


@dataclass(frozen=True)
class Settings:
    daemon: DaemonSettings = field(default_factory=DaemonSettings)
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    agi: AgiSettings = field(default_factory=AgiSettings)
    ami: AmiSettings = field(default_factory=AmiSettings)
    ari: AriSettings = field(default_factory=AriSettings)
    dialer: DialerSettings = field(default_factory=DialerSettings)
    http: HttpSettings = field(default_factory=HttpSettings)
    routing: RoutingSection = field(default_factory=RoutingSection)
    trunks: TrunkSettings = field(default_factory=TrunkSettings)
    line: LineSettings = field(default_factory=LineSettings)
    callbacks: CallbackSettings = field(default_factory=CallbackSettings)
    kpi: KpiSettings = field(default_factory=KpiSettings)
    long_call: LongCallSettings = field(default_factory=LongCallSettings)
    complaints: ComplaintSettings = field(default_factory=ComplaintSettings)
    console: ConsoleSettings = field(default_factory=ConsoleSettings)
    cluster: ClusterSettings = field(default_factory=ClusterSettings)
    retention: RetentionSettings = field(default_factory=RetentionSettings)
    source: str = "defaults"

    @property
    def data_dir(self) -> Path:
        return Path(self.daemon.data_dir).expanduser()


# -- loading -----------------------------------------------------------------


def load_settings(path: str | Path | None = None,
                  environ: Mapping[str, str] | None = None) -> Settings:
    """Read the TOML file (if any), apply ``HOTLINE_*`` overrides, validate."""
    env = os.environ if environ is None else environ
    path = path or env.get("HOTLINE_CONFIG") or None
    raw: dict[str, Any] = {}
    source = "defaults"
    if path:
        raw = _read_toml(Path(path))
        source = str(path)
    _apply_environment(raw, env)
    settings = _build(raw)
    settings = dataclasses.replace(settings, source=source)
    validate(settings)
    return settings


def changed_settings(running: Settings, fresh: Settings) -> list[str]:
    """The ``section.key`` names whose values differ between two settings (what a
    reload of the file would change; secrets compared, never shown)."""
    changed = []
    for section in dataclasses.fields(Settings):
        if section.name == "source":
            continue
        old, new = getattr(running, section.name), getattr(fresh, section.name)
        for key in dataclasses.fields(old):
            if getattr(old, key.name) != getattr(new, key.name):
                changed.append(f"{section.name}.{key.name}")
    return changed


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError("--config", f"file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError("--config", f"cannot read {path}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError("--config", f"{path} is not UTF-8 text") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("--config", f"{path} is not valid TOML ({exc})") from None


def _sections() -> dict[str, type[Any]]:
    hints = typing.get_type_hints(Settings)
    return {f.name: hints[f.name] for f in dataclasses.fields(Settings) if f.name != "source"}


def setting_variables() -> list[str]:
    """Every ``HOTLINE_<SECTION>_<KEY>`` (each also has its ``…_FILE``)."""
    return [f"HOTLINE_{section}_{fld.name}".upper()
            for section, cls in _sections().items() for fld in dataclasses.fields(cls)]


def _refuse_unknown_variables(env: Mapping[str, str]) -> None:
    settings = setting_variables()
    known = {*settings, *(f"{name}_FILE" for name in settings), *OTHER_VARIABLES}
    for name in sorted(env):
        if name.startswith("HOTLINE_") and name not in known:
            [closest] = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.0)
            raise ConfigError(name, f"unknown environment variable (misspelt?); "
                              f"the closest known one is {closest}")


def _apply_environment(raw: dict[str, Any], env: Mapping[str, str]) -> None:
    _refuse_unknown_variables(env)
    for section, cls in _sections().items():
        for fld in dataclasses.fields(cls):
            name = f"HOTLINE_{section}_{fld.name}".upper()
            value: str | None = env.get(name)
            file_name = env.get(f"{name}_FILE")
            if file_name:
                try:
                    value = Path(file_name).read_text(encoding="utf-8").strip()
                except OSError as exc:
                    raise ConfigError(f"{name}_FILE",
                                      f"cannot read {file_name}: {exc.strerror}") from None
            if value is not None:
                raw.setdefault(section, {})[fld.name] = value


def _build(raw: Mapping[str, Any]) -> Settings:
    sections = _sections()
    for unknown in sorted(set(raw) - set(sections)):
        raise ConfigError(unknown, f"unknown section; known sections: {', '.join(sections)}")
    built: dict[str, Any] = {}
    for section, cls in sections.items():
        values = raw.get(section, {})
        if not isinstance(values, Mapping):
            raise ConfigError(section, "must be a table, e.g. [" + section + "]")
        built[section] = _build_section(section, cls, values)
    return Settings(**built)


def _build_section(section: str, cls: type[Any], values: Mapping[str, Any]) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    for unknown in sorted(set(values) - known):
        raise ConfigError(f"{section}.{unknown}",
                          f"unknown key; known keys: {', '.join(sorted(known))}")
    kwargs = {name: _coerce(f"{section}.{name}", hints[name], value)
              for name, value in values.items()}
    return cls(**kwargs)


def _coerce(key: str, kind: Any, value: Any) -> Any:
    """Turn a TOML or environment value into the field's type, or say why not."""
    if isinstance(kind, types.UnionType):
        kind = next(k for k in typing.get_args(kind) if k is not type(None))
    from_env = isinstance(value, str)
    if kind is bool:
        if isinstance(value, bool):
            return value
        if from_env and value.lower() in {"1", "true", "yes", "on"}:
            return True
        if from_env and value.lower() in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(key, f"must be true or false, not {value!r}")
    if kind in (int, float):
        if isinstance(value, bool):
            raise ConfigError(key, f"must be a number, not {value!r}")
        try:
            number = kind(value)
        except (TypeError, ValueError, OverflowError):  # OverflowError: int(inf)
            what = "a whole number" if kind is int else "a number"
            raise ConfigError(key, f"must be {what}, not {value!r}") from None
        if kind is int and isinstance(value, float) and not value.is_integer():
            raise ConfigError(key, f"must be a whole number, not {value!r}")
        if not math.isfinite(number):  # inf would disable a timeout, nan every comparison
            raise ConfigError(key, f"must be a finite number, not {value!r}")
        return number
    if kind is Secret:
        if not isinstance(value, str):  # the value itself is never shown
            raise ConfigError(key, f"must be a string, not {_type_name(value)} "
                              "(the value is not shown: it is a secret)")
        return Secret(value)
    if kind is str:
        if not isinstance(value, str):
            raise ConfigError(key, f"must be a string, not {value!r}")
        return value
    raise ConfigError(key, f"unsupported setting type {kind!r}")  # pragma: no cover


# -- validation ----------------------------------------------------------------


def validate(settings: Settings) -> None:
    """Every cross-field and format rule, each failing with the key named."""
    d = settings.daemon
    _one_of("daemon.log_format", d.log_format, ("text", "json"))
    _one_of("daemon.event_loop", d.event_loop, EVENT_LOOPS)
    if d.event_loop == "uvloop" and importlib.util.find_spec("uvloop") is None:
        raise ConfigError("daemon.event_loop", "uvloop is not installed (pip install uvloop, "
                          "or event_loop = \"asyncio\")")
    _one_of("daemon.log_level", d.log_level, ("debug", "info", "warning", "error"))
    _positive("daemon.drain_seconds", d.drain_seconds)
    if settings.database.dsn:
        _check_dsn(settings.database.dsn)
    _positive("database.connect_timeout", settings.database.connect_timeout)
    _positive("database.command_timeout", settings.database.command_timeout)
    _range("database.pool_size", settings.database.pool_size, 1, 100)
    _address("agi.host", settings.agi.host)
    _port("agi.port", settings.agi.port)
    _range("agi.max_sessions", settings.agi.max_sessions, 1, 100_000)
    _positive("agi.read_timeout", settings.agi.read_timeout)
    _positive("agi.idle_timeout", settings.agi.idle_timeout)
    _address("ami.host", settings.ami.host)
    _port("ami.port", settings.ami.port)
    _positive("ami.ping_interval", settings.ami.ping_interval)
    _positive("ami.ping_timeout", settings.ami.ping_timeout)
    _positive("ami.connect_timeout", settings.ami.connect_timeout)
    _positive("ami.reconnect_backoff_max", settings.ami.reconnect_backoff_max)
    _range("ami.gather_window", settings.ami.gather_window, 0.0, 0.1)
    if settings.ami.enabled and not settings.ami.secret:
        raise ConfigError("ami.secret", "the AMI password is missing; set HOTLINE_AMI_SECRET "
                          "or HOTLINE_AMI_SECRET_FILE (or ami.enabled = false)")
    _url("ari.url", settings.ari.url)  # enabled or not: check-config shows it
    if settings.ari.enabled and not settings.ari.password:
        raise ConfigError("ari.password", "the ARI password is missing; set "
                          "HOTLINE_ARI_PASSWORD or HOTLINE_ARI_PASSWORD_FILE")
    _check_dialer(settings)
    _address("http.host", settings.http.host)
    _port("http.port", settings.http.port)
    _range("http.max_body_bytes", settings.http.max_body_bytes, 1024, 10_000_000)
    _range("http.max_connections", settings.http.max_connections, 8, 100_000)
    _positive("http.header_timeout", settings.http.header_timeout)
    _positive("http.body_timeout", settings.http.body_timeout)
    _range("http.max_exports", settings.http.max_exports, 1, 1000)
    _timezone("routing.timezone", settings.routing.timezone)
    _check_trunks(settings)
    _check_routing(settings)
    _check_line(settings)
    _range("callbacks.due_within", settings.callbacks.due_within,
           *callbacks_domain.DUE_WITHIN_RANGE)
    if settings.callbacks.satisfaction_scale not in (2, 5):
        raise ConfigError("callbacks.satisfaction_scale",
                          "must be 5 (a score 1-5) or 2 (1 satisfied, 2 not)")
    _range("kpi.short_abandon_seconds", settings.kpi.short_abandon_seconds,
           contract.MIN_SHORT_ABANDON_SECONDS, contract.MAX_SHORT_ABANDON_SECONDS)
    _range("kpi.service_level_seconds", settings.kpi.service_level_seconds,
           contract.MIN_SERVICE_LEVEL_SECONDS, contract.MAX_SERVICE_LEVEL_SECONDS)
    _check_long_call(settings)
    _check_complaints(settings)
    _check_console(settings)
    _range("retention.days", settings.retention.days, 1, 36500)
    _node("cluster.node", settings.cluster.node)
    if settings.cluster.enabled and not settings.database.dsn:
        raise ConfigError("cluster.enabled", "several daemons share one PostgreSQL: set "
                          "database.dsn (the embedded database is one daemon's own)")
    _positive("cluster.takeover_window", settings.cluster.takeover_window)
    _positive("cluster.lock_retry", settings.cluster.lock_retry)


def _check_complaints(settings: Settings) -> None:
    c = settings.complaints
    _one_of("complaints.visit_by", c.visit_by, ("dialer", "person"))
    if c.visit_scale not in (2, 5):
        raise ConfigError("complaints.visit_scale",
                          "must be 5 (a score 1-5) or 2 (1 satisfied, 2 not)")
    if not re.fullmatch(r"([01][0-9]|2[0-3]):[0-5][0-9]", c.digest_time):
        raise ConfigError("complaints.digest_time",
                          f"must be a local time HH:MM, e.g. 08:30, not {c.digest_time!r}")
    _range("complaints.check_every", c.check_every, 1.0, 3600.0)


def _check_console(settings: Settings) -> None:
    c = settings.console
    _range("console.session_hours", c.session_hours, 0.1, 24 * 30)
    _range("console.max_sessions", c.max_sessions, 1, 100_000)
    _range("console.max_wallboards", c.max_wallboards, 1, 10_000)
    _range("console.wallboard_buffer", c.wallboard_buffer, 1, 1000)
    _range("console.wallboard_interval", c.wallboard_interval, 0.05, 10.0)


def _check_trunks(settings: Settings) -> None:
    trunks = settings.trunks
    for key, name in (("trunks.hotline", trunks.hotline), ("trunks.general", trunks.general)):
        if not name or any(c in name for c in "/@ ,"):
            raise ConfigError(key, f"must be a PJSIP endpoint name such as general-trunk, "
                              f"not {name!r}")
    if trunks.hotline == trunks.general:
        raise ConfigError("trunks.general", "must differ from trunks.hotline: the 400 trunk "
                          "is inbound only and can never carry outbound calls")
    template = settings.routing.dial_template
    if f"@{trunks.hotline}" in template or f"/{trunks.hotline}/" in template:
        raise ConfigError("routing.dial_template", f"dials out on the inbound-only 400 trunk "
                          f"{trunks.hotline!r}; use the general trunk, e.g. "
                          f"PJSIP/{{number}}@{trunks.general}")


# Where each field of the routing snapshot's settings comes from.
_ROUTING_KEYS = {
    "queue_name": "routing.queue",
    "dial_template": "routing.dial_template",
    "ring_timeout_seconds": "routing.ring_timeout",
    "queue_timeout_seconds": "routing.queue_timeout",
    "inbound_endpoint": "trunks.hotline",
}


def routing_settings(settings: Settings) -> domain_routing.RoutingSettings:
    """The routing snapshot's settings (raises the domain's ValidationError)."""
    r = settings.routing
    return domain_routing.RoutingSettings(
        queue_name=r.queue, dial_template=r.dial_template, ring_timeout_seconds=r.ring_timeout,
        queue_timeout_seconds=r.queue_timeout, inbound_endpoint=settings.trunks.hotline,
    )


def _check_routing(settings: Settings) -> None:
    """The snapshot's own validation: check-config accepts exactly what routing loads."""
    try:
        routing_settings(settings)
    except ValidationError as error:
        first = error.errors[0]
        raise ConfigError(_ROUTING_KEYS.get(first.field, "routing"),
                          f"{first.reason} (e.g. {first.example})") from None


def _check_line(settings: Settings) -> None:
    """The line monitor's limits (:mod:`hotline_pbx.domain.line_health`). The
    numbers are checked only when it is enabled; a test number that is also a
    roster mobile is refused at start, once the roster is loaded."""
    line = settings.line
    _range("line.test_after", line.test_after, *line_health.TEST_AFTER_RANGE)
    _range("line.test_timeout", line.test_timeout, *line_health.TEST_TIMEOUT_RANGE)
    _range("line.retest_every", line.retest_every, *line_health.RETEST_EVERY_RANGE)
    if line.retest_every <= line.test_timeout:
        raise ConfigError("line.retest_every", f"must be longer than line.test_timeout "
                          f"({line.test_timeout:g}s): a retest would start before the "
                          f"test it repeats has ended")
    if not line.enabled:
        return
    if not settings.ari.enabled:
        raise ConfigError("line.enabled", "the line monitor places its test calls over ARI: "
                          "set ari.enabled = true (and the ARI password)")
    for key, number in (("line.test_number", line.test_number),
                        ("line.test_caller", line.test_caller)):
        problem = line_health.check_number(number)
        if problem is not None:
            raise ConfigError(key, f"{problem} (e.g. 4008001234)")
    if line_health.same_number(line.test_number, line.test_caller):
        raise ConfigError("line.test_caller", "must differ from line.test_number: it is the "
                          "number test calls come from, not the one they dial")


def _check_long_call(settings: Settings) -> None:
    """``[long_call]`` (issue 12): the limits are :mod:`hotline_pbx.domain.long_calls`'."""
    lc = settings.long_call
    _range("long_call.threshold", lc.threshold, *long_calls.THRESHOLD_RANGE)
    _range("long_call.min_waiting", lc.min_waiting, *long_calls.MIN_WAITING_RANGE)
    _range("long_call.whisper_seconds", lc.whisper_seconds, *long_calls.WHISPER_SECONDS_RANGE)
    _range("long_call.check_every", lc.check_every, 0.2, 60.0)
    for key, media in (("long_call.whisper_media", lc.whisper_media),
                       ("long_call.apology_media", lc.apology_media)):
        problem = long_calls.check_media(media)
        if problem is not None:
            raise ConfigError(key, problem)


# -- [dialer] checks (issue 12) ----------------------------------------------------------
_DIALER_RANGES: dict[str, tuple[float, float]] = {
    "max_channels": (1, 500), "max_cps": (0.05, 50), "ring_timeout": (5, 300),
    "max_attempts": (1, 20), "retry_no_answer": (1, 7 * 86400), "retry_busy": (1, 7 * 86400),
    "retry_congestion": (1, 7 * 86400), "retry_short_answer": (1, 7 * 86400),
    "retry_agent": (1, 86400), "short_answer_seconds": (0, 60), "dtmf_timeout": (1, 60),
    "max_import_bytes": (65536, 500_000_000),
}


def _check_dialer(settings: Settings) -> None:
    """Zero, negative or absurd pacing is refused here, naming the key."""
    dialer = settings.dialer
    for name, (low, high) in _DIALER_RANGES.items():
        _range(f"dialer.{name}", getattr(dialer, name), low, high)
    if dialer.caller_id:
        problem = line_health.check_number(dialer.caller_id)
        if problem is not None:
            raise ConfigError("dialer.caller_id", f"{problem} (e.g. 01088886666)")
    for key, value in (("dialer.sounds_dir", dialer.sounds_dir),
                       ("dialer.sounds_media_dir", dialer.sounds_media_dir)):
        if any(c in value for c in "\x00\n\r"):
            raise ConfigError(key, "must be a directory path without control characters")


def _type_name(value: object) -> str:
    return {bool: "true/false", int: "a number", float: "a number", list: "a list",
            dict: "a table"}.get(type(value), type(value).__name__)


def _one_of(key: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(key, f"must be one of {', '.join(allowed)}, not {value!r}")


def _positive(key: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(key, f"must be greater than 0, not {value!r}")


_NODE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,62}")


def _node(key: str, value: str) -> None:
    if value and _NODE_NAME.fullmatch(value) is None:
        raise ConfigError(key, "must be empty (one Asterisk) or a name of up to 63 letters, "
                          f"digits, '.', '_' or '-' such as pbx1, not {value!r}")


def _range(key: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ConfigError(key, f"must be between {low} and {high}, not {value!r}")


def _port(key: str, value: int) -> None:
    if not 0 <= value <= 65535:
        raise ConfigError(key, f"must be a TCP port 1-65535 (0 picks a free one), not {value}")


def _address(key: str, value: str) -> None:
    if value == "localhost":
        return
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ConfigError(key, f"must be an IP address such as 127.0.0.1, not {value!r}") from None


def _url(key: str, value: str) -> None:
    example = "http://127.0.0.1:8088"
    if _shown_url(value) is None:  # the value may hold a password: never shown
        raise ConfigError(key, f"is not a URL that can be read; write an http(s) URL such "
                          f"as {example} (the value is not shown: it may hold a password)")
    if urlsplit(value).scheme not in ("http", "https"):
        raise ConfigError(key, f"must be an http(s) URL such as {example}, "
                          f"not {redact_url(value)!r}")


def _timezone(key: str, value: str) -> None:
    """The schedule document's own check (the domain's ``load_zone``)."""
    try:
        load_zone(value, key)
    except ValidationError as error:
        raise ConfigError(key, f"{error.reason}, e.g. {error.example}") from None


def _check_dsn(dsn: str) -> None:
    example = "postgresql://user:password@127.0.0.1:5432/hotline"
    try:
        parts = urlsplit(dsn)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        raise ConfigError("database.dsn", f"is malformed; expected {example}") from None
    if parts.scheme not in ("postgresql", "postgres", "postgresql+asyncpg"):
        raise ConfigError("database.dsn", f"must start with postgresql://, e.g. {example}")
    if not parts.path.strip("/"):
        raise ConfigError("database.dsn", f"names no database; expected {example}")
    if not parts.hostname and "host=" not in parts.query:
        raise ConfigError("database.dsn", f"names no host; expected {example}")


# -- display -------------------------------------------------------------------


_USERINFO = re.compile(r"(://)[^/?#@]*@")
# Nothing of a URL is shown around these: a value with one is not shown at all.
_UNSHOWABLE = re.compile(r"[\x00-\x20\x7f\\%]")
NOT_SHOWN = "(not shown: not a well-formed URL, and it may hold a password)"


def redact_userinfo(value: str) -> str:
    """``http://user:pw@host:8088`` → ``http://***@host:8088``; other text unchanged."""
    return _USERINFO.sub(r"\1***@", value)


def _shown_url(value: str) -> str | None:
    """What may be shown of ``value`` as a URL, or None when it is not one that
    parses cleanly as ``scheme://host[:port][/path]`` (then nothing of it is)."""
    if _UNSHOWABLE.search(value):
        return None
    try:
        parts = urlsplit(value)
        port = parts.port  # raises ValueError on a bad one
    except ValueError:  # "Invalid IPv6 URL" and the like
        return None
    scheme_ok = re.fullmatch(r"[a-z][a-z0-9+.-]*", parts.scheme) is not None
    if not scheme_ok or not value.startswith(f"{parts.scheme}://") or not parts.hostname:
        return None
    host = parts.netloc.rpartition("@")[2]
    if host.lower() != (f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname) + (
            "" if port is None else f":{port}"):
        return None
    userinfo = "***@" if "@" in parts.netloc else ""
    path = "/***" if "@" in parts.path else parts.path  # "/u:pw@host" reads as userinfo
    query = "?***" if "?" in value else ""  # any query string may hold a token
    fragment = "#***" if "#" in value else ""
    return f"{parts.scheme}://{userinfo}{host}{path}{query}{fragment}"


def redact_url(value: str) -> str:
    """A URL setting as it may be shown: scheme, host, port and path; the user
    name and password become ``***@``, a query string or fragment ``?***`` or
    ``#***``, and a value that is not a well-formed URL is not shown at all."""
    shown = _shown_url(value)
    return NOT_SHOWN if shown is None else shown


def redacted(settings: Settings) -> dict[str, dict[str, Any]]:
    """The effective configuration with every secret replaced by ``***``, every
    URL setting as :func:`redact_url` shows it, and the user name and password
    of a URL in any other text by ``***@``."""
    out: dict[str, dict[str, Any]] = {}
    for section in _sections():
        values = dataclasses.asdict(getattr(settings, section))
        for key, value in values.items():
            if isinstance(value, Secret) or key in ("secret", "password", "dsn"):
                values[key] = Secret(value).redacted()
            elif key == "url":
                values[key] = redact_url(value)
            elif isinstance(value, str):
                values[key] = redact_userinfo(value)
        out[section] = values
    return out
