"""An evidence bundle's anchors, confirmed or contradicted by a chain node: the chain id;
for a single-mode record, its RecordWritten event at the block the bundle names and that
block's hash; for a batch-mode record, the block its Merkle root was anchored at
(`anchoredAt`) and that block's hash. `ledger verify-bundle --rpc` asks it of a node that
the verifier chose, so that a bundle need not be taken on the service's word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import requests
from eth_utils.address import is_address, to_checksum_address
from eth_utils.crypto import keccak
from web3 import HTTPProvider, Web3
from web3.exceptions import BlockNotFound, Web3Exception

from ledger_api.errors import LedgerError, NodeUnavailable

# The event the ledger emits for a single-mode record, and the view that tells the block a
# batch root was anchored at (contracts/interfaces/IConsignmentLedger.sol).
RECORD_WRITTEN = "RecordWritten(bytes32,bytes32,address,uint8,bytes32,bytes32,address,uint256)"
ANCHORED_AT = "anchoredAt(bytes32)"

_HEX32 = re.compile(r"0x[0-9a-fA-F]{64}")


class MalformedBundle(LedgerError):
    """The bundle names no ledger to ask, or an id or root that is not 32 bytes."""


@dataclass(frozen=True)
class AnchorCheck:
    """One anchor: `what` it is (the chain, or a record), whether the chain holds it as the
    bundle says, and what the chain says."""

    what: str
    ok: bool
    detail: str


def confirm_anchors(bundle: dict[str, Any], rpc_url: str) -> list[AnchorCheck]:
    """Every anchor `bundle` claims, confirmed or contradicted by the node at `rpc_url`.

    Raises MalformedBundle for a bundle that names no ledger or a malformed id or root,
    KeyError, ValueError or TypeError for a bundle missing members, and NodeUnavailable
    when the node cannot be reached or fails."""
    try:
        return _confirm(bundle, rpc_url)
    except (requests.RequestException, Web3Exception, OSError) as exc:
        raise NodeUnavailable(str(exc) or type(exc).__name__) from exc


def _hex32(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not _HEX32.fullmatch(value):
        raise MalformedBundle(f"the bundle's {what} is not 0x and 64 hex digits: {value!r}")
    return bytes.fromhex(value[2:])


def _confirm(bundle: dict[str, Any], rpc_url: str) -> list[AnchorCheck]:
    ledger = bundle.get("contracts", {}).get("ConsignmentLedger")
    if not isinstance(ledger, str) or not is_address(ledger):
        raise MalformedBundle(f"the bundle names no ConsignmentLedger address: {ledger!r}")
    ledger = to_checksum_address(ledger)
    w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
    checks: list[AnchorCheck] = []
    chain_id = int(w3.eth.chain_id)
    expected_chain = bundle["chain_id"]
    checks.append(
        AnchorCheck(
            "chain",
            chain_id == expected_chain,
            f"chain id {chain_id}" + ("" if chain_id == expected_chain else f", the bundle says {expected_chain}"),
        )
    )
    if chain_id != expected_chain:
        return checks  # another chain: its blocks and logs say nothing about this bundle
    topic0 = keccak(text=RECORD_WRITTEN)
    selector = keccak(text=ANCHORED_AT)[:4]
    hashes: dict[int, str] = {}

    def block_hash(number: int) -> str | None:
        if number not in hashes:
            try:
                hashes[number] = "0x" + bytes(w3.eth.get_block(number)["hash"]).hex()
            except BlockNotFound:
                return None
        return hashes[number]

    def same_block(number: int, claimed: Any) -> tuple[bool, str]:
        actual = block_hash(number)
        if actual is None:
            return False, f"the chain has no block {number}"
        if not isinstance(claimed, str) or actual.lower() != claimed.lower():
            return False, f"block {number} has hash {actual}, the bundle says {claimed}"
        return True, f"block {number} hash {actual}"

    for item in bundle["records"]:
        record_id = str(item["id"])
        what = f"record {record_id}"
        number = item.get("block_number")
        if number is None:
            checks.append(AnchorCheck(what, True, "not on chain as of the bundle's block: nothing to confirm"))
            continue
        number = int(number)
        if item["mode"] == "single":
            topics: list[Any] = [topic0, None, _hex32(record_id, "record id")]
            logs = w3.eth.get_logs({"address": ledger, "fromBlock": number, "toBlock": number, "topics": topics})
            if not logs:
                checks.append(AnchorCheck(what, False, f"no RecordWritten with this id at block {number}"))
                continue
            logged = "0x" + bytes(logs[0]["blockHash"]).hex()
            ok, detail = same_block(number, item.get("block_hash"))
            if ok and logged.lower() != str(item.get("block_hash")).lower():
                ok, detail = (
                    False,
                    f"the RecordWritten log is in block {logged}, the bundle says {item.get('block_hash')}",
                )
            checks.append(AnchorCheck(what, ok, f"RecordWritten at block {number}; {detail}"))
        elif item["mode"] == "batch":
            root = _hex32(item.get("batch_root"), f"batch root of {what}")
            claimed = item.get("root_anchored_block")
            raw = w3.eth.call({"to": ledger, "data": selector + root})
            anchored = int.from_bytes(bytes(raw), "big") if raw else 0
            if claimed is None or anchored != int(claimed):
                on_chain = f"anchored at block {anchored}" if anchored else "not anchored"
                checks.append(
                    AnchorCheck(what, False, f"root {item['batch_root']} is {on_chain}, the bundle says {claimed}")
                )
                continue
            ok, detail = same_block(number, item.get("block_hash"))
            checks.append(AnchorCheck(what, ok, f"root {item['batch_root']} anchored at block {anchored}; {detail}"))
        else:
            checks.append(AnchorCheck(what, False, f"unknown mode {item['mode']!r}: cannot be confirmed"))
    return checks
