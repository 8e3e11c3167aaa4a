"""The values other parts rely on, each defined once (DESIGN.md, "Contracts").

Periods, outcomes, routes, roles, blocked-attempt methods and actions, the
dialplan variables ``/route`` and the dialplan share, the label values of the
Prometheus metrics and the defaults and limits of the settings and documents.
``config``, ``api``, ``store``, ``metrics`` and the dialplan test import them
from here; nothing else spells them out. Stored and API values are these
strings: renaming a member's *value* is a data migration, not a refactor.

Pure: no I/O, only names and numbers.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import Final

__all__ = [
    "COUNTED_PERIODS",
    "DECIDED_VARIABLES",
    "DEFAULT_DIAL_TEMPLATE",
    "DEFAULT_INBOUND_ENDPOINT",
    "DEFAULT_QUEUE",
    "DEFAULT_QUEUE_TIMEOUT",
    "DEFAULT_RING_TIMEOUT",
    "DEFAULT_SERVICE_LEVEL_SECONDS",
    "DEFAULT_SHORT_ABANDON_SECONDS",
    "DEFAULT_TIMEZONE",
    "DIALPLAN_VAR_PREFIX",
    "FAILSAFE_ROUTE",
    "MAX_ABSENCES",
    "MAX_CALL_NOTE_LENGTH",
    "MAX_DAY_PERIODS",
    "MAX_DEPUTIES",
    "MAX_EXCEPTIONS",
    "MAX_NAME_LENGTH",
    "MAX_NOTE_LENGTH",
    "MAX_QUEUE_TIMEOUT",
    "MAX_RING_TIMEOUT",
    "MAX_SERVICE_LEVEL_SECONDS",
    "MAX_SHORT_ABANDON_SECONDS",
    "MAX_WEEKLY_PERIODS",
    "MAX_YEAR",
    "MIN_QUEUE_TIMEOUT",
    "MIN_RING_TIMEOUT",
    "MIN_SERVICE_LEVEL_SECONDS",
    "MIN_SHORT_ABANDON_SECONDS",
    "MIN_YEAR",
    "ROUTED_PERIODS",
    "TRACKED_TARGET_PATTERN",
    "TRACKED_VARIABLES",
    "AccessRole",
    "BlockedAction",
    "BlockedMethod",
    "ConfigDocument",
    "DialplanVar",
    "DutyRole",
    "Outcome",
    "Period",
    "Route",
    "dialplan_target",
    "dialplan_target_timeout",
    "is_tracked_variable",
]


# -- calls ---------------------------------------------------------------------------


class Period(StrEnum):
    """The period every call carries (``calls.period``, ``HOTLINE_PERIOD``).

    ``open``/``closed``/``override``: what the calendar decided at ``/route``
    (``override`` = a manual force open or closed). ``failsafe``: the daemon
    could not answer and the dialplan's static route took the call.
    ``unrouted``: the caller hung up before any route was taken (during the
    AGI step); such a call was never offered and is kept only for the record.
    """

    OPEN = "open"
    CLOSED = "closed"
    OVERRIDE = "override"
    FAILSAFE = "failsafe"
    UNROUTED = "unrouted"


#: The periods ``/route`` sets (the calendar's answer).
ROUTED_PERIODS: tuple[Period, ...] = (Period.OPEN, Period.CLOSED, Period.OVERRIDE)
#: The periods of offered calls: the ``period`` label of the call metrics, the
#: ``period`` filter of the API and the stats (``unrouted`` calls are never offered).
COUNTED_PERIODS: tuple[Period, ...] = (*ROUTED_PERIODS, Period.FAILSAFE)


class Outcome(StrEnum):
    """How a call ended (docs/kpi.md); the ``outcome`` label and column."""

    ANSWERED = "answered"
    ABANDONED = "abandoned"
    SHORT_ABANDONED = "short_abandoned"
    MISSED = "missed"


class Route(StrEnum):
    """Where ``/route`` sends a call (``HOTLINE_ROUTE``).

    ``test``: a test call of the line monitor that arrived (``/route`` also sets
    ``HOTLINE_TEST_CALL``); the dialplan hangs it up at once (``hotline-route-test``).
    """

    QUEUE = "queue"
    FORWARD = "forward"
    CLOSED = "closed"
    TEST = "test"


# -- people ----------------------------------------------------------------------------


class DutyRole(StrEnum):
    """A person's place on the roster (``calls.answered_role`` of a forwarded call)."""

    SUPERVISOR = "supervisor"
    DEPUTY = "deputy"


class AccessRole(IntEnum):
    """The role of an API token. Ordered: a role may do everything a lower one may."""

    VIEWER = 1
    SUPERVISOR = 2
    ADMIN = 3

    @property
    def key(self) -> str:
        """The name stored with a token and shown in errors: ``admin`` …"""
        return self.name.lower()

    @classmethod
    def parse(cls, name: str) -> AccessRole:
        try:
            return cls[name.upper()]
        except KeyError:
            raise ValueError(f"unknown role {name!r}; use admin, supervisor or viewer") from None


