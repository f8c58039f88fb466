"""Table models of the store. They are storage, not API schemas: the API converts.

Hex strings (0x-prefixed, lower case) for ids, hashes and addresses in checksum form, so
that rows read well in any SQL console.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Index, Integer, String, Table, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from ledger_api.domain.records import Record, RecordKind


class Base(DeclarativeBase):
    pass


class RecordRow(Base):
    """A record this instance knows: accepted here, learnt from the chain (a RecordWritten
    of anyone's), or received from a peer. The columns only a holder of the signed record
    knows (ucr, deadline, route, signature, payload, accepted_at) are NULL until it is
    held; a record "is held" when `payload` is not NULL."""

    __tablename__ = "records"

    id: Mapped[str] = mapped_column(String(66), primary_key=True)
    consignment: Mapped[str] = mapped_column(String(66), index=True)
    ucr: Mapped[str | None] = mapped_column(String(35), index=True)
    position: Mapped[int] = mapped_column(Integer)  # 0 for the declaration, then 1, 2…
    kind: Mapped[int] = mapped_column(Integer)
    party: Mapped[str] = mapped_column(String(42), index=True)
    counterparty: Mapped[str] = mapped_column(String(42))
    previous: Mapped[str] = mapped_column(String(66))
    payload_hash: Mapped[str] = mapped_column(String(66))
    nonce: Mapped[str] = mapped_column(String(78))  # uint256 as decimal text
    deadline: Mapped[str | None] = mapped_column(String(78))
    # The signed route, a JSON list of ISO 3166-1 alpha-2 codes ("[]" for the kinds that
    # carry none). NULL when not held, and in rows of stores made before routes were signed.
    route: Mapped[str | None] = mapped_column(Text)
    signature: Mapped[str | None] = mapped_column(String(132))
    # The address `signature` recovered to when the record was held here: its party (a copy
    # signed by anyone else is refused), checked with its id and its payload against the
    # chain. A verification takes it instead of recovering again (services/verification.py
    # says what that trusts). NULL when not held, or held before it was kept.
    signer: Mapped[str | None] = mapped_column(String(42))
    payload: Mapped[str | None] = mapped_column(Text)  # canonical JSON (RFC 8785), hashed on chain
    mode: Mapped[str] = mapped_column(String(8))  # "single" (own transaction) or "batch" (Merkle root)
    batch_root: Mapped[str | None] = mapped_column(String(66), index=True)
    batch_index: Mapped[int | None] = mapped_column(Integer)  # leaf position in its batch's tree
    # Where the signed record came from: "local" (posted here), "chain" (only its chain
    # facts are known: not held), "peer" (fetched from another instance and checked).
    origin: Mapped[str] = mapped_column(String(8), default="local", server_default="local")
    # A batch record's inclusion proof (JSON list of 0x hashes, leaf to root): kept when
    # its batch is accepted here (a verification reads it instead of rebuilding the tree),
    # or received with the record when the batch is another instance's.
    proof: Mapped[str | None] = mapped_column(Text)
    # accepted → submitted → included (in a block the index has seen) ; failed
    status: Mapped[str] = mapped_column(String(12), index=True)
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    block_hash: Mapped[str | None] = mapped_column(String(66))
    error: Mapped[str | None] = mapped_column(Text)
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def to_record(self) -> Record:
        """The signed message this row stores, as the domain (and the contract) sees it."""
        return record_of(self)


RECORD_FIELDS = (
    "consignment",
    "kind",
    "payload_hash",
    "previous",
    "party",
    "counterparty",
    "nonce",
    "deadline",
    "route",
)


def route_text(route: tuple[str, ...]) -> str:
    """A record's route as its column holds it."""
    return json.dumps(list(route))


def route_of(text: str | None) -> tuple[str, ...]:
    """The route a `route` column holds."""
    return tuple(json.loads(text)) if text else ()


def record_of(row: Any) -> Record:
    """The signed message a records row stores (an ORM object or a Core row)."""
    return Record(
        consignment=bytes.fromhex(row.consignment[2:]),
        kind=RecordKind(row.kind),
        payload_hash=bytes.fromhex(row.payload_hash[2:]),
        previous=bytes.fromhex(row.previous[2:]),
        party=row.party,
        counterparty=row.counterparty,
        nonce=int(row.nonce),
        deadline=int(row.deadline or 0),  # not held: unknown
        route=route_of(row.route),
    )


# The records table as Core sees it: for executemany updates of many rows at once, where
# an ORM statement per row cost the relayer and the indexer much of their time in a burst.
RECORDS: Table = RecordRow.__table__  # type: ignore[assignment]


class BatchRow(Base):
    """Records anchored together as one Merkle root: a batch accepted here, or a root
    anchored by anyone else (RootAnchored), whose leaves are not held here (accepted_at
    NULL, count from the event)."""

    __tablename__ = "batches"

    root: Mapped[str] = mapped_column(String(66), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(12), index=True)
    tx_hash: Mapped[str | None] = mapped_column(String(66))
    block_number: Mapped[int | None] = mapped_column(BigInteger)
    block_hash: Mapped[str | None] = mapped_column(String(66))
    anchored_by: Mapped[str | None] = mapped_column(String(42))  # who sent the anchor (RootAnchored)
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class RouteRow(Base):
    """A country on a consignment's route, as the chain added it (RouteExtended: origin
    and destination by the declaration, then each transit country) or as a held batch
    declaration or transit signed it. What decides which customs may act on and read a
    consignment."""

    __tablename__ = "routes"

    consignment: Mapped[str] = mapped_column(String(66), primary_key=True)
    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)
    record_id: Mapped[str] = mapped_column(String(66))


