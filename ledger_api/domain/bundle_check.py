"""An evidence bundle's claims held against what a chain node says (`ledger verify-bundle
--rpc`): pure rules, no I/O. `questions` says what to read from the chain for a bundle;
chain/bundle_facts.py reads it into `ChainFacts`; `contradictions` compares the two and
names every claim the chain contradicts.

What is compared:
- the chain id, and the bundle's EIP-712 domain with the ledger's own (`eip712Domain()`
  of the contract at the address the verifier decided is the consortium's ledger: pinned
  by the verifier, else the bundle's, checked to be a ConsignmentLedger wired to the
  bundle's registries);
- each single-mode record with its RecordWritten event (block, block hash and every field
  the event carries); each batch record with its root's anchor (anchoredAt, the
  RootAnchored event's block and sender, the inclusion proof as the contract checks it),
  the sender being a relayer an authority published on the registry by then;
- each party's registration, and its roles and status at every checkpoint the bundle
  claims and at every block it signed a record in (PartyRegistry.stateAt);
- the exporter's recognition by the verifying country (RecognitionRegistry.recognitionOf
  as of the bundle's block);
- the bundle's block: on the chain, not before any record, and the consignment's head
  then (consignmentOf)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ledger_api.domain.facts import VerificationInput
from ledger_api.domain.recognition import REASONS

# Contradiction codes: append-only, as the verification's reason codes.
CHAIN_ID = "CHAIN_ID"
LEDGER_NOT_DEPLOYED = "LEDGER_NOT_DEPLOYED"
EIP712_DOMAIN = "EIP712_DOMAIN"
CONTRACTS_WIRING = "CONTRACTS_WIRING"
RECORD_NOT_ON_CHAIN = "RECORD_NOT_ON_CHAIN"
RECORD_FIELDS = "RECORD_FIELDS"
RECORD_BLOCK = "RECORD_BLOCK"
ROOT_NOT_ANCHORED = "ROOT_NOT_ANCHORED"
ROOT_ANCHOR_BLOCK = "ROOT_ANCHOR_BLOCK"
ANCHORER_NOT_RELAYER = "ANCHORER_NOT_RELAYER"
INCLUSION_PROOF = "INCLUSION_PROOF"
PARTY_UNKNOWN = "PARTY_UNKNOWN"
PARTY_REGISTRATION = "PARTY_REGISTRATION"
PARTY_HISTORY = "PARTY_HISTORY"
SIGNER_STATE = "SIGNER_STATE"
RECOGNITION = "RECOGNITION"
AS_OF_BLOCK = "AS_OF_BLOCK"
CHAIN_HEAD = "CHAIN_HEAD"

_STATUS = ("None", "Active", "Suspended", "Revoked")


@dataclass(frozen=True)
class Contradiction:
    """A claim of the bundle the chain contradicts: `code` (above), what it is about, and
    what each side says."""

    code: str
    subject: str
    message: str

    def __str__(self) -> str:
        return f"{self.code} {self.subject}: {self.message}"


@dataclass(frozen=True)
class Questions:
    """What to read from the chain for a bundle."""

    record_ids: tuple[str, ...]  # single-mode records with a block: their RecordWritten events
    roots: tuple[str, ...]  # batch roots: their anchors and RootAnchored events
    proofs: tuple[tuple[str, str, tuple[str, ...]], ...]  # (root, record id, proof) to check on chain
    parties: tuple[str, ...]  # registration (partyOf), lower case
    states: tuple[tuple[str, int], ...]  # (party in lower case, block): stateAt
    recognition: tuple[str, str, int] | None  # (operator, country, when): recognitionOf


@dataclass(frozen=True)
class LoggedRecord:
    """A RecordWritten event: the record as the ledger wrote it."""

    consignment: str
    party: str
    kind: int
    payload_hash: str
    previous: str
    counterparty: str
    nonce: int
    block_number: int
    block_hash: str


@dataclass(frozen=True)
class Anchor:
    """A batch root as the chain holds it: `anchored_block` 0 when never anchored; the
    RootAnchored event's sender and block hash when there is one."""

    anchored_block: int
    anchored_by: str | None = None
    block_hash: str | None = None


@dataclass(frozen=True)
class LedgerOnChain:
    """The contract at the ledger's address: whether it has code, the EIP-712 domain it
    reports (ERC-5267 `eip712Domain()`, None when it does not answer) and the registry it
    checks records against; the registry the bundle's RecognitionRegistry points at."""

    address: str
    pinned: bool  # the verifier named it (--ledger/--manifest), not the bundle
    has_code: bool
    domain_name: str | None = None
    domain_version: str | None = None
    domain_chain_id: int | None = None
    domain_contract: str | None = None
    registry: str | None = None
    recognition_registry: str | None = None


