"""The signed record of the consignment ledger, as the contract and any EIP-712 wallet
see it: the typed-data message, its id (the EIP-712 digest), signing and recovery.

The type must match contracts/lib/LedgerRecords.sol field for field; a contract test and
a service test check that the contract computes the same id.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

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


def consignment_key(ucr: str) -> bytes:
    """The ledger keys a consignment by keccak256 of its UCR."""
    return keccak(text=ucr)


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

    def message(self) -> dict[str, Any]:
        return {
            "consignment": self.consignment,
            "kind": int(self.kind),
            "payloadHash": self.payload_hash,
            "previous": self.previous,
            "party": to_checksum_address(self.party),
            "counterparty": to_checksum_address(self.counterparty),
            "nonce": self.nonce,
            "deadline": self.deadline,
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
