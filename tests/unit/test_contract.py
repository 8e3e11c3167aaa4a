"""The contract's names are the ones the dialplan, the docs and the code use.

``hotline_pbx.domain.contract`` defines each value once; these tests read the
shipped dialplan, docs/*.md and the README as text and fail when one of them
names a variable, a metric, a period or an outcome the contract does not (or
misses one it does).
"""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hotline_pbx.agi import server as agi_server
from hotline_pbx.domain import contract
from hotline_pbx.domain.calendar import BusinessCalendar, Schedule
from hotline_pbx.domain.contract import (
    COUNTED_PERIODS,
    ROUTED_PERIODS,
    DialplanVar,
    DutyRole,
    Outcome,
    Period,
    Route,
)
from hotline_pbx.domain.roster import Person, Roster
from hotline_pbx.domain.routing import RoutingSnapshot, decide_route, decision_to_variables
from hotline_pbx.metrics import REGISTRY, SOMETIMES_ABSENT

ROOT = Path(__file__).resolve().parents[2]
DIALPLAN = sorted((ROOT / "dialplan").glob("*.conf"))
DOCS = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
SRC = ROOT / "src" / "hotline_pbx"

_VARIABLE = re.compile(r"HOTLINE_[A-Z_0-9]+")
_METRIC = re.compile(r"\bhotline_[a-z_]+\b")
#: hotline_* words in the docs that are not metrics: the package, the
#: LISTEN/NOTIFY channels, the console's cookies.
_NOT_METRICS = {"hotline_pbx", "hotline_config", "hotline_line", "hotline_routes",
                "hotline_dialer",  # the package, NOTIFY channels
                "hotline_session", "hotline_lang"}  # the console's cookies (docs/console.md)
_HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")
#: Contract variables the shipped dialplan does not use, and why.
_NOT_IN_DIALPLAN = {
    DialplanVar.TEST_CALL: "set by /route on a recognised line-monitor test call",
}


def _dialplan_variables() -> set[str]:
    return {name for path in DIALPLAN for name in _VARIABLE.findall(path.read_text())}


def _docs_text() -> str:
    return "\n".join(path.read_text(encoding="utf-8") for path in DOCS)


def _exported_metric_names() -> set[str]:
    """Every metric of ours as Prometheus shows it (counters with ``_total``); the
    standard ``process_*`` of prometheus_client's collector are not ours."""
    families = [*REGISTRY.collect(), *(m for c in SOMETIMES_ABSENT for m in c.describe())]
    names = {m.name + "_total" if m.type == "counter" else m.name for m in families}
    return {name for name in names if name.startswith("hotline_")}


def test_the_process_metrics_are_exported_and_documented() -> None:
    families = {m.name for m in REGISTRY.collect()}
    kpi = (ROOT / "docs" / "kpi.md").read_text(encoding="utf-8")
    for name in ("process_open_fds", "process_max_fds"):  # HotlineFileDescriptorsLow
        assert name in families
        assert f"`{name}`" in kpi


