"""The chain is the truth (issue #12): the store knows records from the chain too.

`records` holds a row for every record on chain, whoever wrote it: the columns only a
holder of the signed record knows (ucr, deadline, signature, payload, accepted_at)
become nullable, `origin` says where the row came from (rows of earlier stores were all
posted here: "local"), `proof` keeps a batch record's inclusion proof received from a
peer. `routes`: a consignment's route countries, from RouteExtended or a held batch
record. `batches.anchored_by`, and roots anchored by others (accepted_at NULL).
`payload_refusals`: payloads peers served that did not match the chain.

Downgrading forgets what the older schema cannot hold: records not held (chain facts)
and roots anchored by others.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-03 18:01:58.633756
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_NULLABLE_WHEN_NOT_HELD = (
    ("ucr", sa.String(length=35)),
    ("deadline", sa.String(length=78)),
    ("signature", sa.String(length=132)),
    ("payload", sa.Text()),
    ("accepted_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    op.create_table(
        "payload_refusals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("record_id", sa.String(length=66), nullable=False),
        sa.Column("peer_authority", sa.String(length=42), nullable=False),
        sa.Column("peer_url", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("payload_refusals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_payload_refusals_record_id"), ["record_id"], unique=False)

    op.create_table(
        "routes",
        sa.Column("consignment", sa.String(length=66), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("block_number", sa.BigInteger(), nullable=False),
        sa.Column("record_id", sa.String(length=66), nullable=False),
        sa.PrimaryKeyConstraint("consignment", "country"),
    )
    with op.batch_alter_table("routes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_routes_block_number"), ["block_number"], unique=False)

    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("anchored_by", sa.String(length=42), nullable=True))
        batch_op.alter_column("accepted_at", existing_type=sa.DateTime(timezone=True), nullable=True)

    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin", sa.String(length=8), server_default="local", nullable=False))
        batch_op.add_column(sa.Column("proof", sa.Text(), nullable=True))
        for name, type_ in _NULLABLE_WHEN_NOT_HELD:
            batch_op.alter_column(name, existing_type=type_, nullable=True)


def downgrade() -> None:
    records, batches = sa.table("records", sa.column("payload")), sa.table("batches", sa.column("accepted_at"))
    op.execute(records.delete().where(records.c.payload.is_(None)))
    op.execute(batches.delete().where(batches.c.accepted_at.is_(None)))
    with op.batch_alter_table("records", schema=None) as batch_op:
        for name, type_ in reversed(_NULLABLE_WHEN_NOT_HELD):
            batch_op.alter_column(name, existing_type=type_, nullable=False)
        batch_op.drop_column("proof")
        batch_op.drop_column("origin")

    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.alter_column("accepted_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.drop_column("anchored_by")

    with op.batch_alter_table("routes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_routes_block_number"))
    op.drop_table("routes")
    with op.batch_alter_table("payload_refusals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_payload_refusals_record_id"))
    op.drop_table("payload_refusals")