class PayloadRefusalRow(Base):
    """A payload a peer served that did not match the chain (its hash, its signature, its
    id), with the peer's identity: the verdict names it while no good copy is held."""

    __tablename__ = "payload_refusals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(String(66), index=True)
    peer_authority: Mapped[str] = mapped_column(String(42))
    peer_url: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OutboxRow(Base):
    """One transaction the relayer owes the chain. Written in the same database
    transaction as what it carries, so nothing accepted is forgotten; signed and stored
    before it is sent, so a resend after a crash is the very same transaction."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action: Mapped[str] = mapped_column(String(8))  # write | pack | anchor | forward
    ref: Mapped[str] = mapped_column(String(140), index=True)  # record id, batch root, request id, pack:{row}
    payload: Mapped[str | None] = mapped_column(Text)  # forward: the signed request; pack: its record ids (JSON)
    # pending → signed → sent → mined → done (confirmed in the index); a write, pack or
    # anchor that reverted waits `reverted` until the index shows whether its records or
    # root are on chain after all (done) or not (failed); failed (reverted, or never sent);
    # packed: a write row whose record travels in a pack row's writeMany transaction
    status: Mapped[str] = mapped_column(String(10), index=True)
    relayer_nonce: Mapped[int | None] = mapped_column(BigInteger, unique=True)
    raw_tx: Mapped[str | None] = mapped_column(Text)
    tx_hash: Mapped[str | None] = mapped_column(String(66), index=True)
    # The other transactions signed for this row's nonce, replaced by a higher fee (JSON
    # list of hashes): one of them may be mined instead, and is then the row's tx_hash.
    other_tx_hashes: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    error: Mapped[str | None] = mapped_column(Text)


class BlockRow(Base):
    """Blocks the indexer has processed, to notice a reorg by a changed hash."""

    __tablename__ = "blocks"

    number: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    hash: Mapped[str] = mapped_column(String(66))
    parent_hash: Mapped[str] = mapped_column(String(66))
    timestamp: Mapped[int] = mapped_column(BigInteger)


class EventRow(Base):
    """A contract event as indexed: the chain facts the service reads instead of the chain."""

    __tablename__ = "events"

    block_number: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("blocks.number", ondelete="CASCADE"), primary_key=True
    )
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_hash: Mapped[str] = mapped_column(String(66))
    tx_hash: Mapped[str] = mapped_column(String(66), index=True)
    contract: Mapped[str] = mapped_column(String(24))
    name: Mapped[str] = mapped_column(String(40), index=True)
    args: Mapped[str] = mapped_column(Text)  # JSON
    record_id: Mapped[str | None] = mapped_column(String(66), index=True)


class PartyRow(Base):
    """A registered party as the index knows it from PartyRegistry's events."""

    __tablename__ = "parties"

    address: Mapped[str] = mapped_column(String(42), primary_key=True)
    country: Mapped[str] = mapped_column(String(2), index=True)
    roles: Mapped[int] = mapped_column(Integer)
    status: Mapped[int] = mapped_column(Integer)
    is_authority: Mapped[int] = mapped_column(Integer)
    identifiers_hash: Mapped[str] = mapped_column(String(66))
    registered_block: Mapped[int] = mapped_column(BigInteger)
    updated_block: Mapped[int] = mapped_column(BigInteger)


