"""Outbound work: the dialer's jobs, targets and attempts; callback tasks; long calls

``dialer_jobs`` holds each job (a callback, a satisfaction visit, an emergency
campaign) with its dialog; ``dialer_targets`` the people it calls (a row
without a phone is kept: "no contact number"); ``dialer_attempts`` every call
placed, keyed by its ARI channel id, so a restart reconciles what was in
flight and never dials a target twice. ``callbacks`` are the tasks opened for
every call the hotline failed (and for long calls continued from another
line). ``calls.long_call`` flags a call that ran past the long-call threshold
while callers waited.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)
_EMPTY = sa.text("'{}'::jsonb")


def upgrade() -> None:
    op.add_column("calls", sa.Column("long_call", sa.Boolean(), nullable=False,
                                     server_default=sa.text("false")))
    op.create_table(
        "dialer_jobs",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("job_key", sa.Text(), nullable=False, unique=True),
        sa.Column("job_type", sa.Text(), nullable=False),
        sa.Column("dialog", sa.Text(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False, server_default=""),
        sa.Column("state", sa.Text(), nullable=False, server_default="active"),
        sa.Column("options", JSONB(), nullable=False, server_default=_EMPTY),
        sa.Column("created_at", _TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("created_by", sa.Text(), nullable=False, server_default="system"),
        sa.Column("cancelled_at", _TZ),
        sa.Column("cancelled_by", sa.Text(), nullable=False, server_default=""),
        sa.Column("finished_at", _TZ),
        sa.CheckConstraint("job_type IN ('callback', 'visit', 'emergency')",
                           name=op.f("ck_dialer_jobs_job_type")),
        sa.CheckConstraint("dialog IN ('agent_bridge', 'satisfaction', 'confirm')",
                           name=op.f("ck_dialer_jobs_dialog")),
        sa.CheckConstraint("state IN ('active', 'cancelled', 'done')",
                           name=op.f("ck_dialer_jobs_state")),
    )
    op.create_index("ix_dialer_jobs_created_at", "dialer_jobs", ["created_at"])
    op.create_index("ix_dialer_jobs_active", "dialer_jobs", ["job_type"],
                    postgresql_where=sa.text("state = 'active'"))
    op.create_table(
        "dialer_targets",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("job_id", sa.BigInteger(), sa.ForeignKey("dialer_jobs.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False, server_default=""),
        sa.Column("account", sa.Text(), nullable=False, server_default=""),
        sa.Column("phone", sa.Text()),
        sa.Column("ref", sa.Text(), nullable=False, server_default=""),
        sa.Column("state", sa.Text(), nullable=False, server_default="pending"),
        sa.Column("result", sa.Text()),
        sa.Column("attempts", sa.SmallInteger(), nullable=False, server_default="0"),
        sa.Column("next_attempt_at", _TZ),
        sa.Column("dtmf", sa.Text(), nullable=False, server_default=""),
        sa.Column("score", sa.SmallInteger()),
        sa.Column("updated_at", _TZ, nullable=False, server_default=sa.func.now()),
        sa.CheckConstraint(
            "state IN ('pending', 'dialling', 'done', 'unreached', 'no_number', 'cancelled')",
            name=op.f("ck_dialer_targets_state")),
        sa.UniqueConstraint("job_id", "line_no", name=op.f("uq_dialer_targets_job_id")),
    )
    op.create_index("ix_dialer_targets_due", "dialer_targets", ["next_attempt_at"],
                    postgresql_where=sa.text("state IN ('pending', 'dialling')"))
    # The dialer's read of a job's next targets (dialer_repo.due_targets): in
    # order, without sorting a 100,000-target campaign at every look.
    op.create_index("ix_dialer_targets_job_pending", "dialer_targets",
                    ["job_id", sa.text("next_attempt_at NULLS FIRST"), "line_no"],
                    postgresql_where=sa.text("state = 'pending' AND phone IS NOT NULL"))
    op.create_table(
        "dialer_attempts",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("attempt_key", sa.Text(), nullable=False, unique=True),
        sa.Column("target_id", sa.BigInteger(),
                  sa.ForeignKey("dialer_targets.id", ondelete="CASCADE"), nullable=False),
        sa.Column("started_at", _TZ, nullable=False),
        sa.Column("answered_at", _TZ),
        sa.Column("ended_at", _TZ),
        sa.Column("result", sa.Text(), nullable=False, server_default="in_flight"),
        sa.Column("hangup_cause", sa.SmallInteger()),
        sa.Column("dtmf", sa.Text(), nullable=False, server_default=""),
        sa.Column("duration_seconds", sa.Float()),
        sa.Column("details", JSONB(), nullable=False, server_default=_EMPTY),
    )
    op.create_index("ix_dialer_attempts_target_id", "dialer_attempts", ["target_id"])
    op.create_index("ix_dialer_attempts_started_at", "dialer_attempts", ["started_at"])
    op.create_table(
        "callbacks",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("task_key", sa.Text(), nullable=False, unique=True),
        sa.Column("call_key", sa.Text()),
        sa.Column("caller", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", _TZ, nullable=False, server_default=sa.func.now()),
        sa.Column("due_at", _TZ, nullable=False),
        sa.Column("state", sa.Text(), nullable=False, server_default="open"),
        sa.Column("result", sa.Text()),
        sa.Column("note", sa.Text(), nullable=False, server_default=""),
        sa.Column("done_at", _TZ),
        sa.Column("done_by", sa.Text(), nullable=False, server_default=""),
        sa.Column("score", sa.SmallInteger()),
        sa.Column("dialer_job_id", sa.BigInteger(),
                  sa.ForeignKey("dialer_jobs.id", ondelete="SET NULL")),
        sa.Column("updated_at", _TZ, nullable=False, server_default=sa.func.now()),
        # callbacks part (issue 12): the caller as tasks are matched (normalised),
        # when the call that opened the task ended, the dialer's attempts.
        sa.Column("caller_key", sa.Text(), nullable=False, server_default=""),
        sa.Column("failed_at", _TZ),
        sa.Column("attempts", sa.SmallInteger(), nullable=False, server_default="0"),
        sa.CheckConstraint("reason IN ('missed', 'abandoned', 'long_call', 'manual')",
                           name=op.f("ck_callbacks_reason")),
        sa.CheckConstraint("state IN ('open', 'dialling', 'done', 'cancelled')",
                           name=op.f("ck_callbacks_state")),
    )
    op.create_index("ix_callbacks_call_key", "callbacks", ["call_key"])
    op.create_index("ix_callbacks_caller", "callbacks", ["caller"])
    op.create_index("ix_callbacks_open_due", "callbacks", ["due_at"],
                    postgresql_where=sa.text("state IN ('open', 'dialling')"))
    op.create_index("ix_callbacks_open_caller_key", "callbacks", ["caller_key"],
                    postgresql_where=sa.text("state IN ('open', 'dialling')"))
    op.create_index("ix_callbacks_created_at", "callbacks", ["created_at"])


def downgrade() -> None:
    op.drop_table("callbacks")
    op.drop_table("dialer_attempts")
    op.drop_table("dialer_targets")
    op.drop_table("dialer_jobs")
    op.drop_column("calls", "long_call")
