"""The ``/route`` decision: where an inbound hotline call goes, right now.

Computed from an immutable :class:`RoutingSnapshot` (calendar + roster +
settings + version) that the application swaps atomically when the
configuration changes; the decision itself does no parsing and no I/O. All dial
strings are built when the snapshot is built.

* open (by the calendar or an ``open`` override) -> route ``queue``, no targets;
* closed (by the calendar or a ``closed`` override) -> route ``forward`` with
  the failover chain (supervisor unless absent, then deputies in order), each
  dialled through the *general outbound trunk* template with its ring timeout;
* closed and nobody available -> route ``closed``.

The dial template must never dial out through the inbound 400 trunk: a
template that names :attr:`RoutingSettings.inbound_endpoint` is rejected.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Protocol

from ._parse import expect_int
from .calendar import BusinessCalendar, CalendarState
from .contract import (
    DEFAULT_DIAL_TEMPLATE,
    DEFAULT_INBOUND_ENDPOINT,
    DEFAULT_QUEUE,
    DEFAULT_QUEUE_TIMEOUT,
    DEFAULT_RING_TIMEOUT,
    MAX_QUEUE_TIMEOUT,
    MAX_RING_TIMEOUT,
    MIN_QUEUE_TIMEOUT,
    MIN_RING_TIMEOUT,
    DialplanVar,
    DutyRole,
    Period,
    Route,
    dialplan_target,
    dialplan_target_timeout,
)
from .errors import ErrorCollector, ValidationError
from .roster import Person, Roster

__all__ = [
    "DialTarget",
    "RouteDecision",
    "RoutingSettings",
    "RoutingSnapshot",
    "decide_route",
    "decision_to_variables",
]

_QUEUE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_ENDPOINT = re.compile(r"[A-Za-z0-9._-]{1,64}")
# Technology/resource, then anything safe in an Asterisk Dial() argument: no
# '&' (would add channels), ',' (would add options), '(' ')', quotes, spaces,
# '$' '{' '}' (dialplan expressions) or '\\'.
_TEMPLATE = re.compile(r"[A-Za-z][A-Za-z0-9_]*/[A-Za-z0-9/@._:+=;#-]*")
_SAFE_CALL_ID = re.compile(r"[A-Za-z0-9._:@-]{1,128}")


def _check_template(template: str, inbound_endpoint: str) -> None:
    example = DEFAULT_DIAL_TEMPLATE
    if template.count("{number}") != 1:
        raise ValidationError(
            "dial_template",
            "must contain the placeholder {number} exactly once (where the mobile goes)",
            example,
        )
    bare = template.replace("{number}", "0")
    if _TEMPLATE.fullmatch(bare) is None:
        raise ValidationError(
            "dial_template",
            f"{template!r} is not a safe Asterisk dial string template; write TECH/resource "
            "with {number}, using letters, digits and / @ . _ : + = ; # - only "
            "(no spaces, '&', ',', '$', braces or quotes)",
            example,
        )
    tokens = {t.lower() for t in re.split(r"[/@:;=]", bare) if t}
    if inbound_endpoint.lower() in tokens:
        raise ValidationError(
            "dial_template",
            f"{template!r} would dial out through {inbound_endpoint!r}, the inbound 400 trunk; "
            "the 400 line is inbound only - forward through the general outbound trunk",
            example,
        )


@dataclass(frozen=True, slots=True)
class RoutingSettings:
    """How decisions are turned into dialplan actions."""

    queue_name: str = DEFAULT_QUEUE
    #: where forwarded calls go out: the general outbound trunk, never the 400 trunk
    dial_template: str = DEFAULT_DIAL_TEMPLATE
    ring_timeout_seconds: int = DEFAULT_RING_TIMEOUT
    #: how long a caller may wait in the queue (for the dialplan's Queue() timeout)
    queue_timeout_seconds: int = DEFAULT_QUEUE_TIMEOUT
    #: the PJSIP endpoint of the inbound 400 trunk, which dial_template must not use
    inbound_endpoint: str = DEFAULT_INBOUND_ENDPOINT

    def __post_init__(self) -> None:
        errors = ErrorCollector()
        if not isinstance(self.queue_name, str) or _QUEUE_NAME.fullmatch(self.queue_name) is None:
            errors.add(
                "queue_name",
                f"{self.queue_name!r} is not a queue name; use 1-64 letters, digits, '_' or '-'",
                DEFAULT_QUEUE,
            )
        endpoint_ok = isinstance(self.inbound_endpoint, str) and bool(
            _ENDPOINT.fullmatch(self.inbound_endpoint)
        )
        if not endpoint_ok:
            errors.add(
                "inbound_endpoint",
                f"{self.inbound_endpoint!r} is not an endpoint name; use 1-64 letters, "
                "digits, '.', '_' or '-'",
                DEFAULT_INBOUND_ENDPOINT,
            )
        if not isinstance(self.dial_template, str):
            errors.add("dial_template", "must be a string", DEFAULT_DIAL_TEMPLATE)
        elif endpoint_ok:
            errors.attempt("", _check_template, self.dial_template, self.inbound_endpoint)
        errors.attempt(
            "ring_timeout_seconds",
            expect_int,
            self.ring_timeout_seconds,
            "",
            str(DEFAULT_RING_TIMEOUT),
            low=MIN_RING_TIMEOUT,
            high=MAX_RING_TIMEOUT,
        )
        errors.attempt(
            "queue_timeout_seconds",
            expect_int,
            self.queue_timeout_seconds,
            "",
            str(DEFAULT_QUEUE_TIMEOUT),
            low=MIN_QUEUE_TIMEOUT,
            high=MAX_QUEUE_TIMEOUT,
        )
        errors.raise_if_any()

    def dial_string(self, mobile: str) -> str:
        return self.dial_template.replace("{number}", mobile)


@dataclass(frozen=True, slots=True)
class DialTarget:
    """One leg of the forward route, in dial order."""

    role: DutyRole
    person_id: str
    name: str
    dial_string: str
    timeout_seconds: int


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """What ``/route`` tells the dialplan, and why."""

    period: Period
    route: Route
    targets: tuple[DialTarget, ...]
    reason: str
    #: queue name when route is ``queue``, else None
    queue: str | None = None
    #: version of the snapshot that decided
    version: int = 0
    #: seconds a caller may wait in the queue, when route is ``queue``
    queue_timeout: int | None = None


@dataclass(frozen=True)
class RoutingSnapshot:
    """Everything ``/route`` needs, immutable; build a new one on every change."""

    calendar: BusinessCalendar
    roster: Roster
    settings: RoutingSettings = field(default_factory=RoutingSettings)
    version: int = 0

    _targets: Mapping[str, DialTarget] = field(init=False, repr=False, compare=False)
    _all_targets: tuple[DialTarget, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        settings = self.settings
        targets = {
            person.id: DialTarget(
                role,
                person.id,
                person.name,
                settings.dial_string(person.mobile),
                settings.ring_timeout_seconds,
            )
            for role, person in self.roster.people
        }
        object.__setattr__(self, "_targets", targets)
        object.__setattr__(self, "_all_targets", tuple(targets.values()))

    def target_for(self, person: Person) -> DialTarget:
        return self._targets[person.id]

    def targets_at(self, at: datetime) -> tuple[DialTarget, ...]:
        """The dial targets of the failover chain at ``at``."""
        chain = self.roster.on_duty(at)
        if len(chain) == len(self._all_targets):
            return self._all_targets
        return tuple(self._targets[person.id] for _, person in chain)


class SnapshotSource(Protocol):
    """Whatever holds the snapshot in force (the store's RoutingState)."""

    @property
    def snapshot(self) -> RoutingSnapshot: ...


def decide_route(snapshot: RoutingSnapshot, now: datetime) -> RouteDecision:
    """The route of a call arriving at the aware instant ``now``."""
    state: CalendarState = snapshot.calendar.state_at(now)
    if state.is_open:
        return RouteDecision(
            state.period,
            Route.QUEUE,
            (),
            state.reason,
            snapshot.settings.queue_name,
            snapshot.version,
            snapshot.settings.queue_timeout_seconds,
        )
    targets = snapshot.targets_at(now)
    if targets:
        return RouteDecision(
            state.period, Route.FORWARD, targets, state.reason, None, snapshot.version
        )
    who = "nobody is on the roster" if not snapshot.roster.people else "everyone is absent"
    return RouteDecision(
        state.period,
        Route.CLOSED,
        (),
        f"{state.reason}; {who}",
        None,
        snapshot.version,
    )


def decision_for_test_call(decision: RouteDecision) -> RouteDecision:
    """The route of the line monitor's own test call: hung up by the dialplan at
    once (``HOTLINE_ROUTE=test``), in whatever period it arrived."""
    return replace(decision, route=Route.TEST, targets=(), queue=None, queue_timeout=None,
                   reason="line-monitor test call")


def decision_to_variables(decision: RouteDecision, call_id: str) -> dict[str, str]:
    """The dialplan variables ``/route`` sets (DESIGN.md), in order:

    ``HOTLINE_CALL_ID`` (then ``HOTLINE_TEST_CALL`` for a test call),
    ``HOTLINE_PERIOD``, ``HOTLINE_ROUTE``,
    ``HOTLINE_TARGET_COUNT``, then ``HOTLINE_TARGET_<n>`` and
    ``HOTLINE_TARGET_TIMEOUT_<n>`` for n = 1..count, and ``HOTLINE_QUEUE`` with
    ``HOTLINE_QUEUE_TIMEOUT`` (overriding the dialplan's global default)
    when the route is ``queue``.

    ``call_id`` must be 1-128 characters of letters, digits and ``. _ : @ -``
    (it is set on a channel); anything else is a programming error (ValueError).
    """
    if _SAFE_CALL_ID.fullmatch(call_id) is None:
        raise ValueError(f"unsafe call id for a dialplan variable: {call_id!r}")
    variables = {DialplanVar.CALL_ID: call_id}
    if decision.route is Route.TEST:
        # Before the period: whoever follows the variables (the call tracker over
        # AMI) knows the call is a test before it would count it as offered.
        variables[DialplanVar.TEST_CALL] = "1"
    variables |= {
        DialplanVar.PERIOD: decision.period.value,
        DialplanVar.ROUTE: decision.route.value,
        DialplanVar.TARGET_COUNT: str(len(decision.targets)),
    }
    for n, target in enumerate(decision.targets, start=1):
        variables[dialplan_target(n)] = target.dial_string
        variables[dialplan_target_timeout(n)] = str(target.timeout_seconds)
    if decision.route is Route.QUEUE and decision.queue is not None:
        variables[DialplanVar.QUEUE] = decision.queue
        if decision.queue_timeout is not None:
            variables[DialplanVar.QUEUE_TIMEOUT] = str(decision.queue_timeout)
    return variables