class PartyIdentifiersRow(Base):
    """A party's identifiers (legal name, EORI, LEI, GLN…), keyed by their hash: the chain
    holds only the hash, so a party's name is shown only where the hash the registry
    holds for it is this row's (store/directory.py)."""

    __tablename__ = "party_identifiers"

    hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    identifiers: Mapped[str] = mapped_column(Text)  # RFC 8785 canonical JSON, what was hashed


class WorklistRow(Base):
    """A consignment's line on a route country's worklist (domain/worklist.py), kept while
    its records stay as they were (`fingerprint`): ranking thousands of consignments reads
    this table, not every consignment's evidence (store/worklist.py)."""

    __tablename__ = "worklist_entries"

    consignment: Mapped[str] = mapped_column(String(66), primary_key=True)
    country: Mapped[str] = mapped_column(String(2), primary_key=True)
    ucr: Mapped[str] = mapped_column(String(35))
    fingerprint: Mapped[str] = mapped_column(String(80))
    lane_rank: Mapped[int] = mapped_column(Integer)  # 0 RED, 1 AMBER, 2 GREEN: the ranking's order
    score: Mapped[int] = mapped_column(Integer)
    entry: Mapped[str] = mapped_column(Text)  # the line as JSON
    awaiting: Mapped[int] = mapped_column(Integer)
    hs_chapters: Mapped[str] = mapped_column(Text)  # ",84,90," for LIKE filters
    parties: Mapped[str] = mapped_column(Text)  # ",0x…,0x…,"
    last_event_at: Mapped[int | None] = mapped_column(BigInteger)
    declared_at: Mapped[int | None] = mapped_column(BigInteger)
    # The block time at which an input of the line changes by time alone (a flag's validity,
    # an arrangement's start or end): the refresher recomputes it once the index head passes.
    expires_at: Mapped[int | None] = mapped_column(BigInteger)


