"""Who may see what: parties to a consignment and the customs of its origin and
destination see its history; a partner customs sees the verdict but not the records or
the evidence; anyone else sees nothing (401 without a credential, 404 with one, exactly as
for a consignment or record that does not exist), and a refused submission tells a
signer that is no party to the consignment nothing of it."""

from __future__ import annotations

import json

import httpx
import pytest
from support.payloads import custody, declaration
from support.service import Service

from ledger_api.client import ClientError
from ledger_api.demo import ANVIL_AUTHORITY_KEYS

UCR = "6NL123456789-ACCESS-01"
NL, JP, SG = list(ANVIL_AUTHORITY_KEYS)  # the authorities of config/deployment.dev.yaml


@pytest.fixture(scope="module")
def shipped(service: Service) -> str:
    """NL exporter → NL carrier; carrier_jp and importer are not parties to it (yet)."""
    exporter, carrier = service.client("exporter"), service.client("carrier")
    exporter.submit(declaration(UCR))
    exporter.submit(custody(UCR, "HANDOVER"), counterparty=carrier.address)
    record_id = carrier.submit(custody(UCR, "ACCEPTANCE"), counterparty=exporter.address)
    assert carrier.wait_confirmed(record_id)["status"] == "confirmed"
    return record_id


def reader(service: Service, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=service.url, timeout=30, headers=headers)


def paths(record_id: str) -> dict[str, str]:
    return {
        "record": f"/v1/records/{record_id}",
        "history": f"/v1/consignments/{UCR}",
        "verification": f"/v1/consignments/{UCR}/verification?country=NL",
        "evidence": f"/v1/consignments/{UCR}/evidence?country=NL",
    }


def statuses(client: httpx.Client, record_id: str) -> dict[str, int]:
    return {name: client.get(path).status_code for name, path in paths(record_id).items()}


def test_without_a_credential_nothing_is_shown(service: Service, shipped: str):
    with reader(service, None) as anonymous:
        for path in paths(shipped).values():
            response = anonymous.get(path)
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"
            assert response.json()["code"] == "NOT_AUTHENTICATED"


def test_an_unknown_or_revoked_credential_is_refused(service: Service, shipped: str):
    credentials = service.runtime.credentials
    assert credentials is not None
    token = credentials.issue(service.address("exporter"), "to be revoked")
    with reader(service, token) as client:
        assert client.get(paths(shipped)["history"]).status_code == 200
        credentials.revoke(token.split("_")[1])
        assert client.get(paths(shipped)["history"]).status_code == 401
    with reader(service, token[:-2] + "xx") as forged:
        assert forged.get(paths(shipped)["history"]).status_code == 401


def test_the_parties_to_a_consignment_see_its_history(service: Service, shipped: str):
    for name in ("exporter", "carrier"):
        with reader(service, service.tokens[name]) as client:
            assert set(statuses(client, shipped).values()) == {200}, name


def test_the_customs_of_origin_and_destination_see_everything(service: Service, shipped: str):
    credentials = service.runtime.credentials
    assert credentials is not None
    for authority in (NL, JP):
        with reader(service, credentials.issue(authority)) as client:
            assert set(statuses(client, shipped).values()) == {200}, authority


def test_a_partner_customs_sees_the_verdict_but_not_the_records_values_or_evidence(service: Service, shipped: str):
    credentials = service.runtime.credentials
    assert credentials is not None
    with reader(service, credentials.issue(SG)) as partner:
        seen = statuses(partner, shipped)
        assert seen == {"record": 404, "history": 404, "verification": 200, "evidence": 404}
        body = partner.get(paths(shipped)["verification"]).json()
        assert body["verdict"] and body["risk"]["lane"] and body["checks"]
        assert "24000" not in str(body) and "Sakura" not in str(body)  # no value, no consignee


def test_anyone_else_is_told_the_consignment_does_not_exist(service: Service, shipped: str):
    for name in ("carrier_jp", "importer"):
        with reader(service, service.tokens[name]) as outsider:
            assert set(statuses(outsider, shipped).values()) == {404}, name
            hidden = outsider.get(paths(shipped)["history"]).json()
            missing = outsider.get("/v1/consignments/6NL123456789-NO-SUCH-1").json()
            assert hidden["code"] == missing["code"] == "NOT_FOUND"
            assert hidden["title"] == missing["title"]


# ---------------------------------------------------------------- nothing leaks (#14 "404 leaks")


def test_a_record_the_caller_may_not_see_is_answered_word_for_word_as_one_that_does_not_exist(
    service: Service, shipped: str
):
    unknown = "0x" + "ab" * 32
    for name in ("carrier_jp", "importer"):
        with reader(service, service.tokens[name]) as outsider:
            hidden, missing = outsider.get(f"/v1/records/{shipped}"), outsider.get(f"/v1/records/{unknown}")
            assert hidden.status_code == missing.status_code == 404
            assert hidden.text == missing.text.replace(unknown, shipped)
            assert UCR not in hidden.text


def _secrets(service: Service, shipped: str) -> list[str]:
    """What only the consignment's parties and route customs may know: its head, its
    custodian and earlier custodian, its route."""
    return [shipped[2:].lower(), service.address("carrier").lower(), service.address("exporter").lower(), "NL, JP"]


def test_a_refusal_tells_a_signer_that_is_no_party_nothing_of_the_consignment(service: Service, shipped: str):
    outsider = service.as_party(service.keys["carrier_jp"])
    head = bytes.fromhex(shipped[2:])
    importer = service.address("importer")
    attempts = {
        "NOT_CUSTODIAN": outsider.sign(custody(UCR, "HANDOVER"), counterparty=importer, previous=head),
        "STALE_PREVIOUS": outsider.sign(custody(UCR, "HANDOVER"), counterparty=importer, previous=b"\x01" * 32),
    }
    for code, attempt in attempts.items():
        with pytest.raises(ClientError) as refused:
            outsider.post(attempt)
        assert refused.value.problem["code"] == code
        told = json.dumps(refused.value.problem).lower()
        assert not [s for s in _secrets(service, shipped) if s.lower() in told], told
    # A party to it is told the facts it already knows: who holds the goods.
    exporter = service.client("exporter")
    with pytest.raises(ClientError) as refused:
        exporter.post(exporter.sign(custody(UCR, "HANDOVER"), counterparty=importer, previous=head))
    assert refused.value.problem["code"] == "NOT_CUSTODIAN"
    assert service.address("carrier").lower() in json.dumps(refused.value.problem).lower()


def test_the_write_mode_of_a_consignment_is_told_only_to_a_signer_the_custody_rules_let_act(
    service: Service, shipped: str
):
    """The consignment is written record by record: a batch record on it is refused for its
    mode only once its signer passed the custody rules; before, by the rule it breaks."""
    head = bytes.fromhex(shipped[2:])
    outsider = service.as_party(service.keys["carrier_jp"])
    with pytest.raises(ClientError) as refused:
        outsider.post_batch([outsider.sign(custody(UCR, "HANDOVER"), previous=head, nonce=10**6)])
    assert refused.value.problem["code"] == "NOT_CUSTODIAN"
    assert "batch" not in json.dumps(refused.value.problem).lower()
    carrier = service.client("carrier")
    handover = carrier.sign(
        custody(UCR, "HANDOVER"), counterparty=service.address("carrier_jp"), previous=head, nonce=10**6
    )
    with pytest.raises(ClientError) as refused:
        carrier.post_batch([handover])
    assert refused.value.problem["code"] == "MODE_MISMATCH"
