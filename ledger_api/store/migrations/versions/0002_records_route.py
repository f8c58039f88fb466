"""Records carry their signed route (issue #12/#14: the route decides jurisdiction);
rows of earlier stores keep NULL, read as no route.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 17:38:24.182649
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("route", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_column("route")
