"""Intelligence flags' use (issue #16: the author sees that its flag was received and used):
on a recipient's instance, how many worklist lines fired a flag and when one last fired
(`flags.worklist_uses`, `flags.last_used_at`, beside the verdicts counted in `uses`); on the
author's, what each recipient reported of it (`flag_recipient_uses`). Existing flags start
at no worklist use and no last use.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 02:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("flags", schema=None) as batch_op:
        batch_op.add_column(sa.Column("worklist_uses", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(sa.Column("last_used_at", sa.BigInteger(), nullable=True))
    op.create_table(
        "flag_recipient_uses",
        sa.Column("flag_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("recipient", sa.String(length=42), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.Column("last_used_at", sa.BigInteger(), nullable=True),
        sa.Column("verdicts", sa.Integer(), nullable=False),
        sa.Column("worklist_lines", sa.Integer(), nullable=False),
        sa.Column("reported_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("flag_id", "recipient"),
    )


def downgrade() -> None:
    op.drop_table("flag_recipient_uses")
    with op.batch_alter_table("flags", schema=None) as batch_op:
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("worklist_uses")
