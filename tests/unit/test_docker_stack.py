"""Static checks of the compose stack's newer parts (no Docker engine here):
the Asterisk image of the `with-asterisk` profile, Alertmanager, the fixed
addresses and ports they agree on with the daemon's defaults; the Asterisk
entrypoint run for real on copies of the shipped files; Prometheus's config
through promtool. (hadolint is not packaged for Debian 12 and cannot be
downloaded here: the Dockerfiles are checked by these tests instead.)"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from hotline_pbx.config import load_settings

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
COMPOSE = DOCKER / "compose.yaml"
ASTERISK_DOCKERFILE = DOCKER / "asterisk" / "Dockerfile"
ENTRYPOINT = DOCKER / "asterisk" / "entrypoint.sh"
ALERTMANAGER = DOCKER / "alertmanager" / "alertmanager.yml"
PROMETHEUS = DOCKER / "prometheus" / "prometheus.yml"
DEFAULTS = load_settings(None, {"HOTLINE_AMI_SECRET": "x"})


def compose() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return data


def test_the_asterisk_profile_builds_from_the_shipped_files() -> None:
    services = compose()["services"]
    asterisk = services["asterisk"]
    assert asterisk["profiles"] == ["with-asterisk"]  # the customer's PBX is the default
    assert (ROOT / asterisk["build"]["context"].replace("..", ".")).exists()
    assert (ROOT / asterisk["build"]["dockerfile"]) == ASTERISK_DOCKERFILE
    text = ASTERISK_DOCKERFILE.read_text()
    assert re.search(r"^FROM debian:sid", text, re.M)  # Asterisk 22 is in unstable
    assert re.search(r"^USER asterisk$", text, re.M) and "HEALTHCHECK" in text
    for source in re.findall(r"^COPY (\S+) ", text, re.M):
        assert (ROOT / source).exists(), f"the Dockerfile copies {source}, which is missing"
    assert ENTRYPOINT.stat().st_mode & 0o111


def test_addresses_and_ports_agree_with_the_daemons_defaults() -> None:
    services = compose()["services"]
    daemon_ip = services["hotline-pbx"]["networks"]["default"]["ipv4_address"]
    asterisk_ip = services["asterisk"]["networks"]["default"]["ipv4_address"]
    subnet = compose()["networks"]["default"]["ipam"]["config"][0]["subnet"]
    prefix = subnet.split("/")[0].rsplit(".", 1)[0]
    assert daemon_ip.startswith(prefix) and asterisk_ip.startswith(prefix)
    env = services["asterisk"]["environment"]
    assert env["AGI_TARGET"] == f"{daemon_ip}:{DEFAULTS.agi.port}"
    assert env["AMI_PERMIT"].startswith(prefix)
    published = {p.split(":")[-2] + ":" + p.split(":")[-1]
                 for p in services["hotline-pbx"]["ports"]}
    assert f"{DEFAULTS.agi.port}:{DEFAULTS.agi.port}" in published
    assert f"{DEFAULTS.http.port}:{DEFAULTS.http.port}" in published
    assert "5060:5060/udp" in services["asterisk"]["ports"]
    assert f"{asterisk_ip}" in COMPOSE.read_text()  # the HOTLINE_AMI_HOST to give
    manager = (ROOT / "asterisk-conf" / "manager.conf").read_text()
    assert re.search(rf"^port = {DEFAULTS.ami.port}$", manager, re.M)


def test_prometheus_sends_alerts_to_the_stacks_alertmanager() -> None:
    config = yaml.safe_load(PROMETHEUS.read_text())
    [target] = config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"]
    host, port = target.split(":")
    alertmanager = compose()["services"][host]
    assert any(p.endswith(f":{port}") for p in alertmanager["ports"])
    mounts = alertmanager["volumes"]
    assert "./alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro" in mounts
    assert "alertmanager" in compose()["services"]["prometheus"]["depends_on"]


_MATCHER = re.compile(r'^[a-zA-Z_]+(=|!=|=~|!~)"[^"]*"$')


def _routes(route: dict[str, Any]) -> list[dict[str, Any]]:
    return [route, *(r for child in route.get("routes", []) for r in _routes(child))]


def test_alertmanager_routes_to_receivers_it_has_with_valid_matchers() -> None:
    config = yaml.safe_load(ALERTMANAGER.read_text())
    receivers = {r["name"] for r in config["receivers"]}
    for route in _routes(config["route"]):
        assert route.get("receiver", config["route"]["receiver"]) in receivers
        for matcher in route.get("matchers", []):
            assert _MATCHER.match(matcher), matcher
    rules = (DOCKER / "prometheus" / "rules.yml").read_text()
    named = set(re.findall(r"alertname=~?\"([A-Za-z|]+)\"", ALERTMANAGER.read_text()))
    for alert in {a for group in named for a in group.split("|")}:
        assert f"alert: {alert}" in rules, f"alertmanager.yml names {alert}, no rule has it"
    for inhibit in config["inhibit_rules"]:
        for matcher in inhibit["source_matchers"] + inhibit["target_matchers"]:
            assert _MATCHER.match(matcher), matcher


def test_promtool_accepts_the_prometheus_config(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    assert promtool is not None, "promtool (prometheus) is installed by scripts/setup.sh"
    config = tmp_path / "prometheus.yml"
    config.write_text(PROMETHEUS.read_text().replace(
        "/etc/prometheus/rules.yml", str(DOCKER / "prometheus" / "rules.yml")))
    done = subprocess.run([promtool, "check", "config", str(config)], capture_output=True,
                          text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("ari", ["", "ari-secret"])
def test_the_entrypoint_puts_the_secrets_and_addresses_in(tmp_path: Path, ari: str) -> None:
    for name in ("manager.conf", "ari.conf", "http.conf"):
        shutil.copy(ROOT / "asterisk-conf" / name, tmp_path / name)
    shutil.copy(ROOT / "dialplan" / "extensions_hotline.conf", tmp_path)
    env = {"PATH": "/usr/bin:/bin", "AMI_SECRET": "ami-secret", "ARI_PASSWORD": ari,
           "CONF_DIR": str(tmp_path)}
    done = subprocess.run(["sh", str(ENTRYPOINT), "true"], env=env, capture_output=True,
                          text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    manager = (tmp_path / "manager.conf").read_text()
    assert "secret = ami-secret" in manager and "change-me" not in manager
    assert "bindaddr = 0.0.0.0" in manager and "permit = 172.30.0.0/255.255.255.0" in manager
    dialplan = (tmp_path / "extensions_hotline.conf").read_text()
    assert "HOTLINE_AGI_HOST=172.30.0.20:4573" in dialplan
    assert ("password = ari-secret" in (tmp_path / "ari.conf").read_text()) == bool(ari)
    missing = subprocess.run(["sh", str(ENTRYPOINT), "true"], env={
        "PATH": "/usr/bin:/bin", "CONF_DIR": str(tmp_path)}, capture_output=True, text=True,
        timeout=30, check=False)
    assert missing.returncode != 0 and "AMI secret" in missing.stderr
