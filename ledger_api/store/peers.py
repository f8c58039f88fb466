"""The store's side of the consortium: the instances the authorities published on chain
(`endpoints`, kept by the indexer from EndpointPublished) and the peer request tokens
already used (`peer_tokens_seen`), and which payloads this instance lacks: records on
chain not held here, roots another instance anchored (from `events`, `records`,
`batches`). Every SQL statement about them is here."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ledger_api.domain.endpoints import Endpoint
from ledger_api.domain.parties import PartyStatus
from ledger_api.store.db import Store
from ledger_api.store.tables import (
    BATCHES,
    EVENTS,
    RECORDS,
    ROUTES,
    EndpointRow,
    EventRow,
    PartyRow,
    PeerTokenSeenRow,
)

ENDPOINT_EVENT = "EndpointPublished"


def _hex(value: Any) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else str(value).lower()


def _country(value: Any) -> str:
    raw = value if isinstance(value, bytes) else bytes.fromhex(str(value)[2:])
    return raw.decode("ascii", "replace")


def endpoint_of_event(args: Mapping[str, Any], block: int) -> Endpoint:
    """The endpoint an EndpointPublished event publishes; `args` as the ABI decodes them
    (bytes) or as `events` keeps them (0x-hex)."""
    return Endpoint(
        authority=str(args["authority"]),
        country=_country(args["country"]),
        url=str(args["url"]),
        signing_key=_hex(args["signingKey"]),
        encryption_key=_hex(args["encryptionKey"]),
        relayer=str(args["relayer"]),
        block_number=block,
    )


def _endpoint(row: EndpointRow) -> Endpoint:
    return Endpoint(
        row.authority, row.country, row.url, row.signing_key, row.encryption_key, row.relayer, row.block_number
    )


# ---------------------------------------------------------------- endpoints (the indexer writes)


def put_endpoint(session: Session, endpoint: Endpoint) -> None:
    """`endpoint` becomes its authority's current one."""
    session.merge(
        EndpointRow(
            authority=endpoint.authority,
            country=endpoint.country,
            url=endpoint.url,
            signing_key=endpoint.signing_key,
            encryption_key=endpoint.encryption_key,
            relayer=endpoint.relayer,
            block_number=endpoint.block_number,
        )
    )


def rebuild_endpoints(session: Session) -> None:
    """The current endpoints again from the publications in `events`: after a reorg
    removed some of them."""
    session.execute(delete(EndpointRow))
    session.flush()
    for endpoint in publications(session):
        put_endpoint(session, endpoint)
        session.flush()


# ---------------------------------------------------------------- endpoints (reads)


def publications(session: Session, authority: str | None = None) -> list[Endpoint]:
    """Every endpoint published (of `authority`, or of all), oldest first."""
    events = session.scalars(
        select(EventRow).where(EventRow.name == ENDPOINT_EVENT).order_by(EventRow.block_number, EventRow.log_index)
    ).all()
    published = [endpoint_of_event(json.loads(e.args), e.block_number) for e in events]
    return [e for e in published if authority is None or e.authority.lower() == authority.lower()]


def current_endpoints(session: Session) -> list[Endpoint]:
    """The current endpoint of every authority that published one."""
    return [_endpoint(row) for row in session.scalars(select(EndpointRow).order_by(EndpointRow.authority))]


def current_endpoint(session: Session, authority: str) -> Endpoint | None:
    row = session.get(EndpointRow, authority)
    return None if row is None else _endpoint(row)


def active_endpoints(session: Session) -> list[Endpoint]:
    """The current endpoints of the authorities that are active now: the ones whose
    signing keys a peer request is checked against."""
    rows = session.scalars(
        select(EndpointRow)
        .join(PartyRow, PartyRow.address == EndpointRow.authority)
        .where(PartyRow.is_authority == 1, PartyRow.status == int(PartyStatus.ACTIVE))
        .order_by(EndpointRow.authority)
    ).all()
    return [_endpoint(row) for row in rows]


