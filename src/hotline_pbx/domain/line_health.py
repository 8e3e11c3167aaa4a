"""Line health: when to test-dial the 400 line, what a failed test means, which
faults are open.

The company's rule: when the hotline has had no call for a long time, test-dial
it; a broken line is a fault, recorded with its cause and when it started and
ended. This module is the rule without I/O: the line monitor
(:mod:`hotline_pbx.line_monitor`) feeds it the clock, the calls it saw and the
results of the test calls it placed, and carries out what it decides.

Two sources open faults, each at most one open fault at a time:

- ``test``: a test call that failed (did not arrive, busy, congestion, the
  general trunk or ARI unavailable). A passing test or a real inbound call
  closes it: either shows that callers get through.
- ``trunk``: PJSIP's qualify of the 400 trunk's contact (AMI ``ContactStatus``)
  says the carrier is unreachable. Only the trunk becoming reachable again
  closes it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from .errors import ValidationError
from .roster import Roster

# -- settings limits, defined once (config.py checks them) ---------------------------

DEFAULT_TEST_AFTER: Final = 1800.0  # seconds without an offered call in open hours
DEFAULT_TEST_TIMEOUT: Final = 20.0  # seconds for a test call to reach /route
DEFAULT_RETEST_EVERY: Final = 300.0  # seconds between tests while a fault is open
TEST_AFTER_RANGE: Final = (1.0, 7 * 86400.0)
TEST_TIMEOUT_RANGE: Final = (1.0, 120.0)
RETEST_EVERY_RANGE: Final = (1.0, 86400.0)
#: A dialled number: digits, optionally after a leading +, as the general trunk dials it.
NUMBER_DIGITS: Final = (3, 20)


class FaultSource(StrEnum):
    """What opened a fault (``line_faults.source``)."""

    TEST = "test"  # a failed test call
    TRUNK = "trunk"  # the 400 trunk's PJSIP contact unreachable (qualify)


class FaultCause(StrEnum):
    """Why the line is faulty (``line_faults.cause``, ``hotline_line_faults_total{cause}``)."""

    NOT_ARRIVED = "not_arrived"  # placed, never reached /route within line.test_timeout
    BUSY = "busy"  # the network answered busy
    CONGESTION = "congestion"  # the network or a trunk is congested / failed
    GENERAL_TRUNK_UNAVAILABLE = "general_trunk_unavailable"  # could not even go out
    MONITOR_UNAVAILABLE = "monitor_unavailable"  # no answer from ARI (or AMI) to place it
    CARRIER_UNREACHABLE = "carrier_unreachable"  # qualify of the 400 trunk failed

    @property
    def source(self) -> FaultSource:
        return FaultSource.TRUNK if self is FaultCause.CARRIER_UNREACHABLE else FaultSource.TEST


# Q.850 cause codes on the originated channel's hang-up, by what they say of the path.
_BUSY_CAUSES: Final = frozenset({17})
_CONGESTION_CAUSES: Final = frozenset({34, 38, 41, 42, 44, 47, 58})
_UNAVAILABLE_CAUSES: Final = frozenset({1, 2, 3, 20, 27, 66, 88})


def cause_of_hangup(q850: int | None) -> FaultCause:
    """The fault a test call shows when its own channel ended before the call
    was seen at ``/route``: busy, congestion, the general trunk unavailable
    (no route, out of order), or otherwise it simply did not arrive."""
    if q850 in _BUSY_CAUSES:
        return FaultCause.BUSY
    if q850 in _CONGESTION_CAUSES:
        return FaultCause.CONGESTION
    if q850 in _UNAVAILABLE_CAUSES:
        return FaultCause.GENERAL_TRUNK_UNAVAILABLE
    return FaultCause.NOT_ARRIVED


@dataclass(frozen=True, slots=True)
class CallTestResult:
    """One test call: passed, or the cause of its failure."""

    started_at: float  # epoch seconds
    ended_at: float
    cause: FaultCause | None  # None: the call arrived at /route
    detail: str = ""
    round_trip: float | None = None  # originate → seen at /route, seconds

    @property
    def passed(self) -> bool:
        return self.cause is None


@dataclass(frozen=True, slots=True)
class Schedule:
    """The line monitor's timing (``[line]`` settings)."""

    test_after: float = DEFAULT_TEST_AFTER
    test_timeout: float = DEFAULT_TEST_TIMEOUT
    retest_every: float = DEFAULT_RETEST_EVERY


