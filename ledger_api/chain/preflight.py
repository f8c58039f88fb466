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
signature by someone else, a malformed record.

One `eth_call` per transaction, all in one JSON-RPC batch: a pack is called as the
`writeMany` it is, which answers how many of its records it would write, but not which
(its events would say, and a call returns none). So where a pack would leave records
out, or a lone write reverts for a reason that is no verdict, the standing of the
parties concerned is read from the registry instead, one call per party, in a second
batch: a party not active fails every one of its records of the round, whichever its
nonce, with the reason the contract gives (`LedgerPartyNotActive`). Inside a pack, the
other reasons (an expired deadline, a role withdrawn) are left to the contract, which
rejects such a record alone for a few thousand gas.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from eth_abi.abi import decode as abi_decode

from ledger_api.chain.abi import ContractAbi, DecodedError
from ledger_api.chain.rpc import Rpc, RpcError

ACTIVE = 1  # IPartyRegistry.Status.Active
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
    rpc: Rpc, abi: ContractAbi, sender: str, addresses: dict[str, str], txs: Sequence[Transaction]
) -> dict[str, str]:
    """The records of `txs` whose write would revert for good, with the reason."""
    if not txs:
        return {}

    def calls(to: str, datas: Sequence[bytes]) -> list[object]:
        return rpc.batch([("eth_call", [{"from": sender, "to": to, "data": "0x" + d.hex()}, "latest"]) for d in datas])

    failed: dict[str, str] = {}
    inactive: dict[str, str] = {}  # party -> reason
    unsure: set[str] = set()  # parties whose standing the calls did not tell
    for tx, answer in zip(txs, calls(addresses["ConsignmentLedger"], [tx.data for tx in txs]), strict=True):
        if not tx.pack:
            if isinstance(answer, RpcError):
                (rid, party) = tx.records[0]
                decoded = decode_revert(abi, answer)
                if decoded is not None and decoded.name in FINAL:
                    failed[rid] = str(decoded)
                    if decoded.name == "LedgerPartyNotActive":
                        inactive[party] = str(decoded)
                else:
                    unsure.add(party)
        elif isinstance(answer, str) and int(answer, 16) < len(tx.records):
            unsure.update(party for _, party in tx.records)
        # A pack whose call reverts as a whole (it cannot: each record runs in its own call)
        # or that the node would not run is sent: the contract decides.
    parties = sorted(unsure - inactive.keys())
    registry = addresses["PartyRegistry"]
    states = calls(registry, [abi.encode_call("PartyRegistry", "stateOf", party) for party in parties])
    for party, state in zip(parties, states, strict=True):
        if isinstance(state, str) and abi_decode(["uint64", "uint8"], bytes.fromhex(state[2:]))[1] != ACTIVE:
            # What the contract says of each of its records once the nonce is its turn.
            inactive[party] = str(DecodedError("LedgerPartyNotActive", {"party": party.lower()}))
    for tx in txs:
        for rid, party in tx.records:
            if party in inactive and rid not in failed:
                failed[rid] = inactive[party]
    return failed
