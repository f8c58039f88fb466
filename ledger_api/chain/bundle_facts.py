"""The chain's side of an evidence bundle, read over raw JSON-RPC (chain/rpc.py) for
`ledger verify-bundle --rpc`: what domain/bundle_check.py asks (`Questions`), answered as
`ChainFacts`. Only standard eth_* calls, so any node serves: eth_chainId, eth_blockNumber,
eth_getBlockByNumber, eth_getCode, eth_call and eth_getLogs.

Views are called as of the bundle's block where the answer could have changed since
(registration, recognition, the consignment's head); stateAt carries its own block. Fixed
signatures rather than the build's ABIs: a verifier's machine has no build (a test holds
them to the build's)."""

from __future__ import annotations

from typing import Any

from eth_abi.abi import decode as abi_decode
from eth_abi.abi import encode as abi_encode
from eth_utils.address import is_address, to_checksum_address
from eth_utils.crypto import keccak

from ledger_api.chain.endpoints import ENDPOINT_PUBLISHED
from ledger_api.chain.rpc import Rpc, RpcError
from ledger_api.domain.bundle_check import Anchor, ChainFacts, LedgerOnChain, LoggedRecord, Questions
from ledger_api.errors import ChainError

RECORD_WRITTEN = "RecordWritten(bytes32,bytes32,address,uint8,bytes32,bytes32,address,uint256)"
ROOT_ANCHORED = "RootAnchored(bytes32,address,uint256)"
EIP712_DOMAIN = "eip712Domain()"
REGISTRY = "registry()"
ANCHORED_AT = "anchoredAt(bytes32)"
CHECK_INCLUSION = "checkInclusion(bytes32,bytes32,bytes32[])"
PARTY_OF = "partyOf(address)"
STATE_AT = "stateAt(address,uint256)"
RECOGNITION_OF = "recognitionOf(address,bytes2,uint64)"
CONSIGNMENT_OF = "consignmentOf(bytes32)"
VIEWS = (EIP712_DOMAIN, REGISTRY, ANCHORED_AT, CHECK_INCLUSION, PARTY_OF, STATE_AT, RECOGNITION_OF, CONSIGNMENT_OF)
EVENTS = (RECORD_WRITTEN, ROOT_ANCHORED, ENDPOINT_PUBLISHED)


def _data(signature: str, types: list[str] | None = None, args: list[Any] | None = None) -> bytes:
    return keccak(text=signature)[:4] + (abi_encode(types, args) if types and args is not None else b"")


def _eth_call(to: str, data: bytes, block: str) -> tuple[str, list[Any]]:
    return "eth_call", [{"to": to, "data": "0x" + data.hex()}, block]


def _bytes(result: Any) -> bytes | None:
    """An eth_call's result from a batch: its bytes, or None when it reverted or failed."""
    if isinstance(result, RpcError) or not isinstance(result, str):
        return None
    return bytes.fromhex(result[2:])


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


def _topic_address(address: str) -> str:
    return "0x" + bytes(12).hex() + address[2:].lower()


def read_chain_facts(
    rpc: Rpc,
    questions: Questions,
    *,
    ledger: str,
    pinned: bool,
    contracts: dict[str, str],
    consignment: bytes,
    as_of_block: int,
) -> ChainFacts:
    """What the node behind `rpc` says about everything `questions` asks, the ledger being
    the contract at `ledger` (`pinned` when the verifier named it). Raises NodeUnavailable
    when the node cannot be reached and RpcError when it refuses a call every node answers."""
    chain_id = int(rpc.call("eth_chainId"), 16)
    head = int(rpc.call("eth_blockNumber"), 16)
    ledger = to_checksum_address(ledger)
    tag = hex(as_of_block) if as_of_block <= head else "latest"
    on_chain = _ledger(rpc, ledger, pinned, contracts, tag)
    if not on_chain.has_code:
        return ChainFacts(chain_id=chain_id, head_block=head, ledger=on_chain)
    block = rpc.call("eth_getBlockByNumber", hex(as_of_block), False) if as_of_block <= head else None
    return ChainFacts(
        chain_id=chain_id,
        head_block=head,
        ledger=on_chain,
        records=_records(rpc, ledger, questions.record_ids),
        anchors=_anchors(rpc, ledger, questions.roots),
        proofs=_proofs(rpc, ledger, questions.proofs),
        relayers=_relayers(rpc, on_chain.registry),
        parties=_parties(rpc, on_chain.registry, questions.parties, tag),
        states=_states(rpc, on_chain.registry, questions.states, head),
        recognition=_recognition(rpc, contracts.get("RecognitionRegistry"), questions.recognition, tag),
        as_of_block_hash=None if not block else str(block["hash"]),
        consignment_head=_consignment_head(rpc, ledger, consignment, tag),
    )