@dataclass(frozen=True)
class ChainFacts:
    chain_id: int
    head_block: int  # the node's latest block
    ledger: LedgerOnChain
    records: dict[str, LoggedRecord] = field(default_factory=dict)  # by record id (lower case)
    anchors: dict[str, Anchor] = field(default_factory=dict)  # by root (lower case)
    proofs: dict[tuple[str, str], bool] = field(default_factory=dict)  # (root, id) -> checkInclusion held
    # relayer -> the first block an authority published it as its instance's relayer
    relayers: dict[str, int] = field(default_factory=dict)
    # by address in lower case: country and registration block, None when never registered
    parties: dict[str, tuple[str, int] | None] = field(default_factory=dict)
    # (party in lower case, block) -> roles, status at the end of that block
    states: dict[tuple[str, int], tuple[int, int]] = field(default_factory=dict)
    recognition: tuple[int, int] | None = None  # reason (the contract's enum), arrangement id (0 for none)
    as_of_block_hash: str | None = None
    consignment_head: str | None = None  # consignmentOf(consignment).head at the bundle's block


def _low(value: str | None) -> str:
    return (value or "").lower()


def questions(inp: VerificationInput) -> Questions:
    record_ids: list[str] = []
    roots: list[str] = []
    proofs: list[tuple[str, str, tuple[str, ...]]] = []
    states: set[tuple[str, int]] = set()
    for fact in inp.records:
        if fact.block_number is None:
            continue
        if fact.mode == "batch" and fact.batch_root:
            if fact.batch_root.lower() not in roots:
                roots.append(fact.batch_root.lower())
            proofs.append((fact.batch_root.lower(), fact.id.lower(), tuple(fact.inclusion_proof or ())))
        else:
            record_ids.append(fact.id.lower())
        states.add((fact.record.party.lower(), fact.block_number))
    for party in inp.parties.values():
        for checkpoint in party.history:
            states.add((party.address.lower(), checkpoint.from_block))
    parties = sorted({*(p.lower() for p in inp.parties), *(f.record.party.lower() for f in inp.records)})
    recognition = None
    if inp.recognition is not None:
        recognition = (inp.recognition.operator, inp.recognition.country, inp.recognition.at)
    return Questions(
        record_ids=tuple(record_ids),
        roots=tuple(roots),
        proofs=tuple(proofs),
        parties=tuple(parties),
        states=tuple(sorted(states)),
        recognition=recognition,
    )


def contradictions(
    inp: VerificationInput, chain: ChainFacts, consortium: dict[str, str] | None = None
) -> list[Contradiction]:
    """Every claim of the bundle `inp` that `chain` contradicts; empty when none is.
    `consortium`: the consortium's contracts by name, as the verifier knows them (its
    deployment manifest), which the bundle's must be."""
    if chain.chain_id != inp.chain_id:
        return [Contradiction(CHAIN_ID, "chain", f"the node is chain {chain.chain_id}, the bundle says {inp.chain_id}")]
    found = [
        Contradiction(
            CONTRACTS_WIRING, name, f"the consortium's is {address}, the bundle names {inp.contracts.get(name)}"
        )
        for name, address in sorted((consortium or {}).items())
        if name in inp.contracts and _low(inp.contracts.get(name)) != _low(address)
    ]
    found += _ledger(inp, chain)
    if any(c.code == LEDGER_NOT_DEPLOYED for c in found):
        return found  # no ledger there: its records, anchors and registries say nothing
    found += _records(inp, chain)
    found += _parties(inp, chain)
    found += _recognition(inp, chain)
    found += _as_of(inp, chain)
    return found


