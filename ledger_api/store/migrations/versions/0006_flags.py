"""Intelligence flags (issue #16): the flags shared on chain as the indexer learns them
(`flags`), their sealed documents and opened contents held here (`flag_documents`), and
every read of a flag's content (`flag_reads`). New tables only: nothing to give to
existing rows.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 22:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "flags",
        sa.Column("id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("author", sa.String(length=42), nullable=False),
        sa.Column("author_country", sa.String(length=2), nullable=False),
        sa.Column("content_hash", sa.String(length=66), nullable=False),
        sa.Column("subject_hash", sa.String(length=66), nullable=False),
        sa.Column("category", sa.Integer(), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("valid_from", sa.BigInteger(), nullable=False),
        sa.Column("valid_until", sa.BigInteger(), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("withdrawn_at_block", sa.BigInteger(), nullable=True),
        sa.Column("withdrawn_by", sa.String(length=42), nullable=True),
        sa.Column("fetch_error", sa.Text(), nullable=True),
        sa.Column("uses", sa.Integer(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("flags", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_flags_author"), ["author"], unique=False)
        batch_op.create_index(batch_op.f("ix_flags_block_number"), ["block_number"], unique=False)
        batch_op.create_index(batch_op.f("ix_flags_content_hash"), ["content_hash"], unique=False)

    op.create_table(
        "flag_documents",
        sa.Column("content_hash", sa.String(length=66), nullable=False),
        sa.Column("author", sa.String(length=42), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("origin", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("content_hash"),
    )
    with op.batch_alter_table("flag_documents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_flag_documents_author"), ["author"], unique=False)

    op.create_table(
        "flag_reads",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("flag_id", sa.BigInteger(), nullable=False),
        sa.Column("reader", sa.String(length=42), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("flag_reads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_flag_reads_flag_id"), ["flag_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("flag_reads", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flag_reads_flag_id"))
    op.drop_table("flag_reads")
    with op.batch_alter_table("flag_documents", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flag_documents_author"))
    op.drop_table("flag_documents")
    with op.batch_alter_table("flags", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_flags_content_hash"))
        batch_op.drop_index(batch_op.f("ix_flags_block_number"))
        batch_op.drop_index(batch_op.f("ix_flags_author"))
    op.drop_table("flags")
