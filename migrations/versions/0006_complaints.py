"""Complaints and call purposes: the register, its events, the purpose catalogue

``call_purposes`` is the configurable catalogue (a singleton validated JSON
document, like the schedule): the departments and the call purposes
(consultation, query, complaint, ...) each with its department. ``calls.purpose``
is the purpose a supervisor or agent picked for a call. ``complaints`` holds the
fields of the two paper forms (the complaint handling form and the complaint
register), the workflow state and the SLA deadlines computed in working time;
``complaint_events`` every transition, extension, reply and visit with who and
when.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)
_EMPTY = sa.text("'{}'::jsonb")
_NOW = sa.func.now()


def _text(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.Text(), nullable=False, server_default="")


def upgrade() -> None:
    op.add_column("calls", sa.Column("purpose", sa.Text()))
    op.add_column("calls", sa.Column("purpose_set_by", sa.Text(), nullable=False,
                                     server_default=""))
    op.create_index("ix_calls_purpose", "calls", ["purpose"])
    op.create_table(
        "call_purposes",
        sa.Column("id", sa.SmallInteger(), primary_key=True),
        sa.Column("document", JSONB(), nullable=False),
        sa.Column("updated_at", _TZ, nullable=False, server_default=_NOW),
        sa.Column("updated_by", sa.Text(), nullable=False, server_default="system"),
        sa.CheckConstraint("id = 1", name="ck_call_purposes_singleton"),
    )
    op.create_table(
        "complaints",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.BigInteger(),
                  sa.ForeignKey("calls.id", ondelete="SET NULL",
                                name="fk_complaints_call_id")),
        sa.Column("received_at", _TZ, nullable=False),
        _text("customer_name"), _text("account"),
        sa.Column("phone", sa.Text()),
        _text("channel"), _text("received_by"),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("category", sa.Text(), nullable=False),
        sa.Column("department", sa.Text(), nullable=False),
        sa.Column("severity", sa.Text(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False, server_default="registered"),
        sa.Column("found_true", sa.Boolean()),
        _text("verification"), _text("solution"), _text("department_manager"),
        _text("callback_result"), _text("handler"),
        sa.Column("handled_at", _TZ),
        _text("explanation"), _text("pm_opinion"), _text("pm_signed_by"),
        sa.Column("pm_signed_at", _TZ),
        sa.Column("first_reply_due", _TZ, nullable=False),
        sa.Column("first_reply_at", _TZ),
        sa.Column("progress_reply_due", _TZ, nullable=False),
        sa.Column("progress_reply_at", _TZ),
        sa.Column("resolve_target", _TZ, nullable=False),
        sa.Column("resolve_hard_max", _TZ, nullable=False),
        sa.Column("resolve_due", _TZ, nullable=False),
        sa.Column("resolved_at", _TZ),
        sa.Column("informed_at", _TZ),
        sa.Column("visit_state", sa.Text(), nullable=False, server_default="none"),
        _text("visit_by"),
        sa.Column("visit_score", sa.SmallInteger()),
        sa.Column("visit_scale", sa.SmallInteger()),
        _text("visit_result"), _text("visit_note"),
        sa.Column("visit_attempts", sa.SmallInteger(), nullable=False, server_default="0"),
        sa.Column("visited_at", _TZ),
        sa.Column("visit_due", _TZ),
        sa.Column("dialer_job_id", sa.BigInteger(),
                  sa.ForeignKey("dialer_jobs.id", ondelete="SET NULL",
                                name="fk_complaints_dialer_job_id")),
        sa.Column("archived_at", _TZ),
        sa.Column("created_at", _TZ, nullable=False, server_default=_NOW),
        sa.Column("created_by", sa.Text(), nullable=False),
        sa.Column("updated_at", _TZ, nullable=False, server_default=_NOW),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.CheckConstraint(
            "state IN ('registered', 'assigned', 'verified', 'resolved', "
            "'customer_informed', 'visited', 'archived')", name="ck_complaints_state"),
        sa.CheckConstraint("severity IN ('simple', 'general', 'complex')",
                           name="ck_complaints_severity"),
        sa.CheckConstraint(
            "visit_state IN ('none', 'queued', 'done', 'unreached', 'cancelled')",
            name="ck_complaints_visit_state"),
        sa.CheckConstraint("resolve_target <= resolve_due AND resolve_due <= resolve_hard_max",
                           name="ck_complaints_deadlines"),
    )
    op.create_index("ix_complaints_received_at", "complaints", ["received_at"])
    op.create_index("ix_complaints_call_id", "complaints", ["call_id"])
    op.create_index("ix_complaints_open", "complaints", ["resolve_due"],
                    postgresql_where=sa.text("state NOT IN ('archived')"))
    op.create_table(
        "complaint_events",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("complaint_id", sa.BigInteger(),
                  sa.ForeignKey("complaints.id", ondelete="CASCADE",
                                name="fk_complaint_events_complaint_id"), nullable=False),
        sa.Column("at", _TZ, nullable=False, server_default=_NOW),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("from_state", sa.Text()),
        sa.Column("to_state", sa.Text()),
        sa.Column("details", JSONB(), nullable=False, server_default=_EMPTY),
        sa.CheckConstraint(
            "kind IN ('registered', 'transition', 'edit', 'extension', 'reply', 'visit')",
            name="ck_complaint_events_kind"),
    )
    op.create_index("ix_complaint_events_complaint_id", "complaint_events", ["complaint_id"])
    op.create_table(
        "complaint_digests",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("generated_at", _TZ, nullable=False, server_default=_NOW),
        sa.Column("counts", JSONB(), nullable=False, server_default=_EMPTY),
        sa.Column("items", JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")),
    )


def downgrade() -> None:
    op.drop_table("complaint_digests")
    op.drop_table("complaint_events")
    op.drop_table("complaints")
    op.drop_table("call_purposes")
    op.drop_index("ix_calls_purpose", table_name="calls")
    op.drop_column("calls", "purpose_set_by")
    op.drop_column("calls", "purpose")
