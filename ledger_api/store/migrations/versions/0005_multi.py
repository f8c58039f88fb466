"""Many instances on one store (#13): the deployment kept in the store (one row, written
once), the receipt-signing keys every instance shares (sealed with the store key), and
the leases that elect one relayer and indexer among the writers; state keys long enough
to name a relayer key's nonce.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 18:03:27.551867
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deployment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("chain_id", sa.BigInteger(), nullable=False),
        sa.Column("deploy_block", sa.BigInteger(), nullable=False),
        sa.Column("deploy_block_hash", sa.String(length=66), nullable=False),
        sa.Column("config_digest", sa.String(length=66), nullable=False),
        sa.Column("manifest", sa.Text(), nullable=False),
        sa.Column("deployed_by", sa.String(length=160), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("owner", sa.String(length=160), nullable=False),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "receipt_keys",
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sequence"),
    )

    # Room for a key named after a relayer's address (store/outbox.py: relayer_nonce:0x…).
    with op.batch_alter_table("state", schema=None) as batch_op:
        batch_op.alter_column("key", existing_type=sa.String(length=40), type_=sa.String(length=80))


def downgrade() -> None:
    with op.batch_alter_table("state", schema=None) as batch_op:
        batch_op.alter_column("key", existing_type=sa.String(length=80), type_=sa.String(length=40))
    op.drop_table("receipt_keys")
    op.drop_table("leases")
    op.drop_table("deployment")