# -- the outbound guard --------------------------------------------------------------


class BlockedMethod(StrEnum):
    """How an outbound attempt on the 400 trunk was made (``blocked_outbound.method``)."""

    DIAL = "dial"  # Dial() from a device's or a context's dialplan
    ORIGINATE = "originate"  # AMI Originate or CLI "channel originate" (see origin)
    FORWARD = "forward"  # the hotline call itself sent out (routing, 302 forward)
    TRANSFER = "transfer"  # a blind or attended transfer dialled out
    CLI = "cli"  # reserved: the AMI stream cannot tell CLI from a synchronous AMI Originate
    DIALPLAN = "dialplan"  # refused by the dialplan guard before any channel existed


class BlockedAction(StrEnum):
    """What was done about a blocked attempt (``blocked_outbound.action``)."""

    REFUSED = "refused"  # the dialplan said no
    HUNG_UP = "hung_up"  # the watchdog hung the channel up
    ALREADY_ENDED = "already_ended"  # it was gone before the Hangup arrived
    HANGUP_FAILED = "hangup_failed"  # AMI could not hang it up


# -- the dialplan ----------------------------------------------------------------------


class DialplanVar:
    """Channel variables shared by ``/route``, the shipped dialplan and the tracker.

    ``TARGET``/``TARGET_TIMEOUT`` are prefixes: ``HOTLINE_TARGET_<n>`` (see
    :func:`dialplan_target`). tests/unit/test_contract.py checks that the
    dialplan uses exactly these names. Plain strings, not an enum: the
    tracker compares them on every ``VarSet`` it reads, and an
    enum member's attribute access costs twice a string comparison.
    """

    # set by /route (DESIGN.md "Dialplan variables set by /route")
    CALL_ID: Final = "HOTLINE_CALL_ID"
    PERIOD: Final = "HOTLINE_PERIOD"
    ROUTE: Final = "HOTLINE_ROUTE"
    TARGET_COUNT: Final = "HOTLINE_TARGET_COUNT"
    TARGET: Final = "HOTLINE_TARGET_"
    TARGET_TIMEOUT: Final = "HOTLINE_TARGET_TIMEOUT_"
    QUEUE: Final = "HOTLINE_QUEUE"
    QUEUE_TIMEOUT: Final = "HOTLINE_QUEUE_TIMEOUT"  # also a dialplan global: its default
    # set by the dialplan, read by the tracker
    DNID: Final = "HOTLINE_DNID"
    TRY: Final = "HOTLINE_TRY"  # which forward target is being dialled (1-based)
    CLOSED: Final = "HOTLINE_CLOSED"  # the closed announcement started
    ANSWERED_AT: Final = "HOTLINE_ANSWERED_AT"  # [hotline-answered]: the answer time, UTC epoch
    TEST_CALL: Final = "HOTLINE_TEST_CALL"  # on line-monitor test calls; not the dialplan
    # the dialplan's own working variables and globals
    DIAL_TARGET: Final = "HOTLINE_TARGET"  # the dial string of the current try
    QUEUE_NAME: Final = "HOTLINE_QUEUE_NAME"
    AGI_HOST: Final = "HOTLINE_AGI_HOST"
    AGI_SCHEME: Final = "HOTLINE_AGI_SCHEME"  # agi, or hagi: several daemons by DNS SRV
    FAILSAFE_QUEUE: Final = "HOTLINE_FAILSAFE_QUEUE"
    FAILSAFE_MOBILE: Final = "HOTLINE_FAILSAFE_MOBILE"
    FAILSAFE_RING: Final = "HOTLINE_FAILSAFE_RING"

    @classmethod
    def names(cls) -> frozenset[str]:
        """Every variable name (prefixes with their trailing ``_``)."""
        return frozenset(value for key, value in vars(cls).items()
                         if key.isupper() and isinstance(value, str))


#: The dialplan variables whose VarSet events the tracker and the line monitor
#: read, and the only ones the shipped manager.conf lets through: what the
#: dialplan itself decides (the fail-safe's period, the try, the closed message)
#: and the test-call mark.
TRACKED_VARIABLES: Final = frozenset({
    DialplanVar.PERIOD, DialplanVar.TRY, DialplanVar.CLOSED, DialplanVar.TEST_CALL})
