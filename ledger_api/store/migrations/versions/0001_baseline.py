"""Baseline: the tables of the day the store got migrations, and stores made before it
brought to them with their rows (ledger_api/store/migrations/baseline.py).

Revision ID: 0001
Revises:
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

from ledger_api.store.migrations import baseline

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    baseline.upgrade(op.get_bind())


def downgrade() -> None:
    baseline.METADATA.drop_all(op.get_bind())
