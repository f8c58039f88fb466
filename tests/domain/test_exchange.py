"""Records as instances exchange them: what one serves, the other reads back exactly, and
an answer out of shape is refused naming the member before any check sees it."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from eth_account import Account
from eth_utils.crypto import keccak

from ledger_api.domain.exchange import ServedRecord, from_json, to_json
from ledger_api.domain.records import ZERO_ADDRESS, Record, RecordKind

PARTY = Account.from_key(keccak(text="exchange party")).address
BATCH = ServedRecord(
    id="0x" + "33" * 32,
    ucr="6NL123456789-EXCHANGE-1",
    record=Record(
        consignment=bytes.fromhex("11" * 32),
        kind=RecordKind.HANDOVER,
        payload_hash=keccak(b'{"a":1}'),
        previous=bytes.fromhex("44" * 32),
        party=PARTY,
        counterparty=ZERO_ADDRESS,
        nonce=2**255,
        deadline=1_900_000_000,
        route=(),
    ),
    signature=bytes(range(65)),
    payload='{"a":1,"name":"Ōsaka"}'.encode(),
    mode="batch",
    batch_root=bytes.fromhex("55" * 32),
    proof=(bytes.fromhex("66" * 32), bytes.fromhex("77" * 32)),
)


def test_a_served_record_reads_back_as_it_was_served():
    assert from_json(to_json(BATCH)) == BATCH


def _changed(path: list[Any], value: Any) -> dict[str, Any]:
    served = copy.deepcopy(to_json(BATCH))
    target = served
    for step in path[:-1]:
        target = target[step]
    target[path[-1]] = value
    return served


@pytest.mark.parametrize(
    ("path", "value", "member"),
    [
        (["record", "kind"], "BRIBE", "kind"),
        (["record", "party"], PARTY.lower(), "party"),
        (["record", "nonce"], str(2**256), "nonce"),
        (["record", "nonce"], -1, "nonce"),
        (["record", "route"], ["nl"], "route"),
        (["record", "payloadHash"], "0x12", "payloadHash"),
        (["signature"], "0x00", "signature"),
        (["mode"], "both", "mode"),
        (["proof"], None, "proof"),
        (["proof"], ["0x" + "00" * 32] * 65, "proof"),
        (["payload"], {"a": 1}, "payload"),
    ],
)
def test_a_member_out_of_shape_is_named(path, value, member):
    with pytest.raises(ValueError, match=member):
        from_json(_changed(path, value))
