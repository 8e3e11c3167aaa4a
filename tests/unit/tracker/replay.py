"""Replaying recorded AMI captures through the production normaliser and tracker."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hotline_pbx.ami.normalise import Normaliser, event_time
from hotline_pbx.config import KpiSettings
from hotline_pbx.domain.call_record import CallRecord, record_of
from hotline_pbx.domain.call_tracker import Call, CallTracker, RouteInfo, RouteTarget

FIXTURES = Path(__file__).resolve().parent / "fixtures"

# The roster every forward capture was recorded with (record_fixtures.py).
ROSTER = (("supervisor", "li.na", "Li Na"), ("deputy", "wang.wei", "Wang Wei"))


def fixture_names() -> list[str]:
    return sorted(str(p.relative_to(FIXTURES).with_suffix("")) for p in FIXTURES.glob("*/*.json"))


def load(name: str) -> list[dict[str, str]]:
    events: list[dict[str, str]] = json.loads((FIXTURES / f"{name}.json").read_text())
    return events


@dataclass
class Collector:
    """The tracker's observer, making each ended call's record as the daemon does."""

    settings: KpiSettings = field(default_factory=KpiSettings)
    offered: list[str] = field(default_factory=list)
    records: list[CallRecord] = field(default_factory=list)

    def call_offered(self, call: Call) -> None:
        self.offered.append(call.period.value)

    def call_ended(self, call: Call) -> None:
        self.records.append(record_of(call, self.settings))


def route_info_from(events: Iterable[Mapping[str, str]], call_id: str) -> RouteInfo | None:
    """What /route told the tracker in-process, rebuilt from the capture's variables."""
    values = {e["Variable"]: e.get("Value", "") for e in events
              if e.get("Event") == "VarSet" and e.get("Uniqueid") == call_id
              and e.get("Variable", "").startswith("HOTLINE_")}
    if not values.get("HOTLINE_PERIOD") or values.get("HOTLINE_PERIOD") == "failsafe":
        return None
    count = int(values.get("HOTLINE_TARGET_COUNT") or 0)
    targets = tuple(RouteTarget(role, pid, name, values[f"HOTLINE_TARGET_{n}"])
                    for n, (role, pid, name) in enumerate(ROSTER[:count], start=1))
    return RouteInfo(call_id, values["HOTLINE_PERIOD"], values["HOTLINE_ROUTE"], 0.0, targets)


def replay(events: Iterable[Mapping[str, Any]], *, with_routes: bool = True,
           short_abandon_seconds: float = 5.0,
           admit: Callable[[Mapping[str, Any]], bool] | None = None,
           decided_after: Callable[[Mapping[str, Any]], bool] | None = None,
           ) -> tuple[CallTracker, Collector, Normaliser]:
    """Feed a capture to a tracker; ``with_routes``: /route's decision reaches it as
    /route set ``HOTLINE_CALL_ID``; ``admit``: only the events it admits reach the
    normaliser (a manager.conf filter), the decisions still come;
    ``decided_after``: the root call's decision comes late instead, right after
    the first event it matches has reached the tracker (AssertionError if none)."""
    events = list(events)
    collector = Collector(KpiSettings(short_abandon_seconds=short_abandon_seconds))
    tracker = CallTracker(observer=collector)
    normalise = Normaliser()
    late = route_info_from(events, events[0]["Uniqueid"]) if decided_after else None
    for raw in events:
        if with_routes and decided_after is None and raw.get("Event") == "VarSet" \
                and raw.get("Variable") == "HOTLINE_CALL_ID":
            info = route_info_from(events, raw.get("Value", ""))
            if info is not None:
                tracker.route_decided(replace(info, decided_at=event_time(raw, None)))
        if admit is not None and not admit(raw):
            continue
        event = normalise(raw)
        if event is not None:
            tracker.feed(event)
        if late is not None and decided_after is not None and decided_after(raw):
            tracker.route_decided(replace(late, decided_at=event_time(raw, None)))
            late = None
    if decided_after is not None and late is not None:
        raise AssertionError("no event to hear the decision after")
    return tracker, collector, normalise


def summary(record: CallRecord, t0: float) -> dict[str, Any]:
    """Every field of a record, times as seconds after the capture's first event."""
    out = record.to_dict()
    # Only the long-call service sets long_call (never a replayed capture): the
    # expectations were written before the field, and must stay exact.
    assert out.pop("long_call") is False
    assert out.pop("node") == ""  # one Asterisk, as in every capture (cluster.node unset)
    for name in ("started_at", "routed_at", "answered_at", "ended_at"):
        value = getattr(record, name)
        out[name] = None if value is None else round(value.timestamp() - t0, 3)
    details = dict(out["details"])
    details.pop("queued_at", None)  # an ISO time; queued_after below says it relative
    if record.details.get("queued_at"):
        from datetime import datetime

        queued = datetime.fromisoformat(record.details["queued_at"]).timestamp()
        details["queued_after"] = round(queued - t0, 3)
    out["details"] = details
    return out
