"""The outbox as the relayer claims it, and the relayer's nonce, kept per relayer key.

Pending rows are claimed with FOR UPDATE SKIP LOCKED (PostgreSQL; SQLite has one writer
at a time anyway): a relayer signing rows never waits for, nor signs, rows another
transaction holds. The next nonce is a state row per relayer key (`relayer_nonce:<address>`),
so instances with different relayer keys never share a counter; a key met for the first
time starts from what the chain and the outbox say is taken.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ledger_api.store.tables import OutboxRow, StateRow

__all__ = ["claim_pending", "next_relayer_nonce", "nonce_key", "oldest_waiting", "set_relayer_nonce"]

LEGACY_NONCE_KEY = "relayer_nonce"  # one counter for the store, before it was kept per key
WAITING = ("pending", "signed", "sent")


def nonce_key(relayer: str) -> str:
    return f"{LEGACY_NONCE_KEY}:{relayer.lower()}"


def claim_pending(session: Session, limit: int) -> Sequence[OutboxRow]:
    """Pending rows, oldest first, locked for this transaction; rows another transaction
    holds are skipped, not waited for."""
    return session.scalars(
        select(OutboxRow)
        .where(OutboxRow.status == "pending")
        .order_by(OutboxRow.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()


def next_relayer_nonce(session: Session, relayer: str, chain_pending: Callable[[], int]) -> int:
    """The next nonce `relayer` signs with, locked for this transaction. The first time:
    past whatever the chain counts (`chain_pending`), the store's one counter of before,
    and every nonce in flight in the outbox, so no nonce is ever signed twice."""
    row = session.get(StateRow, nonce_key(relayer), with_for_update=True)
    if row is None:
        legacy = session.get(StateRow, LEGACY_NONCE_KEY)
        in_flight = session.scalar(
            select(func.max(OutboxRow.relayer_nonce)).where(OutboxRow.status.in_(("signed", "sent", "mined")))
        )
        start = max(
            chain_pending(),
            int(legacy.value) if legacy is not None else 0,
            int(in_flight) + 1 if in_flight is not None else 0,
        )
        row = StateRow(key=nonce_key(relayer), value=str(start))
        session.add(row)
    return int(row.value)


def set_relayer_nonce(session: Session, relayer: str, value: int) -> None:
    row = session.get(StateRow, nonce_key(relayer))
    assert row is not None, "next_relayer_nonce first"
    row.value = str(value)


def oldest_waiting(session: Session) -> int | None:
    """The id of the oldest outbox row not yet mined: while there is one, it changes when
    the queue moves."""
    return session.scalar(select(func.min(OutboxRow.id)).where(OutboxRow.status.in_(WAITING)))
