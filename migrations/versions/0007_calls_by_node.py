"""Calls keyed by Asterisk node and Linkedid: several Asterisk nodes, one database

``calls.node`` names the Asterisk a call came through (``cluster.node``; empty
with one Asterisk, which every earlier row was). The unique key becomes
(node, call_key): two nodes may hand out the same Linkedid. ``call_key`` keeps
an index of its own for the lookups by call.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("calls", sa.Column("node", sa.Text(), nullable=False, server_default=""))
    op.drop_constraint("uq_calls_call_key", "calls", type_="unique")
    op.create_unique_constraint("uq_calls_node_call_key", "calls", ["node", "call_key"])
    op.create_index("ix_calls_call_key", "calls", ["call_key"])


def downgrade() -> None:
    op.drop_index("ix_calls_call_key", table_name="calls")
    op.drop_constraint("uq_calls_node_call_key", "calls", type_="unique")
    op.create_unique_constraint("uq_calls_call_key", "calls", ["call_key"])
    op.drop_column("calls", "node")
