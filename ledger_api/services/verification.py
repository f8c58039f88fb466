"""Verification before clearance: gathers a consignment's facts from the index (as of a
block), runs the pure checks and the risk rules, and signs a receipt over the outcome and
the hash of the evidence bundle. Also answers recognition questions from the index.

The facts are the chain's: every record on chain, whoever wrote it, with the payloads
held here. A record whose payload is not held is verified as far as the chain allows
(its kind, party, previous, counterparty, block, its signer's standing) and makes the
verdict INCOMPLETE (PAYLOAD_UNAVAILABLE, or PAYLOAD_REFUSED_FROM_PEER with the peers'
refusals) until its payload is held; a hook (`fetch_missing`, the peer fetcher's) may
fetch such payloads, within a short time, before a verdict is made.

Risk also reads the intelligence flags this instance's authority holds (`FlagSource`,
services/flags.py) when the verifying country is the authority's own, judged as of the
verdict's block; a caller that is not customs gets the answer computed without them. It
reads, too, the inspection outcomes partner customs recorded on the consignment, with what
the arrangement in force at the verdict's block time recognises of them.

What a verdict trusts of the store, and what it re-derives every time. The chain's facts
are the index's (events, blocks, the records' places and blocks). Of a held record, every
verdict re-derives its id from its signed fields (and compares it with the id the chain
knows), keccak256 of its payload (against its payloadHash), the payload's validity and
canonical form, its Merkle proof, custody. It takes as checked when the record was held
one thing: whom its signature recovered to (`records.signer`: a copy whose signature
recovers to anyone but its party is never held). So a stored payload changed afterwards
is PAYLOAD_HASH_MISMATCH and a changed party or other signed field RECORD_ID_MISMATCH
(tests/services/test_verification_trust.py); a stored signature changed afterwards alone
is caught where the evidence bundle is re-derived (`ledger verify-bundle` recovers every
signature: a bundle carries no kept signer), not by the live verdict."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, replace
from functools import partial
from typing import Any, Protocol

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from ledger_api.domain import canonical
from ledger_api.domain.decisions import decision_in_force
from ledger_api.domain.evidence import to_bundle, with_recognition
from ledger_api.domain.facts import PartyCheckpoint, PartyFact, PayloadRefusal, RecordFact, VerificationInput
from ledger_api.domain.intelligence import HeldFlag
from ledger_api.domain.merkle import MerkleTree
from ledger_api.domain.parties import PARTY_EVENTS
from ledger_api.domain.payloads import load_code_lists
from ledger_api.domain.receipts import evidence_hash, receipt_claims
from ledger_api.domain.recognition import Recognition, RecognitionBook
from ledger_api.domain.records import LedgerDomain, consignment_key
from ledger_api.domain.risk import PartnerInspection, RuleSet, assess, partner_inspections
from ledger_api.domain.verification import verify
from ledger_api.errors import NotFound
from ledger_api.services.access import View
from ledger_api.store import index
from ledger_api.store import records as known
from ledger_api.store.db import Store
from ledger_api.store.receipt_keys import KeyRing
from ledger_api.store.tables import record_of

# A party's facts: an authority's own registration names no `party` and makes none.
_PARTY_FACT_EVENTS = sorted(PARTY_EVENTS - {"AuthorityRegistered"})
RECOGNITION_EVENTS = (
    "CertificateIssued",
    "CertificateStatusChanged",
    "ArrangementProposed",
    "ArrangementRatified",
    "ArrangementTerminated",
)


@dataclass(frozen=True)
class VerificationEvidence:
    """What one verification looks at, as gathered from the index: the input of the pure
    checks and the recognition events; together they are the evidence bundle."""

    input: VerificationInput
    recognition_events: list[dict[str, Any]]
    block_time: int | None = None  # of the block the verification stands at (None: not indexed)
    block_hash: str | None = None  # of that block
    book: RecognitionBook | None = None  # the recognition events replayed (None: replayed when asked)

    def bundle(self) -> dict[str, Any]:
        return to_bundle(self.input, self.recognition_events)

    def partner_inspections(self) -> list[PartnerInspection]:
        """Inspection outcomes of partner customs on the consignment, each with what the
        arrangement in force at the verification's block time recognises, as of that block."""
        if self.block_time is None:
            return []
        book = self.book if self.book is not None else replayed(self.recognition_events)
        return partner_inspections(self.input, self.block_time, book.in_force_between)


def replayed(events: Sequence[dict[str, Any]]) -> RecognitionBook:
    """The recognition book the events (`_recognition_events`' form) make."""
    book = RecognitionBook()
    for event in events:
        book.apply(event["name"], event["args"], int(event["timestamp"]))
    return book


