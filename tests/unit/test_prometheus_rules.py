"""Static checks of docker/: Prometheus rules and alerts, Grafana dashboard, compose, Dockerfile.

The rules are checked and unit-tested with promtool (Debian package
``prometheus``; the project's test command installs it). Every metric name used
by a rule, a rule test or a dashboard panel must be one hotline-pbx exports
(``hotline_pbx.metrics.REGISTRY``), a recording rule, or a Prometheus built-in.
The compose file is parsed with PyYAML when it is installed, otherwise checked
textually. No Docker engine is needed.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import subprocess
import textwrap
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.utils import floatToGoString

from hotline_pbx.cli import build_parser
from hotline_pbx.config import Settings, load_settings
from hotline_pbx.metrics import REGISTRY, SOMETIMES_ABSENT, WAIT_BUCKETS
from hotline_pbx.resources import SHIPPED

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
RULES = DOCKER / "prometheus" / "rules.yml"
RULES_TEST = DOCKER / "prometheus" / "rules_test.yml"
PROMETHEUS_CONFIG = DOCKER / "prometheus" / "prometheus.yml"
DASHBOARD = DOCKER / "grafana" / "dashboards" / "hotline.json"
DATASOURCES = DOCKER / "grafana" / "provisioning" / "datasources" / "prometheus.yml"
DASHBOARD_PROVIDER = DOCKER / "grafana" / "provisioning" / "dashboards" / "hotline.yml"
COMPOSE = DOCKER / "compose.yaml"
ENV_EXAMPLE = DOCKER / ".env.example"
DOCKERFILE = DOCKER / "Dockerfile"
CONTAINER_CONFIG = DOCKER / "config" / "hotline.toml"
KPI_DOC = ROOT / "docs" / "kpi.md"

PROMTOOL = shutil.which("promtool")
# The README test command installs promtool and sets HOTLINE_E2E=required:
# there a missing promtool fails instead of skipping.
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None and os.environ.get("HOTLINE_E2E") != "required",
    reason="promtool is not installed (Debian package 'prometheus'; the project's test "
    "command installs it with apt-get)",
)

# Series Prometheus itself makes, which may appear in rules and panels.
PROMETHEUS_BUILTINS = {"up", "ALERTS", "ALERTS_FOR_STATE"}
MIN_CALLS = 20
ANSWER_RATE_TARGET = 0.85


# -- helpers -------------------------------------------------------------------


def exported_names() -> set[str]:
    """Series names the daemon exposes, from the registry's metric families."""
    names: set[str] = set()
    for family in [*REGISTRY.collect(), *(m for c in SOMETIMES_ABSENT for m in c.describe())]:
        if family.type == "counter":
            names.add(f"{family.name}_total")
        elif family.type == "histogram":
            names |= {f"{family.name}{suffix}" for suffix in ("_bucket", "_sum", "_count")}
        elif family.type == "summary":
            names |= {family.name, f"{family.name}_sum", f"{family.name}_count"}
        else:
            names.add(family.name)
    return names


