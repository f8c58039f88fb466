"""The outbox as the relayer claims, signs, sends and settles it, and the relayer's
nonce, kept per relayer key: every statement the relayer (chain/relayer.py) runs.

Pending rows are claimed with FOR UPDATE SKIP LOCKED (PostgreSQL; SQLite has one writer
at a time anyway): a relayer signing rows never waits for, nor signs, rows another
transaction holds. The next nonce is a state row per relayer key (`relayer_nonce:<address>`),
so instances with different relayer keys never share a counter; a key met for the first
time starts from what the chain and the outbox say is taken.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.orm import Session

from ledger_api.store import records as known_records
from ledger_api.store.tables import RECORDS, BatchRow, OutboxRow, RecordRow, StateRow

__all__ = [
    "add_forward",
    "add_packs",
    "batch",
    "claim_pending",
    "due_to_send",
    "fail",
    "fail_unsent",
    "failed_reasons",
    "forward_refs",
    "forwards",
    "in_flight",
    "indexed_block",
    "mark_mined",
    "mark_submitted",
    "next_relayer_nonce",
    "nonce_key",
    "oldest_waiting",
    "on_chain",
    "records_by_id",
    "reverted",
    "set_relayer_nonce",
]

INDEXED_KEY = "indexed_block"  # the indexer's cursor (indexer.CURSOR_KEY)
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


# ---------------------------------------------------------------- queuing


def forward_refs(session: Session, authority: str) -> Sequence[str]:
    """The refs (`<authority>:<forwarder nonce>`) of the authority's forward requests
    queued here that did not fail."""
    return session.scalars(
        select(OutboxRow.ref).where(
            OutboxRow.action == "forward",
            OutboxRow.ref.like(f"{authority}:%"),
            OutboxRow.status != "failed",
        )
    ).all()


def forwards(session: Session, ref: str) -> Sequence[OutboxRow]:
    """The forward requests queued under `ref`, whatever became of them."""
    return session.scalars(select(OutboxRow).where(OutboxRow.action == "forward", OutboxRow.ref == ref)).all()


def add_forward(session: Session, ref: str, payload: str) -> None:
    session.add(OutboxRow(action="forward", ref=ref, payload=payload, status="pending", attempts=0))


# ---------------------------------------------------------------- signing


def records_by_id(session: Session, ids: Iterable[str]) -> dict[str, RecordRow]:
    return {r.id: r for r in session.scalars(select(RecordRow).where(RecordRow.id.in_(list(ids))))}


def batch(session: Session, root: str) -> BatchRow | None:
    return session.get(BatchRow, root)


def failed_reasons(session: Session, ids: Sequence[str]) -> dict[str, str | None]:
    """The records among `ids` that failed already, with their reasons."""
    if not ids:
        return {}
    rows = session.execute(
        select(RecordRow.id, RecordRow.error).where(RecordRow.id.in_(ids), RecordRow.status == "failed")
    ).all()
    return {rid: error for rid, error in rows}


def fail_unsent(session: Session, reasons: dict[str, str]) -> None:
    """Records whose write the relayer will not send (its preflight found it would revert
    for good) fail with the reason, and what was built on them; one on chain, or failed
    already, keeps its status."""
    if not reasons:
        return
    session.execute(
        update(RECORDS)
        .where(RECORDS.c.id == bindparam("rid"), RECORDS.c.status != "failed", RECORDS.c.status != "included")
        .values(status="failed", error=bindparam("why")),
        [{"rid": rid, "why": why} for rid, why in reasons.items()],
    )
    known_records.fail_built_on_failed(session.connection())


def add_packs(session: Session, packs: Sequence[OutboxRow]) -> None:
    """New pack rows, given their ids at once (they are signed, in id order, next)."""
    session.add_all(packs)
    session.flush()


# ---------------------------------------------------------------- sending


def due_to_send(session: Session, resend_before: datetime, limit: int = 1000) -> Sequence[OutboxRow]:
    """Signed rows, and sent rows last sent before `resend_before`, in nonce order."""
    return session.scalars(
        select(OutboxRow)
        .where(
            (OutboxRow.status == "signed")
            | (
                (OutboxRow.status == "sent")
                & (OutboxRow.last_sent_at.is_(None) | (OutboxRow.last_sent_at < resend_before))
            )
        )
        .order_by(OutboxRow.relayer_nonce)
        .limit(limit)
    ).all()


def mark_submitted(session: Session, writes: Sequence[tuple[str, str | None]], anchors: Sequence[OutboxRow]) -> None:
    """Records (id, transaction) of writes and packs, and the batches and records of
    anchors, sent for the first time: they now have a transaction."""
    if writes:  # one executemany, not one ORM statement per row
        session.execute(
            update(RECORDS)
            .where(RECORDS.c.id == bindparam("ref"), RECORDS.c.status == "accepted")
            .values(status="submitted", tx_hash=bindparam("tx")),
            [{"ref": rid, "tx": tx} for rid, tx in writes],
        )
    for row in anchors:
        session.execute(
            update(BatchRow).where(BatchRow.root == row.ref).values(status="submitted", tx_hash=row.tx_hash)
        )
        session.execute(
            update(RecordRow)
            .where(RecordRow.batch_root == row.ref, RecordRow.status == "accepted")
            .values(status="submitted", tx_hash=row.tx_hash)
        )


# ---------------------------------------------------------------- reconciling


def in_flight(session: Session, statuses: Sequence[str], limit: int = 2000) -> Sequence[OutboxRow]:
    return session.scalars(
        select(OutboxRow).where(OutboxRow.status.in_(statuses)).order_by(OutboxRow.relayer_nonce).limit(limit)
    ).all()


def mark_mined(session: Session, ids: Sequence[int]) -> None:
    """Only from `sent`: the indexer may have marked them done meanwhile."""
    session.execute(update(OutboxRow).where(OutboxRow.id.in_(ids), OutboxRow.status == "sent").values(status="mined"))


def reverted(session: Session) -> Sequence[OutboxRow]:
    return session.scalars(select(OutboxRow).where(OutboxRow.status == "reverted")).all()


def indexed_block(session: Session) -> int:
    """The last block the indexer took in; -1 before the first."""
    cursor = session.get(StateRow, INDEXED_KEY)
    return int(cursor.value) if cursor is not None else -1


def on_chain(session: Session, action: str, ref: str, record_ids: Sequence[str]) -> bool:
    """Whether the index shows every record of a write or pack, or the root of an anchor,
    on chain."""
    if action in ("write", "pack"):
        included = session.scalar(
            select(func.count())
            .select_from(RecordRow)
            .where(RecordRow.id.in_(record_ids), RecordRow.status == "included")
        )
        return included == len(record_ids)
    found = session.get(BatchRow, ref)
    return found is not None and found.status == "included"


def fail(session: Session, action: str, ref: str, record_ids: Sequence[str], error: str | None) -> None:
    """The records of a write, pack or anchor that reverted fail, and what was built on them."""
    values = {"status": "failed", "error": error}
    # A record failed already (displaced by one on chain before its write was sent)
    # keeps the reason that names the record in its place; one on chain (written by
    # someone else first, or by this pack before a later one ran out of gas) is not failed.
    live = RecordRow.status.not_in(["failed", "included"])
    if action in ("write", "pack"):
        # A pack reverts as a whole only when a record ran out of gas in it.
        session.execute(update(RecordRow).where(RecordRow.id.in_(record_ids), live).values(**values))
    elif action == "anchor":
        session.execute(update(BatchRow).where(BatchRow.root == ref).values(status="failed"))
        session.execute(update(RecordRow).where(RecordRow.batch_root == ref, live).values(**values))
    known_records.fail_built_on_failed(session.connection())  # what was built on it can never be written
