"""What this instance serves to the instances of other customs authorities: the signed
records it holds (fields, signature, payload as its canonical JSON text, batch inclusion
proof), for a consignment or a batch root, to a peer that asks with a request token
(domain/peer_tokens.py) signed by a key an active authority published on chain, and only
for consignments whose route includes that authority's country.

Whatever goes wrong (no token, a token for another request, audience or minute, a key
no active authority published, a token used before, a country not on the route, nothing
held) the answer is the one for a consignment that does not exist: a peer learns nothing
it may not know. The reason is logged with the requesting authority."""

from __future__ import annotations

import base64
import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import NoReturn

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from ledger_api.domain import peer_tokens
from ledger_api.domain.endpoints import peer_path
from ledger_api.domain.exchange import ServedRecord
from ledger_api.domain.merkle import MerkleTree
from ledger_api.domain.peer_tokens import AUTH_SCHEME, PeerTokenError
from ledger_api.errors import NotFound
from ledger_api.store import peers
from ledger_api.store import records as chain_records
from ledger_api.store.db import Store
from ledger_api.store.tables import RecordRow, record_of

log = logging.getLogger(__name__)


class PeerRefused(NotFound):
    """A peer request refused; answered as the unknown consignment or batch it names."""


class PeerRecords:
    def __init__(self, store: Store, authority: str, public_url: str, clock: Callable[[], float] = time.time) -> None:
        self.store, self.authority, self.public_url, self.clock = store, authority, public_url, clock

    # ------------------------------------------------------------ who asks

    def authenticate(self, authorization: str | None, method: str, path: str, refused: str) -> tuple[str, str]:
        """The requesting authority and its country, if `authorization` carries a token
        for `method path` (as this instance routes it) from an active authority's key, not
        used before; PeerRefused(`refused`) otherwise, with the reason logged."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != AUTH_SCHEME.lower() or not token.strip():
            self._refuse(refused, None, "NO_TOKEN", "no Authorization: Peer token")
        now = int(self.clock())
        with self.store.session() as session:
            keys: dict[str, tuple[str, Ed25519PublicKey]] = {
                e.kid: (e.authority, e.public_key()) for e in peers.active_endpoints(session)
            }
        try:
            claims = peer_tokens.read(
                token.strip(),
                keys=keys,
                audience=self.authority,
                method=method,
                path=peer_path(self.public_url, path),
                now=now,
            )
        except PeerTokenError as exc:
            self._refuse(refused, _claimed_issuer(token), exc.code, exc.message)
        if not peers.remember_token(self.store, claims.jti, claims.expires_at, now):
            self._refuse(refused, claims.authority, "REPLAYED", f"token {claims.jti} was used before")
        with self.store.session() as session:
            country = peers.country_of(session, claims.authority)
        if country is None:  # published a key, so registered: only a store being rebuilt says otherwise
            self._refuse(refused, claims.authority, "UNKNOWN_AUTHORITY", "not in the index")
        return claims.authority, country

    def _refuse(self, refused: str, authority: str | None, code: str, message: str) -> NoReturn:
        log.warning("peer request refused (%s) from %s: %s", code, authority or "an unknown authority", message)
        raise PeerRefused(refused)

    # ------------------------------------------------------------ what they get

    def consignment_records(
        self, authorization: str | None, method: str, path: str, consignment: str
    ) -> tuple[str, list[ServedRecord]]:
        """The requesting authority and the records of `consignment` (its ledger key, 0x-hex)
        this instance holds, if the authority's country is on the consignment's route."""
        consignment = consignment.lower()
        refused = f"no consignment {consignment}"
        authority, country = self.authenticate(authorization, method, path, refused)
        with self.store.session() as session:
            if country not in chain_records.route_countries(session.connection(), consignment):
                self._refuse(refused, authority, "NO_JURISDICTION", f"{country} is not on the route of {consignment}")
            rows = session.scalars(
                select(RecordRow)
                .where(RecordRow.consignment == consignment, RecordRow.status != "failed")
                .order_by(RecordRow.position)
            ).all()
            held = _held(session, rows)
        if not held:
            self._refuse(refused, authority, "NOT_HELD", f"no record of {consignment} is held here")
        log.info("peer %s (%s) fetched %d records of %s", authority, country, len(held), consignment)
        return authority, held

    def batch_records(
        self, authorization: str | None, method: str, path: str, root: str
    ) -> tuple[str, list[ServedRecord]]:
        """The requesting authority and the records of the batch `root` this instance holds
        whose consignments' routes include the authority's country."""
        root = root.lower()
        refused = f"no batch {root}"
        authority, country = self.authenticate(authorization, method, path, refused)
        with self.store.session() as session:
            rows = session.scalars(
                select(RecordRow)
                .where(RecordRow.batch_root == root, RecordRow.status != "failed")
                .order_by(RecordRow.batch_index)
            ).all()
            routes = {
                c: chain_records.route_countries(session.connection(), c) for c in {row.consignment for row in rows}
            }
            held = _held(session, [row for row in rows if country in routes[row.consignment]])
        if not held:
            self._refuse(refused, authority, "NOT_HELD", f"no record of batch {root} on a route through {country}")
        log.info("peer %s (%s) fetched %d records of batch %s", authority, country, len(held), root)
        return authority, held


def _claimed_issuer(token: str) -> str | None:
    """Who a refused token says it is from (unverified: for the log only)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        return str(claims.get("iss"))[:42] if isinstance(claims, dict) else None
    except (ValueError, IndexError):
        return None


def _held(session: Session, rows: Sequence[RecordRow]) -> list[ServedRecord]:
    trees: dict[str, MerkleTree | None] = {}
    held = []
    for row in rows:
        if row.payload is None or row.signature is None:
            continue
        proof = None
        if row.mode == "batch" and row.batch_root is not None:
            if row.batch_root not in trees:
                trees[row.batch_root] = _tree(session, row.batch_root)
            tree = trees[row.batch_root]
            if tree is not None:
                proof = tuple(tree.proof(bytes.fromhex(row.id[2:])))
            elif row.proof is not None:  # received with its proof from the instance that anchored it
                proof = tuple(bytes.fromhex(p[2:]) for p in json.loads(row.proof))
            else:
                continue  # a batch record whose proof this instance cannot give: no use to a peer
        held.append(
            ServedRecord(
                id=row.id,
                ucr=row.ucr,
                record=record_of(row),
                signature=bytes.fromhex(row.signature[2:]),
                payload=row.payload.encode(),
                mode=row.mode,
                batch_root=None if row.batch_root is None else bytes.fromhex(row.batch_root[2:]),
                proof=proof,
            )
        )
    return held


def _tree(session: Session, root: str) -> MerkleTree | None:
    """The batch's tree, when this instance holds every leaf (it accepted the batch)."""
    ids = session.scalars(
        select(RecordRow.id).where(RecordRow.batch_root == root).order_by(RecordRow.batch_index)
    ).all()
    if not ids:
        return None
    tree = MerkleTree([bytes.fromhex(i[2:]) for i in ids])
    return tree if "0x" + tree.root.hex() == root else None
