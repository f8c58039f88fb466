"""The chain decides, with the relayer and the indexer stepped by hand on a real anvil:

- front-running: someone replays the relayer's `write` call, or anchors its root first;
  the relayer's own transaction reverts, yet the record ends confirmed, never failed;
- displacement: a record written straight to the contract in the place (and with the
  nonce) of one of this instance's records on their way fails it, naming it, and what
  was built on it; neither is ever sent;
- a reorg forgets the records learnt from the chain above the fork, and the route
  countries they added; a record of this instance's that someone else wrote first goes
  back in flight when the reorg undoes that write.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eth_account import Account
from eth_utils.crypto import keccak
from sqlalchemy import func, select
from support.payloads import transit
from support.submissions import register_exporter, signed_declaration

from ledger_api.chain.contracts import Contracts
from ledger_api.domain.payloads import parse_payload, payload_hash, record_route_of
from ledger_api.domain.records import ZERO_ADDRESS, Record, RecordKind, consignment_key, record_id, sign_record
from ledger_api.runtime import Runtime
from ledger_api.services.submission import Submission
from ledger_api.store.tables import EventRow, OutboxRow, RecordRow, RouteRow

EXPORTER = Account.from_key(keccak(text="chain facts exporter"))
RELAYER_SENT = ("sent", "mined", "done", "reverted")


def drive(rt: Runtime, rounds: int = 10) -> None:
    assert rt.relayer is not None and rt.indexer is not None
    for _ in range(rounds):
        rt.relayer.step()
        rt.indexer.step()


def statuses(rt: Runtime, *ids: str) -> list[str]:
    assert rt.queries is not None
    return [rt.queries.record(i).status for i in ids]


def signed(
    contracts: Contracts, payload: dict[str, Any], previous: str, nonce: int, counterparty: str = ZERO_ADDRESS
) -> Submission:
    parsed = parse_payload(payload)
    record = Record(
        consignment=consignment_key(parsed.ucr),
        kind=RecordKind[parsed.kind],
        payload_hash=payload_hash(parsed),
        previous=bytes.fromhex(previous[2:]),
        party=EXPORTER.address,
        counterparty=counterparty,
        nonce=nonce,
        deadline=2**40,
        route=record_route_of(parsed),
    )
    return Submission(record, sign_record(record, contracts.ledger_domain, EXPORTER.key), parsed)


def id_of(contracts: Contracts, item: Submission) -> str:
    return "0x" + record_id(item.record, contracts.ledger_domain).hex()


def send_as(contracts: Contracts, sender: str, call: Any) -> None:
    """`call` sent by someone other than the service: an unlocked account of the node."""
    w3 = contracts.w3
    receipt = w3.eth.wait_for_transaction_receipt(call.transact({"from": sender, "gas": 400_000}))
    assert receipt["status"] == 1


def setup(stepped_runtime: Callable[..., tuple[Runtime, Contracts]]) -> tuple[Runtime, Contracts]:
    rt, contracts = stepped_runtime(confirmations=1, resend_after_seconds=0.2)
    assert rt.manifest is not None
    register_exporter(contracts, rt.manifest, EXPORTER)
    drive(rt, 2)
    return rt, contracts


def test_a_replayed_write_and_a_root_anchored_by_someone_else_first_end_confirmed_never_failed(stepped_runtime):
    rt, contracts = setup(stepped_runtime)
    assert rt.submissions is not None and rt.relayer is not None and rt.indexer is not None
    w3 = contracts.w3
    front_runner = w3.eth.accounts[8]  # not 9: that is the relayer's own key (settings)
    item = signed_declaration(contracts.ledger_domain, EXPORTER, "6NL123456789-FRONT-02")
    single = rt.submissions.submit(item)
    batch = rt.submissions.submit_batch(
        [signed_declaration(contracts.ledger_domain, EXPORTER, f"6NL123456789-FRONT-1{n}", nonce=n) for n in range(2)]
    )
    # The relayer signs its transactions; before it sends them, someone sends the same calls.
    rt.relayer._sign_pending()
    send_as(contracts, front_runner, contracts.ledger.functions.write(item.record.as_tuple(), item.signature))
    send_as(contracts, front_runner, contracts.ledger.functions.anchorRoot(bytes.fromhex(batch.root[2:]), 2))

    seen: list[str] = []
    for _ in range(20):
        rt.relayer.step()
        rt.indexer.step()
        seen.extend(statuses(rt, single.record_id, *batch.record_ids))
    assert "failed" not in seen
    assert statuses(rt, single.record_id, *batch.record_ids) == ["confirmed"] * 3
    with rt.store.session() as session:  # type: ignore[union-attr]
        outbox = {row.ref: (row.status, row.error) for row in session.scalars(select(OutboxRow))}
        written_by = session.get(RecordRow, single.record_id).tx_hash  # type: ignore[union-attr]
    assert outbox[single.record_id][0] == "done" and outbox[batch.root][0] == "done"
    assert "InvalidAccountNonce" in (outbox[single.record_id][1] or "")  # it did revert
    assert "LedgerRootAlreadyAnchored" in (outbox[batch.root][1] or "")
    logs = contracts.ledger.events.RecordWritten().get_logs(from_block=rt.manifest.deploy_block)  # type: ignore[union-attr]
    assert ["0x" + bytes(e["transactionHash"]).hex() for e in logs] == [written_by]  # the front-runner's


def test_a_record_replayed_ahead_of_the_pack_that_carries_it_ends_confirmed_never_failed(stepped_runtime):
    """writeMany rejects the record written already (RecordRejected) and writes the others:
    the rejection says nothing of a record on chain."""
    rt, contracts = setup(stepped_runtime)
    assert rt.submissions is not None and rt.relayer is not None
    domain = contracts.ledger_domain
    items = [signed_declaration(domain, EXPORTER, f"6NL123456789-FRONT-P{n}", nonce=n) for n in range(3)]
    ids = [rt.submissions.submit(item).record_id for item in items]
    rt.relayer._sign_pending()
    send_as(
        contracts,
        contracts.w3.eth.accounts[8],
        contracts.ledger.functions.write(items[0].record.as_tuple(), items[0].signature),
    )
    seen: list[str] = []
    for _ in range(20):
        drive(rt, 1)
        seen.extend(statuses(rt, *ids))
    assert "failed" not in seen and statuses(rt, *ids) == ["confirmed"] * 3
    with rt.store.session() as session:  # type: ignore[union-attr]
        pack = session.scalars(select(OutboxRow).where(OutboxRow.action == "pack")).one()
        rejected = session.scalars(select(EventRow).where(EventRow.name == "RecordRejected")).all()
    assert pack.status == "done" and [e.record_id for e in rejected] == [ids[0]]


def test_a_record_written_straight_in_the_place_of_ours_fails_ours_and_what_follows_it_none_is_sent(
    stepped_runtime,
):
    rt, contracts = setup(stepped_runtime)
    assert rt.submissions is not None and rt.relayer is not None and rt.indexer is not None and rt.queries
    ucr = "6NL123456789-DISPLACE-1"
    declared = rt.submissions.submit(signed_declaration(contracts.ledger_domain, EXPORTER, ucr))
    drive(rt)
    ours = signed(contracts, transit(ucr, ["SG"]), declared.record_id, 1)
    on_ours = signed(contracts, transit(ucr, ["LK"]), id_of(contracts, ours), 2)
    rt.submissions.submit(ours)
    rt.submissions.submit(on_ours)
    # Before the relayer sends them, the exporter writes another record straight to the
    # contract on the same head, with the same nonce.
    theirs = signed(contracts, transit(ucr, ["EG"]), declared.record_id, 1)
    send_as(
        contracts,
        contracts.w3.eth.accounts[0],
        contracts.ledger.functions.write(theirs.record.as_tuple(), theirs.signature),
    )
    rt.indexer.step()

    assert statuses(rt, id_of(contracts, ours), id_of(contracts, on_ours)) == ["failed", "failed"]
    assert rt.queries.record(id_of(contracts, ours)).error == (
        f"record {id_of(contracts, theirs)} was written on chain in its place"
    )
    assert id_of(contracts, ours) in (rt.queries.record(id_of(contracts, on_ours)).error or "")
    history = rt.queries.consignment(ucr)
    learnt = next(r for r in history.records if r.id == id_of(contracts, theirs))
    assert history.route == ["NL", "JP", "EG"] and (learnt.held, learnt.status, learnt.position) == (
        False,
        "confirmed",
        1,
    )
    drive(rt)
    with rt.store.session() as session:  # type: ignore[union-attr]
        sent = session.scalar(
            select(func.count())
            .select_from(OutboxRow)
            .where(
                OutboxRow.ref.in_([id_of(contracts, ours), id_of(contracts, on_ours)]),
                OutboxRow.status.in_(RELAYER_SENT),
            )
        )
    assert sent == 0


def test_a_reorg_forgets_the_records_learnt_from_the_chain_above_the_fork_and_their_route(stepped_runtime):
    rt, contracts = setup(stepped_runtime)
    assert rt.submissions is not None and rt.indexer is not None and rt.queries is not None
    w3 = contracts.w3
    ucr = "6NL123456789-REORG-FACT"
    declared = rt.submissions.submit(signed_declaration(contracts.ledger_domain, EXPORTER, ucr))
    drive(rt)
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    theirs = signed(contracts, transit(ucr, ["SG"]), declared.record_id, 1)
    send_as(contracts, w3.eth.accounts[0], contracts.ledger.functions.write(theirs.record.as_tuple(), theirs.signature))
    rt.indexer.step()
    assert rt.queries.consignment(ucr).route == ["NL", "JP", "SG"]

    assert w3.provider.make_request("evm_revert", [snapshot])["result"] is True  # type: ignore[arg-type]
    for _ in range(3):
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    rt.indexer.step()
    history = rt.queries.consignment(ucr)
    assert [r.id for r in history.records] == [declared.record_id]
    assert history.route == ["NL", "JP"]
    with rt.store.session() as session:  # type: ignore[union-attr]
        assert session.get(RecordRow, id_of(contracts, theirs)) is None
        assert sorted(session.scalars(select(RouteRow.country))) == ["JP", "NL"]


def test_a_record_someone_else_wrote_first_goes_back_in_flight_when_a_reorg_undoes_that_write(stepped_runtime):
    """The relayer's own transaction reverted (the front-runner's came first) and its row is
    done; a reorg takes the front-runner's write away: the record is this instance's to
    write again, and the relayer sends its transaction again."""
    rt, contracts = setup(stepped_runtime)
    assert rt.submissions is not None and rt.relayer is not None and rt.indexer is not None
    w3 = contracts.w3
    item = signed_declaration(contracts.ledger_domain, EXPORTER, "6NL123456789-FRONT-RG")
    single = rt.submissions.submit(item)
    snapshot = w3.provider.make_request("evm_snapshot", [])["result"]  # type: ignore[arg-type]
    rt.relayer._sign_pending()
    send_as(contracts, w3.eth.accounts[8], contracts.ledger.functions.write(item.record.as_tuple(), item.signature))
    drive(rt)
    with rt.store.session() as session:  # type: ignore[union-attr]
        row = session.scalars(select(OutboxRow).where(OutboxRow.ref == single.record_id)).one()
        assert (row.status, statuses(rt, single.record_id)) == ("done", ["confirmed"])
        ours = row.tx_hash

    assert w3.provider.make_request("evm_revert", [snapshot])["result"] is True  # type: ignore[arg-type]
    for _ in range(3):
        w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    drive(rt, 20)
    assert statuses(rt, single.record_id) == ["confirmed"]
    assert rt.queries is not None and rt.queries.record(single.record_id).tx_hash == ours  # its own, this time
