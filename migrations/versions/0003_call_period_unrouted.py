"""calls.period 'unrouted': the caller hung up before any route was taken

A call whose caller gives up during the FastAGI step never reached routing:
it is not offered (DESIGN.md) and counts in no KPI, but it is still recorded.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_BEFORE = "period IN ('open', 'closed', 'override', 'failsafe')"
_AFTER = "period IN ('open', 'closed', 'override', 'failsafe', 'unrouted')"


def upgrade() -> None:
    op.drop_constraint(op.f("ck_calls_period"), "calls", type_="check")
    op.create_check_constraint(op.f("ck_calls_period"), "calls", _AFTER)


def downgrade() -> None:
    op.execute("DELETE FROM calls WHERE period = 'unrouted'")
    op.drop_constraint(op.f("ck_calls_period"), "calls", type_="check")
    op.create_check_constraint(op.f("ck_calls_period"), "calls", _BEFORE)