@dataclass(frozen=True)
class _BlockFacts:
    """What every verification as of one block reads alike, whichever the consignment: the
    block's time, every party's role and status history, the recognition events and the
    book they make. Read once per block (and reorg: the block's hash is in the key) per
    process, not once per verdict. Nothing reads them to change them: the book is only
    asked, the events only serialised."""

    timestamp: int | None
    parties: dict[str, PartyFact]  # every party registered by the block, in registration order
    recognition_events: list[dict[str, Any]]
    book: RecognitionBook

    def parties_of(self, addresses: set[str]) -> dict[str, PartyFact]:
        return {address: fact for address, fact in self.parties.items() if address in addresses}


def _party_facts(events: Sequence[tuple[str, dict[str, Any], int]]) -> dict[str, PartyFact]:
    """Each party's facts from the registry's events (name, args, block), in chain order."""
    state: dict[str, dict[str, Any]] = {}
    for name, args, number in events:
        party = args["party"]
        if name == "PartyRegistered":
            state[party] = {
                "country": bytes.fromhex(args["country"][2:]).decode("ascii", "replace"),
                "registered": number,
                "roles": int(args["roles"]),
                "status": 1,
                "history": [],
            }
        elif party in state and name == "PartyRolesChanged":
            state[party]["roles"] = int(args["roles"])
        elif party in state and name == "PartyStatusChanged":
            state[party]["status"] = int(args["status"])
        if party in state:
            s = state[party]
            s["history"].append(PartyCheckpoint(number, s["roles"], s["status"]))
    return {
        address: PartyFact(address, s["country"], s["registered"], tuple(s["history"])) for address, s in state.items()
    }


