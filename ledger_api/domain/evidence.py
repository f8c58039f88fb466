"""The evidence bundle: everything a verification was made of, as one JSON document that
re-derives the verdict with no service and no chain (`ledger verify-bundle`), and whose
hash the signed receipt carries.

It holds the records with their payloads (canonical bytes), signatures, blocks and
Merkle proofs; the parties' role and status history; the recognition registry's events
(so the exporter's AEO recognition is recomputed, not trusted); the chain id, contracts,
the block the verification stands at and the consignment's head on chain then. A record
not held by the verifying instance is there with its chain facts alone (`held` false,
`signature` and `payload_canonical` null, deadline 0, the route the chain says it
added) and the copies peers served of it that did not match the chain."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import replace
from typing import Any

from ledger_api.domain import canonical
from ledger_api.domain.facts import PartyCheckpoint, PartyFact, PayloadRefusal, RecordFact, VerificationInput
from ledger_api.domain.recognition import RecognitionBook
from ledger_api.domain.records import LedgerDomain, Record, RecordKind

# 2: records carry their signed route (a record's id covers it since the route was added
# to the EIP-712 Record): a version-1 bundle's ids cannot be re-derived by this code.
# 3: records not held (chain facts alone) and the peers' refusals; the chain head. A
# version-2 bundle still reads: every record of it is held, its chain head unknown.
BUNDLE_VERSION = 3
READABLE_VERSIONS = (2, 3)


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _unhex(s: str) -> bytes:
    return bytes.fromhex(s[2:])


def to_bundle(inp: VerificationInput, recognition_events: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "version": BUNDLE_VERSION,
        "ucr": inp.ucr,
        "consignment": _hex(inp.consignment),
        "chain_id": inp.domain.chain_id,
        "contracts": inp.contracts,
        "eip712_domain": inp.domain.as_dict(),
        "as_of_block": inp.as_of_block,
        "verifying_country": inp.verifying_country,
        "confirmations_required": inp.confirmations_required,
        "chain_head": inp.chain_head,
        "records": [_record(r) for r in inp.records],
        "parties": [
            {
                "address": p.address,
                "country": p.country,
                "registered_block": p.registered_block,
                "history": [{"from_block": c.from_block, "roles": c.roles, "status": c.status} for c in p.history],
            }
            for p in inp.parties.values()
        ],
        "recognition_events": recognition_events,
    }


def _record(r: RecordFact) -> dict[str, Any]:
    rec = r.record
    return {
        "id": r.id,
        "record": {
            "consignment": _hex(rec.consignment),
            "kind": rec.kind.name,
            "payloadHash": _hex(rec.payload_hash),
            "previous": _hex(rec.previous),
            "party": rec.party,
            "counterparty": rec.counterparty,
            "nonce": str(rec.nonce),
            "deadline": str(rec.deadline),
            "route": list(rec.route),
        },
        "held": r.held,
        "signature": None if r.signature is None else _hex(r.signature),
        # The exact bytes that were hashed, base64: re-serialising the JSON could change them.
        "payload_canonical": base64.b64encode(r.payload_canonical).decode() if r.payload_canonical else None,
        "mode": r.mode,
        "block_number": r.block_number,
        "block_hash": r.block_hash,
        "block_timestamp": r.block_timestamp,
        "confirmations": r.confirmations,
        "batch_root": r.batch_root,
        "inclusion_proof": r.inclusion_proof,
        "root_anchored_block": r.root_anchored_block,
        "written_on_chain": r.written_on_chain,
        "payload_refusals": [
            {"peer_authority": f.peer_authority, "peer_url": f.peer_url, "reason": f.reason} for f in r.refusals
        ],
    }


def from_bundle(bundle: dict[str, Any]) -> VerificationInput:
    """The verification input a bundle describes. Raises KeyError/ValueError/TypeError on a
    malformed bundle; the caller reports it."""
    if bundle.get("version") not in READABLE_VERSIONS:
        raise ValueError(f"unsupported bundle version {bundle.get('version')!r}")
    domain = LedgerDomain(int(bundle["chain_id"]), bundle["eip712_domain"]["verifyingContract"])
    records = []
    for item in bundle["records"]:
        f = item["record"]
        canonical = base64.b64decode(item["payload_canonical"]) if item["payload_canonical"] else None
        records.append(
            RecordFact(
                id=item["id"],
                record=Record(
                    consignment=_unhex(f["consignment"]),
                    kind=RecordKind[f["kind"]],
                    payload_hash=_unhex(f["payloadHash"]),
                    previous=_unhex(f["previous"]),
                    party=f["party"],
                    counterparty=f["counterparty"],
                    nonce=int(f["nonce"]),
                    deadline=int(f["deadline"]),
                    route=tuple(f["route"]),
                ),
                signature=None if item["signature"] is None else _unhex(item["signature"]),
                payload=json.loads(canonical) if canonical else None,
                payload_canonical=canonical,
                mode=item["mode"],
                block_number=item["block_number"],
                block_hash=item["block_hash"],
                block_timestamp=item["block_timestamp"],
                confirmations=int(item["confirmations"]),
                batch_root=item["batch_root"],
                inclusion_proof=item["inclusion_proof"],
                root_anchored_block=item["root_anchored_block"],
                written_on_chain=item["written_on_chain"],
                held=bool(item.get("held", True)),
                refusals=tuple(
                    PayloadRefusal(f["peer_authority"], f["peer_url"], f["reason"])
                    for f in item.get("payload_refusals", [])
                ),
            )
        )
    parties = {
        p["address"]: PartyFact(
            address=p["address"],
            country=p["country"],
            registered_block=int(p["registered_block"]),
            history=tuple(
                PartyCheckpoint(int(c["from_block"]), int(c["roles"]), int(c["status"])) for c in p["history"]
            ),
        )
        for p in bundle["parties"]
    }
    inp = VerificationInput(
        ucr=bundle["ucr"],
        consignment=_unhex(bundle["consignment"]),
        domain=domain,
        records=tuple(records),
        parties=parties,
        verifying_country=bundle["verifying_country"],
        as_of_block=int(bundle["as_of_block"]),
        confirmations_required=int(bundle["confirmations_required"]),
        chain_id=domain.chain_id,
        contracts=dict(bundle["contracts"]),
        chain_head=bundle.get("chain_head"),
    )
    return with_recognition(inp, bundle["recognition_events"])


def with_recognition(
    inp: VerificationInput, events: list[dict[str, Any]], book: RecognitionBook | None = None
) -> VerificationInput:
    """`inp` with the exporter's recognition recomputed from the registry's events, at the
    declaration's block time (or the latest record time when it is not on chain yet).
    `book`: those events replayed already (a service keeps one per block), else replayed here."""
    declaration = next((r for r in inp.records if r.record.kind == RecordKind.DECLARATION), None)
    if declaration is None:
        return replace(inp, recognition=None)
    if book is None:
        book = RecognitionBook()
        for event in events:
            book.apply(event["name"], event["args"], int(event["timestamp"]))
    times = [r.block_timestamp for r in inp.records if r.block_timestamp is not None]
    when = declaration.block_timestamp or (max(times) if times else 0)
    return replace(inp, recognition=book.recognition(declaration.record.party, inp.verifying_country, when))


def bundle_hash(bundle: dict[str, Any]) -> str:
    """sha256 of the bundle's RFC 8785 canonical JSON: what the receipt signs."""
    return "sha256:" + hashlib.sha256(canonical.dumps(bundle)).hexdigest()