def _ledger(inp: VerificationInput, chain: ChainFacts) -> list[Contradiction]:
    ledger = chain.ledger
    claimed = inp.domain
    found: list[Contradiction] = []
    if not ledger.has_code:
        return [Contradiction(LEDGER_NOT_DEPLOYED, "ledger", f"no contract at {ledger.address} on this chain")]
    if _low(claimed.verifying_contract) != _low(ledger.address):
        whose = "the consortium's ledger" if ledger.pinned else "the bundle's ConsignmentLedger"
        found.append(
            Contradiction(
                EIP712_DOMAIN,
                "verifyingContract",
                f"the bundle's domain names {claimed.verifying_contract}, {whose} is {ledger.address}",
            )
        )
    if _low(inp.contracts.get("ConsignmentLedger")) != _low(ledger.address):
        found.append(
            Contradiction(
                CONTRACTS_WIRING,
                "ConsignmentLedger",
                f"the bundle names {inp.contracts.get('ConsignmentLedger')}, the ledger is {ledger.address}",
            )
        )
    if ledger.domain_name is None:
        found.append(Contradiction(EIP712_DOMAIN, "ledger", f"{ledger.address} reports no EIP-712 domain"))
    else:
        reported = (ledger.domain_name, ledger.domain_version, ledger.domain_chain_id, _low(ledger.domain_contract))
        expected = (claimed.name, claimed.version, inp.chain_id, _low(claimed.verifying_contract))
        if reported != expected:
            found.append(
                Contradiction(
                    EIP712_DOMAIN,
                    "domain",
                    f"{ledger.address} reports the domain {ledger.domain_name!r} v{ledger.domain_version} of chain "
                    f"{ledger.domain_chain_id} at {ledger.domain_contract}, the bundle says {claimed.name!r} "
                    f"v{claimed.version} of chain {inp.chain_id} at {claimed.verifying_contract}",
                )
            )
    registry = inp.contracts.get("PartyRegistry")
    if _low(ledger.registry) != _low(registry):
        found.append(
            Contradiction(
                CONTRACTS_WIRING,
                "PartyRegistry",
                f"the ledger checks records against {ledger.registry}, the bundle names {registry}",
            )
        )
    if "RecognitionRegistry" in inp.contracts and _low(ledger.recognition_registry) != _low(ledger.registry):
        found.append(
            Contradiction(
                CONTRACTS_WIRING,
                "RecognitionRegistry",
                f"{inp.contracts['RecognitionRegistry']} reads parties from {ledger.recognition_registry}, "
                f"the ledger from {ledger.registry}",
            )
        )
    return found


def _records(inp: VerificationInput, chain: ChainFacts) -> list[Contradiction]:
    found: list[Contradiction] = []
    for fact in inp.records:
        subject = f"record {fact.id}"
        if fact.block_number is None:
            continue
        if fact.mode == "batch":
            found += _batch(
                fact.id, fact.batch_root, fact.root_anchored_block, fact.block_number, fact.block_hash, chain
            )
            continue
        logged = chain.records.get(fact.id.lower())
        if logged is None:
            found.append(Contradiction(RECORD_NOT_ON_CHAIN, subject, "the ledger wrote no record with this id"))
            continue
        if logged.block_number != fact.block_number or _low(logged.block_hash) != _low(fact.block_hash):
            found.append(
                Contradiction(
                    RECORD_BLOCK,
                    subject,
                    f"written in block {logged.block_number} ({logged.block_hash}), the bundle says "
                    f"{fact.block_number} ({fact.block_hash})",
                )
            )
        rec = fact.record
        claimed = {
            "consignment": "0x" + rec.consignment.hex(),
            "party": rec.party,
            "kind": int(rec.kind),
            "payloadHash": "0x" + rec.payload_hash.hex(),
            "previous": "0x" + rec.previous.hex(),
            "counterparty": rec.counterparty,
            "nonce": rec.nonce,
        }
        on_chain = {
            "consignment": logged.consignment,
            "party": logged.party,
            "kind": logged.kind,
            "payloadHash": logged.payload_hash,
            "previous": logged.previous,
            "counterparty": logged.counterparty,
            "nonce": logged.nonce,
        }
        for name, value in claimed.items():
            actual = on_chain[name]
            same = value == actual if isinstance(value, int) else _low(str(value)) == _low(str(actual))
            if not same:
                found.append(
                    Contradiction(RECORD_FIELDS, subject, f"{name} is {actual} on chain, the bundle says {value}")
                )
    return found


def _batch(
    record_id: str,
    root: str | None,
    claimed_anchor: int | None,
    block: int,
    block_hash: str | None,
    chain: ChainFacts,
) -> list[Contradiction]:
    subject = f"record {record_id}"
    anchor = chain.anchors.get(_low(root))
    if root is None or anchor is None or anchor.anchored_block == 0:
        return [Contradiction(ROOT_NOT_ANCHORED, subject, f"its root {root} was never anchored on the ledger")]
    found: list[Contradiction] = []
    if anchor.anchored_block != claimed_anchor or anchor.anchored_block != block:
        found.append(
            Contradiction(
                ROOT_ANCHOR_BLOCK,
                subject,
                f"root {root} was anchored in block {anchor.anchored_block}, the bundle says {claimed_anchor}",
            )
        )
    elif anchor.block_hash is not None and _low(anchor.block_hash) != _low(block_hash):
        found.append(
            Contradiction(
                ROOT_ANCHOR_BLOCK,
                subject,
                f"block {block} has hash {anchor.block_hash}, the bundle says {block_hash}",
            )
        )
    since = chain.relayers.get(_low(anchor.anchored_by))
    if anchor.anchored_by is None or since is None or since > anchor.anchored_block:
        found.append(
            Contradiction(
                ANCHORER_NOT_RELAYER,
                subject,
                f"root {root} was anchored by {anchor.anchored_by}, which no customs authority had published "
                f"as its instance's relayer by block {anchor.anchored_block}",
            )
        )
    if not chain.proofs.get((_low(root), record_id.lower()), False):
        found.append(
            Contradiction(INCLUSION_PROOF, subject, f"the ledger's checkInclusion refuses its proof in {root}")
        )
    return found


