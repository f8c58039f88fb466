"""Verification at scale (issue #17): the signer each held record's signature recovered to
when it was held, so that a verification need not recover every record's signature again.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 02:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("records") as batch:
        batch.add_column(sa.Column("signer", sa.String(length=42), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("records") as batch:
        batch.drop_column("signer")