def is_test_due(now: float, *, is_open: bool, last_activity: float, last_test: float | None,
             test_fault_open: bool, schedule: Schedule) -> bool:
    """Is a test call due now?

    - a test-call fault is open: retest every ``retest_every``, at any hour (a
      broken line also fails the after-hours callers forwarded to mobiles);
    - otherwise only in open hours, once nothing happened on the line (no call
      offered, no test) for ``test_after``. ``last_activity`` is the later of
      the last offered call and the monitor's start (a quiet line is tested
      ``test_after`` after the start, not at once).
    """
    if test_fault_open:
        return last_test is None or now - last_test >= schedule.retest_every
    if not is_open:
        return False
    quiet_since = max(last_activity, last_test if last_test is not None else last_activity)
    return now - quiet_since >= schedule.test_after


@dataclass(frozen=True, slots=True)
class OpenFault:
    id: int
    cause: FaultCause
    started_at: float


@dataclass(frozen=True, slots=True)
class FaultChange:
    """What the register must do: open a fault of ``cause``, or close ``close``."""

    open: FaultCause | None = None
    close: OpenFault | None = None


class FaultBook:
    """The open faults, at most one per source, and the changes each observation makes."""

    def __init__(self, open_faults: tuple[OpenFault, ...] = ()) -> None:
        self._open: dict[FaultSource, OpenFault] = {f.cause.source: f for f in open_faults}

    @property
    def open_faults(self) -> tuple[OpenFault, ...]:
        return tuple(self._open.values())

    def open_of(self, source: FaultSource) -> OpenFault | None:
        return self._open.get(source)

    @property
    def line_up(self) -> bool:
        return not self._open

    def opened(self, fault: OpenFault) -> None:
        self._open[fault.cause.source] = fault

    def closed(self, fault: OpenFault) -> None:
        if self._open.get(fault.cause.source) == fault:
            del self._open[fault.cause.source]

    def after_test(self, result: CallTestResult) -> list[FaultChange]:
        """A passing test closes the test fault; a failing one opens it, or, if a
        fault of another cause is open, closes that and opens one of the new cause
        (each fault has one cause for its whole life)."""
        current = self._open.get(FaultSource.TEST)
        if result.cause is None:
            return [FaultChange(close=current)] if current else []
        if current is None:
            return [FaultChange(open=result.cause)]
        if current.cause is result.cause:
            return []
        return [FaultChange(close=current), FaultChange(open=result.cause)]

    def after_real_call(self) -> list[FaultChange]:
        """A real inbound call reached /route: the line carries calls."""
        current = self._open.get(FaultSource.TEST)
        return [FaultChange(close=current)] if current else []

    def after_trunk_state(self, reachable: bool) -> list[FaultChange]:
        current = self._open.get(FaultSource.TRUNK)
        if reachable:
            return [FaultChange(close=current)] if current else []
        return [] if current else [FaultChange(open=FaultCause.CARRIER_UNREACHABLE)]


class TestWindow:
    """When a call on the 400 trunk is the monitor's own test call: it comes from
    ``line.test_caller`` while a test is in flight (announced to every instance,
    whichever answers ``/route``). Outside a window the same caller is a real call."""

    __test__ = False  # not a pytest test class

    def __init__(self, caller: str) -> None:
        self.caller = caller
        self._open_until = 0.0

    def open(self, until: float) -> None:
        self._open_until = max(self._open_until, until)

    def close(self) -> None:
        self._open_until = 0.0

    def is_test_call(self, caller: str, now: float) -> bool:
        return now <= self._open_until and same_number(caller, self.caller)


def check_roster_spares(roster: Roster, test_number: str) -> None:
    """The line monitor dials ``test_number`` over and over: refuse a roster in
    which it is somebody's mobile (ValidationError naming the field)."""
    people = [("supervisor", roster.supervisor),
              *((f"deputies[{n}]", p) for n, p in enumerate(roster.deputies))]
    for where, person in people:
        if person is not None and same_number(person.mobile, test_number):
            raise ValidationError(f"{where}.mobile", "is line.test_number, the hotline's "
                                  "own number that the line monitor test-dials; a person "
                                  "on the roster cannot have it", "+8613800138000")


def check_number(value: str) -> str | None:
    """Why ``value`` is not a number the general trunk can dial, or None."""
    digits = value[1:] if value.startswith("+") else value
    low, high = NUMBER_DIGITS
    if not digits.isascii() or not digits.isdigit():
        return f"must be digits only (a leading + allowed), not {value!r}"
    if not low <= len(digits) <= high:
        return f"must have {low} to {high} digits, not {len(digits)}"
    return None


def same_number(a: str, b: str) -> bool:
    """Do two dial strings or numbers name the same number (digits compared)?"""
    da, db = "".join(c for c in a if c.isdigit()), "".join(c for c in b if c.isdigit())
    return bool(da) and da == db