def country_of(session: Session, address: str) -> str | None:
    """The registry country of a party, as indexed."""
    return session.scalar(select(PartyRow.country).where(PartyRow.address == address))


# ---------------------------------------------------------------- peer request tokens


def remember_token(store: Store, jti: str, expires_at: int, now: int) -> bool:
    """Records that the token `jti` (valid until `expires_at`) was used; False when it was
    used before. Tokens expired by `now` are forgotten: they are refused as expired anyway.
    Its own transaction: two requests racing with one token meet at the primary key."""
    try:
        with store.session() as session:
            session.execute(delete(PeerTokenSeenRow).where(PeerTokenSeenRow.expires_at < now))
            if session.get(PeerTokenSeenRow, jti) is not None:
                return False
            session.add(PeerTokenSeenRow(jti=jti, expires_at=expires_at))
    except IntegrityError:
        return False
    return True


# ---------------------------------------------------------------- payloads wanted


@dataclass(frozen=True)
class WantedRecord:
    """A record on chain whose payload is not held here."""

    record_id: str
    consignment: str
    tx_hash: str | None


def wanted_records(conn: Connection, consignment: str | None = None, limit: int = 10_000) -> list[WantedRecord]:
    """The records on chain not held here (chain facts: RecordWritten of anyone's, whose
    payload no one gave this instance), of `consignment` or of all, in consignment and
    hash-chain order."""
    query = select(RECORDS.c.id, RECORDS.c.consignment, RECORDS.c.tx_hash).where(
        RECORDS.c.payload.is_(None), RECORDS.c.status == "included"
    )
    if consignment is not None:
        query = query.where(RECORDS.c.consignment == consignment)
    rows = conn.execute(query.order_by(RECORDS.c.consignment, RECORDS.c.position).limit(limit)).all()
    return [WantedRecord(r.id, r.consignment, r.tx_hash) for r in rows]


def consignments_on_route(conn: Connection, country: str, among: Collection[str]) -> set[str]:
    """Which of the consignments `among` have `country` on their route (as the chain
    extended it, or as a held batch declaration signed it: `routes`)."""
    if not among:
        return set()
    return set(
        conn.scalars(
            select(ROUTES.c.consignment).where(ROUTES.c.country == country, ROUTES.c.consignment.in_(list(among)))
        )
    )


@dataclass(frozen=True)
class ForeignRoot:
    """A Merkle root another instance anchored whose leaves are not all held here."""

    root: str
    anchored_by: str | None
    count: int
    held: int


def foreign_roots(conn: Connection, root: str | None = None) -> list[ForeignRoot]:
    """The roots anchored on chain (RootAnchored) that are not batches accepted here and
    of which this instance holds fewer leaves than were anchored."""
    local = select(BATCHES.c.root).where(BATCHES.c.accepted_at.is_not(None))
    query = select(EVENTS.c.args).where(EVENTS.c.name == "RootAnchored")
    if root is not None:
        query = query.where(EVENTS.c.args.contains(root))
    anchored = []
    for (args,) in conn.execute(query.order_by(EVENTS.c.block_number, EVENTS.c.log_index)):
        decoded = json.loads(args)
        anchored.append((str(decoded["root"]).lower(), decoded.get("anchoredBy"), int(decoded["recordCount"])))
    if root is not None:
        anchored = [a for a in anchored if a[0] == root]
    if not anchored:
        return []
    roots = [a[0] for a in anchored]
    ours = set(conn.scalars(local.where(BATCHES.c.root.in_(roots))))
    held: dict[str, int] = dict(
        conn.execute(
            select(RECORDS.c.batch_root, func.count())
            .where(RECORDS.c.batch_root.in_(roots), RECORDS.c.payload.is_not(None), RECORDS.c.status != "failed")
            .group_by(RECORDS.c.batch_root)
        ).all()
    )
    return [
        ForeignRoot(r, by, count, held.get(r, 0))
        for r, by, count in anchored
        if r not in ours and held.get(r, 0) < count
    ][:1000]