#: The variables of what ``/route`` itself decided (and the number dialled). The
#: tracker has them from the decision, in-process (a cluster: from the instance
#: that routed), so the shipped filter keeps their VarSets out of the stream (six
#: events of a forwarded call's 25); the normaliser still reads them where a
#: PBX's filter lets them through, and a call whose decision never came takes
#: its route and targets from them.
DECIDED_VARIABLES: Final = frozenset({DialplanVar.CALL_ID, DialplanVar.ROUTE, DialplanVar.DNID})
#: ``HOTLINE_TARGET_<n>``, the targets of the decision, as a manager.conf regex.
TRACKED_TARGET_PATTERN: Final = rf"^{DialplanVar.TARGET}[0-9]+$"


def is_tracked_variable(name: str) -> bool:
    """A variable the normaliser reads: tracked, or one of the decision's."""
    return name in TRACKED_VARIABLES or name in DECIDED_VARIABLES or (
        name.startswith(DialplanVar.TARGET) and name[len(DialplanVar.TARGET):].isdigit())


def dialplan_target(n: int) -> str:
    """``HOTLINE_TARGET_<n>``: the n-th dial string of the forward route (1-based)."""
    return f"{DialplanVar.TARGET}{n}"


def dialplan_target_timeout(n: int) -> str:
    """``HOTLINE_TARGET_TIMEOUT_<n>``: its ring timeout in seconds."""
    return f"{DialplanVar.TARGET_TIMEOUT}{n}"


#: ``calls.route`` of a call the dialplan's fail-safe route took (no ``/route`` answer).
FAILSAFE_ROUTE: Final = "failsafe"
#: Every channel variable of the product starts so (the AMI filter keeps only these).
DIALPLAN_VAR_PREFIX: Final = "HOTLINE_"


# -- configuration documents and metrics ---------------------------------------------


class ConfigDocument(StrEnum):
    """The documents of the routing configuration (``hotline_config_invalid{document}``,
    the ``NOTIFY hotline_config`` payloads)."""

    SCHEDULE = "schedule"
    EXCEPTIONS = "exceptions"
    OVERRIDE = "override"
    ROSTER = "roster"


# -- defaults and limits of the settings ---------------------------------------------

DEFAULT_TIMEZONE = "Asia/Shanghai"

DEFAULT_QUEUE = "hotline"
DEFAULT_DIAL_TEMPLATE = "PJSIP/{number}@general-trunk"
DEFAULT_INBOUND_ENDPOINT = "carrier"
DEFAULT_RING_TIMEOUT = 20
MIN_RING_TIMEOUT, MAX_RING_TIMEOUT = 5, 300
DEFAULT_QUEUE_TIMEOUT = 120  # the dialplan's HOTLINE_QUEUE_TIMEOUT default too
MIN_QUEUE_TIMEOUT, MAX_QUEUE_TIMEOUT = 10, 3600

DEFAULT_SHORT_ABANDON_SECONDS = 5.0
MIN_SHORT_ABANDON_SECONDS, MAX_SHORT_ABANDON_SECONDS = 0, 60
DEFAULT_SERVICE_LEVEL_SECONDS = 20.0
MIN_SERVICE_LEVEL_SECONDS, MAX_SERVICE_LEVEL_SECONDS = 1, 600

# -- limits of the documents -----------------------------------------------------------

#: Years a date or an instant may have (exceptions are entered with their year).
MIN_YEAR, MAX_YEAR = 2000, 2100
MAX_WEEKLY_PERIODS = 7 * 48
MAX_DAY_PERIODS = 48
MAX_EXCEPTIONS = 5000
#: Notes of exceptions, overrides and absences.
MAX_NOTE_LENGTH = 500
#: A note added to a call afterwards (``POST /api/v1/calls/{id}/notes``).
MAX_CALL_NOTE_LENGTH = 4000
MAX_DEPUTIES = 50
MAX_ABSENCES = 1000
MAX_NAME_LENGTH = 100


# -- staffing advisor (issue 15) ---------------------------------------------------------
#: The policy floor: the answer rate must stay at or above this.
ANSWER_RATE_FLOOR: Final = 0.85
#: The fraction of callers to answer within kpi.service_level_seconds (the 80/20 rule).
SERVICE_LEVEL_TARGET: Final = 0.80
#: Weeks of history the staffing advisor reads (``GET /api/v1/staffing?weeks=``).
DEFAULT_STAFFING_WEEKS, MIN_STAFFING_WEEKS, MAX_STAFFING_WEEKS = 4, 1, 26
__all__ += ["ANSWER_RATE_FLOOR", "DEFAULT_STAFFING_WEEKS", "MAX_STAFFING_WEEKS",
            "MIN_STAFFING_WEEKS", "SERVICE_LEVEL_TARGET"]
# -- end staffing advisor --

#: The languages people read the printed pack and the console in; Chinese first:
#: the hotline's staff and managers are Chinese (``lang=``, ``--lang``).
LANGUAGES: Final = ("zh-CN", "en")
DEFAULT_LANGUAGE: Final = "zh-CN"
__all__ += ["DEFAULT_LANGUAGE", "LANGUAGES"]
