"""The relayer packs single records waiting together into one `writeMany` transaction
(#17): each record is still checked on chain as `write` checks it, a bad one is rejected
alone and fails with its own reason while the others land, and a lone record still goes
as its own `write`."""

from __future__ import annotations

import json

from eth_account import Account
from eth_utils.crypto import keccak
from sqlalchemy import select
from support.submissions import register_exporter, signed_declaration, step_until_settled

from ledger_api.store.tables import OutboxRow, RecordRow

GOOD = Account.from_key(keccak(text="pack test exporter, active"))
SUSPENDED = Account.from_key(keccak(text="pack test exporter, suspended after acceptance"))


def test_records_waiting_together_go_in_one_transaction_and_a_bad_one_fails_alone(stepped_runtime):
    rt, contracts = stepped_runtime(confirmations=1)
    w3 = contracts.w3
    for account in (GOOD, SUSPENDED):
        register_exporter(contracts, rt.manifest, account)
    rt.indexer.step()
    domain = contracts.ledger_domain
    good = [rt.submissions.submit(signed_declaration(domain, GOOD, f"6NL123456789-PACK-G{n}", n)) for n in range(3)]
    bad = [rt.submissions.submit(signed_declaration(domain, SUSPENDED, f"6NL123456789-PACK-S{n}", n)) for n in range(2)]
    relayer = rt.relayer.account.address
    sent_before = w3.eth.get_transaction_count(relayer)
    # Accepted while active, suspended after the relayer's preflight passed them and sent
    # the pack, in the block that mines it (ahead of it, for its higher fee): the contract
    # refuses them.
    w3.provider.make_request("evm_setAutomine", [False])  # type: ignore[arg-type]
    rt.relayer.step()
    authority = rt.manifest.authorities[0]["address"]
    suspension = contracts.registry.functions.suspendParty(SUSPENDED.address).transact(
        {"from": authority, "gasPrice": 1000 * 10**9}
    )
    w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    w3.provider.make_request("evm_setAutomine", [True])  # type: ignore[arg-type]
    assert w3.eth.get_transaction_receipt(suspension)["status"] == 1

    ids = [a.record_id for a in good + bad]

    def head(row: RecordRow) -> str:
        return (
            "0x" + bytes(contracts.ledger.functions.consignmentOf(bytes.fromhex(row.consignment[2:])).call()[0]).hex()
        )

    rows = step_until_settled(rt, ids)

    assert w3.eth.get_transaction_count(relayer) == sent_before + 1  # one transaction for five records
    with rt.store.session() as session:
        pack = session.scalars(select(OutboxRow).where(OutboxRow.action == "pack")).one()
        members = session.scalars(select(OutboxRow).where(OutboxRow.ref.in_(ids))).all()
    assert pack.payload is not None and json.loads(pack.payload) == ids  # in the order accepted
    assert {m.status for m in members} == {"packed"}
    assert [rows[a.record_id].status for a in good] == ["included"] * 3
    assert all(head(rows[a.record_id]) == a.record_id for a in good)
    # The first for its party's suspension; the second, built on its nonce, for that nonce.
    assert "LedgerPartyNotActive" in (rows[bad[0].record_id].error or "")
    assert "InvalidAccountNonce" in (rows[bad[1].record_id].error or "")
    for a in bad:
        assert rows[a.record_id].status == "failed"
        assert head(rows[a.record_id]) == "0x" + "00" * 32  # its consignment never started


def test_a_lone_record_goes_as_its_own_write(stepped_runtime):
    rt, contracts = stepped_runtime(confirmations=1)
    register_exporter(contracts, rt.manifest, GOOD)
    rt.indexer.step()
    accepted = rt.submissions.submit(signed_declaration(contracts.ledger_domain, GOOD, "6NL123456789-LONE-1", 0))
    rows = step_until_settled(rt, [accepted.record_id])
    assert rows[accepted.record_id].status == "included"
    with rt.store.session() as session:
        actions = session.scalars(select(OutboxRow.action).where(OutboxRow.ref == accepted.record_id)).all()
        assert session.scalars(select(OutboxRow).where(OutboxRow.action == "pack")).first() is None
    assert actions == ["write"]


def test_a_pack_is_signed_with_the_calldata_its_preflight_encoded_not_encoded_again(stepped_runtime, monkeypatch):
    """The preflight's `eth_call` and the signed transaction carry the same calldata: the
    relayer encodes a pack once per step (encoding it again for signing was a sixth of the
    worker's time under a stream, docs/benchmarks.md), and the pack still lands whole."""
    rt, contracts = stepped_runtime(confirmations=1)
    register_exporter(contracts, rt.manifest, GOOD)
    rt.indexer.step()
    domain = contracts.ledger_domain
    ids = [
        rt.submissions.submit(signed_declaration(domain, GOOD, f"6NL123456789-ONCE-{n}", n)).record_id for n in range(3)
    ]
    encoded: list[list[str]] = []
    encode = rt.relayer._write_many_call

    def counted(packed):  # type: ignore[no-untyped-def]
        encoded.append([r.id for r in packed])
        return encode(packed)

    monkeypatch.setattr(rt.relayer, "_write_many_call", counted)
    rt.relayer.step()
    assert encoded == [ids], f"the pack was encoded {len(encoded)} times in one step"
    rows = step_until_settled(rt, ids)
    assert [rows[i].status for i in ids] == ["included"] * 3
