"""Registry writes signed by a customs authority: an OpenZeppelin ERC-2771 ForwardRequest
(EIP-712) that the service relays through the LedgerForwarder, so the registry sees the
authority as the caller while the relayer pays gas and holds no role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_abi.abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from ledger_api.domain.records import fast_recover

FORWARD_REQUEST_TYPE = [
    {"name": "from", "type": "address"},
    {"name": "to", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "gas", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint48"},
    {"name": "data", "type": "bytes"},
]
DOMAIN_TYPE = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]
REGISTRY_CALL_GAS = 250_000

# PartyRegistry's writes an authority signs, by action: the function and its argument
# types. A test checks these against the compiled ABI.
REGISTRY_FUNCTIONS: dict[str, tuple[str, list[str]]] = {
    "register": ("registerParty", ["address", "uint64", "bytes32"]),
    "set_roles": ("setRoles", ["address", "uint64"]),
    "suspend": ("suspendParty", ["address"]),
    "reinstate": ("reinstateParty", ["address"]),
    "revoke": ("revokeParty", ["address"]),
}


def registry_calldata(action: str, party: str, roles: int = 0, identifiers_hash: bytes = b"") -> bytes:
    """The calldata of the registry write `action` (one of REGISTRY_FUNCTIONS)."""
    name, types = REGISTRY_FUNCTIONS[action]
    args: list[object] = [to_checksum_address(party), roles, identifiers_hash][: len(types)]
    selector = keccak(text=f"{name}({','.join(types)})")[:4]
    return selector + abi_encode(types, args)


# RecognitionRegistry's writes an authority signs, by action: the function and its argument
# types. A test checks these against the compiled ABI.
RECOGNITION_FUNCTIONS: dict[str, tuple[str, list[str]]] = {
    "issue": ("issueCertificate", ["address", "bytes32", "uint64", "uint64"]),
    "suspend": ("suspendCertificate", ["address"]),
    "reinstate": ("reinstateCertificate", ["address"]),
    "revoke": ("revokeCertificate", ["address"]),
    "propose": ("proposeArrangement", ["bytes2", "uint64", "uint64"]),  # partner, effective from, controls
    "ratify": ("ratifyArrangement", ["uint256"]),
    "terminate": ("terminateArrangement", ["uint256", "uint64"]),
}


def recognition_calldata(action: str, *args: object) -> bytes:
    """The calldata of the recognition write `action` (one of RECOGNITION_FUNCTIONS), its
    arguments in the function's order: an address as hex text, a programme (bytes32) or a
    country (bytes2) as ASCII text, integers as int."""
    name, types = RECOGNITION_FUNCTIONS[action]
    if len(args) != len(types):
        raise TypeError(f"{name} takes {len(types)} arguments, not {len(args)}")
    values: list[object] = [
        to_checksum_address(str(a)) if t == "address" else a.encode("ascii") if isinstance(a, str) else a
        for t, a in zip(types, args, strict=True)
    ]
    selector = keccak(text=f"{name}({','.join(types)})")[:4]
    return selector + abi_encode(types, values)


# PartyRegistry.publishEndpoint: an authority publishes where its instance is reached and
# its keys. Its own gas: a URL of up to 256 bytes takes up to nine fresh storage slots.
ENDPOINT_FUNCTION = ("publishEndpoint", ["string", "bytes32", "bytes32", "address"])
ENDPOINT_CALL_GAS = 320_000


def endpoint_calldata(url: str, signing_key: bytes, encryption_key: bytes, relayer: str) -> bytes:
    """The calldata of publishEndpoint(url, signingKey, encryptionKey, relayer): keys as
    their 32 raw bytes (an encryption key of zeros when the instance has none)."""
    name, types = ENDPOINT_FUNCTION
    selector = keccak(text=f"{name}({','.join(types)})")[:4]
    return selector + abi_encode(types, [url, signing_key, encryption_key, to_checksum_address(relayer)])


@dataclass(frozen=True)
class ForwardRequest:
    sender: str  # the authority
    to: str  # the registry
    gas: int
    nonce: int
    deadline: int
    data: bytes

    def typed_data(self, chain_id: int, forwarder: str) -> dict[str, Any]:
        return {
            "types": {"EIP712Domain": DOMAIN_TYPE, "ForwardRequest": FORWARD_REQUEST_TYPE},
            "primaryType": "ForwardRequest",
            "domain": {
                "name": "LedgerForwarder",
                "version": "1",
                "chainId": chain_id,
                "verifyingContract": to_checksum_address(forwarder),
            },
            "message": {
                "from": to_checksum_address(self.sender),
                "to": to_checksum_address(self.to),
                "value": 0,
                "gas": self.gas,
                "nonce": self.nonce,
                "deadline": self.deadline,
                "data": self.data,
            },
        }

    def sign(self, chain_id: int, forwarder: str, private_key: bytes | str) -> bytes:
        signable = encode_typed_data(full_message=self.typed_data(chain_id, forwarder))
        return bytes(Account.sign_message(signable, private_key).signature)

    def signer(self, chain_id: int, forwarder: str, signature: bytes) -> str:
        """The signer as the forwarder's ECDSA.recover finds it; SignatureError for a
        signature it would refuse (not 65 bytes, v not 27/28, high s, no key)."""
        signable = encode_typed_data(full_message=self.typed_data(chain_id, forwarder))
        digest = keccak(b"\x19" + signable.version + signable.header + signable.body)
        return fast_recover(digest, signature)
