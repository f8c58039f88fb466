"""Parties by name (issue #15): the identifiers a registration carries (legal name, EORI,
LEI, GLN…), kept by their hash, which is what the registry holds on chain.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 18:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "party_identifiers",
        sa.Column("hash", sa.String(length=66), nullable=False),
        sa.Column("identifiers", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("hash"),
    )


def downgrade() -> None:
    op.drop_table("party_identifiers")
