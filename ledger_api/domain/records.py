"""The signed record of the consignment ledger, as the contract and any EIP-712 wallet
see it: the typed-data message, its id (the EIP-712 digest), signing and recovery.

The type must match contracts/lib/LedgerRecords.sol field for field; a contract test and
a service test check that the contract computes the same id, routes included.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache
from typing import Any

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from ledger_api.domain.hashing import keccak256

ZERO_ADDRESS = "0x" + "00" * 20
ZERO_HASH = b"\x00" * 32

RECORD_TYPE = [
    {"name": "consignment", "type": "bytes32"},
    {"name": "kind", "type": "uint8"},
    {"name": "payloadHash", "type": "bytes32"},
    {"name": "previous", "type": "bytes32"},
    {"name": "party", "type": "address"},
    {"name": "counterparty", "type": "address"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
    {"name": "route", "type": "bytes2[]"},
]
DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


class RecordKind(IntEnum):
    DECLARATION = 0
    HANDOVER = 1
    ACCEPTANCE = 2
    CUSTOMS_DECISION = 3
    REVOCATION = 4
    TRANSIT = 5


def consignment_key(ucr: str) -> bytes:
    """The ledger keys a consignment by keccak256 of its UCR."""
    return keccak256(ucr.encode())


@dataclass(frozen=True)
class LedgerDomain:
    """The EIP-712 domain of one ConsignmentLedger deployment."""

    chain_id: int
    verifying_contract: str
    name: str = "ConsignmentLedger"
    version: str = "1"

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": to_checksum_address(self.verifying_contract),
        }


def country_bytes(country: str) -> bytes:
    """A route country as the contract's `bytes2`: its two ASCII letters. Shape only (the
    contract's CountryCodes.isWellFormed); whether ISO 3166 knows it is the payload's
    business. ValueError for anything else, so a route that could not be signed as given
    is refused, not silently changed."""
    raw = country.encode("ascii", "replace")
    if len(raw) != 2 or not all(0x41 <= b <= 0x5A for b in raw):
        raise ValueError(f"a route country is two capital letters (ISO 3166-1 alpha-2), got {country!r}")
    return raw


@lru_cache(maxsize=4096)
def checksummed(address: str) -> str:
    """An address in EIP-55 form, remembered: a Keccak hash each time otherwise, and the
    relayer and the indexer turn the same few parties' addresses into it for every record
    they encode or decode (8% of the worker's time under a stream, docs/benchmarks.md)."""
    return to_checksum_address(address)


@dataclass(frozen=True)
class Record:
    consignment: bytes
    kind: RecordKind
    payload_hash: bytes
    previous: bytes
    party: str
    counterparty: str
    nonce: int
    deadline: int
    # ISO 3166-1 alpha-2 codes. DECLARATION: exactly (origin, destination); TRANSIT: the
    # transit countries the custodian adds; empty for every other kind (the contract
    # refuses any other length: LedgerInvalidRouteLength).
    route: tuple[str, ...] = ()

    def message(self) -> dict[str, Any]:
        return {
            "consignment": self.consignment,
            "kind": int(self.kind),
            "payloadHash": self.payload_hash,
            "previous": self.previous,
            "party": checksummed(self.party),
            "counterparty": checksummed(self.counterparty),
            "nonce": self.nonce,
            "deadline": self.deadline,
            "route": [country_bytes(c) for c in self.route],
        }

    def as_tuple(self) -> tuple[Any, ...]:
        """The record as the contract's ABI takes it."""
        m = self.message()
        return tuple(m[f["name"]] for f in RECORD_TYPE)


def typed_data(record: Record, domain: LedgerDomain) -> dict[str, Any]:
    return {
        "types": {"EIP712Domain": DOMAIN_TYPE, "Record": RECORD_TYPE},
        "primaryType": "Record",
        "domain": domain.as_dict(),
        "message": record.message(),
    }


def _signable(record: Record, domain: LedgerDomain) -> SignableMessage:
    return encode_typed_data(full_message=typed_data(record, domain))


def record_id(record: Record, domain: LedgerDomain) -> bytes:
    """The record's id: its EIP-712 digest, which is what the party signs."""
    s = _signable(record, domain)
    return keccak(b"\x19" + s.version + s.header + s.body)


def sign_record(record: Record, domain: LedgerDomain, private_key: bytes | str) -> bytes:
    return bytes(Account.sign_message(_signable(record, domain), private_key).signature)


def recover_signer(record: Record, domain: LedgerDomain, signature: bytes) -> str:
    return str(Account.recover_message(_signable(record, domain), signature=signature))


# ---------------------------------------------------------------- fast path
# The service checks thousands of signatures a second, more than eth-account's generic
# EIP-712 encoder and recovery keep up with: the hot path hashes the fixed Record type
# directly and recovers with coincurve (libsecp256k1). Tests check that both paths agree,
# and the contract agrees with eth-account.

SECP256K1_HALF_N = 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0
RECORD_TYPEHASH = keccak(
    text="Record(bytes32 consignment,uint8 kind,bytes32 payloadHash,bytes32 previous,address party,"
    "address counterparty,uint256 nonce,uint256 deadline,bytes2[] route)"
)
_DOMAIN_TYPEHASH = keccak(text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)")


class SignatureError(ValueError):
    """A signature that is malformed, malleable (high s) or recovers to nobody."""


def domain_separator(domain: LedgerDomain) -> bytes:
    return keccak(
        _DOMAIN_TYPEHASH
        + keccak(text=domain.name)
        + keccak(text=domain.version)
        + domain.chain_id.to_bytes(32, "big")
        + bytes(12)
        + bytes.fromhex(domain.verifying_contract[2:])
    )


def _word_address(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(address[2:])


def route_hash(route: tuple[str, ...]) -> bytes:
    """EIP-712's encoding of the `bytes2[] route` member: keccak256 of each element's
    32-byte encoding (a bytesN value is left-aligned, zero-padded), concatenated."""
    return keccak256(b"".join(country_bytes(c) + bytes(30) for c in route))


def fast_record_id(record: Record, separator: bytes) -> bytes:
    """The same digest as `record_id`, computed directly for the fixed Record type."""
    struct_hash = keccak256(
        RECORD_TYPEHASH
        + record.consignment
        + int(record.kind).to_bytes(32, "big")
        + record.payload_hash
        + record.previous
        + _word_address(record.party)
        + _word_address(record.counterparty)
        + record.nonce.to_bytes(32, "big")
        + record.deadline.to_bytes(32, "big")
        + route_hash(record.route)
    )
    return keccak256(b"\x19\x01" + separator + struct_hash)


def fast_recover(digest: bytes, signature: bytes) -> str:
    """Recovers the signer of `digest` as OpenZeppelin's ECDSA.recover does: 65 bytes,
    v 27 or 28, s in the lower half of the curve order."""
    from coincurve import PublicKey  # imported here: only the service's environment has it

    if len(signature) != 65:
        raise SignatureError(f"a signature is 65 bytes, got {len(signature)}")
    s = int.from_bytes(signature[32:64], "big")
    if s > SECP256K1_HALF_N:
        raise SignatureError("signature s value is in the upper half of the curve order (malleable)")
    v = signature[64]
    if v not in (27, 28):
        raise SignatureError(f"signature v must be 27 or 28, got {v}")
    try:
        public = PublicKey.from_signature_and_message(signature[:64] + bytes([v - 27]), digest, hasher=None)
    except Exception as exc:  # coincurve raises a bare Exception for an unrecoverable signature
        raise SignatureError("signature does not recover to any key") from exc
    return to_checksum_address(keccak256(public.format(compressed=False)[1:])[-20:])
