"""The relayer's preflight (#14): every write and pack is run with `eth_call` against the
latest block right before the relayer signs it and, in the same step, sends it; a record
whose write would revert for good is failed with the contract's reason, and no gas is
spent on it.

This is also the signer's standing re-checked just before sending: a party suspended,
revoked or re-roled on chain after its record was accepted (the index may not show it
yet) makes the call revert with `LedgerPartyNotActive` or `LedgerMissingRole`, read from
the chain's latest block, not from the index.

"For good" matters: the calls run against the latest block, without the relayer's own
transactions still in flight (nor those signed earlier in the same step), so a record
that follows one of them reverts here over its nonce, the consignment's head or its
custodian, and would pass once they are mined. Such a revert is no verdict: the record is
sent and the contract decides, as before. Only reasons that no transaction ahead of the
record can cure fail it here (FINAL): the party's standing, an expired deadline, a
signature by someone else, a malformed record. A party found not active fails every one
of its records of the round, whichever its nonce.

One `eth_call` per transaction, all in one JSON-RPC batch: a pack is called as the
`writeMany` it is, which answers how many of its records it would write. Only a pack
that would leave some out has its records called one by one (one more batch), since
`writeMany` reports which in its events, which a call does not return.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ledger_api.chain.abi import ContractAbi, DecodedError
from ledger_api.chain.rpc import Rpc, RpcError

# Reverts of `write` that no transaction still ahead of the record can cure.
FINAL = frozenset(
    {
        "LedgerPartyNotActive",
        "LedgerMissingRole",
        "LedgerExpiredSignature",
        "LedgerInvalidSigner",
        "LedgerUnknownRecordKind",
        "LedgerEmptyConsignment",
        "LedgerEmptyPayloadHash",
        "LedgerInvalidRouteLength",
        "LedgerInvalidRouteCountry",
        "LedgerSameOriginAndDestination",
    }
)


@dataclass(frozen=True)
class Transaction:
    """A transaction about to be signed: a `write` of one record or a `writeMany` (a
    pack), its calldata, and the (id, party) of each record it carries."""

    data: bytes
    records: Sequence[tuple[str, str]]
    pack: bool


def decode_revert(abi: ContractAbi, error: RpcError) -> DecodedError | None:
    """The contract's custom error in a node's answer to a call that reverted."""
    data = error.data if isinstance(error.data, str) else None
    return abi.decode_error(bytes.fromhex(data[2:])) if data and data.startswith("0x") else None


def doomed(
    rpc: Rpc,
    abi: ContractAbi,
    sender: str,
    ledger: str,
    txs: Sequence[Transaction],
    write_call: Callable[[str], bytes],
) -> dict[str, str]:
    """The records of `txs` whose write would revert for good, with the reason;
    `write_call` gives a record's own `write` calldata by its id (asked only of the
    records of a pack that would leave some out)."""
    if not txs:
        return {}

    def calls(datas: Sequence[bytes]) -> list[object]:
        return rpc.batch(
            [("eth_call", [{"from": sender, "to": ledger, "data": "0x" + d.hex()}, "latest"]) for d in datas]
        )

    failed: dict[str, str] = {}
    inactive: dict[str, str] = {}  # party -> reason

    def judge(record: tuple[str, str], answer: object) -> None:
        if not isinstance(answer, RpcError):
            return
        decoded = decode_revert(abi, answer)
        if decoded is None or decoded.name not in FINAL:
            return
        failed[record[0]] = str(decoded)
        if decoded.name == "LedgerPartyNotActive":
            inactive[record[1]] = str(decoded)

    one_by_one: list[tuple[str, str]] = []
    for tx, answer in zip(txs, calls([tx.data for tx in txs]), strict=True):
        if not tx.pack:
            judge(tx.records[0], answer)
        elif isinstance(answer, str) and int(answer, 16) < len(tx.records):
            one_by_one.extend(tx.records)  # writeMany would skip some: which, only its events would say
        # A pack whose call reverts as a whole (it cannot: each record runs in its own call)
        # or that the node would not run is sent: the contract decides.
    for record, answer in zip(one_by_one, calls([write_call(rid) for rid, _ in one_by_one]), strict=True):
        judge(record, answer)
    for tx in txs:
        for rid, party in tx.records:
            if party in inactive and rid not in failed:
                failed[rid] = inactive[party]
    return failed
