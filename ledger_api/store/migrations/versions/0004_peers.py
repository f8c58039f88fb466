"""An instance per authority (issue #12): the endpoints the authorities published on chain
(the indexer keeps the current one of each) and the peer request tokens already used
(replay protection, kept until they expire). New tables only: nothing to give to existing
rows. (payload_refusals, which DESIGN-12 lists with them, came with 0003_chain_facts.)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03 18:01:55.660202
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "endpoints",
        sa.Column("authority", sa.String(length=42), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("signing_key", sa.String(length=66), nullable=False),
        sa.Column("encryption_key", sa.String(length=66), nullable=False),
        sa.Column("relayer", sa.String(length=42), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("authority"),
    )
    with op.batch_alter_table("endpoints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_endpoints_country"), ["country"], unique=False)
        batch_op.create_index(batch_op.f("ix_endpoints_relayer"), ["relayer"], unique=False)
        batch_op.create_index(batch_op.f("ix_endpoints_signing_key"), ["signing_key"], unique=False)

    op.create_table(
        "peer_tokens_seen",
        sa.Column("jti", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("jti"),
    )
    with op.batch_alter_table("peer_tokens_seen", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_peer_tokens_seen_expires_at"), ["expires_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("peer_tokens_seen", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_peer_tokens_seen_expires_at"))

    op.drop_table("peer_tokens_seen")
    with op.batch_alter_table("endpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_endpoints_signing_key"))
        batch_op.drop_index(batch_op.f("ix_endpoints_relayer"))
        batch_op.drop_index(batch_op.f("ix_endpoints_country"))

    op.drop_table("endpoints")
