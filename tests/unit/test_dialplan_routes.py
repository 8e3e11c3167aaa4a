"""The shipped dialplan has a context for every route ``/route`` may answer, and a
line-monitor test call ends at once, never on the fail-safe route.

Read as text (asterisklint checks the syntax: scripts/lint-dialplan.sh); the
e2e test of the same path is tests/e2e/test_public_network.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from hotline_pbx.domain.contract import Route

DIALPLAN = Path(__file__).resolve().parents[2] / "dialplan" / "extensions_hotline.conf"


def _contexts() -> dict[str, list[str]]:
    """Context name → its dialplan lines, comments and blank lines left out."""
    contexts: dict[str, list[str]] = {}
    current: list[str] = []
    for raw in DIALPLAN.read_text(encoding="utf-8").splitlines():
        line = raw.split(";", 1)[0].strip()
        header = re.fullmatch(r"\[([\w-]+)\]", line)
        if header:
            current = contexts.setdefault(header[1], [])
        elif line:
            current.append(line)
    return contexts


def _route_jump(route: Route) -> str:
    return f'GotoIf($["${{HOTLINE_ROUTE}}" = "{route.value}"]?hotline-route-{route.value},s,1)'


@pytest.mark.parametrize("route", list(Route), ids=str)
def test_every_route_has_its_jump_and_its_context(route: Route) -> None:
    contexts = _contexts()
    assert any(line.endswith(_route_jump(route)) for line in contexts["hotline-inbound"])
    assert contexts.get(f"hotline-route-{route.value}"), f"no [hotline-route-{route.value}]"


def test_a_test_call_is_hung_up_at_once() -> None:
    """No agent rings, no announcement plays: the one step is a normal clearing."""
    assert _contexts()["hotline-route-test"] == ["exten => s,1,Hangup(16)"]


def test_the_fail_safe_never_takes_a_test_call() -> None:
    """The test route is checked right after the AGI, before anything can reach
    the fail-safe (an AGISTATUS other than SUCCESS, an unknown route)."""
    inbound = _contexts()["hotline-inbound"]
    agi = next(i for i, line in enumerate(inbound) if "AGI(${HOTLINE_AGI_SCHEME}://" in line)
    assert inbound[agi + 1].endswith(_route_jump(Route.TEST))
    assert not any("hotline-failsafe" in line for line in inbound[:agi + 1])