class CredentialRow(Base):
    """An API credential of a party. Only a hash of its secret is kept: the token is shown
    once, when issued."""

    __tablename__ = "credentials"

    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    party: Mapped[str] = mapped_column(String(42), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    label: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StateRow(Base):
    """Small key/value facts: the indexer's cursor, each relayer key's next nonce, the
    authority's encryption key sealed with the store key (store/instance_keys.py)."""

    __tablename__ = "state"

    key: Mapped[str] = mapped_column(String(80), primary_key=True)  # 80: a relayer's nonce is named by its address
    value: Mapped[str] = mapped_column(Text)


class DeploymentRow(Base):
    """The authority's deployment of the contracts, one row (id 1): written once, by the
    instance that deployed, under a lock (store/deployment.py); every other instance, a
    reader too, takes its chain and addresses from here."""

    __tablename__ = "deployment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    deploy_block: Mapped[int] = mapped_column(BigInteger)
    deploy_block_hash: Mapped[str] = mapped_column(String(66))
    config_digest: Mapped[str] = mapped_column(String(66))
    manifest: Mapped[str] = mapped_column(Text)  # the whole manifest, as its file has it (JSON)
    deployed_by: Mapped[str] = mapped_column(String(160))  # the instance that deployed or recorded it
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ReceiptKeyRow(Base):
    """A receipt-signing key shared by every instance of the authority, sealed with the
    store key (AES-GCM, LEDGER_STORE_KEY): the highest sequence signs, the others stay in
    the JWKS (store/receipt_keys.py)."""

    __tablename__ = "receipt_keys"

    sequence: Mapped[int] = mapped_column(Integer, primary_key=True)
    kid: Mapped[str] = mapped_column(String(64))  # RFC 7638 thumbprint, readable without the store key
    sealed: Mapped[str] = mapped_column(Text)  # base64(nonce || AES-GCM(raw private key))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LeaseRow(Base):
    """Who runs a singleton (the relayer and indexer of one relayer key) among the
    instances on one store: its owner until `expires_at`, renewed while it runs. `token`
    grows at each takeover, and every write the owner guards checks it in the same
    transaction (store/leases.py), so a deposed owner's late write is refused."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    owner: Mapped[str] = mapped_column(String(160))
    token: Mapped[int] = mapped_column(BigInteger)
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class EndpointRow(Base):
    """The current endpoint of each authority that published one (PartyRegistry's
    EndpointPublished: the latest wins); every publication stays in `events`."""

    __tablename__ = "endpoints"

    authority: Mapped[str] = mapped_column(String(42), primary_key=True)
    country: Mapped[str] = mapped_column(String(2), index=True)
    url: Mapped[str] = mapped_column(Text)
    signing_key: Mapped[str] = mapped_column(String(66), index=True)  # Ed25519, 32 raw bytes as 0x-hex
    encryption_key: Mapped[str] = mapped_column(String(66))  # X25519, 0x00… when none
    relayer: Mapped[str] = mapped_column(String(42), index=True)
    block_number: Mapped[int] = mapped_column(BigInteger)


class PeerTokenSeenRow(Base):
    """The ids of the peer request tokens this instance accepted, kept until they expire,
    so that a token captured on the way cannot be used twice."""

    __tablename__ = "peer_tokens_seen"

    jti: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[int] = mapped_column(BigInteger, index=True)  # unix seconds


class FlagRow(Base):
    """An intelligence flag as the chain has it (IntelligenceLedger's FlagShared, and its
    FlagWithdrawn): the facts the whole consortium audits. Its content is not here: it is
    in `flag_documents`, by content hash, for the author and the recipients only."""

    __tablename__ = "flags"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)  # the contract's id, from 1
    author: Mapped[str] = mapped_column(String(42), index=True)
    author_country: Mapped[str] = mapped_column(String(2))
    content_hash: Mapped[str] = mapped_column(String(66), index=True)
    subject_hash: Mapped[str] = mapped_column(String(66))
    category: Mapped[int] = mapped_column(Integer)
    severity: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[int] = mapped_column(BigInteger)  # unix seconds
    valid_until: Mapped[int] = mapped_column(BigInteger)  # exclusive
    recipients: Mapped[str] = mapped_column(Text)  # JSON list of checksummed addresses
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)
    withdrawn_at_block: Mapped[int | None] = mapped_column(BigInteger)
    withdrawn_by: Mapped[str | None] = mapped_column(String(42))
    # Why the last fetch of its document from the author's instance failed (a recipient's).
    fetch_error: Mapped[str | None] = mapped_column(Text)
    uses: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # verifications here that fired it
    worklist_uses: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # worklist lines computed here
    last_used_at: Mapped[int | None] = mapped_column(BigInteger)  # unix seconds: the last verdict or line that fired it


class FlagDocumentRow(Base):
    """A flag's sealed document (the JWE, byte for byte what is hashed on chain) and its
    opened content: sealed here by the author's instance (origin "local", before and after
    it is shared), or fetched from it by a recipient's and opened (origin "peer")."""

    __tablename__ = "flag_documents"

    content_hash: Mapped[str] = mapped_column(String(66), primary_key=True)
    author: Mapped[str] = mapped_column(String(42), index=True)
    document: Mapped[str] = mapped_column(Text)  # RFC 8785 JSON, as text
    content: Mapped[str] = mapped_column(Text)  # the plaintext FlagContent, RFC 8785 JSON
    recipients: Mapped[str] = mapped_column(Text)  # JSON list, in the order sealed (shareFlag's order)
    origin: Mapped[str] = mapped_column(String(8))  # local | peer
    created_at: Mapped[int] = mapped_column(BigInteger)  # unix seconds