def _state(roles: int, status: int) -> str:
    return f"roles {roles:#x} {_STATUS[status] if 0 <= status < len(_STATUS) else status}"


def _parties(inp: VerificationInput, chain: ChainFacts) -> list[Contradiction]:
    found: list[Contradiction] = []
    for address, party in sorted(inp.parties.items()):
        subject = f"party {address}"
        registered = chain.parties.get(address.lower())
        if registered is None:
            found.append(Contradiction(PARTY_UNKNOWN, subject, "the registry never registered it"))
            continue
        country, block = registered
        if (country, block) != (party.country, party.registered_block):
            found.append(
                Contradiction(
                    PARTY_REGISTRATION,
                    subject,
                    f"registered in block {block} for {country}, the bundle says block {party.registered_block} "
                    f"for {party.country}",
                )
            )
        for checkpoint in party.history:
            actual = chain.states.get((address.lower(), checkpoint.from_block))
            # Two changes in one block: the registry answers for the end of the block, the last one.
            effective = party.at(checkpoint.from_block) or checkpoint
            if actual is not None and actual != (effective.roles, effective.status):
                found.append(
                    Contradiction(
                        PARTY_HISTORY,
                        subject,
                        f"at block {checkpoint.from_block} the registry has {_state(*actual)}, the bundle says "
                        f"{_state(effective.roles, effective.status)}",
                    )
                )
    by_address = {address.lower(): party for address, party in inp.parties.items()}
    for fact in inp.records:
        if fact.block_number is None:
            continue
        signer = fact.record.party
        actual = chain.states.get((signer.lower(), fact.block_number))
        claimed_party = by_address.get(signer.lower())
        claimed = claimed_party.at(fact.block_number) if claimed_party is not None else None
        claimed_state = (claimed.roles, claimed.status) if claimed is not None else (0, 0)
        if actual is not None and actual != claimed_state:
            found.append(
                Contradiction(
                    SIGNER_STATE,
                    f"record {fact.id}",
                    f"its signer {signer} had {_state(*actual)} at block {fact.block_number}, the bundle says "
                    f"{_state(*claimed_state)}",
                )
            )
    return found


def _recognition(inp: VerificationInput, chain: ChainFacts) -> list[Contradiction]:
    claimed = inp.recognition
    if claimed is None or chain.recognition is None:
        return []
    reason_index, mra_id = chain.recognition
    reason = REASONS[reason_index] if 0 <= reason_index < len(REASONS) else str(reason_index)
    if (reason, mra_id) != (claimed.reason, claimed.mra_id or 0):
        return [
            Contradiction(
                RECOGNITION,
                f"exporter {claimed.operator}",
                f"by {claimed.country} at {claimed.at} the registry says {reason} (arrangement {mra_id}), the "
                f"bundle's events say {claimed.reason} (arrangement {claimed.mra_id or 0})",
            )
        ]
    return []


def _as_of(inp: VerificationInput, chain: ChainFacts) -> list[Contradiction]:
    found: list[Contradiction] = []
    if inp.as_of_block > chain.head_block or chain.as_of_block_hash is None:
        return [
            Contradiction(
                AS_OF_BLOCK,
                "as of block",
                f"block {inp.as_of_block} is not on the chain (its head is {chain.head_block})",
            )
        ]
    late = [f.id for f in inp.records if f.block_number is not None and f.block_number > inp.as_of_block]
    for record_id in late:
        found.append(Contradiction(AS_OF_BLOCK, f"record {record_id}", f"on chain after block {inp.as_of_block}"))
    if inp.chain_head is not None and _low(inp.chain_head) != _low(chain.consignment_head):
        found.append(
            Contradiction(
                CHAIN_HEAD,
                "consignment head",
                f"at block {inp.as_of_block} the ledger's head is {chain.consignment_head}, the bundle says "
                f"{inp.chain_head}",
            )
        )
    return found