def _ledger(rpc: Rpc, ledger: str, pinned: bool, contracts: dict[str, str], tag: str) -> LedgerOnChain:
    code = rpc.call("eth_getCode", ledger, "latest")
    if not code or code == "0x":
        return LedgerOnChain(address=ledger, pinned=pinned, has_code=False)
    recognition = contracts.get("RecognitionRegistry")
    calls = [_eth_call(ledger, _data(EIP712_DOMAIN), tag), _eth_call(ledger, _data(REGISTRY), tag)]
    if isinstance(recognition, str) and is_address(recognition):
        calls.append(_eth_call(to_checksum_address(recognition), _data(REGISTRY), tag))
    results = [_bytes(r) for r in rpc.batch(calls)]
    facts: dict[str, Any] = {}
    if results[0]:
        try:
            _, name, version, domain_chain, contract, _, _ = abi_decode(
                ["bytes1", "string", "string", "uint256", "address", "bytes32", "uint256[]"], results[0]
            )
            facts = {
                "domain_name": str(name),
                "domain_version": str(version),
                "domain_chain_id": int(domain_chain),
                "domain_contract": to_checksum_address(contract),
            }
        except Exception:  # eth-abi raises several types for bytes that are not this tuple
            facts = {}
    if results[1] is not None and len(results[1]) == 32:
        facts["registry"] = to_checksum_address(abi_decode(["address"], results[1])[0])
    if len(results) > 2 and results[2] is not None and len(results[2]) == 32:
        facts["recognition_registry"] = to_checksum_address(abi_decode(["address"], results[2])[0])
    return LedgerOnChain(address=ledger, pinned=pinned, has_code=True, **facts)


def _records(rpc: Rpc, ledger: str, record_ids: tuple[str, ...]) -> dict[str, LoggedRecord]:
    if not record_ids:
        return {}
    logs = rpc.call(
        "eth_getLogs",
        {
            "fromBlock": "0x0",
            "toBlock": "latest",
            "address": ledger,
            "topics": ["0x" + keccak(text=RECORD_WRITTEN).hex(), None, list(record_ids)],
        },
    )
    found: dict[str, LoggedRecord] = {}
    for entry in logs or []:
        kind, payload_hash, previous, counterparty, nonce = abi_decode(
            ["uint8", "bytes32", "bytes32", "address", "uint256"], bytes.fromhex(entry["data"][2:])
        )
        found[str(entry["topics"][2]).lower()] = LoggedRecord(
            consignment=str(entry["topics"][1]).lower(),
            party=to_checksum_address("0x" + str(entry["topics"][3])[-40:]),
            kind=int(kind),
            payload_hash=_hex(payload_hash),
            previous=_hex(previous),
            counterparty=to_checksum_address(counterparty),
            nonce=int(nonce),
            block_number=int(entry["blockNumber"], 16),
            block_hash=str(entry["blockHash"]).lower(),
        )
    return found


def _anchors(rpc: Rpc, ledger: str, roots: tuple[str, ...]) -> dict[str, Anchor]:
    if not roots:
        return {}
    logs = rpc.call(
        "eth_getLogs",
        {
            "fromBlock": "0x0",
            "toBlock": "latest",
            "address": ledger,
            "topics": ["0x" + keccak(text=ROOT_ANCHORED).hex(), list(roots)],
        },
    )
    events = {
        str(entry["topics"][1]).lower(): (
            to_checksum_address("0x" + str(entry["topics"][2])[-40:]),
            str(entry["blockHash"]).lower(),
        )
        for entry in logs or []
    }
    results = rpc.batch(
        [_eth_call(ledger, _data(ANCHORED_AT, ["bytes32"], [bytes.fromhex(r[2:])]), "latest") for r in roots]
    )
    anchors: dict[str, Anchor] = {}
    for root, result in zip(roots, results, strict=True):
        raw = _bytes(result)
        if raw is None:
            raise ChainError(f"anchoredAt({root}) failed on {ledger}: {result}")
        anchored_by, block_hash = events.get(root, (None, None))
        anchors[root] = Anchor(int.from_bytes(raw, "big") if raw else 0, anchored_by, block_hash)
    return anchors


