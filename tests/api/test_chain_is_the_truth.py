"""The chain is the truth (#12): a record its party writes straight to ConsignmentLedger,
with web3 and not through the service, is in the consignment's history with its chain
facts (and no payload) as soon as it is indexed; it moves the head, so a record built on
the old head is refused before it costs gas; the verdict is INCOMPLETE for want of its
payload (PAYLOAD_UNAVAILABLE) until its party posts it, and VERIFIED then. The lane is
the demo's (ledger_api/demo.py): a Japanese exporter, an ocean carrier, a Dutch rail
operator, Japan and Dutch customs under an MRA."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from support.postgres import database_url
from support.service import local_settings, served, url_of, wait_until
from web3 import HTTPProvider, Web3

from ledger_api import demo
from ledger_api.chain.contracts import Contracts
from ledger_api.client import ClientError, LedgerClient, SignedRecord
from ledger_api.domain.evidence import from_bundle
from ledger_api.domain.verification import verify
from ledger_api.settings import PROJECT_ROOT

UCR = "6JP7010001008-TRUTH-0001"
SEAL, SHIP = "JP-SEAL-777001", "IMO9377001"


@dataclass
class Lane:
    http: httpx.Client  # reads as NL customs
    w3: Web3
    contracts: Contracts
    clients: dict[str, LedgerClient]


@pytest.fixture(scope="module")
def lane(
    request: pytest.FixtureRequest, service_store: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Lane]:
    settings = local_settings(tmp_path_factory.mktemp("truth"), database_url=database_url(request, service_store))
    with served(settings) as rt:
        assert rt.node is not None and rt.manifest is not None and rt.credentials is not None
        w3 = Web3(HTTPProvider(rt.node.url))
        demo.register_on_chain(w3, rt.manifest, PROJECT_ROOT / "build")
        authorities = {a["country"]: a["address"] for a in rt.manifest.authorities}
        accounts: dict[str, LocalAccount] = {
            "exporter": demo.EXPORTER_P.account,
            "ocean": demo.OCEAN.account,
            "rail": demo.RAIL.account,
            "jp_customs": Account.from_key(demo.ANVIL_AUTHORITY_KEYS[authorities["JP"]]),
            "nl_customs": Account.from_key(demo.ANVIL_AUTHORITY_KEYS[authorities["NL"]]),
        }
        url = url_of(rt)
        clients = {
            name: LedgerClient(url, account, token=rt.credentials.issue(account.address, name))
            for name, account in accounts.items()
        }
        http = clients["nl_customs"].http
        for account in accounts.values():
            wait_until(lambda a=account: http.get(f"/v1/parties/{a.address}").status_code == 200, what="indexed")
        yield Lane(http, w3, Contracts.load(w3, rt.manifest, PROJECT_ROOT / "build"), clients)
        for client in clients.values():
            client.close()


def at(minutes: int) -> str:
    return (datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")


def write_straight(lane: Lane, signer: LocalAccount, signed: SignedRecord) -> str:
    """The party sends its signed record to the contract itself, paying its own gas."""
    w3 = lane.w3
    if w3.eth.get_balance(signer.address) == 0:
        funding = w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": signer.address, "value": 10**18})
        w3.eth.wait_for_transaction_receipt(funding)
    tx = lane.contracts.ledger.functions.write(signed.record.as_tuple(), signed.signature).build_transaction(
        {
            "from": signer.address,
            "nonce": w3.eth.get_transaction_count(signer.address),
            "gas": 400_000,
            "gasPrice": w3.eth.gas_price,
            "chainId": w3.eth.chain_id,
        }
    )
    tx_hash = w3.eth.send_raw_transaction(signer.sign_transaction(tx).raw_transaction)
    assert w3.eth.wait_for_transaction_receipt(tx_hash)["status"] == 1
    return "0x" + bytes(tx_hash).hex()


def history(lane: Lane) -> dict[str, Any]:
    response = lane.http.get(f"/v1/consignments/{UCR}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def verdict(lane: Lane) -> dict[str, Any]:
    response = lane.http.get(f"/v1/consignments/{UCR}/verification", params={"country": "NL"})
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_record_written_straight_to_the_contract_is_verified_like_any_other_once_its_payload_is_known(lane: Lane):
    c = lane.clients
    exporter, ocean, rail = c["exporter"], c["ocean"], c["rail"]
    exporter.submit(demo.declaration(UCR, SEAL))
    released = c["jp_customs"].submit(demo.decision(UCR, "JP", "JPYOK", "EXPORT_RELEASE", at(1)))
    assert exporter.wait_confirmed(released)["status"] == "confirmed"

    # The exporter hands over to the ocean carrier straight on the contract.
    handover = exporter.sign(demo.custody(UCR, "HANDOVER", "JPYOK", at(2), SHIP, SEAL), counterparty=ocean.address)
    tx_hash = write_straight(lane, demo.EXPORTER_P.account, handover)
    wait_until(lambda: len(history(lane)["records"]) == 3, what="the record written straight indexed")
    shown = history(lane)
    learnt = shown["records"][2]
    assert (learnt["id"], learnt["tx_hash"], learnt["status"]) == (handover.id, tx_hash, "confirmed")
    assert (learnt["held"], learnt["payload"], learnt["signature"], learnt["route"]) == (False, None, None, None)
    assert (learnt["kind"], learnt["party"], learnt["counterparty"]) == ("HANDOVER", exporter.address, ocean.address)
    assert shown["pending_custodian"] == ocean.address  # custody from the chain
    assert exporter.next_nonce() == handover.record.nonce + 1

    # A record built on the head before it is refused before it costs gas, and not stored.
    stale = exporter.sign(
        demo.transit(UCR, ["SG"], at(2), "JPYOK"), previous=bytes.fromhex(released[2:]), nonce=exporter.next_nonce()
    )
    with pytest.raises(ClientError) as refused:
        exporter.post(stale)
    assert refused.value.status == 409
    problem = refused.value.problem
    assert (problem["code"], [e["field"] for e in problem["errors"]]) == ("STALE_PREVIOUS", ["record.previous"])
    assert lane.http.get(f"/v1/records/{stale.id}").status_code == 404

    # The lane goes on through the service, built on the record written straight.
    ids = [
        ocean.submit(demo.custody(UCR, "ACCEPTANCE", "JPYOK", at(3), SHIP, SEAL), counterparty=exporter.address),
        ocean.submit(demo.custody(UCR, "HANDOVER", "NLRTM", at(4), SHIP, SEAL), counterparty=rail.address),
        rail.submit(demo.custody(UCR, "ACCEPTANCE", "NLRTM", at(5), "TRAIN-4471", SEAL), counterparty=ocean.address),
        c["nl_customs"].submit(demo.decision(UCR, "NL", "NL000396", "IMPORT_RELEASE", at(6))),
    ]
    assert [exporter.wait_confirmed(i)["status"] for i in ids] == ["confirmed"] * 4

    # Without its payload the verdict is not VERIFIED, and says why.
    result = verdict(lane)
    assert result["verdict"] == "INCOMPLETE"
    integrity = next(check for check in result["checks"] if check["name"] == "PAYLOAD_INTEGRITY")
    assert (integrity["status"], integrity["reason"]["code"], integrity["records"]) == (
        "ERROR",
        "PAYLOAD_UNAVAILABLE",
        [handover.id],
    )
    assert {(ch["status"], ch["reason"]["code"]) for ch in result["checks"] if ch["status"] != "VALID"} == {
        ("ERROR", "PAYLOAD_UNAVAILABLE")
    }
    # The evidence carries it without payload, and re-derives the same verdict offline (verify-bundle).
    bundle = lane.http.get(f"/v1/consignments/{UCR}/evidence", params={"country": "NL"}).json()
    unheld = next(r for r in bundle["records"] if r["id"] == handover.id)
    assert (unheld["held"], unheld["payload_canonical"], unheld["signature"]) == (False, None, None)
    offline = verify(from_bundle(bundle))
    assert offline.verdict == "INCOMPLETE"
    assert [c.as_dict() for c in offline.checks] == result["checks"]

    # Its party posts it: checked against the chain's facts and held, the same id, 200.
    response = exporter.http.post("/v1/records", json=handover.body())
    assert response.status_code == 200, response.text
    assert response.json()["id"] == handover.id
    held = exporter.record(handover.id)
    assert (held["held"], held["payload"]["kind"], held["status"]) == (True, "HANDOVER", "confirmed")
    assert verdict(lane)["verdict"] == "VERIFIED"
    again = exporter.http.post("/v1/records", json=handover.body())  # and again: a replay
    assert (again.status_code, again.json()["id"]) == (200, handover.id)
