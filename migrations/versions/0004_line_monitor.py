"""The line monitor: test calls, fault sources, the paper fault form

``line_tests`` keeps every test call the monitor placed (passed, or its
cause). ``line_faults`` gains the source that opened a fault (a failed test
call or the 400 trunk's qualify), and the
fields of the company's paper fault form: who reported it to the technical
department and when, when it was repaired, a free-text note.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    # The monitor's idempotent key: its records go through the batch writer and
    # its spool, and a fault's end is a later record of the same key.
    op.add_column("line_faults", sa.Column("fault_key", sa.Text()))
    op.execute("UPDATE line_faults SET fault_key = 'legacy-' || id")
    # A row written by hand (or by an older version's SQL) gets a key of its own.
    op.alter_column("line_faults", "fault_key", nullable=False,
                    server_default=sa.text("gen_random_uuid()::text"))
    op.create_unique_constraint(op.f("uq_line_faults_fault_key"), "line_faults", ["fault_key"])
    op.add_column("line_faults", sa.Column("source", sa.Text(), nullable=False,
                                           server_default="test"))
    op.add_column("line_faults", sa.Column("reported_by", sa.Text(), nullable=False,
                                           server_default=""))
    op.add_column("line_faults", sa.Column("reported_at", _TZ))
    op.add_column("line_faults", sa.Column("repaired_at", _TZ))
    op.add_column("line_faults", sa.Column("note", sa.Text(), nullable=False,
                                           server_default=""))
    op.add_column("line_faults", sa.Column("updated_at", _TZ))
    op.create_check_constraint(op.f("ck_line_faults_source"), "line_faults",
                               "source IN ('test', 'trunk')")
    op.create_check_constraint(op.f("ck_line_faults_ordered"), "line_faults",
                               "ended_at IS NULL OR ended_at >= started_at")
    op.create_index("ix_line_faults_open", "line_faults", ["source"],
                    postgresql_where=sa.text("ended_at IS NULL"))
    op.create_table(
        "line_tests",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column("test_key", sa.Text(), nullable=False, unique=True),
        sa.Column("started_at", _TZ, nullable=False),
        sa.Column("ended_at", _TZ, nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("cause", sa.Text()),
        sa.Column("round_trip_seconds", sa.Float()),
        sa.Column("requested_by", sa.Text(), nullable=False, server_default=""),
        sa.Column("details", JSONB(), nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.CheckConstraint("passed = (cause IS NULL)", name=op.f("ck_line_tests_cause")),
    )
    op.create_index("ix_line_tests_started_at", "line_tests", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_line_tests_started_at", table_name="line_tests")
    op.drop_table("line_tests")
    op.drop_index("ix_line_faults_open", table_name="line_faults")
    op.drop_constraint(op.f("ck_line_faults_ordered"), "line_faults", type_="check")
    op.drop_constraint(op.f("ck_line_faults_source"), "line_faults", type_="check")
    for column in ("updated_at", "note", "repaired_at", "reported_at", "reported_by", "source",
                   "fault_key"):
        op.drop_column("line_faults", column)