_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring",
             "group_left", "group_right", "inf", "nan", "Inf", "NaN"}


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (functions, labels and keywords removed)."""
    s = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)  # string literals
    s = re.sub(r"\$\{[^}]*\}|\$\w+", "", s)  # Grafana variables
    s = re.sub(r"\{[^}]*\}", "", s)  # label matchers
    s = re.sub(r"\[[^\]]*\]", "", s)  # range selectors
    s = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", s)
    s = re.sub(r"(?<![\w:])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?", "", s)  # numbers
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", s):
        word = match.group(0)
        if s[match.end():].lstrip().startswith("(") or word in _KEYWORDS:
            continue  # a function or an aggregation, or a keyword
        names.add(word)
    return names


@dataclasses.dataclass
class Rule:
    kind: str  # record | alert
    name: str
    expr: str
    body: str  # the rule's whole YAML text


def parse_rules(text: str) -> list[Rule]:
    """The rules of a Prometheus rule file, read textually (PyYAML may be absent).

    Handles the layout of rules.yml: ``- record: NAME`` / ``- alert: NAME`` items
    whose ``expr:`` is inline or a block scalar (``|`` / ``>``).
    """
    lines = text.splitlines()
    starts = [(i, m) for i, line in enumerate(lines)
              if (m := re.match(r"^(\s*)- (record|alert):\s*(\S+)\s*$", line))]
    rules = []
    for n, (i, m) in enumerate(starts):
        item_indent = len(m.group(1))
        end = starts[n + 1][0] if n + 1 < len(starts) else len(lines)
        for j in range(i + 1, end):  # a shallower line (a new group) ends the item
            line = lines[j]
            if line.strip() and not line.lstrip().startswith("#") and \
                    len(line) - len(line.lstrip()) <= item_indent:
                end = j
                break
        body = lines[i:end]
        expr = ""
        for k, line in enumerate(body):
            em = re.match(r"^(\s*)expr:\s*(.*)$", line)
            if not em:
                continue
            value = em.group(2).strip()
            if value and value[0] not in "|>":
                expr = value.strip("'\"")
            else:
                indent = len(em.group(1))
                block = []
                for cont in body[k + 1:]:
                    if cont.strip() and len(cont) - len(cont.lstrip()) <= indent:
                        break
                    block.append(cont)
                expr = textwrap.dedent("\n".join(block)).strip()
            break
        rules.append(Rule(m.group(2), m.group(3), expr, "\n".join(body)))
    return rules


def normalise(expr: str) -> str:
    return " ".join(expr.split())


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def load_yaml(path: Path) -> Any | None:
    try:
        import yaml  # type: ignore[import-untyped]
    except ImportError:
        return None
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def run_promtool(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run([PROMTOOL, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)


@pytest.fixture(scope="module")
def rules() -> list[Rule]:
    parsed = parse_rules(RULES.read_text(encoding="utf-8"))
    # Every test below loops over these: a parser that finds nothing must fail them.
    assert {rule.kind for rule in parsed} == {"record", "alert"}, f"rules parsed: {parsed}"
    return parsed


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    result: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return result


def dashboard_exprs(dashboard: dict[str, Any]) -> list[str]:
    return [node["expr"] for node in walk(dashboard) if isinstance(node.get("expr"), str)]


def env_example() -> dict[str, str]:
    values = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


# -- promtool ------------------------------------------------------------------


@needs_promtool
def test_promtool_check_rules(rules: list[Rule]) -> None:
    result = run_promtool("check", "rules", str(RULES))
    assert result.returncode == 0, result.stdout + result.stderr
    found = re.search(r"SUCCESS: (\d+) rules found", result.stdout)
    assert found, result.stdout
    # The textual parser of this module sees every rule promtool sees.
    assert int(found.group(1)) == len(rules)


@needs_promtool
def test_promtool_unit_tests_pass() -> None:
    result = run_promtool("test", "rules", RULES_TEST.name, cwd=RULES_TEST.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


@needs_promtool
def test_promtool_check_prometheus_config(tmp_path: Path) -> None:
    # The config names the rules by their path in the container; check a copy
    # that points at the repository's file.
    config = PROMETHEUS_CONFIG.read_text(encoding="utf-8")
    assert "/etc/prometheus/rules.yml" in config
    shutil.copy(RULES, tmp_path / "rules.yml")
    (tmp_path / "prometheus.yml").write_text(
        config.replace("/etc/prometheus/rules.yml", str(tmp_path / "rules.yml")),
        encoding="utf-8")
    result = run_promtool("check", "config", str(tmp_path / "prometheus.yml"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 rule files found" in result.stdout


# -- rules ---------------------------------------------------------------------


def test_every_rule_uses_exported_metrics(rules: list[Rule]) -> None:
    known = exported_names() | PROMETHEUS_BUILTINS | {r.name for r in rules if r.kind == "record"}
    for rule in rules:
        assert rule.expr, f"{rule.name}: no expr found"
        unknown = metric_names(rule.expr) - known
        assert not unknown, f"{rule.name} uses {sorted(unknown)}, which nothing exports"


def test_rule_tests_use_exported_series() -> None:
    series = re.findall(r"series:\s*'([A-Za-z_:][A-Za-z0-9_:]*)",
                        RULES_TEST.read_text(encoding="utf-8"))
    assert series
    unknown = set(series) - exported_names() - PROMETHEUS_BUILTINS
    assert not unknown, f"rules_test.yml feeds series nothing exports: {sorted(unknown)}"


def test_recording_rules_cover_every_kpi_and_window(rules: list[Rule]) -> None:
    recorded = {r.name for r in rules if r.kind == "record"}
    for window in ("15m", "1h", "1d"):
        for kpi in ("answer_rate", "service_level", "abandon_rate"):
            name = f"hotline:{kpi}:ratio_rate{window}"
            assert name in recorded
            bodies = [r.body for r in rules if r.name == name]
            # one series per period (open is the open-hours KPI) and one for all periods
            assert any("sum by (period)" in b for b in bodies), name
            assert any("period: all" in b for b in bodies), name
        assert f"hotline:calls_countable:increase{window}" in recorded
        assert f"hotline:asa_seconds:mean{window}" in recorded


def test_ratios_guard_division_by_zero(rules: list[Rule]) -> None:
    ratios = [rule for rule in rules if rule.kind == "record" and "/" in rule.expr]
    assert ratios
    for rule in ratios:
        assert re.search(r"\)\s*>\s*0\)\s*$", rule.expr), \
            f"{rule.name}: the denominator must be filtered with > 0"


def test_service_level_bucket_matches_the_client() -> None:
    # The SL rule reads the le="20" bucket: 20 must be a boundary, and the matcher
    # must accept how prometheus_client writes it ("20.0") and the bare "20".
    assert 20 in WAIT_BUCKETS
    assert Settings().kpi.service_level_seconds == 20
    matchers = set(re.findall(r'le=~"([^"]*)"', RULES.read_text(encoding="utf-8")))
    assert len(matchers) == 1
    pattern = matchers.pop().replace("\\\\", "\\")
    for spelling in (floatToGoString(20), "20"):
        assert re.fullmatch(pattern, spelling), (pattern, spelling)
    assert not re.fullmatch(pattern, floatToGoString(200))


def test_alerts(rules: list[Rule]) -> None:
    alerts = {r.name: r for r in rules if r.kind == "alert"}
    for name in ("HotlineAnswerRateLow", "HotlineAmiDown", "HotlineOutboundBlocked",
                 "HotlineLineDown", "HotlineNoCallsOpenHours", "HotlineDbSpooling",
                 "HotlineDaemonDown"):
        assert name in alerts, name
    for alert in alerts.values():
        assert re.search(r"^\s+severity: (critical|warning|info)$", alert.body, re.M), alert.name
        assert re.search(r"^\s+summary: \S", alert.body, re.M), alert.name
        assert re.search(r"^\s+description: \S", alert.body, re.M), alert.name

    low = alerts["HotlineAnswerRateLow"]
    assert 'hotline:answer_rate:ratio_rate15m{period="open"} < 0.85' in low.expr
    assert f'hotline:calls_countable:increase15m{{period="open"}} >= {MIN_CALLS}' in low.expr
    assert re.search(r"^\s+for: 15m$", low.body, re.M)
    assert f"fewer than {MIN_CALLS} countable calls" in normalise(low.body)  # the reason

    assert "hotline_ami_connected == 0" in alerts["HotlineAmiDown"].expr
    assert "absent(hotline_ami_connected" in alerts["HotlineAmiDown"].expr
    assert re.search(r"^\s+for: 1m$", alerts["HotlineAmiDown"].body, re.M)
    assert "increase(hotline_outbound_blocked_total" in alerts["HotlineOutboundBlocked"].expr
    assert "severity: critical" in alerts["HotlineOutboundBlocked"].body
    line_down = alerts["HotlineLineDown"]
    assert "max by (job) (hotline_line_up) == 0" in line_down.expr
    assert "max by (job) (hotline_open_hours) == 1" in line_down.expr  # open hours only
    assert re.search(r"^\s+for: 2m$", line_down.body, re.M)
    quiet = alerts["HotlineNoCallsOpenHours"]
    assert "increase(hotline_calls_offered_total[1h])) == 0" in quiet.expr
    assert "min_over_time(hotline_open_hours[1h])" in quiet.expr
    assert "hotline_db_spooled_records > 0" in alerts["HotlineDbSpooling"].expr
    assert re.search(r"^\s+for: 5m$", alerts["HotlineDbSpooling"].body, re.M)
    assert 'up{job="hotline-pbx"} == 0' in alerts["HotlineDaemonDown"].expr
    fds = alerts["HotlineFileDescriptorsLow"]
    assert 'process_open_fds{job="hotline-pbx"} > 0.8 * process_max_fds' in fds.expr
    assert re.search(r"^\s+for: 5m$", fds.body, re.M)


# -- Grafana -------------------------------------------------------------------


def test_dashboard_uses_exported_metrics(dashboard: dict[str, Any], rules: list[Rule]) -> None:
    known = exported_names() | PROMETHEUS_BUILTINS | {r.name for r in rules if r.kind == "record"}
    exprs = dashboard_exprs(dashboard)
    assert len(exprs) > 20
    used: set[str] = set()
    for expr in exprs:
        names = metric_names(expr)
        assert names, f"no metric found in {expr!r}"
        unknown = names - known
        assert not unknown, f"panel expression {expr!r} uses {sorted(unknown)}"
        used |= names
    for needed in ("hotline_calls_total", "hotline_calls_offered_total",
                   "hotline_call_wait_seconds_bucket", "hotline_call_wait_seconds_sum",
                   "hotline_call_wait_seconds_count", "hotline_calls_active",
                   "hotline_ami_connected", "hotline_line_up", "hotline_outbound_blocked_total",
                   "hotline_db_pending_records", "hotline_db_spooled_records",
                   "hotline:answer_rate:ratio_rate15m", "hotline:service_level:ratio_rate15m"):
        assert needed in used, f"no panel shows {needed}"


def test_dashboard_layout_and_panels(dashboard: dict[str, Any]) -> None:
    assert dashboard["schemaVersion"] >= 36
    assert dashboard["uid"] and dashboard["title"]
    panels = dashboard["panels"]
    assert panels
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    boxes = []
    for p in panels:
        g = p["gridPos"]
        assert g["x"] >= 0 and g["x"] + g["w"] <= 24, p["title"]
        boxes.append((g["x"], g["y"], g["x"] + g["w"], g["y"] + g["h"], p["title"]))
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            overlap = a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]
            assert not overlap, f"panels {a[4]!r} and {b[4]!r} overlap"

    answer = next(p for p in panels if p["title"] == "Answer rate, open hours")
    steps = answer["fieldConfig"]["defaults"]["thresholds"]["steps"]
    assert ANSWER_RATE_TARGET in [s["value"] for s in steps]
    assert answer["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] != "off"

    exprs = [normalise(e) for e in dashboard_exprs(dashboard)]
    asa = [e for e in exprs if "hotline_call_wait_seconds_sum" in e
           and "hotline_call_wait_seconds_count" in e]
    assert asa and all('outcome="answered"' in e for e in asa)
    assert any("histogram_quantile" in e and "hotline_call_wait_seconds_bucket" in e
               for e in exprs)
    assert any(p["type"] == "heatmap" for p in panels)


def test_grafana_provisioning_matches_dashboard(dashboard: dict[str, Any]) -> None:
    datasources = DATASOURCES.read_text(encoding="utf-8")
    uid = re.search(r"^\s+uid:\s*(\S+)", datasources, re.M)
    assert uid and "url: http://prometheus:9090" in datasources
    used = {n["datasource"]["uid"] for n in walk(dashboard)
            if isinstance(n.get("datasource"), dict)
            and n["datasource"].get("type") == "prometheus"}
    assert used == {uid.group(1)}
    provider = DASHBOARD_PROVIDER.read_text(encoding="utf-8")
    path = re.search(r"^\s+path:\s*(\S+)", provider, re.M)
    assert path
    assert f"./grafana/dashboards:{path.group(1)}" in COMPOSE.read_text(encoding="utf-8")


# -- Prometheus scrape config, container config ---------------------------------


def test_scrape_config_targets_the_daemon_http_port() -> None:
    text = PROMETHEUS_CONFIG.read_text(encoding="utf-8")
    assert re.search(r"^\s+- job_name: hotline-pbx$", text, re.M)
    assert re.search(r"^\s+metrics_path: /metrics$", text, re.M)
    port = Settings().http.port
    assert f'targets: ["hotline-pbx:{port}"]' in text


def container_environ() -> dict[str, str]:
    env = env_example()
    return {
        "HOTLINE_DATABASE_DSN":
            f"postgresql://hotline:{env['HOTLINE_DB_PASSWORD']}@postgres:5432/hotline",
        **{k: v for k, v in env.items() if k.startswith(("HOTLINE_AMI_", "HOTLINE_ARI_"))},
    }


def test_container_config_is_valid() -> None:
    settings = load_settings(CONTAINER_CONFIG, environ=container_environ())
    assert settings.http.host == "0.0.0.0" and settings.http.port == 8080
    assert settings.agi.host == "0.0.0.0" and settings.agi.port == 4573
    assert settings.kpi.service_level_seconds == 20  # the rules read the le="20" bucket
    assert settings.database.dsn and settings.ami.secret


# -- compose -------------------------------------------------------------------


def config_env_names() -> set[str]:
    """Every HOTLINE_<SECTION>_<KEY> variable hotline_pbx.config reads."""
    names = set()
    hints = typing.get_type_hints(Settings)
    for section in dataclasses.fields(Settings):
        if section.name == "source":
            continue
        for key in dataclasses.fields(hints[section.name]):
            name = f"HOTLINE_{section.name}_{key.name}".upper()
            names |= {name, f"{name}_FILE"}
    return names


def test_compose_file() -> None:
    text = COMPOSE.read_text(encoding="utf-8")
    data = load_yaml(COMPOSE)
    if data is not None:
        services = data["services"]
        assert {"hotline-pbx", "postgres", "prometheus", "grafana"} <= set(services)
        assert services["postgres"]["image"] == "postgres:16"
        assert services["hotline-pbx"]["build"]["dockerfile"] == "docker/Dockerfile"
        mounts = [v for s in services.values() for v in s.get("volumes", [])]
        env_keys = set(services["hotline-pbx"]["environment"])
    else:
        # PyYAML is not installed: a lighter textual check of the same facts.
        block = text.split("\nservices:\n", 1)[1].split("\nvolumes:\n", 1)[0]
        services = set(re.findall(r"^  ([a-z0-9-]+):\s*$", block, re.M))
        assert {"hotline-pbx", "postgres", "prometheus", "grafana"} <= services
        assert re.search(r"^    image: postgres:16$", block, re.M)
        assert re.search(r"^      dockerfile: docker/Dockerfile$", block, re.M)
        mounts = re.findall(r"^\s+- (\./\S+)$", block, re.M)
        env_keys = set(re.findall(r"^\s+(HOTLINE_[A-Z0-9_]+):", text, re.M))

    bind_sources = {m.split(":")[0] for m in mounts if m.startswith("./")}
    for needed in ("./prometheus/rules.yml", "./prometheus/prometheus.yml",
                   "./grafana/provisioning", "./grafana/dashboards", "./config/hotline.toml"):
        assert needed in bind_sources, f"compose mounts no {needed}"
    for source in bind_sources:
        assert (DOCKER / source).exists(), f"compose mounts {source}, which does not exist"
    assert "./prometheus/rules.yml:/etc/prometheus/rules.yml" in text

    # Variables the daemon would silently ignore if misspelt.
    assert env_keys, "no HOTLINE_* variables passed to hotline-pbx"
    unknown = env_keys - config_env_names()
    assert not unknown, f"hotline_pbx.config reads no {sorted(unknown)}"
    assert "HOTLINE_AMI_SECRET" in env_keys and "HOTLINE_DATABASE_DSN" in env_keys

    # Every variable compose interpolates is documented in .env.example.
    interpolated = set(re.findall(r"\$\{([A-Z0-9_]+)", text))
    assert interpolated
    assert interpolated <= set(env_example()), interpolated - set(env_example())


# -- Dockerfile ------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile() -> None:
    instructions = dockerfile_instructions()
    froms = [rest for word, rest in instructions if word == "FROM"]
    assert froms and all(f.startswith("python:3.11-slim") for f in froms)

    users = [rest for word, rest in instructions if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")

    healthchecks = [rest for word, rest in instructions if word == "HEALTHCHECK"]
    assert len(healthchecks) == 1
    assert "http://127.0.0.1:8080/healthz" in healthchecks[0]
    assert Settings().http.port == 8080

    cmds = [rest for word, rest in instructions if word == "CMD"]
    assert len(cmds) == 1
    argv = json.loads(cmds[0])  # exec form
    assert argv[0] == "hotline-pbx"
    args = build_parser().parse_args(argv[1:])  # the CLI accepts it as it is
    assert args.command == "run"
    assert args.config == "/etc/hotline-pbx/hotline.toml"

    copied = [source for word, rest in instructions
              if word == "COPY" and not rest.startswith("--from")
              for source in rest.split()[:-1] if source != "."]
    assert copied
    for source in copied:
        assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
    assert "8080" in " ".join(rest for word, rest in instructions if word == "EXPOSE")


def test_docker_build_context_has_what_the_wheel_build_reads() -> None:
    """The image's `pip wheel /src` runs setup.py, which copies the shipped
    directories into the package: the build context must let them in."""
    patterns = [line.strip() for line in (DOCKER / "Dockerfile.dockerignore").read_text(
        encoding="utf-8").splitlines() if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*"  # everything out, then what is needed back in
    let_in = {pattern[1:] for pattern in patterns if pattern.startswith("!")}
    needed = {"pyproject.toml", "setup.py", "MANIFEST.in", "README.md", "src", *SHIPPED}
    assert needed <= let_in, f"the build context lacks {sorted(needed - let_in)}"


# -- docs ------------------------------------------------------------------------


def test_kpi_doc_matches_the_rules(rules: list[Rule]) -> None:
    doc = KPI_DOC.read_text(encoding="utf-8")
    flat = normalise(doc)
    for term in ("offered", "answered", "short_abandoned", "abandoned", "missed",
                 "answer rate", "service level", "ASA", "talk time", "period"):
        assert term.lower() in doc.lower(), term
    for rule in rules:
        assert rule.name in doc, f"docs/kpi.md does not mention {rule.name}"
        if rule.kind == "record":
            assert normalise(rule.expr) in flat, f"docs/kpi.md lacks the PromQL of {rule.name}"
    assert f">= {MIN_CALLS}" in doc
    assert "closed" in doc and "never" in doc
