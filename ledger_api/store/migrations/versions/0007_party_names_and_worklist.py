"""The officer's day (issue #15): parties by name — the identifiers a registration carries
(legal name, EORI, LEI, GLN…), kept by their hash, which is what the registry holds on
chain — the worklist's lines, one per consignment and route country, and the routes by
country (a worklist starts from the consignments on its country's route), and the records
by block and by acceptance time (the worklist's refresher asks what changed since its mark).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 18:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "party_identifiers",
        sa.Column("hash", sa.String(length=66), nullable=False),
        sa.Column("identifiers", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("hash"),
    )
    op.create_table(
        "worklist_entries",
        sa.Column("consignment", sa.String(length=66), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("ucr", sa.String(length=35), nullable=False),
        sa.Column("fingerprint", sa.String(length=80), nullable=False),
        sa.Column("lane_rank", sa.Integer(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("entry", sa.Text(), nullable=False),
        sa.Column("awaiting", sa.Integer(), nullable=False),
        sa.Column("hs_chapters", sa.Text(), nullable=False),
        sa.Column("parties", sa.Text(), nullable=False),
        sa.Column("last_event_at", sa.BigInteger(), nullable=True),
        sa.Column("declared_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("consignment", "country"),
    )
    op.create_index("worklist_by_rank", "worklist_entries", ["country", "lane_rank", "score", "ucr"], unique=False)
    op.create_index("routes_by_country", "routes", ["country", "consignment"], unique=False)
    op.create_index("records_by_block", "records", ["block_number"], unique=False)
    op.create_index("records_by_accepted_at", "records", ["accepted_at"], unique=False)


def downgrade() -> None:
    op.drop_index("records_by_accepted_at", table_name="records")
    op.drop_index("records_by_block", table_name="records")
    op.drop_index("routes_by_country", table_name="routes")
    op.drop_index("worklist_by_rank", table_name="worklist_entries")
    op.drop_table("worklist_entries")
    op.drop_table("party_identifiers")
