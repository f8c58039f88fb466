"""The status a wait on a record looks at (Queries.record_status, GET /v1/records/{id}?wait=)
is the one the record's view gives: an included record is `submitted` until its block has
enough confirmations, then `confirmed`; an unknown id has none."""

from __future__ import annotations

from eth_account import Account
from eth_utils.crypto import keccak
from support.submissions import register_exporter, signed_declaration, step_until_settled

EXPORTER = Account.from_key(keccak(text="record status for waits exporter"))


def test_a_waits_status_is_the_views_at_every_depth(stepped_runtime):
    rt, contracts = stepped_runtime(confirmations=2)
    register_exporter(contracts, rt.manifest, EXPORTER)
    rt.indexer.step()
    record_id = rt.submissions.submit(
        signed_declaration(contracts.ledger_domain, EXPORTER, "6NL123456789-STATUS-1", 0)
    ).record_id
    assert rt.queries.record_status(record_id) == rt.queries.record(record_id).status == "accepted"
    step_until_settled(rt, [record_id])  # included, its own block only
    assert rt.queries.record_status(record_id) == rt.queries.record(record_id).status == "submitted"
    contracts.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    rt.indexer.step()
    assert rt.queries.record_status(record_id) == rt.queries.record(record_id).status == "confirmed"
    assert rt.queries.record_status("0x" + "ab" * 32) is None
