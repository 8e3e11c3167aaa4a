"""The PostgreSQL schema, as SQLAlchemy Core tables.

Times are ``timestamptz`` (stored in UTC, shown in the configured zone).
Every table that receives records from the event path has an idempotent key
(``calls.call_key``, ``blocked_outbound.event_key``) so a replayed spool or a
reconnect can never write a row twice. Migrations in ``migrations/`` create
exactly these tables; ``tests/integration`` checks the two agree.
"""

from __future__ import annotations

import zlib

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s",
        "pk": "pk_%(table_name)s",
    }
)

NOW = func.now()

# One row per hotline call, written when the call ends (and updated by notes).
calls = Table(
    "calls",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    # The Asterisk node (cluster.node; '' with one Asterisk) and the call's key
    # there (its Linkedid): unique together, so several nodes share the table.
    Column("node", Text, nullable=False, server_default=""),
    Column("call_key", Text, nullable=False),
    Column("linkedid", Text),
    Column("uniqueid", Text),
    Column("caller", Text, nullable=False, server_default=""),
    Column("caller_name", Text, nullable=False, server_default=""),
    Column("dnid", Text, nullable=False, server_default=""),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("routed_at", DateTime(timezone=True)),
    Column("answered_at", DateTime(timezone=True)),
    Column("ended_at", DateTime(timezone=True)),
    Column("period", Text, nullable=False),
    Column("route", Text),
    Column("outcome", Text, nullable=False),
    Column("wait_seconds", Float),
    Column("talk_seconds", Float),
    Column("answered_by", Text),
    Column("answered_role", Text),  # agent | supervisor | deputy
    Column("failover_attempts", SmallInteger, nullable=False, server_default="0"),
    Column("hangup_side", Text),  # caller | callee | system
    Column("hangup_cause", SmallInteger),
    Column("is_test", Boolean, nullable=False, server_default=text("false")),
    Column("needs_callback", Boolean, nullable=False, server_default=text("false")),
    # connected past long_call.threshold while callers waited (issue 12)
    Column("long_call", Boolean, nullable=False, server_default=text("false")),
    # the call's purpose (domain.purposes), picked with a note or a complaint (issue 13)
    Column("purpose", Text),
    Column("purpose_set_by", Text, nullable=False, server_default=""),
    Column("details", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    # unrouted: the caller hung up during the AGI step (recorded, never offered)
    CheckConstraint("period IN ('open', 'closed', 'override', 'failsafe', 'unrouted')",
                    name="period"),
    CheckConstraint(
        "outcome IN ('answered', 'abandoned', 'short_abandoned', 'missed')", name="outcome"
    ),
    UniqueConstraint("node", "call_key", name="uq_calls_node_call_key"),
    Index("ix_calls_call_key", "call_key"),
    Index("ix_calls_started_at", "started_at"),
    Index("ix_calls_caller", "caller"),
    Index("ix_calls_purpose", "purpose"),
)

# Notes added after the call (after-hours calls get theirs the next day).
call_notes = Table(
    "call_notes",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("call_id", BigInteger, ForeignKey("calls.id", ondelete="CASCADE"), nullable=False),
    Column("author", Text, nullable=False),
    Column("body", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Index("ix_call_notes_call_id", "call_id"),
)

# The weekly schedule: a single row (id = 1) holding the validated JSON document.
schedule = Table(
    "schedule",
    metadata,
    Column("id", SmallInteger, primary_key=True),
    Column("document", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Column("updated_by", Text, nullable=False, server_default="system"),
    CheckConstraint("id = 1", name="singleton"),
)

# Dated closures and extra open days, each with its full date (year included).
calendar_exceptions = Table(
    "calendar_exceptions",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("day", Date, nullable=False, unique=True),
    Column("kind", Text, nullable=False),  # closed | open
    Column("periods", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("note", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Column("created_by", Text, nullable=False, server_default="system"),
    CheckConstraint("kind IN ('closed', 'open')", name="kind"),
)

# The day/night switch: at most one row; absent or expired means no override.
override = Table(
    "override",
    metadata,
    Column("id", SmallInteger, primary_key=True),
    Column("mode", Text, nullable=False),  # open | closed
    Column("until", DateTime(timezone=True), nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    Column("set_by", Text, nullable=False, server_default="system"),
    Column("set_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    CheckConstraint("id = 1", name="singleton"),
    CheckConstraint("mode IN ('open', 'closed')", name="mode"),
)

# The on-duty roster (supervisor, ordered deputies) as one validated document.
roster = Table(
    "roster",
    metadata,
    Column("id", SmallInteger, primary_key=True),
    Column("document", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Column("updated_by", Text, nullable=False, server_default="system"),
    CheckConstraint("id = 1", name="singleton"),
)

# Leave, resignation, no signal: who cannot take calls from when to when.
absences = Table(
    "absences",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("person_id", Text, nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True)),  # NULL: until further notice
    Column("reason", Text, nullable=False),
    Column("note", Text, nullable=False, server_default=""),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    CheckConstraint("ends_at IS NULL OR ends_at > starts_at", name="ordered"),
    Index("ix_absences_person_id", "person_id"),
)

# Every outbound attempt on the inbound-only 400 trunk, and how it was stopped.
blocked_outbound = Table(
    "blocked_outbound",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("event_key", Text, nullable=False, unique=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    Column("source_channel", Text, nullable=False, server_default=""),
    Column("source", Text, nullable=False, server_default=""),
    Column("dialled_number", Text, nullable=False, server_default=""),
    # method: dial, originate, forward, transfer, cli or dialplan
    Column("method", Text, nullable=False),
    Column("action", Text, nullable=False),  # refused | hung_up
    Column("reaction_ms", Float),
    Column("details", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Index("ix_blocked_outbound_occurred_at", "occurred_at"),
)

# Line faults: cause, start and end, what opened it (a failed test call or the
# 400 trunk's qualify), and the paper fault
# form's fields (who reported it to the technical department, when, repaired when).
line_faults = Table(
    "line_faults",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("cause", Text, nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True)),
    Column("details", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    # the monitor's idempotent key; a row written by hand gets one of its own
    Column("fault_key", Text, nullable=False, unique=True,
           server_default=text("gen_random_uuid()::text")),
    Column("source", Text, nullable=False, server_default="test"),
    Column("reported_by", Text, nullable=False, server_default=""),
    Column("reported_at", DateTime(timezone=True)),
    Column("repaired_at", DateTime(timezone=True)),
    Column("note", Text, nullable=False, server_default=""),
    Column("updated_at", DateTime(timezone=True)),
    CheckConstraint("source IN ('test', 'trunk')", name="source"),
    CheckConstraint("ended_at IS NULL OR ended_at >= started_at", name="ordered"),
    Index("ix_line_faults_started_at", "started_at"),
    Index("ix_line_faults_open", "source", postgresql_where=text("ended_at IS NULL")),
)

# Every test call the line monitor placed: passed, or the cause of its failure.
line_tests = Table(
    "line_tests",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("test_key", Text, nullable=False, unique=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("ended_at", DateTime(timezone=True), nullable=False),
    Column("passed", Boolean, nullable=False),
    Column("cause", Text),
    Column("round_trip_seconds", Float),
    Column("requested_by", Text, nullable=False, server_default=""),  # "" = the schedule
    Column("details", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    CheckConstraint("passed = (cause IS NULL)", name="cause"),
    Index("ix_line_tests_started_at", "started_at"),
)

# Who changed or read what: every API mutation and every read of customer data.
audit_log = Table(
    "audit_log",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("target", Text, nullable=False, server_default=""),
    Column("before", JSONB),
    Column("after", JSONB),
    Column("client", Text, nullable=False, server_default=""),
    Index("ix_audit_log_at", "at"),
)

# API bearer tokens: only a hash is kept; the token is shown once at creation.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    # unique among active tokens: a revoked token's name can be given again
    Column("name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("token_hash", Text, nullable=False, unique=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Column("last_used_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    CheckConstraint("role IN ('admin', 'supervisor', 'viewer')", name="role"),
    Index("uq_api_tokens_active_name", "name", unique=True,
          postgresql_where=text("revoked_at IS NULL")),
)

_EMPTY_JSON = text("'{}'::jsonb")

# The dialer's jobs: a callback, a satisfaction visit, an emergency campaign.
# ``job_key`` is idempotent (a callback task opens at most one job).
dialer_jobs = Table(
    "dialer_jobs",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("job_key", Text, nullable=False, unique=True),
    Column("job_type", Text, nullable=False),  # domain.dialer.JobType
    Column("dialog", Text, nullable=False),  # domain.dialer.DialogType
    Column("name", Text, nullable=False, server_default=""),
    Column("state", Text, nullable=False, server_default="active"),  # JobState
    # per-job settings: max_attempts, the message's media, ... (the dialer's own)
    Column("options", JSONB, nullable=False, server_default=_EMPTY_JSON),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Column("created_by", Text, nullable=False, server_default="system"),
    Column("cancelled_at", DateTime(timezone=True)),
    Column("cancelled_by", Text, nullable=False, server_default=""),
    Column("finished_at", DateTime(timezone=True)),
    CheckConstraint("job_type IN ('callback', 'visit', 'emergency')", name="job_type"),
    CheckConstraint("dialog IN ('agent_bridge', 'satisfaction', 'confirm')", name="dialog"),
    CheckConstraint("state IN ('active', 'cancelled', 'done')", name="state"),
    Index("ix_dialer_jobs_created_at", "created_at"),
    Index("ix_dialer_jobs_active", "job_type", postgresql_where=text("state = 'active'")),
)

# The people a job calls, in the order of its list (``line_no``: the line of
# the imported file). A row without a phone is kept: "no contact number".
dialer_targets = Table(
    "dialer_targets",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("job_id", BigInteger, ForeignKey("dialer_jobs.id", ondelete="CASCADE"),
           nullable=False),
    Column("line_no", Integer, nullable=False),
    Column("name", Text, nullable=False, server_default=""),
    Column("account", Text, nullable=False, server_default=""),
    Column("phone", Text),
    Column("ref", Text, nullable=False, server_default=""),  # e.g. the callback task's id
    Column("state", Text, nullable=False, server_default="pending"),  # TargetState
    Column("result", Text),
    Column("attempts", SmallInteger, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("dtmf", Text, nullable=False, server_default=""),
    Column("score", SmallInteger),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    CheckConstraint(
        "state IN ('pending', 'dialling', 'done', 'unreached', 'no_number', 'cancelled')",
        name="state"),
    UniqueConstraint("job_id", "line_no", name="uq_dialer_targets_job_id"),
    Index("ix_dialer_targets_due", "next_attempt_at",
          postgresql_where=text("state IN ('pending', 'dialling')")),
    # the dialer's read of a job's next targets, in order (dialer_repo.due_targets)
    Index("ix_dialer_targets_job_pending", "job_id", text("next_attempt_at NULLS FIRST"),
          "line_no", postgresql_where=text("state = 'pending' AND phone IS NOT NULL")),
)

# Every call the dialer placed, keyed by its ARI channel id: a restart
# reconciles the ones still ``in_flight``.
dialer_attempts = Table(
    "dialer_attempts",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("attempt_key", Text, nullable=False, unique=True),
    Column("target_id", BigInteger, ForeignKey("dialer_targets.id", ondelete="CASCADE"),
           nullable=False),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("answered_at", DateTime(timezone=True)),
    Column("ended_at", DateTime(timezone=True)),
    Column("result", Text, nullable=False, server_default="in_flight"),  # AttemptResult
    Column("hangup_cause", SmallInteger),
    Column("dtmf", Text, nullable=False, server_default=""),
    Column("duration_seconds", Float),
    Column("details", JSONB, nullable=False, server_default=_EMPTY_JSON),
    Index("ix_dialer_attempts_target_id", "target_id"),
    Index("ix_dialer_attempts_started_at", "started_at"),
)

# A callback task for every call the hotline failed (missed, abandoned not
# short) and for a long call continued from another line; ``task_key`` is
# idempotent (the call's key, plus the reason for a long call).
callbacks = Table(
    "callbacks",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("task_key", Text, nullable=False, unique=True),
    Column("call_key", Text),  # calls.call_key of the call it is for
    Column("caller", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("state", Text, nullable=False, server_default="open"),
    Column("result", Text),
    Column("note", Text, nullable=False, server_default=""),
    Column("done_at", DateTime(timezone=True)),
    Column("done_by", Text, nullable=False, server_default=""),
    Column("score", SmallInteger),
    Column("dialer_job_id", BigInteger, ForeignKey("dialer_jobs.id", ondelete="SET NULL")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    # callbacks part (issue 12): see migration 0005
    Column("caller_key", Text, nullable=False, server_default=""),  # domain.normalise_caller
    Column("failed_at", DateTime(timezone=True)),  # when the call that opened it ended
    Column("attempts", SmallInteger, nullable=False, server_default="0"),  # the dialer's
    CheckConstraint("reason IN ('missed', 'abandoned', 'long_call', 'manual')", name="reason"),
    CheckConstraint("state IN ('open', 'dialling', 'done', 'cancelled')", name="state"),
    Index("ix_callbacks_call_key", "call_key"),
    Index("ix_callbacks_caller", "caller"),
    Index("ix_callbacks_open_due", "due_at",
          postgresql_where=text("state IN ('open', 'dialling')")),
    Index("ix_callbacks_open_caller_key", "caller_key",
          postgresql_where=text("state IN ('open', 'dialling')")),
    Index("ix_callbacks_created_at", "created_at"),
)

# -- complaints (issue 13): migration 0006 ------------------------------------------

# The departments and call purposes (domain.purposes): one validated document.
call_purposes = Table(
    "call_purposes",
    metadata,
    Column("id", SmallInteger, primary_key=True),
    Column("document", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Column("updated_by", Text, nullable=False, server_default="system"),
    CheckConstraint("id = 1", name="singleton"),
)


def _form_text(name: str) -> Column[str]:
    return Column(name, Text, nullable=False, server_default="")


# The complaint register: the fields of the complaint handling form and the
# register, the workflow state (domain.complaints.ComplaintState) and the SLA
# deadlines computed in working time when it was registered (and extended).
complaints = Table(
    "complaints",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("call_id", BigInteger, ForeignKey("calls.id", ondelete="SET NULL")),
    Column("received_at", DateTime(timezone=True), nullable=False),  # the form's date and time
    _form_text("customer_name"),
    _form_text("account"),  # unit / account number
    Column("phone", Text),  # contact phone, normalised digits; NULL: none given
    _form_text("channel"),  # domain.complaints.Channel
    _form_text("received_by"),
    Column("content", Text, nullable=False),
    Column("category", Text, nullable=False),  # a purpose id of the catalogue
    Column("department", Text, nullable=False),  # the responsible department's id
    Column("severity", Text, nullable=False),  # domain.complaints.Severity
    Column("state", Text, nullable=False, server_default="registered"),
    Column("found_true", Boolean),  # the department's verification: NULL until verified
    _form_text("verification"),
    _form_text("solution"),
    _form_text("department_manager"),
    _form_text("callback_result"),
    _form_text("handler"),
    Column("handled_at", DateTime(timezone=True)),
    _form_text("explanation"),  # to the customer, for a complaint found untrue
    _form_text("pm_opinion"),  # the project manager's opinion and sign-off
    _form_text("pm_signed_by"),
    Column("pm_signed_at", DateTime(timezone=True)),
    # SLA (domain.complaints): deadlines in UTC, counted in working time
    Column("first_reply_due", DateTime(timezone=True), nullable=False),
    Column("first_reply_at", DateTime(timezone=True)),
    Column("progress_reply_due", DateTime(timezone=True), nullable=False),
    Column("progress_reply_at", DateTime(timezone=True)),
    Column("resolve_target", DateTime(timezone=True), nullable=False),
    Column("resolve_hard_max", DateTime(timezone=True), nullable=False),
    Column("resolve_due", DateTime(timezone=True), nullable=False),  # target, or extended
    Column("resolved_at", DateTime(timezone=True)),
    Column("informed_at", DateTime(timezone=True)),
    # the callback visit after resolution (by the dialer or by a person)
    Column("visit_state", Text, nullable=False, server_default="none"),  # VisitState
    _form_text("visit_by"),  # dialer | a person's name
    Column("visit_score", SmallInteger),
    Column("visit_scale", SmallInteger),
    _form_text("visit_result"),
    _form_text("visit_note"),
    Column("visit_attempts", SmallInteger, nullable=False, server_default="0"),
    Column("visited_at", DateTime(timezone=True)),
    Column("visit_due", DateTime(timezone=True)),  # set when the visit is queued
    Column("dialer_job_id", BigInteger, ForeignKey("dialer_jobs.id", ondelete="SET NULL")),
    Column("archived_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Column("created_by", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Column("version", Integer, nullable=False, server_default="1"),  # optimistic concurrency
    CheckConstraint("state IN ('registered', 'assigned', 'verified', 'resolved', "
                    "'customer_informed', 'visited', 'archived')", name="state"),
    CheckConstraint("severity IN ('simple', 'general', 'complex')", name="severity"),
    CheckConstraint("visit_state IN ('none', 'queued', 'done', 'unreached', 'cancelled')",
                    name="visit_state"),
    CheckConstraint("resolve_target <= resolve_due AND resolve_due <= resolve_hard_max",
                    name="deadlines"),
    Index("ix_complaints_received_at", "received_at"),
    Index("ix_complaints_call_id", "call_id"),
    Index("ix_complaints_open", "resolve_due", postgresql_where=text("state NOT IN ('archived')")),
)

# Every change of a complaint: registered, transitions, form edits, extensions,
# replies to the customer, visits - with who and when.
complaint_events = Table(
    "complaint_events",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("complaint_id", BigInteger, ForeignKey("complaints.id", ondelete="CASCADE"),
           nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Column("actor", Text, nullable=False),
    Column("kind", Text, nullable=False),  # domain.complaints.EventKind
    Column("from_state", Text),
    Column("to_state", Text),
    Column("details", JSONB, nullable=False, server_default=_EMPTY_JSON),
    CheckConstraint("kind IN ('registered', 'transition', 'edit', 'extension', 'reply', "
                    "'visit')", name="kind"),
    Index("ix_complaint_events_complaint_id", "complaint_id"),
)
# The daily digest of what must be chased: one row per local working day, written
# once (the first instance to get there) at complaints.digest_time.
complaint_digests = Table(
    "complaint_digests",
    metadata,
    Column("day", Date, primary_key=True),
    Column("generated_at", DateTime(timezone=True), nullable=False, server_default=NOW),
    Column("counts", JSONB, nullable=False, server_default=_EMPTY_JSON),  # per Stage
    Column("items", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
)
# -- end complaints ---------------------------------------------------------------------

#: The advisory lock the one running dialer holds ("hotline dialer").
DIALER_LOCK = 0x486F746C44696C72
#: The advisory lock of the one long-call service that whispers and counts ("hotline long").
LONG_CALL_LOCK = 0x486F746C6C6F6E67

LINE_CHANNEL = "hotline_line"
"""NOTIFY channel of the line monitor: a test in flight (every instance's /route
recognises its call), a test asked for through the API (the monitor runs it)."""

#: The PostgreSQL advisory lock the one running line monitor holds (an arbitrary,
#: fixed 64-bit key: "hotline line monitor").
LINE_MONITOR_LOCK = 0x486F746C696E654D

ROUTES_CHANNEL = "hotline_routes"
"""NOTIFY channel of the cluster (``cluster.enabled``): each instance's ``/route``
decisions, so that whichever instance tracks the node's calls knows them."""

#: The advisory locks of call tracking, one per Asterisk node ("hotline track" and
#: the node name's CRC-32): one instance writes a node's calls at a time.
_TRACKING_LOCK_BASE = 0x486F746C54000000


def tracking_lock_key(node: str) -> int:
    return _TRACKING_LOCK_BASE | zlib.crc32(node.encode())


CONFIG_CHANNEL = "hotline_config"
"""NOTIFY channel: any change to schedule, exceptions, override or roster."""
