"""A worklist line's expiry (issue #15): the earliest time, in block time, at which an input
of the line changes by time alone (an intelligence flag's validity, an arrangement taking or
ceasing effect), so that the refresher recomputes that line when the index head passes it,
with no new record of its consignment.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 02:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("worklist_entries", sa.Column("expires_at", sa.BigInteger(), nullable=True))
    op.create_index("worklist_by_expiry", "worklist_entries", ["country", "expires_at"], unique=False)


def downgrade() -> None:
    op.drop_index("worklist_by_expiry", table_name="worklist_entries")
    op.drop_column("worklist_entries", "expires_at")