class FlagRecipientUseRow(Base):
    """What a recipient's instance reported to the author's of its use of a flag (a signed
    peer request, the latest report kept): when it held the flag, when it last fired, and
    on how many verdicts and worklist lines it fired there. The author's view only."""

    __tablename__ = "flag_recipient_uses"

    flag_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    recipient: Mapped[str] = mapped_column(String(42), primary_key=True)
    received_at: Mapped[int] = mapped_column(BigInteger)  # unix seconds, the recipient's clock
    last_used_at: Mapped[int | None] = mapped_column(BigInteger)
    verdicts: Mapped[int] = mapped_column(Integer)
    worklist_lines: Mapped[int] = mapped_column(Integer)
    reported_at: Mapped[int] = mapped_column(BigInteger)  # unix seconds, this instance's clock


class FlagReadRow(Base):
    """One read of a flag's content: by a person through the API (`kind` "person", the
    credential's party) or by a recipient's instance (`kind` "peer", its authority)."""

    __tablename__ = "flag_reads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    flag_id: Mapped[int] = mapped_column(BigInteger, index=True)
    reader: Mapped[str] = mapped_column(String(42))
    kind: Mapped[str] = mapped_column(String(8))
    at: Mapped[int] = mapped_column(BigInteger)  # unix seconds


# The tables a single post reads and writes, as Core sees them: that path runs ~10 short
# statements per request, and the ORM's unit of work and identity map cost more than the
# statements themselves.
OUTBOX: Table = OutboxRow.__table__  # type: ignore[assignment]
BATCHES: Table = BatchRow.__table__  # type: ignore[assignment]
PARTIES: Table = PartyRow.__table__  # type: ignore[assignment]
CREDENTIALS: Table = CredentialRow.__table__  # type: ignore[assignment]
ROUTES: Table = RouteRow.__table__  # type: ignore[assignment]
REFUSALS: Table = PayloadRefusalRow.__table__  # type: ignore[assignment]
EVENTS: Table = EventRow.__table__  # type: ignore[assignment]
BLOCKS: Table = BlockRow.__table__  # type: ignore[assignment]
STATE: Table = StateRow.__table__  # type: ignore[assignment]

Index("records_by_consignment_position", RecordRow.consignment, RecordRow.position)
Index("worklist_by_rank", WorklistRow.country, WorklistRow.lane_rank, WorklistRow.score, WorklistRow.ucr)
Index("worklist_by_expiry", WorklistRow.country, WorklistRow.expires_at)
# A country's worklist starts from the consignments on its route: the key leads with the consignment.
Index("routes_by_country", RouteRow.country, RouteRow.consignment)
# The worklist's refresher asks what changed since its mark: records included in a later
# block, or accepted (or held) later.
Index("records_by_block", RecordRow.block_number)
Index("records_by_accepted_at", RecordRow.accepted_at)
# Failed records included: the next-nonce check looks at them too, and a partial index
# serves only queries that exclude them (without this, a post read all its party's records).
Index("records_by_party_nonce", RecordRow.party, RecordRow.nonce, RecordRow.mode)

# One live record per place in a consignment and per party nonce. A record that failed on
# chain (reverted) took neither: the contract did not move the consignment or the party's
# nonce, so the next record takes its place and nonce. (Table constraints until this was
# seen to lock a party out after its last record reverted; store/db.py migrates them.)
_LIVE = RecordRow.status != "failed"
ONE_RECORD_PER_PLACE = (
    Index(
        "one_record_per_position",
        RecordRow.consignment,
        RecordRow.position,
        unique=True,
        sqlite_where=_LIVE,
        postgresql_where=_LIVE,
    ),
    Index(
        "one_record_per_party_nonce",
        RecordRow.party,
        RecordRow.nonce,
        RecordRow.mode,
        unique=True,
        sqlite_where=_LIVE,
        postgresql_where=_LIVE,
    ),
)
