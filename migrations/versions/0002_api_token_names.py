"""API token names unique among active tokens only

A revoked token keeps its row (the audit log names it), so its name must be
free again: `token revoke alice` then `token create --name alice` rotates a
token under the same name.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint("uq_api_tokens_name", "api_tokens", type_="unique")
    op.create_index("uq_api_tokens_active_name", "api_tokens", ["name"], unique=True,
                    postgresql_where=sa.text("revoked_at IS NULL"))


def downgrade() -> None:
    op.drop_index("uq_api_tokens_active_name", table_name="api_tokens")
    op.create_unique_constraint("uq_api_tokens_name", "api_tokens", ["name"])