class EvidenceReader:
    """Reads what a verification needs from the store and the chain index, and answers
    recognition questions from the same events. What depends on the block alone (parties,
    recognition) is kept per block (`_BlockFacts`); what depends on the consignment is read
    per verdict, in one transaction of a few statements."""

    BLOCKS_KEPT = 16  # blocks whose facts are kept: the head's, and a few asked `at_block`

    def __init__(self, store: Store, domain: LedgerDomain, contracts: dict[str, str], confirmations: int) -> None:
        self.store, self.domain, self.contracts, self.confirmations = store, domain, contracts, confirmations
        self._blocks: OrderedDict[tuple[int, str | None], _BlockFacts] = OrderedDict()
        self._blocks_lock = threading.Lock()

    def block_hash(self, number: int) -> str | None:
        """The hash of an indexed block (None for block 0 before anything was indexed)."""
        with self.store.connection() as conn:
            block = index.block_at(conn, number)
        return block.hash if block else None

    def indexed_block(self, session: Session) -> int:
        return index.indexed_block(session) or 0

    def fingerprint(self, ucr: str, country: str, at_block: int | None = None) -> tuple[Any, ...]:
        """What a verification's outcome depends on, in three cheap reads: the block it
        stands at (and that block's hash, which a reorg changes) and each record's place.
        Registry and recognition events up to that block cannot change while its hash
        does not."""
        key = "0x" + consignment_key(ucr).hex()
        with self.store.read() as conn:
            head = index.cursor(conn) or 0
            as_of = head if at_block is None else min(at_block, head)
            block = index.block_at(conn, as_of)
            rows = known.record_places(conn, key)
            refused = 0
            if not all(held for *_, held in rows):  # a refusal matters only while no good copy is held
                refused = known.refusal_count(conn, [r[0] for r in rows])
        return (ucr, country, as_of, block.hash if block else None, tuple(tuple(r) for r in rows), refused)

    def gather(self, ucr: str, country: str, at_block: int | None = None) -> VerificationEvidence:
        key = consignment_key(ucr)
        with self.store.connection() as conn:
            head = index.cursor(conn) or 0
            as_of = head if at_block is None else min(at_block, head)
            rows = known.verifying_rows(conn, "0x" + key.hex(), as_of)
            if not rows:
                raise NotFound(f"no consignment {ucr}")
            unheld = [row.id for row in rows if row.payload is None]
            added = known.added_routes(conn, unheld)
            refusals = known.refusals_of(conn, unheld)
            records = tuple(self._record(conn, row, as_of, added, refusals) for row in rows)
            head_on_chain = known.chain_head(conn, "0x" + key.hex(), as_of)
            block = index.block_at(conn, as_of)
            block_hash = None if block is None else block.hash
            at = self._block_facts(conn, as_of, block_hash)
        addresses = {r.record.party for r in records} | {r.record.counterparty for r in records}
        inp = VerificationInput(
            ucr=ucr,
            consignment=key,
            domain=self.domain,
            records=records,
            parties=at.parties_of(addresses),
            verifying_country=country,
            as_of_block=as_of,
            confirmations_required=self.confirmations,
            chain_id=self.domain.chain_id,
            contracts=self.contracts,
            chain_head=head_on_chain,
        )
        return VerificationEvidence(
            with_recognition(inp, at.recognition_events, book=at.book),
            at.recognition_events,
            at.timestamp,
            block_hash,
            at.book,
        )

    def _block_facts(self, conn: Connection, as_of: int, block_hash: str | None) -> _BlockFacts:
        """The facts of block `as_of` whose hash is `block_hash`: kept, or read now."""
        key = (as_of, block_hash)
        with self._blocks_lock:
            kept = self._blocks.get(key)
            if kept is not None:
                self._blocks.move_to_end(key)
                return kept
        block = index.block_at(conn, as_of)
        registry = index.events_of(conn, _PARTY_FACT_EVENTS, as_of)
        parties = [(e.name, json.loads(e.args), e.block_number) for e in registry]
        events = [
            {"name": e.name, "args": json.loads(e.args), "block": e.block_number, "timestamp": e.timestamp}
            for e in index.events_of(conn, RECOGNITION_EVENTS, as_of)
        ]
        facts = _BlockFacts(
            None if block is None else int(block.timestamp), _party_facts(parties), events, replayed(events)
        )
        with self._blocks_lock:
            self._blocks[key] = facts
            while len(self._blocks) > self.BLOCKS_KEPT:
                self._blocks.popitem(last=False)
        return facts

    def _record(
        self,
        conn: Connection,
        row: known.KnownRow,
        as_of: int,
        added: dict[str, tuple[str, ...]],
        refusals: dict[str, tuple[known.Refusal, ...]],
    ) -> RecordFact:
        """A row of `known.verifying_rows` (read as of `as_of`) as the checks read it."""
        on_chain = row.block_number is not None and row.block_number <= as_of
        timestamp = row.block_timestamp if on_chain else None
        proof = root_block = None
        written = None
        held = row.payload is not None
        record = record_of(row) if held else replace(record_of(row), route=added.get(row.id, ()))
        if row.mode == "batch" and row.proof is not None:  # kept at acceptance, or received with the record
            proof = json.loads(row.proof)
        if row.mode == "batch" and row.batch_root is not None and proof is None:  # accepted before proofs were kept
            ids = known.batch_member_ids(conn, row.batch_root)
            proof = [
                "0x" + p.hex() for p in MerkleTree([bytes.fromhex(i[2:]) for i in ids]).proof(bytes.fromhex(row.id[2:]))
            ]
        if row.mode == "batch" and row.batch_root is not None:
            root_block = row.root_block if row.root_block is not None and row.root_block <= as_of else None
        else:
            written = bool(row.written)
        return RecordFact(
            id=row.id,
            record=record,
            signature=None if row.signature is None else bytes.fromhex(row.signature[2:]),
            payload=None if row.payload is None else json.loads(row.payload),
            payload_canonical=None if row.payload is None else row.payload.encode(),
            mode=row.mode,
            block_number=row.block_number if on_chain else None,
            block_hash=row.block_hash if on_chain else None,
            block_timestamp=timestamp,
            confirmations=max(0, as_of - row.block_number + 1) if on_chain and row.block_number is not None else 0,
            batch_root=row.batch_root,
            inclusion_proof=proof,
            root_anchored_block=root_block,
            written_on_chain=written,
            held=held,
            refusals=tuple(PayloadRefusal(r.peer_authority, r.peer_url, r.reason) for r in refusals.get(row.id, ())),
            signer=row.signer if held else None,
        )

    def book(self) -> tuple[RecognitionBook, int]:
        """Certificates and arrangements as of the index head, and that head's block time."""
        with self.store.connection() as conn:
            head = index.cursor(conn) or 0
            block = index.block_at(conn, head)
            facts = self._block_facts(conn, head, None if block is None else block.hash)
        return facts.book, facts.timestamp or 0

    def recognition(self, operator: str, country: str, when: int | None) -> Recognition:
        book, now = self.book()
        return book.recognition(operator, country, now if when is None else when)


class _Claims(Protocol):
    """A receipt's claims but for those that differ from one receipt to the next."""

    def __call__(self, *, iat: int, jti: str, requester: str | None, exp: int) -> dict[str, Any]: ...


