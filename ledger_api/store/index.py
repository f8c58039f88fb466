"""What the indexer keeps, as the use cases read it: a party as the registry has it, the
indexer's cursor and its blocks, events by name (with their blocks' times: the
recognition book and the parties' histories are replayed from them). The chain facts a
verification needs of a consignment's records (blocks' times, batches' anchoring blocks,
which single records have their RecordWritten) come with the records themselves
(store/records.py `verifying_rows`)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select
from sqlalchemy.orm import Session

from ledger_api.store.tables import BLOCKS, EVENTS, STATE, BlockRow, EventRow, PartyRow, StateRow

__all__ = [
    "CURSOR_KEY",
    "block",
    "block_at",
    "cursor",
    "events_named",
    "events_of",
    "events_until",
    "head_time",
    "indexed_block",
    "party",
    "timed_events_until",
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
