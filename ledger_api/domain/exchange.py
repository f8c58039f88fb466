"""Records as instances exchange them (GET /v1/peer/…/records): the signed fields, the
signature, the payload as the exact canonical JSON bytes whose keccak256 is on chain, the
mode, and for a batch record its root and inclusion proof. A copy received is a claim:
the receiver checks it against the chain before it keeps anything (store/records.py).

`to_json` is what a serving instance sends and `from_json` what a receiving one reads;
`from_json` refuses (ValueError, naming the member) anything not in that shape, so that a
peer's answer never reaches the checks half-parsed. Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_utils.address import is_checksum_address

from ledger_api.domain.records import Record, RecordKind

_HEX32 = re.compile(r"0x[0-9a-f]{64}")
_SIGNATURE = re.compile(r"0x[0-9a-fA-F]{130}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_UINT = re.compile(r"[0-9]{1,78}")
MAX_PROOF = 64  # a tree of 2**64 leaves: more than any batch
MAX_ROUTE = 16


@dataclass(frozen=True)
class ServedRecord:
    id: str  # 0x-hex, as the serving instance names it (the receiver recomputes it)
    ucr: str | None
    record: Record
    signature: bytes
    payload: bytes  # canonical JSON (RFC 8785)
    mode: str  # "single" | "batch"
    batch_root: bytes | None
    proof: tuple[bytes, ...] | None  # batch: sibling hashes from leaf to root


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


def to_json(served: ServedRecord) -> dict[str, Any]:
    r = served.record
    return {
        "id": served.id,
        "ucr": served.ucr,
        "record": {
            "consignment": _hex(r.consignment),
            "kind": r.kind.name,
            "payloadHash": _hex(r.payload_hash),
            "previous": _hex(r.previous),
            "party": r.party,
            "counterparty": r.counterparty,
            "nonce": str(r.nonce),
            "deadline": str(r.deadline),
            "route": list(r.route),
        },
        "signature": _hex(served.signature),
        "payload": served.payload.decode("utf-8"),
        "mode": served.mode,
        "batch_root": None if served.batch_root is None else _hex(served.batch_root),
        "proof": None if served.proof is None else [_hex(p) for p in served.proof],
    }


def _text(obj: Mapping[str, Any], name: str, pattern: re.Pattern[str] | None = None) -> str:
    value = obj.get(name)
    if not isinstance(value, str) or (pattern is not None and not pattern.fullmatch(value)):
        raise ValueError(f"{name}: not what a peer record holds: {str(value)[:80]!r}")
    return value


def _hash(obj: Mapping[str, Any], name: str) -> bytes:
    return bytes.fromhex(_text(obj, name, _HEX32)[2:])


def _address(obj: Mapping[str, Any], name: str) -> str:
    value = _text(obj, name)
    if not is_checksum_address(value):
        raise ValueError(f"{name}: not a checksummed address: {value[:80]!r}")
    return value


def _uint256(obj: Mapping[str, Any], name: str) -> int:
    value = int(_text(obj, name, _UINT))
    if value >= 2**256:
        raise ValueError(f"{name}: larger than a uint256")
    return value


def from_json(obj: Any) -> ServedRecord:
    """A record as a peer served it; ValueError naming what is not in shape."""
    if not isinstance(obj, Mapping) or not isinstance(obj.get("record"), Mapping):
        raise ValueError("a peer record is an object with a record object")
    fields = obj["record"]
    kind = _text(fields, "kind")
    if kind not in RecordKind.__members__:
        raise ValueError(f"kind: unknown {kind[:40]!r}")
    route = fields.get("route")
    if (
        not isinstance(route, list)
        or len(route) > MAX_ROUTE
        or not all(isinstance(c, str) and _COUNTRY.fullmatch(c) for c in route)
    ):
        raise ValueError("route: not a list of up to 16 ISO 3166-1 alpha-2 codes")
    record = Record(
        consignment=_hash(fields, "consignment"),
        kind=RecordKind[kind],
        payload_hash=_hash(fields, "payloadHash"),
        previous=_hash(fields, "previous"),
        party=_address(fields, "party"),
        counterparty=_address(fields, "counterparty"),
        nonce=_uint256(fields, "nonce"),
        deadline=_uint256(fields, "deadline"),
        route=tuple(route),
    )
    mode = _text(obj, "mode")
    if mode not in ("single", "batch"):
        raise ValueError(f"mode: {mode[:20]!r} is neither single nor batch")
    root = proof = None
    if mode == "batch":
        root = _hash(obj, "batch_root")
        siblings = obj.get("proof")
        if not isinstance(siblings, list) or len(siblings) > MAX_PROOF:
            raise ValueError("proof: a batch record comes with its inclusion proof, a list of hashes")
        proof = tuple(_hash({"proof": s}, "proof") for s in siblings)
    ucr = obj.get("ucr")
    return ServedRecord(
        id=_text(obj, "id", _HEX32),
        ucr=ucr if isinstance(ucr, str) and len(ucr) <= 35 else None,
        record=record,
        signature=bytes.fromhex(_text(obj, "signature", _SIGNATURE)[2:]),
        payload=_text(obj, "payload").encode("utf-8"),
        mode=mode,
        batch_root=root,
        proof=proof,
    )
