"""Two customs authorities, two instances, one chain (tests/support/consortium.py): Japan
Customs' instance takes the records of a consignment from Japan to the Netherlands, and
the Netherlands Customs' instance, which was sent none of them, learns them from the
chain, fetches their payloads from Japan's instance, checks each against the chain, and
reaches the same verdict, with a receipt anyone verifies against the keys the Dutch
authority published on chain. A peer that serves a tampered payload is refused, logged
and named in the verdict; while Japan's instance is down the Dutch verdict says the
payloads are unavailable, and completes once it is back.

The chain mines every 2 seconds once the setup is done: the waits below are a few blocks."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from eth_account import Account
from sqlalchemy import select
from support import peers
from support.consortium import Consortium, Instance, consortium
from support.forwarding import SG_CUSTOMS
from support.service import wait_until
from typer.testing import CliRunner

from ledger_api import demo
from ledger_api.chain.artifacts import load_artifacts
from ledger_api.chain.deploy import Manifest
from ledger_api.cli import app
from ledger_api.client import LedgerClient
from ledger_api.domain.exchange import ServedRecord, to_json
from ledger_api.domain.payloads import parse_payload, payload_hash, record_route_of
from ledger_api.domain.records import (
    ZERO_ADDRESS,
    ZERO_HASH,
    LedgerDomain,
    Record,
    RecordKind,
    consignment_key,
    domain_separator,
    fast_record_id,
    sign_record,
)
from ledger_api.settings import ANVIL_DEV_ADDRESSES, PROJECT_ROOT
from ledger_api.store.peers import wanted_records

DELIVERED = f"{demo.UCR_PREFIX}0001"
SG_RELAYER = ANVIL_DEV_ADDRESSES[7]  # sends records straight to the contract, as SG's relayer


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Consortium]:
    """The consortium with the demo consignments written through Japan's instance; then
    the chain mines every 2 seconds."""
    with consortium(tmp_path_factory.mktemp("consortium")) as c:
        manifest = Manifest.load(c.manifest_path)
        demo.seed(c.jp.url, manifest, PROJECT_ROOT / "build", c.node.url, c.jp.credential)
        c.interval_mining()
        yield c


def wanted_at_nl(chain: Consortium, ucr: str) -> list[str]:
    """The records of `ucr` the Dutch instance knows are on chain and does not hold."""
    assert chain.nl.runtime.store is not None
    with chain.nl.runtime.store.connection() as conn:
        return [w.record_id for w in wanted_records(conn, "0x" + consignment_key(ucr).hex())]


def consignment(instance: Instance, ucr: str) -> dict[str, Any]:
    response = instance.http.get(f"/v1/consignments/{ucr}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def all_held(instance: Instance, ucr: str, count: int) -> bool:
    response = instance.http.get(f"/v1/consignments/{ucr}")
    if response.status_code != 200:
        return False
    records = response.json()["records"]
    return len(records) == count and all(r["held"] and r["status"] == "confirmed" for r in records)


def verdict(instance: Instance, ucr: str) -> dict[str, Any]:
    response = instance.http.get(f"/v1/consignments/{ucr}/verification", params={"country": "NL"})
    assert response.status_code == 200, response.text
    return dict(response.json())


def verified_at_nl(chain: Consortium, ucr: str) -> bool:
    response = chain.nl.http.get(f"/v1/consignments/{ucr}/verification", params={"country": "NL"})
    return response.status_code == 200 and response.json()["verdict"] == "VERIFIED"


def codes(result: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(c["name"], c["status"], c["reason"]["code"]) for c in result["checks"]]


# ---------------------------------------------------------------- finding each other


def test_each_instance_finds_the_other_on_chain(chain: Consortium):
    from ledger_api.store.peers import current_endpoint

    jp = chain.jp.http.get("/v1/instance").json()
    assert (jp["country"], jp["public_url"], jp["up_to_date"]) == ("JP", chain.jp_relay.url, True)
    assert chain.nl.runtime.store is not None
    with chain.nl.runtime.store.session() as session:
        seen = current_endpoint(session, chain.jp.authority)
    assert seen is not None
    assert (seen.country, seen.url, seen.signing_key, seen.relayer) == (
        "JP",
        jp["public_url"],
        jp["signing_key"],
        jp["relayer"],
    )


# ---------------------------------------------------------------- the payloads fetched


def test_the_dutch_instance_fetches_every_payload_and_reaches_the_japanese_verdict(chain: Consortium):
    count = len(consignment(chain.jp, DELIVERED)["records"])
    wait_until(lambda: all_held(chain.nl, DELIVERED, count), timeout=60, what="NL holds the delivered consignment")
    at_nl = consignment(chain.nl, DELIVERED)
    at_jp = consignment(chain.jp, DELIVERED)
    assert [r["id"] for r in at_nl["records"]] == [r["id"] for r in at_jp["records"]]
    assert [r["payload"] for r in at_nl["records"]] == [r["payload"] for r in at_jp["records"]]

    nl, jp = verdict(chain.nl, DELIVERED), verdict(chain.jp, DELIVERED)
    assert nl["verdict"] == jp["verdict"] == "VERIFIED", (codes(nl), codes(jp))
    assert codes(nl) == codes(jp)
    assert nl["risk"]["lane"] == jp["risk"]["lane"]


def test_the_dutch_receipt_verifies_against_the_keys_the_dutch_authority_published(chain: Consortium, tmp_path: Path):
    receipt = tmp_path / "receipt.jws"
    receipt.write_text(verdict(chain.nl, DELIVERED)["receipt"])
    result = CliRunner().invoke(
        app, ["verify-receipt", str(receipt), "--rpc", chain.node.url], env={"COLUMNS": "250", "NO_COLOR": "1"}
    )
    assert result.exit_code == 0, result.output
    nl = chain.nl.http.get("/v1/instance").json()
    assert f"kid {nl['kid']}" in result.stdout and f"{chain.nl.authority} (NL)" in result.stdout
    # The Japanese instance's key is not the Dutch authority's: the receipt names whose it is.
    jp_keys = tmp_path / "jp.json"
    jp_keys.write_text(chain.jp.http.get("/v1/keys").text)
    assert CliRunner().invoke(app, ["verify-receipt", str(receipt), "--jwks", str(jp_keys)]).exit_code == 4


# ---------------------------------------------------------------- asking without a right to


def test_japan_answers_a_request_without_a_valid_token_or_from_off_the_route_as_an_unknown_consignment(
    chain: Consortium,
):
    """Requests to Japan's instance at its published URL, signed with the Dutch instance's
    key (published on chain) or Singapore's: only a fresh, valid one on the route gets
    records; the others get exactly the answer for a consignment that does not exist."""
    key = "0x" + consignment_key(DELIVERED).hex()
    unknown = "0x" + consignment_key(f"{demo.UCR_PREFIX}9999").hex()
    assert chain.nl.runtime.instance is not None
    nl_key = chain.nl.runtime.instance.peer_signing_key().private
    sg_key = Ed25519PrivateKey.generate()
    peers.publish_endpoint(
        chain.w3, Manifest.load(chain.manifest_path), SG_CUSTOMS.address, "http://127.0.0.1:9", sg_key, SG_RELAYER
    )
    wait_until(lambda: _published(chain.jp, SG_CUSTOMS.address), timeout=30, what="JP indexes SG's endpoint")

    def ask(consignment: str, authorization: str | None) -> tuple[int, Any]:
        path = f"/v1/peer/consignments/{consignment}/records"
        response = httpx.get(chain.jp_relay.url + path, headers={"Authorization": authorization or ""}, timeout=10)
        return response.status_code, response.json()

    def as_nl(consignment: str, **claims: Any) -> str:
        path = f"/v1/peer/consignments/{consignment}/records"
        return "Peer " + peers.token(nl_key, chain.nl.authority, chain.jp.authority, path, **claims)

    status, body = ask(unknown, as_nl(unknown))
    assert status == 404
    nothing = json.loads(json.dumps(body).replace(unknown, key))

    valid = as_nl(key)
    status, served = ask(key, valid)
    assert status == 200 and served["authority"] == chain.jp.authority and served["records"]
    assert ask(key, valid) == (404, nothing)  # replayed
    assert ask(key, None) == (404, nothing)
    assert ask(key, as_nl(key, now=int(time.time()) - 120)) == (404, nothing)  # expired
    path = f"/v1/peer/consignments/{key}/records"
    as_sg = "Peer " + peers.token(sg_key, SG_CUSTOMS.address, chain.jp.authority, path)
    assert ask(key, as_sg) == (404, nothing)  # Singapore is not on this consignment's route


def _published(instance: Instance, authority: str) -> bool:
    from ledger_api.store.peers import current_endpoint

    assert instance.runtime.store is not None
    with instance.runtime.store.session() as session:
        return current_endpoint(session, authority) is not None


# ---------------------------------------------------------------- the writing instance down


def _write_delivered(chain: Consortium, ucr: str) -> int:
    """A whole delivered consignment through Japan's instance (as the demo's first);
    returns its number of records."""

    def client(account: Any) -> LedgerClient:
        return LedgerClient(chain.jp.url, account, token=chain.jp.credential(account.address))

    exporter, ocean, rail = (client(p.account) for p in (demo.EXPORTER_P, demo.OCEAN, demo.RAIL))
    jp_customs = client(Account.from_key(demo.ANVIL_AUTHORITY_KEYS[chain.jp.authority]))
    nl_customs = client(Account.from_key(demo.ANVIL_AUTHORITY_KEYS[chain.nl.authority]))
    seal, ship, now = "JP-SEAL-424242", "IMO9342424", time.time()

    def at(minutes: int) -> str:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now + 60 * minutes))

    steps = [
        (exporter, demo.declaration(ucr, seal), ZERO_ADDRESS),
        (jp_customs, demo.decision(ucr, "JP", "JPYOK", "EXPORT_RELEASE", at(1)), ZERO_ADDRESS),
        (exporter, demo.custody(ucr, "HANDOVER", "JPYOK", at(2), ship, seal), ocean.address),
        (ocean, demo.custody(ucr, "ACCEPTANCE", "JPYOK", at(3), ship, seal), exporter.address),
        (ocean, demo.custody(ucr, "HANDOVER", "NLRTM", at(4), ship, seal), rail.address),
        (rail, demo.custody(ucr, "ACCEPTANCE", "NLRTM", at(5), "TRAIN-4471", seal), ocean.address),
        (nl_customs, demo.decision(ucr, "NL", "NL000396", "IMPORT_RELEASE", at(6)), ZERO_ADDRESS),
    ]
    ids = [c.submit(payload, counterparty=counterparty) for c, payload, counterparty in steps]
    exporter.wait_confirmed(ids[-1], timeout=60)
    for c in (exporter, ocean, rail, jp_customs, nl_customs):
        c.close()
    return len(steps)


def test_while_the_writing_instance_is_down_the_verdict_says_why_and_completes_once_it_is_back(chain: Consortium):
    ucr = f"{demo.UCR_PREFIX}D001"
    chain.jp_relay.up = False
    try:
        count = _write_delivered(chain, ucr)
        wait_until(
            lambda: len(wanted_at_nl(chain, ucr)) == count, timeout=60, what="NL learns the records from the chain"
        )
        down = chain.nl.http.get(f"/v1/consignments/{ucr}/verification", params={"country": "NL"})
    finally:
        chain.jp_relay.up = True
    assert down.status_code == 200, down.text
    assert down.json()["verdict"] == "INCOMPLETE", codes(down.json())
    integrity = next(c for c in down.json()["checks"] if c["name"] == "PAYLOAD_INTEGRITY")
    assert integrity["reason"]["code"] == "PAYLOAD_UNAVAILABLE"
    assert wanted_at_nl(chain, ucr), "NL holds records it could not have fetched"

    # Japan's instance asked again: by a verification, within its time, or by the chain
    # worker's next attempt.
    wait_until(
        lambda: verified_at_nl(chain, ucr) and all_held(chain.nl, ucr, count),
        timeout=90,
        what="NL fetches once JP is back",
    )
    back = verdict(chain.nl, ucr)
    assert back["verdict"] == "VERIFIED", codes(back)
    assert codes(back) == codes(verdict(chain.jp, ucr))


# ---------------------------------------------------------------- a tampered payload
# Last in the module: the record is written straight to the contract, with the exporter's
# next nonce, which Japan's instance does not learn of (it counts its own records' nonces).


class TamperingPeer:
    """An instance that serves, for any request, a record with its payload changed."""

    def __init__(self, served: ServedRecord) -> None:
        body = json.dumps({"authority": SG_CUSTOMS.address, "records": [to_json(served)]}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _ledger(chain: Consortium) -> Any:
    manifest = Manifest.load(chain.manifest_path)
    return chain.w3.eth.contract(
        address=manifest.address("ConsignmentLedger"),
        abi=load_artifacts(PROJECT_ROOT / "build")["ConsignmentLedger"].abi,
    )


def test_a_peer_serving_a_tampered_payload_is_refused_logged_and_named_in_the_verdict(
    chain: Consortium, caplog: pytest.LogCaptureFixture
):
    ucr = f"{demo.UCR_PREFIX}T001"
    manifest = Manifest.load(chain.manifest_path)
    key = Ed25519PrivateKey.generate()
    record, signature, payload, record_id = _planned(chain, ucr)
    tampered = dict(payload, seals=["JP-SEAL-000000"])
    fake = TamperingPeer(
        ServedRecord(
            id=record_id,
            ucr=ucr,
            record=record,
            signature=signature,
            payload=rfc8785.dumps(tampered),
            mode="single",
            batch_root=None,
            proof=None,
        )
    )
    try:
        # Singapore's authority publishes the fake as its instance, with the relayer that sends the record.
        peers.publish_endpoint(chain.w3, manifest, SG_CUSTOMS.address, fake.url, key, SG_RELAYER)
        sent = _send_straight(chain, record, signature)
        assert sent == record_id

        def refused() -> bool:
            assert chain.nl.runtime.store is not None
            from ledger_api.store.tables import PayloadRefusalRow

            with chain.nl.runtime.store.session() as session:
                rows = session.scalars(select(PayloadRefusalRow).where(PayloadRefusalRow.record_id == record_id))
                return any(r.peer_authority == SG_CUSTOMS.address and r.peer_url == fake.url for r in rows)

        wait_until(refused, timeout=60, what="NL refuses the tampered payload")
        response = chain.nl.http.get(f"/v1/consignments/{ucr}/verification", params={"country": "NL"})
        assert wanted_at_nl(chain, ucr) == [record_id]  # nothing of the tampered copy is kept
        result = response.json()
        assert result["verdict"] != "VERIFIED"
        integrity = next(c for c in result["checks"] if c["name"] == "PAYLOAD_INTEGRITY")
        assert integrity["reason"]["code"] == "PAYLOAD_REFUSED_FROM_PEER"
        assert SG_CUSTOMS.address in integrity["reason"]["message"] and fake.url in integrity["reason"]["message"]
        # Asked on demand (as a verification does), in this process: refused again, with a warning.
        exchange = chain.nl.runtime.payload_exchange
        assert exchange is not None
        with caplog.at_level(logging.WARNING, logger="ledger_api.services.payload_exchange"):
            report = exchange.fetch_missing(consignment_key(ucr), 3.0)
        assert (report.held, report.missing) == (0, 1)
        assert any(SG_CUSTOMS.address in asked and fake.url in asked for asked in report.asked)
        warning = next(r.getMessage() for r in caplog.records if f"refused record {record_id}" in r.getMessage())
        assert SG_CUSTOMS.address in warning and fake.url in warning and "PAYLOAD_HASH_MISMATCH" in warning
    finally:
        fake.close()


def _planned(chain: Consortium, ucr: str) -> tuple[Record, bytes, dict[str, Any], str]:
    """A declaration the demo exporter signs, for `_send_straight` to write (not sent yet):
    the record, its signature, its payload and its id."""
    manifest = Manifest.load(chain.manifest_path)
    exporter = demo.EXPORTER_P.account
    payload = demo.declaration(ucr, "JP-SEAL-777777")
    parsed = parse_payload(payload)
    record = Record(
        consignment=consignment_key(ucr),
        kind=RecordKind.DECLARATION,
        payload_hash=payload_hash(parsed),
        previous=ZERO_HASH,
        party=exporter.address,
        counterparty=ZERO_ADDRESS,
        nonce=_quiet_nonce(chain, exporter.address),
        deadline=int(time.time()) + 3600,
        route=record_route_of(parsed),
    )
    domain = LedgerDomain(manifest.chain_id, manifest.address("ConsignmentLedger"))
    signature = sign_record(record, domain, exporter.key)
    return record, signature, payload, "0x" + fast_record_id(record, domain_separator(domain)).hex()


def _quiet_nonce(chain: Consortium, party: str) -> int:
    """The party's nonce on chain once every record Japan's instance took from it is mined."""
    client = LedgerClient(chain.jp.url, demo.EXPORTER_P.account, token=chain.jp.credential(party))
    expected = client.next_nonce()
    client.close()
    ledger = _ledger(chain)
    wait_until(lambda: ledger.functions.nonces(party).call() == expected, timeout=30, what="JP's records mined")
    return expected


def _send_straight(chain: Consortium, record: Record, signature: bytes) -> str:
    """`record` written to the contract by SG's relayer account: no instance holds it."""
    manifest = Manifest.load(chain.manifest_path)
    tx = _ledger(chain).functions.write(record.as_tuple(), signature).transact({"from": SG_RELAYER})
    receipt = chain.w3.eth.wait_for_transaction_receipt(tx, timeout=30)
    assert receipt["status"] == 1
    domain = LedgerDomain(manifest.chain_id, manifest.address("ConsignmentLedger"))
    return "0x" + fast_record_id(record, domain_separator(domain)).hex()
