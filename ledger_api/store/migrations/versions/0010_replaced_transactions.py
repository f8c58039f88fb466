"""The relayer replaces a transaction stuck under risen fees (issue #14): an outbox row
keeps the hashes of the other transactions signed for its nonce, any of which may be the
one mined.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 02:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("other_tx_hashes", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("outbox", "other_tx_hashes")
