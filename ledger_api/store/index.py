"""What the indexer keeps, as the use cases read it: a party as the registry has it, the
indexer's cursor and its blocks, events by name (with their blocks' times: the
recognition book and the parties' histories are replayed from them), and the chain facts
a verification needs of a consignment's records (blocks' times, batches' anchoring
blocks, which single records have their RecordWritten)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select
from sqlalchemy.orm import Session

from ledger_api.store.tables import BATCHES, BLOCKS, EVENTS, STATE, BlockRow, EventRow, PartyRow, StateRow

__all__ = [
    "CURSOR_KEY",
    "anchoring_blocks",
    "block",
    "block_at",
    "block_times",
    "cursor",
    "events_named",
    "events_of",
    "events_until",
    "head_time",
    "indexed_block",
    "party",
    "timed_events_until",
    "written_singles",
]

IndexRow = Row[*tuple[Any, ...]]
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


def block_times(conn: Connection, numbers: Collection[int]) -> dict[int, int]:
    """The timestamps of the blocks `numbers` the index has."""
    if not numbers:
        return {}
    rows = conn.execute(select(BLOCKS.c.number, BLOCKS.c.timestamp).where(BLOCKS.c.number.in_(list(numbers))))
    return {number: timestamp for number, timestamp in rows}


def anchoring_blocks(conn: Connection, roots: Collection[str], as_of: int) -> dict[str, int]:
    """The blocks, up to `as_of`, that anchored the batches `roots` (kept on the batch by
    the indexer); a root not anchored by then is absent."""
    if not roots:
        return {}
    anchored: dict[str, int] = {}
    rows = conn.execute(select(BATCHES.c.root, BATCHES.c.block_number).where(BATCHES.c.root.in_(list(roots))))
    for root, number in rows:
        if number is not None and number <= as_of:
            anchored[root] = number
    return anchored


def written_singles(conn: Connection, record_ids: Collection[str], as_of: int) -> set[str]:
    """The records among `record_ids` whose RecordWritten the index has, by block `as_of`."""
    if not record_ids:
        return set()
    return set(
        conn.scalars(
            select(EVENTS.c.record_id).where(
                EVENTS.c.record_id.in_(list(record_ids)),
                EVENTS.c.name == "RecordWritten",
                EVENTS.c.block_number <= as_of,
            )
        )
    )


# The statements a verification runs on every request, built once: Core on one connection,
# where an ORM session's identity map and statement building cost more than the reads.
_CURSOR = select(STATE.c.value).where(STATE.c.key == CURSOR_KEY)
_BLOCK = select(BLOCKS.c.number, BLOCKS.c.hash, BLOCKS.c.timestamp).where(BLOCKS.c.number == bindparam("number"))
_EVENTS_UNTIL = (
    select(EVENTS.c.name, EVENTS.c.args, EVENTS.c.block_number, BLOCKS.c.timestamp)
    .join(BLOCKS, BLOCKS.c.number == EVENTS.c.block_number)
    .where(EVENTS.c.name.in_(bindparam("names", expanding=True)), EVENTS.c.block_number <= bindparam("as_of"))
    .order_by(EVENTS.c.block_number, EVENTS.c.log_index)
)


def cursor(conn: Connection) -> int | None:
    """`indexed_block` on a Core connection."""
    value = conn.scalar(_CURSOR)
    return None if value is None else int(value)


def block_at(conn: Connection, number: int) -> IndexRow | None:
    """(number, hash, timestamp) of an indexed block, on a Core connection."""
    return conn.execute(_BLOCK, {"number": number}).first()


def events_of(conn: Connection, names: Collection[str], as_of: int) -> Sequence[IndexRow]:
    """(name, args as JSON, block number, block timestamp) of the events named, up to
    block `as_of`, in chain order."""
    return conn.execute(_EVENTS_UNTIL, {"names": list(names), "as_of": as_of}).all()