# A verification's outcome, cached: the response in full, as a partner customs reads it,
# and the claims of its receipts.
_Outcome = tuple[dict[str, Any], dict[str, Any], _Claims]


# Fetches, within `seconds`, the payloads of a consignment's records on chain that are not
# held here (the peer fetcher: PayloadExchange.fetch_missing(consignment_key, seconds));
# what it returns (a report) is not used.
FetchMissing = Callable[[bytes, float], object]


class FlagSource(Protocol):
    """The intelligence flags the instance's authority holds (services/flags.py Flags)."""

    def held(self) -> Sequence[HeldFlag]: ...
    def version(self) -> object: ...
    def used(self, reasons: Sequence[str], *, worklist: bool = False) -> None: ...


def flags_for_verdict(
    flags: FlagSource | None, own_country: str | None, country: str, block_time: int | None
) -> tuple[Sequence[HeldFlag], int | None]:
    """The flags a verdict (or a worklist line) for `country` reads, with the time of its
    block that judges which are in force: those this authority holds, for its own country
    alone (another country's verdict here is not this authority's risk assessment)."""
    if flags is None or own_country is None or country != own_country:
        return (), None
    if block_time is None:
        return (), None
    return flags.held(), block_time


@dataclass(frozen=True)
class _HeldOnce:
    """The verifier's flag source, its held flags read once per version."""

    verifier: Verifier
    at_version: object

    def held(self) -> Sequence[HeldFlag]:
        return self.verifier._held_at(self.at_version)

    def version(self) -> object:
        return self.at_version

    def used(self, reasons: Sequence[str], *, worklist: bool = False) -> None:
        assert self.verifier.flags is not None
        self.verifier.flags.used(reasons, worklist=worklist)


