"""The instances' endpoints on chain, read and written over raw JSON-RPC (chain/rpc.py):

- what the registry says an authority's endpoint is now (`endpointOf`), and its country;
- a publication sent from an account the node holds unlocked: a development chain's
  authorities, so that an instance there publishes its authority's endpoint at start
  (what it publishes: domain/endpoints.py development_publication);
- every signing key an authority ever published (its EndpointPublished logs), for
  `ledger verify-receipt --rpc`, which must verify a receipt signed before a rotation;
- who sent a transaction (eth_getTransactionByHash): the relayer that wrote a record,
  whose instance is asked first for its payload.

Fixed signatures rather than the build's ABIs: a verifier's machine has no build."""

from __future__ import annotations

import time
from dataclasses import dataclass

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from ledger_api.chain.rpc import Rpc
from ledger_api.domain.endpoints import Endpoint
from ledger_api.errors import ChainError, TransactionFailed

ENDPOINT_PUBLISHED = "EndpointPublished(address,bytes2,string,bytes32,bytes32,address)"
ENDPOINT_OF = "endpointOf(address)"
PARTY_OF = "partyOf(address)"
REGISTRY = "registry()"
PUBLISH_GAS = 400_000


def _selector(signature: str) -> bytes:
    return keccak(text=signature)[:4]


def _call(rpc: Rpc, to: str, data: bytes) -> bytes:
    result = rpc.call("eth_call", {"to": to, "data": "0x" + data.hex()}, "latest")
    return bytes.fromhex(str(result)[2:])


@dataclass(frozen=True)
class PartyOnChain:
    country: str
    is_authority: bool


def party_on_chain(rpc: Rpc, registry: str, address: str) -> PartyOnChain | None:
    """The registry's record of `address` now, or None when it was never registered."""
    raw = _call(rpc, registry, _selector(PARTY_OF) + abi_encode(["address"], [to_checksum_address(address)]))
    country, is_authority, registered_at, _ = abi_decode(["(bytes2,bool,uint48,bytes32)"], raw)[0]
    if registered_at == 0:
        return None
    return PartyOnChain(bytes(country).decode("ascii", "replace"), bool(is_authority))


def endpoint_on_chain(rpc: Rpc, registry: str, authority: str, country: str) -> Endpoint | None:
    """The endpoint the registry holds for `authority` now, or None when it published none."""
    raw = _call(rpc, registry, _selector(ENDPOINT_OF) + abi_encode(["address"], [to_checksum_address(authority)]))
    url, signing, encryption, relayer, published_at = abi_decode(["(string,bytes32,bytes32,address,uint48)"], raw)[0]
    if published_at == 0:
        return None
    return Endpoint(
        authority=to_checksum_address(authority),
        country=country,
        url=str(url),
        signing_key="0x" + bytes(signing).hex(),
        encryption_key="0x" + bytes(encryption).hex(),
        relayer=to_checksum_address(relayer),
        block_number=int(published_at),
    )


def publish_from_unlocked(
    rpc: Rpc, registry: str, authority: str, calldata: bytes, *, timeout: float = 60.0, poll: float = 0.1
) -> str:
    """Sends the publication `calldata` (domain/forwarding.py endpoint_calldata) from
    `authority`, an account the node holds unlocked (anvil's), and waits for it to be
    mined; its transaction hash.
    TransactionFailed when it reverts or is not mined in time."""
    tx_hash = str(
        rpc.call(
            "eth_sendTransaction",
            {
                "from": to_checksum_address(authority),
                "to": registry,
                "data": "0x" + calldata.hex(),
                "gas": hex(PUBLISH_GAS),
            },
        )
    )
    deadline = time.monotonic() + timeout
    while True:
        receipt = rpc.call("eth_getTransactionReceipt", tx_hash)
        if receipt is not None:
            if int(receipt["status"], 16) != 1:
                raise TransactionFailed(f"publishEndpoint from {authority} reverted (transaction {tx_hash})")
            return tx_hash
        if time.monotonic() > deadline:
            raise TransactionFailed(f"publishEndpoint from {authority} was not mined in {timeout:.0f} s")
        time.sleep(poll)


def registry_of(rpc: Rpc, ledger: str) -> str:
    """The PartyRegistry a ConsignmentLedger checks its records against."""
    raw = _call(rpc, to_checksum_address(ledger), _selector(REGISTRY))
    if len(raw) != 32:
        raise ChainError(f"{ledger} is not a ConsignmentLedger: registry() answered {len(raw)} bytes")
    return str(to_checksum_address(abi_decode(["address"], raw)[0]))


def published_endpoints(rpc: Rpc, registry: str, authority: str) -> list[Endpoint]:
    """Every endpoint `authority` published on the registry, oldest first: each signing key
    it ever used, so that what it signed before a rotation still verifies."""
    topic_authority = "0x" + bytes(12).hex() + to_checksum_address(authority)[2:].lower()
    logs = rpc.call(
        "eth_getLogs",
        {
            "fromBlock": "0x0",
            "toBlock": "latest",
            "address": to_checksum_address(registry),
            "topics": ["0x" + keccak(text=ENDPOINT_PUBLISHED).hex(), topic_authority],
        },
    )
    endpoints = []
    for entry in logs or []:
        country = bytes.fromhex(entry["topics"][2][2:])[:2].decode("ascii", "replace")
        url, signing, encryption, relayer = abi_decode(
            ["string", "bytes32", "bytes32", "address"], bytes.fromhex(entry["data"][2:])
        )
        endpoints.append(
            Endpoint(
                authority=to_checksum_address(authority),
                country=country,
                url=str(url),
                signing_key="0x" + bytes(signing).hex(),
                encryption_key="0x" + bytes(encryption).hex(),
                relayer=to_checksum_address(relayer),
                block_number=int(entry["blockNumber"], 16),
            )
        )
    return endpoints


def transaction_sender(rpc: Rpc, tx_hash: str) -> str | None:
    """The account that sent transaction `tx_hash`, or None when the node does not know it."""
    tx = rpc.call("eth_getTransactionByHash", tx_hash)
    return None if not tx else str(to_checksum_address(tx["from"]))