def _proofs(rpc: Rpc, ledger: str, proofs: tuple[tuple[str, str, tuple[str, ...]], ...]) -> dict[tuple[str, str], bool]:
    calls = []
    for root, record_id, proof in proofs:
        args = [bytes.fromhex(root[2:]), bytes.fromhex(record_id[2:]), [bytes.fromhex(p[2:]) for p in proof]]
        calls.append(_eth_call(ledger, _data(CHECK_INCLUSION, ["bytes32", "bytes32", "bytes32[]"], args), "latest"))
    # A revert (not anchored, a proof that does not lead to the root) is the answer "no".
    return {(root, rid): _bytes(r) is not None for (root, rid, _), r in zip(proofs, rpc.batch(calls), strict=True)}


def _relayers(rpc: Rpc, registry: str | None) -> dict[str, int]:
    """Every account an authority published as its instance's relayer, with the first block
    it did: only authorities may publish (PartyRegistry.publishEndpoint)."""
    if registry is None:
        return {}
    logs = rpc.call(
        "eth_getLogs",
        {
            "fromBlock": "0x0",
            "toBlock": "latest",
            "address": registry,
            "topics": ["0x" + keccak(text=ENDPOINT_PUBLISHED).hex()],
        },
    )
    relayers: dict[str, int] = {}
    for entry in logs or []:
        _, _, _, relayer = abi_decode(["string", "bytes32", "bytes32", "address"], bytes.fromhex(entry["data"][2:]))
        block = int(entry["blockNumber"], 16)
        key = str(relayer).lower()
        relayers[key] = min(block, relayers.get(key, block))
    return relayers


def _parties(rpc: Rpc, registry: str | None, parties: tuple[str, ...], tag: str) -> dict[str, tuple[str, int] | None]:
    if registry is None or not parties:
        return {}
    calls = [_eth_call(registry, _data(PARTY_OF, ["address"], [to_checksum_address(p)]), tag) for p in parties]
    found: dict[str, tuple[str, int] | None] = {}
    for party, result in zip(parties, rpc.batch(calls), strict=True):
        raw = _bytes(result)
        if raw is None:
            raise ChainError(f"partyOf({party}) failed on {registry}: {result}")
        country, _, registered_at, _ = abi_decode(["(bytes2,bool,uint48,bytes32)"], raw)[0]
        found[party] = None if registered_at == 0 else (bytes(country).decode("ascii", "replace"), int(registered_at))
    return found


def _states(
    rpc: Rpc, registry: str | None, states: tuple[tuple[str, int], ...], head: int
) -> dict[tuple[str, int], tuple[int, int]]:
    # A block past the node's head has no answer (RegistryFutureLookup): the as-of check names it.
    asked = [(party, block) for party, block in states if block <= head]
    if registry is None or not asked:
        return {}
    calls = [
        _eth_call(registry, _data(STATE_AT, ["address", "uint256"], [to_checksum_address(p), b]), "latest")
        for p, b in asked
    ]
    found: dict[tuple[str, int], tuple[int, int]] = {}
    for key, result in zip(asked, rpc.batch(calls), strict=True):
        raw = _bytes(result)
        if raw is None:
            raise ChainError(f"stateAt{key} failed on {registry}: {result}")
        roles, status = abi_decode(["uint64", "uint8"], raw)
        found[key] = (int(roles), int(status))
    return found


def _recognition(
    rpc: Rpc, recognition: str | None, asked: tuple[str, str, int] | None, tag: str
) -> tuple[int, int] | None:
    if asked is None or not isinstance(recognition, str) or not is_address(recognition):
        return None
    operator, country, when = asked
    args = [to_checksum_address(operator), country.encode("ascii"), when]
    data = _data(RECOGNITION_OF, ["address", "bytes2", "uint64"], args)
    raw = _bytes(rpc.batch([_eth_call(to_checksum_address(recognition), data, tag)])[0])
    if raw is None or len(raw) != 64:
        return None
    reason, mra_id = abi_decode(["uint8", "uint256"], raw)
    return int(reason), int(mra_id)


def _consignment_head(rpc: Rpc, ledger: str, consignment: bytes, tag: str) -> str | None:
    raw = _bytes(rpc.batch([_eth_call(ledger, _data(CONSIGNMENT_OF, ["bytes32"], [consignment]), tag)])[0])
    if raw is None or len(raw) < 32:
        return None
    return _hex(raw[:32])