class Verifier:
    """Verdict, risk lane and signed receipt for a consignment, as of a block. Outcomes are
    cached by what they depend on (EvidenceReader.fingerprint): a repeated question costs two
    queries and a signature; every answer still gets a receipt of its own. When some
    record's payload is not held, `fetch_missing` (if any) is given `fetch_seconds` to
    fetch it before the verdict is made."""

    CACHE_SIZE = 1024
    KEY_RELOAD_SECONDS = 60.0  # picks up a key rotated by `ledger admin receipt-keys rotate`

    def __init__(
        self,
        reader: EvidenceReader,
        rules: RuleSet,
        keyring: KeyRing,
        service_id: str,
        *,
        issuer: tuple[str, str | None] | None = None,  # the authority the instance acts for, its country
        fetch_missing: FetchMissing | None = None,
        fetch_seconds: float = 2.0,
        receipt_validity_seconds: int = 86_400,
        flags: FlagSource | None = None,
    ) -> None:
        self.reader, self.rules, self.keyring, self.service_id = reader, rules, keyring, service_id
        self.flags = flags
        self._held: tuple[object, Sequence[HeldFlag]] | None = None  # the flags held, read at a version
        self._flag_rules = {r.id for r in rules.rules if r.when.type == "intelligence_flag_matches"}
        self.issuer = issuer
        self.receipt_validity_seconds = receipt_validity_seconds
        self.fetch_missing, self.fetch_seconds = fetch_missing, fetch_seconds
        self._cache: OrderedDict[tuple[Any, ...], _Outcome] = OrderedDict()
        self._lock = threading.Lock()
        self._keys_loaded = time.monotonic()
        load_code_lists()  # now, not in the first verdicts: the payload validators' code lists

    def reading(self) -> AbstractContextManager[None]:
        """One request's reads in one transaction where that saves round trips (PostgreSQL;
        Store.reading): the access checks and the verification made within it."""
        return self.reader.store.reading()

    def jwks(self) -> dict[str, Any]:
        self._refresh_keys()
        return dict(self.keyring.jwks())

    def _refresh_keys(self) -> None:
        if time.monotonic() - self._keys_loaded > self.KEY_RELOAD_SECONDS:
            self.keyring.reload()
            self._keys_loaded = time.monotonic()

    def evidence(self, ucr: str, country: str, at_block: int | None = None) -> bytes:
        """The evidence bundle as canonical JSON bytes: the exact bytes a receipt hashes."""
        return canonical.dumps(self.reader.gather(ucr, country, at_block).bundle())

    def verify(
        self,
        ucr: str,
        country: str,
        at_block: int | None = None,
        *,
        requester: str | None = None,
        view: View = "full",
        reveal_flags: bool = True,
    ) -> dict[str, Any]:
        """The verification response with its own receipt. `view` is the requester's standing
        (services/access.py): a partner customs gets the messages said without the seal and
        container numbers and HS codes it may not see; the verdict, codes, records, lane and
        receipt are the same. `reveal_flags` False (a caller that is not customs): the flag
        rules are computed without any flag: its lane, score, fired rules and receipt are those
        the consignment would have if no flag existed (a lane that moved would tell a trader
        it was flagged)."""
        key = self.reader.fingerprint(ucr, country, at_block)
        if self.fetch_missing is not None and not all(row[3] for row in key[4]):
            self.fetch_missing(consignment_key(ucr), self.fetch_seconds)
            key = self.reader.fingerprint(ucr, country, at_block)
        with_flags = reveal_flags and self.flags is not None
        version = None
        if with_flags:
            assert self.flags is not None
            version = self.flags.version()
            key = (*key, version)
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
        if cached is None:
            cached = self._outcome(ucr, country, at_block, version, with_flags=with_flags)
            with self._lock:
                self._cache[key] = cached
                while len(self._cache) > self.CACHE_SIZE:
                    self._cache.popitem(last=False)
        response, partner_response, claims = cached
        self._refresh_keys()
        answer = partner_response if view == "partner" else response
        fired = answer["risk"]["fired"]
        flagged = [f["reason"] for f in fired if f["id"] in self._flag_rules]
        if flagged and self.flags is not None:
            self.flags.used(flagged)
        now = int(time.time())
        receipt = self.keyring.issue(
            claims(iat=now, jti=uuid.uuid4().hex, requester=requester, exp=now + self.receipt_validity_seconds)
        )
        return dict(answer, receipt=receipt)

    def _flags_of(self, version: object) -> FlagSource | None:
        """`self.flags`, with its held flags read once per version (flags.version()), not
        once per verdict."""
        if self.flags is None:
            return None
        return _HeldOnce(self, version)

    def _held_at(self, version: object) -> Sequence[HeldFlag]:
        assert self.flags is not None
        with self._lock:
            kept = self._held
        if kept is not None and kept[0] == version:
            return kept[1]
        held = self.flags.held()
        with self._lock:
            self._held = (version, held)
        return held

    def _outcome(
        self, ucr: str, country: str, at_block: int | None, flags_version: object = None, *, with_flags: bool = True
    ) -> _Outcome:
        gathered = self.reader.gather(ucr, country, at_block)
        result = verify(gathered.input)
        own = self.issuer[1] if self.issuer is not None else None
        source = self._flags_of(flags_version) if with_flags else None
        flags, block_time = flags_for_verdict(source, own, country, gathered.block_time)
        inspections = gathered.partner_inspections()
        risk = assess(self.rules, gathered.input, flags=flags, block_time=block_time, partner_inspections=inspections)
        in_force = decision_in_force(gathered.input)
        decision = None if in_force is None else in_force.as_dict()
        evidence = canonical.dumps(gathered.bundle())
        checks = [c.as_dict() for c in result.checks]
        digest = evidence_hash(evidence)
        # What every receipt for this outcome says; each receipt adds its own time and id.
        claims = partial(
            receipt_claims,
            verdict=str(result.verdict),
            checks=checks,
            lane=risk.lane,
            score=risk.score,
            fired=risk.rule_ids,
            as_of_block=result.as_of_block,
            ucr=ucr,
            consignment=gathered.input.consignment,
            chain_id=gathered.input.chain_id,
            ledger=gathered.input.domain.verifying_contract,
            evidence=digest,
            iss=self.service_id,
            authority=self.issuer[0] if self.issuer else None,
            country=self.issuer[1] if self.issuer else None,
            as_of_block_hash=gathered.block_hash,
            decision=decision,
        )
        recognition = gathered.input.recognition

        def response(partner: bool) -> dict[str, Any]:
            return {
                "ucr": ucr,
                "verifying_country": country,
                "as_of_block": result.as_of_block,
                "verdict": str(result.verdict),
                "checks": [c.as_dict(partner=True) for c in result.checks] if partner else checks,
                "risk": {
                    "lane": risk.lane,
                    "score": risk.score,
                    "fired": [
                        {
                            "id": f.id,
                            "description": f.description,
                            "points": f.points,
                            "reason": f.partner_reason if partner else f.reason,
                            "records": list(f.records),
                        }
                        for f in risk.fired
                    ],
                },
                "recognition": None if recognition is None else asdict(recognition),
                "decision": decision,
                "evidence_hash": digest,
            }

        return response(partner=False), response(partner=True), claims