def _section(markdown: str, heading: str) -> str:
    start = markdown.index(f"\n## {heading}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start:end if end != -1 else None]


# -- the dialplan ---------------------------------------------------------------------


def test_the_dialplan_uses_exactly_the_contract_variables() -> None:
    assert DIALPLAN, "no dialplan/*.conf found"
    expected = DialplanVar.names() - set(_NOT_IN_DIALPLAN)
    assert _dialplan_variables() == expected


def test_every_variable_route_sets_is_a_contract_name() -> None:
    """The names /route really sets (forward with three targets, and queue)."""
    people = [Person(f"p{i}", f"P {i}", f"1380000000{i}") for i in range(3)]
    roster = Roster(people[0], tuple(people[1:]))
    names: set[str] = set()
    for weekly in ((), Schedule().weekly):  # never open: forward; the default hours: queue
        snapshot = RoutingSnapshot(BusinessCalendar(Schedule(weekly=weekly)), roster)
        decision = decide_route(snapshot, datetime(2026, 3, 2, 2, 0, tzinfo=UTC))
        names |= set(decision_to_variables(decision, "call-1"))
    prefixes = (DialplanVar.TARGET, DialplanVar.TARGET_TIMEOUT)
    fixed = {n for n in names if not any(n.startswith(p) and n[len(p):].isdigit()
                                         for p in prefixes)}
    assert fixed <= DialplanVar.names()
    assert {"HOTLINE_TARGET_3", "HOTLINE_TARGET_TIMEOUT_3", DialplanVar.QUEUE} <= names


def test_the_dialplan_sets_only_contract_periods() -> None:
    periods = {value for path in DIALPLAN
               for value in re.findall(r"Set\(HOTLINE_PERIOD=([a-z_]+)\)", path.read_text())}
    assert periods == {Period.FAILSAFE.value}


def test_no_module_spells_a_dialplan_variable_out() -> None:
    """Outside the contract, HOTLINE_* channel variables are referred to by name:
    a string literal ``"HOTLINE_PERIOD"`` in a module would drift from it."""
    variables = DialplanVar.names()
    found = []
    for path in SRC.rglob("*.py"):
        if path.name == "contract.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and node.value in variables:
                found.append(f"{path.relative_to(SRC)}:{node.lineno} {node.value}")
    assert found == []


# -- the docs --------------------------------------------------------------------------


def test_the_docs_name_exactly_the_exported_metrics() -> None:
    mentioned = set()
    for name in _METRIC.findall(_docs_text()):
        if name in _NOT_METRICS:
            continue
        for suffix in _HISTOGRAM_SUFFIXES:
            if name.endswith(suffix) and name.removesuffix(suffix) in _exported_metric_names():
                name = name.removesuffix(suffix)
        mentioned.add(name)
    assert mentioned == _exported_metric_names()


def test_the_kpi_page_lists_exactly_the_periods_and_outcomes() -> None:
    kpi = (ROOT / "docs" / "kpi.md").read_text(encoding="utf-8")
    periods = re.findall(r"^\| `([a-z_]+)` \|", _section(kpi, "Call period"), re.M)
    assert periods == [p.value for p in Period]
    terms = re.findall(r"^\| \*\*([a-z_]+)\*\* \|", _section(kpi, "Call outcomes"), re.M)
    assert set(terms) - {"offered"} == {o.value for o in Outcome}


@pytest.mark.parametrize(("variable", "values"), [
    (DialplanVar.PERIOD, [p.value for p in ROUTED_PERIODS]),
    (DialplanVar.ROUTE, [r.value for r in Route]),
])
def test_docs_and_dialplan_list_the_values_route_sets(variable: str, values: list[str]
                                                      ) -> None:
    """``HOTLINE_PERIOD`` (open|closed|override), wherever it is written so."""
    pattern = re.compile(rf"{variable}`?,?\s*\(([a-z_|]+)\)")
    texts = [_docs_text(), *(path.read_text() for path in DIALPLAN)]
    listed = [match.split("|") for text in texts for match in pattern.findall(text)]
    assert listed, f"no list of {variable}'s values found"
    assert all(found == values for found in listed), listed


def test_the_docs_list_the_agi_results() -> None:
    kpi = (ROOT / "docs" / "kpi.md").read_text(encoding="utf-8")
    row = next(line for line in kpi.splitlines()
               if line.startswith("| `hotline_agi_requests_total"))
    results = {agi_server.OK, agi_server.HANGUP_RESULT, agi_server.ERROR, agi_server.TIMEOUT,
               agi_server.REFUSED, agi_server.UNKNOWN_SCRIPT, agi_server.PROTOCOL_ERROR}
    assert set(re.findall(r"`([a-z_]+)`", row.split("|")[2])) == results


# -- the contract itself -------------------------------------------------------------


def test_periods_keep_their_stored_values_and_order() -> None:
    assert [p.value for p in Period] == ["open", "closed", "override", "failsafe", "unrouted"]
    assert [p.value for p in COUNTED_PERIODS] == ["open", "closed", "override", "failsafe"]
    assert Period.UNROUTED not in COUNTED_PERIODS
    assert set(ROUTED_PERIODS) < set(COUNTED_PERIODS)


def test_api_and_roster_roles_are_different_names() -> None:
    assert [r.key for r in sorted(contract.AccessRole)] == ["viewer", "supervisor", "admin"]
    assert [r.value for r in DutyRole] == ["supervisor", "deputy"]
    assert contract.AccessRole.parse("admin") > contract.AccessRole.parse("supervisor")
    with pytest.raises(ValueError, match="unknown role"):
        contract.AccessRole.parse("deputy")


def test_each_contract_name_is_defined_once() -> None:
    """No module other than the contract defines (assigns, or declares a class
    of) a name the contract defines."""
    names = {name for name in contract.__all__ if not name.startswith("dialplan_")}
    found = []
    for path in SRC.rglob("*.py"):
        if path.name == "contract.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            defined: list[str] = []
            if isinstance(node, ast.ClassDef | ast.FunctionDef):
                defined = [node.name]
            elif isinstance(node, ast.Assign):
                defined = [t.id for t in node.targets if isinstance(t, ast.Name)]
                defined += [e.id for t in node.targets if isinstance(t, ast.Tuple)
                            for e in t.elts if isinstance(e, ast.Name)]
            elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                defined = [node.target.id]
            found += [f"{path.relative_to(SRC)}:{node.lineno} {name}"
                      for name in defined if name in names]
    assert found == []
