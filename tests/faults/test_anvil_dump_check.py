"""The node-kill test discards a run only when anvil's state file holds transactions of
ours in its state but in no block. The check must see exactly that: a check that always
found some would discard every run and prove nothing; one that never did would let
anvil's corrupt dumps fail the suite at random. A state file shaped as anvil 1.7.1 writes
it, with only the fields the check reads."""

from __future__ import annotations

import json
from pathlib import Path

from support.faults import transactions_in_state_but_in_no_block

OURS, OTHER = "0xa0Ee7A142d267C1f36714E4a8F75612F20a79720", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def _state(tmp_path: Path, nonce: int, mined: list[tuple[str, str]], receipts: list[tuple[str, str]]) -> Path:
    """`mined`: (tx hash, sender) in blocks; `receipts`: (tx hash, sender) in the
    transaction list, which may run ahead of the blocks as the state does."""
    data = {
        "accounts": {OURS.lower(): {"nonce": nonce}, OTHER.lower(): {"nonce": 7}},
        "blocks": [{"transactions": [{"transaction": {"hash": h}} for h, _ in mined]}],
        "transactions": [{"info": {"transaction_hash": h, "from": sender.lower()}} for h, sender in receipts],
    }
    path = tmp_path / "state.json"
    path.write_text(json.dumps(data))
    return path


def test_a_consistent_dump_holds_nothing_outside_its_blocks(tmp_path: Path):
    txs = [("0x01", OURS), ("0x02", OTHER), ("0x03", OURS)]
    assert transactions_in_state_but_in_no_block(_state(tmp_path, 2, txs, txs), OURS) == 0


def test_a_dump_whose_state_ran_ahead_of_its_blocks_is_caught_for_our_sender_only(tmp_path: Path):
    mined = [("0x01", OURS), ("0x02", OTHER)]
    receipts = [*mined, ("0x03", OURS)]  # its receipt written, its block not
    path = _state(tmp_path, 3, mined, receipts)  # our nonce counts 0x03 and one more with no trace at all
    assert transactions_in_state_but_in_no_block(path, OURS) == 2
    assert transactions_in_state_but_in_no_block(path, OURS.lower()) == 2
