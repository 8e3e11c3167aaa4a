"""The shipped asterisk-conf/manager.conf event filter, read as Asterisk reads it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

MANAGER_CONF = Path(__file__).resolve().parents[3] / "asterisk-conf" / "manager.conf"

_FILTER = re.compile(r"^eventfilter\((?P<spec>.*)\)\s*=\s*(?P<value>.*)$")


def event_filters() -> list[dict[str, str]]:
    """``eventfilter(action(include),name(VarSet),header(Variable),method(starts_with)) = X``
    → ``{"action": "include", "name": "VarSet", …, "value": "X"}``."""
    filters = []
    for line in MANAGER_CONF.read_text().splitlines():
        found = _FILTER.match(line.strip())
        if found:
            parts = dict(re.findall(r"(\w+)\(([^()]*)\)", found["spec"]))
            filters.append({**parts, "value": found["value"].strip()})
    return filters


def _matches(rule: Mapping[str, str], event: Mapping[str, str]) -> bool:
    if "name" in rule and event.get("Event") != rule["name"]:
        return False
    if "header" not in rule:
        return True
    value = event.get(rule["header"])
    if value is None:
        return False
    method = rule.get("method", "regex")
    if method == "exact":
        return value == rule["value"]
    if method == "starts_with":
        return value.startswith(rule["value"])
    return re.search(rule["value"], value) is not None


def admits(event: Mapping[str, str]) -> bool:
    """Whether the shipped filter lets ``event`` through (the include filters only:
    the shipped file has no exclude filter, which a test of this module checks)."""
    return any(_matches(rule, event) for rule in _INCLUDES)


_INCLUDES = [rule for rule in event_filters() if rule.get("action") == "include"]
