"""What the indexer keeps, as the use cases read it: a party as the registry has it, the
indexer's cursor and its blocks, events by name (with their blocks' times: the
recognition book and the parties' histories are replayed from them), and the chain facts
a verification needs of a consignment's records (blocks' times, batches' anchoring
blocks, which single records have their RecordWritten)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_api.store.tables import BatchRow, BlockRow, EventRow, PartyRow, StateRow

__all__ = [
    "CURSOR_KEY",
    "anchoring_blocks",
    "block",
    "block_times",
    "events_named",
    "events_until",
    "head_time",
    "indexed_block",
    "party",
    "timed_events_until",
    "written_singles",
]

CURSOR_KEY = "indexed_block"  # the indexer's cursor (indexer.CURSOR_KEY)


def party(session: Session, address: str | None) -> PartyRow | None:
    """The party at `address` as the index has it (None: not registered, or no address)."""
    if address is None:
        return None
    return session.get(PartyRow, address)


def indexed_block(session: Session) -> int | None:
    """The last block the indexer took in; None before the first."""
    cursor = session.get(StateRow, CURSOR_KEY)
    return int(cursor.value) if cursor is not None else None


def head_time(session: Session) -> int:
    """The timestamp of the indexer's last block (unix seconds); 0 before the first."""
    number = indexed_block(session)
    head = session.get(BlockRow, number) if number is not None else None
    return int(head.timestamp) if head is not None else 0


def events_named(session: Session, names: Collection[str]) -> list[tuple[str, str, int]]:
    """(name, args as JSON, block timestamp) of the events named, in chain order."""
    rows = session.execute(
        select(EventRow.name, EventRow.args, BlockRow.timestamp)
        .join(BlockRow, BlockRow.number == EventRow.block_number)
        .where(EventRow.name.in_(names))
        .order_by(EventRow.block_number, EventRow.log_index)
    ).all()
    return [(name, args, int(timestamp)) for name, args, timestamp in rows]


def block(session: Session, number: int) -> BlockRow | None:
    return session.get(BlockRow, number)


def events_until(session: Session, names: Collection[str], as_of: int) -> Sequence[EventRow]:
    """The events named, up to block `as_of`, in chain order."""
    return session.scalars(
        select(EventRow)
        .where(EventRow.name.in_(names), EventRow.block_number <= as_of)
        .order_by(EventRow.block_number, EventRow.log_index)
    ).all()


def timed_events_until(session: Session, names: Collection[str], as_of: int) -> list[tuple[EventRow, int]]:
    """The events named, up to block `as_of`, in chain order, each with its block's time."""
    rows = session.execute(
        select(EventRow, BlockRow.timestamp)
        .join(BlockRow, BlockRow.number == EventRow.block_number)
        .where(EventRow.name.in_(names), EventRow.block_number <= as_of)
        .order_by(EventRow.block_number, EventRow.log_index)
    ).all()
    return [(event, timestamp) for event, timestamp in rows]


def block_times(session: Session, numbers: Collection[int]) -> dict[int, int]:
    """The timestamps of the blocks `numbers` the index has."""
    if not numbers:
        return {}
    rows = session.execute(select(BlockRow.number, BlockRow.timestamp).where(BlockRow.number.in_(numbers)))
    return {number: timestamp for number, timestamp in rows}


def anchoring_blocks(session: Session, roots: Collection[str], as_of: int) -> dict[str, int]:
    """The blocks, up to `as_of`, that anchored the batches `roots` (kept on the batch by
    the indexer); a root not anchored by then is absent."""
    if not roots:
        return {}
    anchored: dict[str, int] = {}
    for root, number in session.execute(select(BatchRow.root, BatchRow.block_number).where(BatchRow.root.in_(roots))):
        if number is not None and number <= as_of:
            anchored[root] = number
    return anchored


def written_singles(session: Session, record_ids: Collection[str], as_of: int) -> set[str]:
    """The records among `record_ids` whose RecordWritten the index has, by block `as_of`."""
    if not record_ids:
        return set()
    return set(
        session.scalars(
            select(EventRow.record_id).where(
                EventRow.record_id.in_(record_ids),
                EventRow.name == "RecordWritten",
                EventRow.block_number <= as_of,
            )
        )
    )
