"""Every Prometheus metric the daemon exports, defined once.

Labels never carry a caller number, a channel name or a unique id: their
cardinality must stay bounded whatever the traffic.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hotline_pbx.domain.complaints import Stage
from hotline_pbx.domain.contract import COUNTED_PERIODS, ConfigDocument, Outcome
from hotline_pbx.domain.dialer import FINISHED_RESULTS, JobType
from hotline_pbx.domain.line_health import FaultCause

REGISTRY = CollectorRegistry(auto_describe=True)
# process_open_fds / process_max_fds (alert HotlineFileDescriptorsLow), the CPU and
# memory of the process: read from /proc when Prometheus scrapes.
ProcessCollector(registry=REGISTRY)

# Waits in a call centre: seconds of ringing and queueing, up to a few minutes.
WAIT_BUCKETS = (1, 2, 3, 5, 8, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 600)
# Talk times: from a few seconds to an hour.
TALK_BUCKETS = (5, 15, 30, 60, 120, 180, 300, 600, 900, 1200, 1800, 3600)
# FastAGI decisions are answered from memory: milliseconds.
AGI_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

CALLS_OFFERED = Counter(
    "hotline_calls_offered",
    "Inbound hotline calls that reached routing (line-monitor test calls excluded).",
    ["period"],
    registry=REGISTRY,
)
CALLS = Counter(
    "hotline_calls",
    "Ended hotline calls by period and outcome.",
    ["period", "outcome"],
    registry=REGISTRY,
)
CALL_WAIT = Histogram(
    "hotline_call_wait_seconds",
    "Caller wait from routing to answer or hang-up.",
    ["period", "outcome"],
    buckets=WAIT_BUCKETS,
    registry=REGISTRY,
)
CALL_TALK = Histogram(
    "hotline_call_talk_seconds",
    "Talk time of answered calls, answer to hang-up.",
    ["period"],
    buckets=TALK_BUCKETS,
    registry=REGISTRY,
)
CALLS_ACTIVE = Gauge("hotline_calls_active", "Hotline calls in progress.", registry=REGISTRY)
OUTBOUND_BLOCKED = Counter(
    "hotline_outbound_blocked",
    "Outbound attempts on the inbound-only hotline trunk that were stopped.",
    registry=REGISTRY,
)
AGI_REQUESTS = Counter(
    "hotline_agi_requests",
    "FastAGI sessions by script and result.",
    ["script", "result"],
    registry=REGISTRY,
)
AGI_REQUEST_SECONDS = Histogram(
    "hotline_agi_request_seconds",
    "FastAGI session handling time, from the blank line to the handler's return.",
    ["script"],
    buckets=AGI_BUCKETS,
    registry=REGISTRY,
)
AMI_CONNECTED = Gauge("hotline_ami_connected", "1 while logged in to AMI.", registry=REGISTRY)
AMI_EVENTS = Counter("hotline_ami_events", "AMI events received.", registry=REGISTRY)
ARI_CONNECTED = Gauge(
    "hotline_ari_connected",
    "1 while the ARI events websocket of our Stasis app is open.",
    registry=REGISTRY,
)


class _LineUp(Collector):
    """``hotline_line_up``: absent until the line monitor knows something (a test
    result, the 400 trunk's qualify state, an open fault), so it never reads 0
    only because nothing has been tried yet; exported by the instance that runs
    the monitor."""

    def __init__(self) -> None:
        self._value: float | None = None

    def set(self, value: float) -> None:
        self._value = value

    def forget(self) -> None:
        self._value = None

    @property
    def value(self) -> float | None:
        return self._value

    def describe(self) -> Iterator[Metric]:
        yield self._family(0.0)

    def collect(self) -> Iterator[Metric]:
        if self._value is not None:
            yield self._family(self._value)

    @staticmethod
    def _family(value: float) -> GaugeMetricFamily:
        return GaugeMetricFamily("hotline_line_up", "1 while the hotline line is healthy, "
                                 "0 while a line fault is open.", value=value)


LINE_UP = _LineUp()
REGISTRY.register(LINE_UP)
#: Metrics that have no sample until there is something to say (see each).
SOMETIMES_ABSENT: tuple[_LineUp, ...] = (LINE_UP,)
OPEN_HOURS = Gauge("hotline_open_hours",
                   "1 while the business calendar says the hotline is open (not lunch, "
                   "nights, weekends, holidays, or an override to closed).", registry=REGISTRY)
LINE_FAULTS = Counter(
    "hotline_line_faults", "Line faults detected, by cause.", ["cause"], registry=REGISTRY
)
DB_PENDING = Gauge(
    "hotline_db_pending_records",
    "Records of every kind (calls, blocked outbound attempts…) waiting to be written.",
    registry=REGISTRY,
)
DB_SPOOLED = Gauge(
    "hotline_db_spooled_records",
    "Records of every kind held in the local spool while PostgreSQL is unreachable.",
    registry=REGISTRY,
)
COMPLAINTS_OVERDUE = Gauge(
    "hotline_complaints_overdue",
    "Complaints past a deadline, by stage (first_reply, progress_reply, resolution, visit).",
    ["stage"], registry=REGISTRY,
)
CONFIG_INVALID = Gauge(
    "hotline_config_invalid",
    "Stored routing configuration entries that do not load, by document (0 = all load); "
    "routing uses the document's last good value or its default meanwhile.",
    ["document"],
    registry=REGISTRY,
)
CONFIG_RELOADS = Counter(
    "hotline_config_reloads",
    "Routing configuration snapshots loaded and swapped in: one at start-up, one each "
    "time the config listener (re)connects, one per notified change (bursts coalesce).",
    registry=REGISTRY,
)

# -- callbacks (issue 12) ------------------------------------------------------------
CALLBACKS_OVERDUE = Gauge(
    "hotline_callbacks_overdue",
    "Callback tasks still waiting (open or being dialled) and past their due time, "
    "as PostgreSQL counted them at the last refresh (every 15 s).",
    registry=REGISTRY,
)
# -- long calls (issue 12) ----------------------------------------------------------
LONG_CALLS = Counter(
    "hotline_long_calls",
    "Calls flagged long: connected to an agent longer than long_call.threshold while "
    "callers waited (counted once per call, by the instance holding the long-call lock).",
    registry=REGISTRY,
)
# -- end long calls -------------------------------------------------------------------
# -- the dialer (issue 12: hotline_pbx.dialer) ------------------------------------------
DIALER_ATTEMPTS = Counter(
    "hotline_dialer_attempts",
    "Outbound attempts the dialer finished, by job type and result.",
    ["job_type", "result"],
    registry=REGISTRY,
)
DIALER_ACTIVE = Gauge(
    "hotline_dialer_active",
    "Dialer channels up now (customer legs and the agent legs of agent-first callbacks).",
    registry=REGISTRY,
)
DIALER_JOB_TYPES = tuple(job_type.value for job_type in JobType)
DIALER_RESULTS = tuple(result.value for result in FINISHED_RESULTS)
COMPLAINT_STAGES = tuple(stage.value for stage in Stage)  # hotline_complaints_overdue{stage}
# -- end of the dialer's block ---------------------------------------------------------

# Label values (hotline_pbx.domain.contract): the documents of the routing
# configuration, the periods of offered calls (failsafe: the dialplan's static
# route took the call) and the outcomes.
CONFIG_DOCUMENTS = tuple(document.value for document in ConfigDocument)
PERIODS = tuple(period.value for period in COUNTED_PERIODS)
OUTCOMES = tuple(outcome.value for outcome in Outcome)
FAULT_CAUSES = tuple(cause.value for cause in FaultCause)


def initialise_series() -> None:
    """Create every (period, outcome) series at zero when the daemon starts.

    A series that first appears with value 1 is invisible to ``increase()``:
    the first call of each kind would be missing from the recording rules.
    """
    for document in CONFIG_DOCUMENTS:
        CONFIG_INVALID.labels(document)
    for cause in FAULT_CAUSES:
        LINE_FAULTS.labels(cause)
    for job_type in DIALER_JOB_TYPES:  # the dialer's series (issue 12)
        for result in DIALER_RESULTS:
            DIALER_ATTEMPTS.labels(job_type, result)
    for stage in COMPLAINT_STAGES:  # complaints (issue 13): every stage, 0 included
        COMPLAINTS_OVERDUE.labels(stage)
    for period in PERIODS:
        CALLS_OFFERED.labels(period)
        CALL_TALK.labels(period)
        for outcome in OUTCOMES:
            CALLS.labels(period, outcome)
            CALL_WAIT.labels(period, outcome)
