"""The statements a post runs (services/submission.py), built once: a single post is ~8 of
them within the writers' lock, so each one's cost is the service's ceiling (Core rows, no
ORM objects). The records' chain state a post reads is store/records.py's."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Connection, bindparam, cast, func, insert, select
from sqlalchemy.exc import IntegrityError

from ledger_api.errors import LedgerError
from ledger_api.store.tables import BATCHES, OUTBOX, PARTIES, RECORDS

__all__ = [
    "PlaceTaken",
    "batch_exists",
    "highest_nonce",
    "insert_accepted",
    "modes",
    "nonces_around",
    "queued_writes",
    "standings",
    "stored",
]

_HELD = RECORDS.c.payload.is_not(None)
_RECORD_BY_ID = select(RECORDS.c.id, _HELD).where(RECORDS.c.id == bindparam("id"))
_RECORDS_BY_IDS = select(RECORDS.c.id, _HELD).where(RECORDS.c.id.in_(bindparam("ids", expanding=True)))
_BATCH_BY_ROOT = select(BATCHES.c.root).where(BATCHES.c.root == bindparam("root"))
_WAITING = OUTBOX.c.status.in_(["pending", "signed"])
_QUEUED = select(func.count()).select_from(OUTBOX).where(_WAITING, OUTBOX.c.action != "pack")
# A pack waiting carries many writes: counted by its records, not as one.
_QUEUED_PACKS = select(OUTBOX.c.payload).where(_WAITING, OUTBOX.c.action == "pack")
# A party's writes not yet handed to the chain: its single records, and its batches (one
# anchor each) by their root.
_PENDING_OF_PARTY = select(func.count(func.distinct(func.coalesce(RECORDS.c.batch_root, RECORDS.c.id)))).where(
    RECORDS.c.party == bindparam("party"), RECORDS.c.status == "accepted"
)
_STANDINGS = select(PARTIES.c.address, PARTIES.c.roles, PARTIES.c.status, PARTIES.c.country).where(
    PARTIES.c.address.in_(bindparam("a", expanding=True))
)
# A post's two parties (one when it is its own counterparty, then named twice).
_STANDINGS_OF_TWO = select(PARTIES.c.address, PARTIES.c.roles, PARTIES.c.status, PARTIES.c.country).where(
    PARTIES.c.address.in_([bindparam("a0"), bindparam("a1")])
)
_SINGLE_OF_PARTY = (RECORDS.c.party == bindparam("party"), RECORDS.c.mode == "single")
_NONCES_AROUND = select(RECORDS.c.nonce, RECORDS.c.status).where(
    *_SINGLE_OF_PARTY, RECORDS.c.nonce.in_(bindparam("nonces", expanding=True))
)
# The usual question, a nonce and the one before it: two plain parameters, as an expanding
# IN list is rendered into the statement again on every execution.
_TWO_NONCES = select(RECORDS.c.nonce, RECORDS.c.status).where(
    *_SINGLE_OF_PARTY, RECORDS.c.nonce.in_([bindparam("n0"), bindparam("n1")])
)
_HIGHEST_NONCE = select(func.max(cast(RECORDS.c.nonce, BigInteger))).where(
    *_SINGLE_OF_PARTY, RECORDS.c.status != "failed"
)
_INSERT_BATCH, _INSERT_RECORDS, _INSERT_OUTBOX = insert(BATCHES), insert(RECORDS), insert(OUTBOX)


class PlaceTaken(LedgerError):
    """A record's place in its consignment, its nonce or its batch was taken meanwhile
    (by another instance on the same store)."""


def stored(conn: Connection, ids: list[str]) -> dict[str, bool]:
    """Those of `ids` the store knows, failed ones too, and whether each is held (a record
    only learnt from the chain is not). One id, a single post's, is looked up plainly: an
    IN list is rendered into the statement again on every execution."""
    if len(ids) == 1:
        return {rid: bool(held) for rid, held in conn.execute(_RECORD_BY_ID, {"id": ids[0]})}
    return {rid: bool(held) for rid, held in conn.execute(_RECORDS_BY_IDS, {"ids": ids})}


def batch_exists(conn: Connection, root: str) -> bool:
    return conn.execute(_BATCH_BY_ROOT, {"root": root}).first() is not None


def modes(conn: Connection, consignments: Collection[str]) -> dict[str, str]:
    """How each of these consignments (keys, 0x hex) is written, for those that exist."""
    rows = conn.execute(
        select(RECORDS.c.consignment, RECORDS.c.mode).where(
            RECORDS.c.consignment.in_(list(consignments)), RECORDS.c.position == 0
        )
    ).all()
    return {consignment: mode for consignment, mode in rows}


def queued_writes(conn: Connection) -> int:
    """Writes not yet handed to the chain: outbox rows pending or signed, a pack counted by
    the records it carries."""
    packed = sum(len(json.loads(payload or "[]")) for payload in conn.scalars(_QUEUED_PACKS))
    return int(conn.scalar(_QUEUED) or 0) + packed


def pending_of_party(conn: Connection, party: str) -> int:
    """The writes `party` has waiting for the chain, as the queue limit counts them."""
    return int(conn.scalar(_PENDING_OF_PARTY, {"party": party}) or 0)


def standings(conn: Connection, addresses: Collection[str]) -> dict[str, tuple[int, int, str]]:
    """(roles, status, country) of those of `addresses` the index has."""
    if 1 <= len(addresses) <= 2:
        first, *rest = addresses
        rows = conn.execute(_STANDINGS_OF_TWO, {"a0": first, "a1": rest[0] if rest else first})
    else:
        rows = conn.execute(_STANDINGS, {"a": sorted(addresses)})
    return {address: (roles, status, country) for address, roles, status, country in rows}


def nonces_around(conn: Connection, party: str, nonces: Sequence[int]) -> dict[str, str]:
    """The statuses of the party's single-mode records with these nonces, by nonce (text)."""
    if len(nonces) == 2:
        rows = conn.execute(_TWO_NONCES, {"party": party, "n0": str(nonces[0]), "n1": str(nonces[1])}).all()
    else:
        rows = conn.execute(_NONCES_AROUND, {"party": party, "nonces": [str(n) for n in nonces]}).all()
    return {nonce: status for nonce, status in rows}


def highest_nonce(conn: Connection, party: str) -> int | None:
    """The party's highest single-mode nonce not failed; None before its first record."""
    last = conn.scalar(_HIGHEST_NONCE, {"party": party})
    return None if last is None else int(last)


def insert_accepted(conn: Connection, rows: list[dict[str, Any]], batch: dict[str, Any] | None = None) -> None:
    """Stores accepted records with their outbox entries: a `write` transaction per
    single-mode record, or the batch and one `anchor` of its root. A place or nonce taken
    meanwhile refuses it all (PlaceTaken)."""
    if batch is None:
        outbox = [{"action": "write", "ref": row["id"]} for row in rows]
    else:
        outbox = [{"action": "anchor", "ref": batch["root"]}]
    try:
        if batch is not None:
            conn.execute(_INSERT_BATCH, {**batch, "status": "accepted", "accepted_at": datetime.now(UTC)})
        conn.execute(_INSERT_RECORDS, rows)  # one executemany, not one ORM object per record
    except IntegrityError as exc:
        raise PlaceTaken(str(exc.orig)) from exc
    conn.execute(_INSERT_OUTBOX, [{**entry, "status": "pending", "attempts": 0} for entry in outbox])
