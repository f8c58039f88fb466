"""The relayer calls each write and pack against the latest block before it signs it
(#14, gas drain): a record that would revert for good (its party revoked or suspended on
chain since it was accepted, before the index shows it) fails with the contract's reason
and the relayer sends nothing for it, while a record that reverts only because the one it
follows is still in flight is sent all the same. A pack costs one call, and one per party
when it would leave records out."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_utils.crypto import keccak
from sqlalchemy import select
from support.submissions import register_exporter, signed_declaration, step_until_settled

from ledger_api.store import outbox
from ledger_api.store.tables import OutboxRow

EXPORTER = Account.from_key(keccak(text="preflight test exporter, active"))
REVOKED = Account.from_key(keccak(text="preflight test exporter, revoked on chain after acceptance"))


def _relayer_nonce(rt) -> int:
    with rt.store.session() as session:
        return outbox.next_relayer_nonce(session, rt.relayer.account.address, lambda: 0)


def _count_eth_calls(rt, monkeypatch) -> list[int]:
    """How many eth_call each JSON-RPC batch of the relayer carried (batches without one left out)."""
    counts: list[int] = []
    batch = rt.relayer.rpc.batch

    def counting(calls: list[tuple[str, list[Any]]]) -> list[Any]:
        n = sum(1 for method, _ in calls if method == "eth_call")
        if n:
            counts.append(n)
        return batch(calls)

    monkeypatch.setattr(rt.relayer.rpc, "batch", counting)
    return counts


def _revoke(contracts, manifest, account) -> None:
    """Straight to the registry, bypassing the service; the test does not index it."""
    authority = manifest.authorities[0]["address"]
    contracts.w3.eth.wait_for_transaction_receipt(
        contracts.registry.functions.revokeParty(account.address).transact({"from": authority})
    )


def test_a_party_revoked_on_chain_after_acceptance_fails_with_the_reason_and_costs_no_transaction(stepped_runtime):
    rt, contracts = stepped_runtime(confirmations=1)
    w3 = contracts.w3
    register_exporter(contracts, rt.manifest, REVOKED)
    rt.indexer.step()
    _revoke(contracts, rt.manifest, REVOKED)  # not indexed: the service still sees it active
    accepted = rt.submissions.submit(signed_declaration(contracts.ledger_domain, REVOKED, "6NL123456789-PRE-R1"))
    relayer = rt.relayer.account.address
    sent_before, nonce_before = w3.eth.get_transaction_count(relayer), _relayer_nonce(rt)

    row = step_until_settled(rt, [accepted.record_id])[accepted.record_id]

    assert row.status == "failed"
    assert row.error == f"LedgerPartyNotActive(party={REVOKED.address.lower()})"
    assert row.tx_hash is None
    assert w3.eth.get_transaction_count(relayer) == sent_before  # not one transaction sent
    assert _relayer_nonce(rt) == nonce_before  # nor a nonce taken for it
    with rt.store.session() as session:
        (write,) = session.scalars(select(OutboxRow).where(OutboxRow.ref == accepted.record_id)).all()
    assert (write.status, write.error, write.raw_tx, write.relayer_nonce) == ("failed", row.error, None, None)


def test_a_pack_goes_without_the_records_of_a_party_revoked_since_acceptance(stepped_runtime, monkeypatch):
    rt, contracts = stepped_runtime(confirmations=1)
    w3 = contracts.w3
    for account in (EXPORTER, REVOKED):
        register_exporter(contracts, rt.manifest, account)
    rt.indexer.step()
    domain = contracts.ledger_domain
    good = [rt.submissions.submit(signed_declaration(domain, EXPORTER, f"6NL123456789-PRE-G{n}", n)) for n in range(3)]
    bad = [rt.submissions.submit(signed_declaration(domain, REVOKED, f"6NL123456789-PRE-B{n}", n)) for n in range(2)]
    _revoke(contracts, rt.manifest, REVOKED)
    relayer = rt.relayer.account.address
    sent_before = w3.eth.get_transaction_count(relayer)
    eth_calls = _count_eth_calls(rt, monkeypatch)

    rows = step_until_settled(rt, [a.record_id for a in good + bad])

    assert w3.eth.get_transaction_count(relayer) == sent_before + 1
    # The pack's call says two of five would be left out, not which: then the standing of
    # each of its two parties is read, one call each.
    assert eth_calls == [1, 2]
    with rt.store.session() as session:
        pack = session.scalars(select(OutboxRow).where(OutboxRow.action == "pack")).one()
        members = {r.ref: r for r in session.scalars(select(OutboxRow).where(OutboxRow.action == "write"))}
    assert pack.payload is not None
    assert pack.payload == '["' + '", "'.join(a.record_id for a in good) + '"]'
    assert [rows[a.record_id].status for a in good] == ["included"] * 3
    assert [members[a.record_id].status for a in good] == ["packed"] * 3
    # The second is refused on chain over its nonce (the first never written): here it
    # fails for its party's standing, as the first does, and neither is sent.
    reason = f"LedgerPartyNotActive(party={REVOKED.address.lower()})"
    for a in bad:
        assert (rows[a.record_id].status, rows[a.record_id].error, rows[a.record_id].tx_hash) == (
            "failed",
            reason,
            None,
        )
        assert (members[a.record_id].status, members[a.record_id].error) == ("failed", reason)


def test_a_pack_whose_records_all_pass_costs_one_call(stepped_runtime, monkeypatch):
    rt, contracts = stepped_runtime(confirmations=1)
    register_exporter(contracts, rt.manifest, EXPORTER)
    rt.indexer.step()
    domain = contracts.ledger_domain
    accepted = [
        rt.submissions.submit(signed_declaration(domain, EXPORTER, f"6NL123456789-PRE-C{n}", n)) for n in range(4)
    ]
    eth_calls = _count_eth_calls(rt, monkeypatch)
    rows = step_until_settled(rt, [a.record_id for a in accepted])
    assert [rows[a.record_id].status for a in accepted] == ["included"] * 4
    assert eth_calls == [1]


def test_a_record_that_follows_one_still_in_flight_is_sent_although_its_call_reverts(stepped_runtime):
    rt, contracts = stepped_runtime(confirmations=1)
    w3 = contracts.w3
    register_exporter(contracts, rt.manifest, EXPORTER)
    rt.indexer.step()
    domain = contracts.ledger_domain
    node = w3.provider.make_request
    node("evm_setAutomine", [False])  # type: ignore[arg-type]
    first = rt.submissions.submit(signed_declaration(domain, EXPORTER, "6NL123456789-PRE-F1", 0))
    rt.relayer.step()  # signed and sent; unmined
    # Its party's nonce 1: against the latest block, where nonce 0 is unused yet, the call
    # reverts (InvalidAccountNonce); once the first is mined, the write passes.
    second = rt.submissions.submit(signed_declaration(domain, EXPORTER, "6NL123456789-PRE-F2", 1))
    rt.relayer.step()
    with rt.store.session() as session:
        statuses = session.scalars(select(OutboxRow.status).order_by(OutboxRow.id)).all()
    assert statuses == ["sent", "sent"]
    node("evm_mine", [])  # type: ignore[arg-type]
    node("evm_setAutomine", [True])  # type: ignore[arg-type]
    rows = step_until_settled(rt, [first.record_id, second.record_id])
    assert [rows[a.record_id].status for a in (first, second)] == ["included", "included"]


def test_a_record_behind_one_in_flight_fails_unsent_when_its_party_was_revoked_meanwhile(stepped_runtime):
    rt, contracts = stepped_runtime(confirmations=1)
    w3 = contracts.w3
    register_exporter(contracts, rt.manifest, REVOKED)
    rt.indexer.step()
    domain = contracts.ledger_domain
    node = w3.provider.make_request
    node("evm_setAutomine", [False])  # type: ignore[arg-type]
    first = rt.submissions.submit(signed_declaration(domain, REVOKED, "6NL123456789-PRE-I1", 0))
    rt.relayer.step()  # the preflight passes it; sent, unmined
    # Revoked in the block that mines the first (ahead of it, for its higher fee), and not indexed.
    authority = rt.manifest.authorities[0]["address"]
    contracts.registry.functions.revokeParty(REVOKED.address).transact({"from": authority, "gasPrice": 1000 * 10**9})
    node("evm_mine", [])  # type: ignore[arg-type]
    node("evm_setAutomine", [True])  # type: ignore[arg-type]
    # Its nonce 1: against the latest block, where nonce 0 was never used, its own call
    # reverts over the nonce, which says nothing of its party; the registry is asked.
    second = rt.submissions.submit(signed_declaration(domain, REVOKED, "6NL123456789-PRE-I2", 1))
    relayer = rt.relayer.account.address
    sent_before = w3.eth.get_transaction_count(relayer)

    rows = step_until_settled(rt, [first.record_id, second.record_id])

    reason = f"LedgerPartyNotActive(party={REVOKED.address.lower()})"
    assert rows[first.record_id].status == "failed"  # reverted on chain
    assert (rows[second.record_id].status, rows[second.record_id].error) == ("failed", reason)
    assert rows[second.record_id].tx_hash is None
    assert w3.eth.get_transaction_count(relayer) == sent_before
