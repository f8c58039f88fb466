"""AEO certificates and MRAs through the API: signed by customs authorities, relayed
through the forwarder to the RecognitionRegistry, and seen in /v1/recognition once indexed;
refused, naming the field, when the registry would refuse them."""

from __future__ import annotations

import time
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from support.forwarding import JP_CUSTOMS, NL_CUSTOMS, SG_CUSTOMS, forwarded
from support.service import Service, wait_until

from ledger_api.chain.artifacts import load_artifacts
from ledger_api.client import ClientError
from ledger_api.domain.forwarding import RECOGNITION_FUNCTIONS, recognition_calldata
from ledger_api.settings import PROJECT_ROOT

YEAR = 365 * 24 * 3600


def recognition(service: Service, operator: str, country: str, at: int | None = None) -> dict[str, Any]:
    params: dict[str, Any] = {"operator": operator, "country": country}
    if at is not None:
        params["at"] = at
    response = service.http.get("/v1/recognition", params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def mra(service: Service, mra_id: int) -> dict[str, Any] | None:
    response = service.http.get(f"/v1/mras/{mra_id}")
    return dict(response.json()) if response.status_code == 200 else None


def chain_time(service: Service) -> int:
    return int(service.w3.eth.get_block("latest")["timestamp"])


def indexed(service: Service, predicate: Any, what: str) -> None:
    """Waits for a write to be indexed; then the authorities' forwarder nonces as the
    service serves them must agree with the forwarder's (no request in flight)."""
    wait_until(predicate, what=what)
    info = service.http.get("/v1/ledger").json()
    forwarder = service.w3.eth.contract(
        address=info["contracts"]["LedgerForwarder"],
        abi=load_artifacts(PROJECT_ROOT / "build")["LedgerForwarder"].abi,
    )
    for authority in (NL_CUSTOMS, JP_CUSTOMS, SG_CUSTOMS):
        served = service.http.get(f"/v1/parties/{authority.address}").json()["forwarder_nonce"]
        assert served == forwarder.functions.nonces(authority.address).call()


def refused(call: Any) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value


def signed_body(
    service: Service,
    authority: LocalAccount,
    action: str,
    args: tuple[Any, ...],
    fields: dict[str, Any],
    *,
    signer: LocalAccount | None = None,
    nonce: int | None = None,
) -> dict[str, Any]:
    """A request body signed as the client signs it: `args` are the signed call's, `fields`
    what the body says (they differ in the tests of bodies that do not match a good call)."""
    ledger = service.http.get("/v1/ledger").json()
    if nonce is None:
        nonce = service.http.get(f"/v1/parties/{authority.address}").json()["forwarder_nonce"]
    call = recognition_calldata(action, *args)
    return {**fields, **forwarded(ledger, authority, "RecognitionRegistry", call, nonce=nonce, signer=signer)}


def post(service: Service, path: str, body: dict[str, Any]) -> Any:
    """`body` sent by its authority, with the authority's own credential."""
    return service.post_as(body["authority"], path, body)


def problem(response: Any) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["code"], body["errors"][0]["field"]


@pytest.fixture(scope="module")
def certified_exporter(service: Service) -> str:
    """The NL exporter, certified AEOF by NL customs through the API."""
    exporter = service.address("exporter")
    now = chain_time(service)
    accepted = service.as_party(NL_CUSTOMS).issue_certificate(exporter, "AEOF", now - 60, now + YEAR)
    assert accepted["status"] == "accepted"
    indexed(service, lambda: recognition(service, exporter, "NL")["recognised"], what="certificate indexed")
    return exporter


def test_customs_certifies_an_operator_of_its_country_and_its_country_recognises_it(
    service: Service, certified_exporter: str
):
    answer = recognition(service, certified_exporter, "NL")
    assert (answer["recognised"], answer["reason"], answer["programme"]) == (True, "RECOGNISED", "AEOF")
    assert answer["certificate_country"] == "NL" and answer["mra_id"] is None
    assert recognition(service, certified_exporter, "JP")["reason"] == "NO_ARRANGEMENT"


def test_customs_of_another_country_cannot_certify_an_operator(service: Service):
    now = chain_time(service)
    exc = refused(
        lambda: service.as_party(JP_CUSTOMS).issue_certificate(service.address("exporter"), "AEOF", now, now + YEAR)
    )
    assert (exc.status, exc.problem["code"], exc.problem["errors"][0]["field"]) == (403, "NOT_AUTHORITY_OF", "operator")


def test_an_mra_is_proposed_ratified_and_terminated_and_recognition_follows(service: Service, certified_exporter: str):
    nl, jp, sg = (service.as_party(a) for a in (NL_CUSTOMS, JP_CUSTOMS, SG_CUSTOMS))

    nl.propose_mra("JP", 0)
    indexed(
        service,
        lambda: recognition(service, certified_exporter, "JP")["reason"] == "ARRANGEMENT_NOT_RATIFIED",
        what="proposal indexed",
    )
    mra_id = recognition(service, certified_exporter, "JP")["mra_id"]
    assert mra(service, mra_id) == {
        "mra_id": mra_id,
        "proposer": "NL",
        "partner": "JP",
        "effective_from": 0,
        "ratified_at": None,
        "terminated_at": None,
        "recognised_controls": [],
        "in_force_now": False,
        "at": mra(service, mra_id)["at"],  # type: ignore[index]
    }
    assert not recognition(service, certified_exporter, "JP")["recognised"]
    # Only one open arrangement between two countries.
    exc = refused(lambda: jp.propose_mra("NL", 0))
    assert (exc.status, exc.problem["code"], exc.problem["errors"][0]["field"]) == (
        409,
        "ARRANGEMENT_EXISTS",
        "partner",
    )

    # A third country can neither ratify nor terminate it.
    exc = refused(lambda: sg.ratify_mra(mra_id))
    assert (exc.status, exc.problem["code"], exc.problem["errors"][0]["field"]) == (403, "NOT_PARTNER", "authority")
    exc = refused(lambda: sg.terminate_mra(mra_id, chain_time(service) + 60))
    assert (exc.status, exc.problem["code"]) == (403, "NOT_PARTY_TO_ARRANGEMENT")
    # Nor can the proposer ratify its own proposal.
    assert refused(lambda: nl.ratify_mra(mra_id)).status == 403

    jp.ratify_mra(mra_id)
    indexed(service, lambda: recognition(service, certified_exporter, "JP")["recognised"], what="ratification indexed")
    answer = recognition(service, certified_exporter, "JP")
    assert (answer["reason"], answer["mra_id"], answer["certificate_country"]) == ("RECOGNISED", mra_id, "NL")
    assert mra(service, mra_id)["in_force_now"]  # type: ignore[index]
    exc = refused(lambda: jp.ratify_mra(mra_id))
    assert (exc.status, exc.problem["code"], exc.problem["errors"][0]["field"]) == (409, "ALREADY_RATIFIED", "mra_id")
    # JP customs cannot terminate with effect in the past.
    exc = refused(lambda: jp.terminate_mra(mra_id, chain_time(service) - 3600))
    assert (exc.status, exc.problem["errors"][0]["field"]) == (422, "terminated_at")

    # A margin the relayer meets under load: the contract refuses an effect already past.
    terminated_at = chain_time(service) + 30
    nl.terminate_mra(mra_id, terminated_at)
    indexed(service, lambda: mra(service, mra_id)["terminated_at"] == terminated_at, what="termination indexed")  # type: ignore[index]
    before = recognition(service, certified_exporter, "JP", at=terminated_at - 1)
    assert (before["recognised"], before["mra_id"]) == (True, mra_id)
    after = recognition(service, certified_exporter, "JP", at=terminated_at)
    assert (after["recognised"], after["reason"], after["mra_id"]) == (False, "ARRANGEMENT_TERMINATED", mra_id)
    exc = refused(lambda: jp.terminate_mra(mra_id, terminated_at + 10))
    assert (exc.status, exc.problem["code"]) == (409, "ALREADY_TERMINATED")
    assert refused(lambda: jp.ratify_mra(mra_id)).status == 409
    # The exporter's own country recognises it still.
    assert recognition(service, certified_exporter, "NL", at=terminated_at)["recognised"]


def test_suspending_a_certificate_ends_recognition_and_reinstating_restores_it(service: Service):
    carrier, now = service.address("carrier"), chain_time(service)
    body = signed_body(
        service,
        NL_CUSTOMS,
        "issue",
        (carrier, "AEOS", now - 60, now + YEAR),
        {
            "action": "issue",
            "operator": carrier,
            "programme": "AEOS",
            "valid_from": now - 60,
            "valid_until": now + YEAR,
        },
    )
    first, again = post(service, "/v1/aeo", body), post(service, "/v1/aeo", body)
    assert (first.status_code, again.status_code) == (202, 200)
    assert first.json()["id"] == again.json()["id"] == f"{NL_CUSTOMS.address}:{body['nonce']}"
    indexed(service, lambda: recognition(service, carrier, "NL")["recognised"], what="certificate indexed")
    assert post(service, "/v1/aeo", body).status_code == 200  # still the same request once mined

    nl = service.as_party(NL_CUSTOMS)
    exc = refused(lambda: nl.change_certificate("reinstate", carrier))
    assert (exc.status, exc.problem["code"], exc.problem["errors"][0]["field"]) == (
        409,
        "INVALID_STATUS_CHANGE",
        "action",
    )
    nl.change_certificate("suspend", carrier)
    indexed(
        service,
        lambda: recognition(service, carrier, "NL")["reason"] == "CERTIFICATE_SUSPENDED",
        what="suspension indexed",
    )
    book, _ = service.runtime.evidence_reader.book()  # type: ignore[union-attr]
    suspension = book.certificate_of(carrier)
    assert suspension is not None and suspension.status == 2
    suspended_at = suspension.status_since
    assert refused(lambda: nl.change_certificate("suspend", carrier)).status == 409
    # Issuing over a suspended certificate would end the suspension by the way: the
    # registry refuses it (RecognitionCertificateSuspended), and so does the service.
    exc = refused(lambda: nl.issue_certificate(carrier, "AEOS", now - 60, now + 2 * YEAR))
    assert (exc.status, exc.problem["code"], exc.problem["errors"][0]["field"]) == (
        409,
        "CERTIFICATE_SUSPENDED",
        "action",
    )
    assert refused(lambda: service.as_party(JP_CUSTOMS).change_certificate("reinstate", carrier)).status == 403
    # A reinstatement in the same second would leave the suspension no time at all, as on chain.
    wait_until(lambda: int(time.time()) > suspended_at, what="the next second")
    nl.change_certificate("reinstate", carrier)
    indexed(service, lambda: recognition(service, carrier, "NL")["recognised"], what="reinstatement indexed")
    # Reinstated from now on: the time it was suspended stays suspended.
    assert recognition(service, carrier, "NL", at=suspended_at)["reason"] == "CERTIFICATE_SUSPENDED"
    nl.change_certificate("revoke", carrier)
    indexed(
        service,
        lambda: recognition(service, carrier, "NL")["reason"] == "CERTIFICATE_REVOKED",
        what="revocation indexed",
    )
    # Without a certificate there is nothing to suspend.
    exc = refused(lambda: service.as_party(JP_CUSTOMS).change_certificate("suspend", service.address("importer")))
    assert (exc.status, exc.problem["code"], exc.problem["errors"][0]["field"]) == (409, "NO_CERTIFICATE", "operator")


def test_bad_requests_are_refused_naming_the_field(service: Service):
    exporter, now = service.address("exporter"), chain_time(service)
    issue = {"action": "issue", "operator": exporter, "programme": "AEOF", "valid_from": now, "valid_until": now + YEAR}
    good_call = (exporter, "AEOF", now, now + YEAR)

    forged = signed_body(service, NL_CUSTOMS, "issue", good_call, issue, signer=JP_CUSTOMS)
    assert problem(post(service, "/v1/aeo", forged)) == (422, "WRONG_SIGNER", "signature")

    too_long = signed_body(service, NL_CUSTOMS, "issue", good_call, {**issue, "programme": "A" * 33})
    assert problem(post(service, "/v1/aeo", too_long)) == (422, "INVALID_PROGRAMME", "programme")
    not_ascii = signed_body(service, NL_CUSTOMS, "issue", good_call, {**issue, "programme": "AEO\u00e9"})
    assert problem(post(service, "/v1/aeo", not_ascii)) == (422, "INVALID_PROGRAMME", "programme")

    reversed_window = (exporter, "AEOF", now + YEAR, now + YEAR)
    body = signed_body(service, NL_CUSTOMS, "issue", reversed_window, {**issue, "valid_from": now + YEAR})
    assert problem(post(service, "/v1/aeo", body)) == (422, "INVALID_VALIDITY", "valid_until")

    missing = signed_body(service, NL_CUSTOMS, "issue", good_call, {k: v for k, v in issue.items() if k != "programme"})
    assert problem(post(service, "/v1/aeo", missing)) == (422, "MISSING", "programme")

    own = signed_body(service, NL_CUSTOMS, "propose", ("NL", 0, 0), {"partner": "NL", "effective_from": 0})
    assert problem(post(service, "/v1/mras", own)) == (422, "INVALID_COUNTRY", "partner")
    lower = signed_body(service, NL_CUSTOMS, "propose", ("JP", 0, 0), {"partner": "jp", "effective_from": 0})
    assert problem(post(service, "/v1/mras", lower))[::2] == (422, "partner")

    # A trader is no authority, whatever it signs.
    trader = service.keys["exporter"]
    body = signed_body(service, trader, "propose", ("SG", 0, 0), {"partner": "SG", "effective_from": 0}, nonce=0)
    assert problem(post(service, "/v1/mras", body)) == (403, "NOT_AUTHORITY", "authority")

    # A nonce that is not the authority's next one.
    nonce = service.http.get(f"/v1/parties/{NL_CUSTOMS.address}").json()["forwarder_nonce"]
    body = signed_body(service, NL_CUSTOMS, "issue", good_call, issue, nonce=nonce + 5)
    assert problem(post(service, "/v1/aeo", body)) == (409, "NONCE_MISMATCH", "nonce")

    assert service.http.get("/v1/mras/999").status_code == 404
    unknown = signed_body(service, JP_CUSTOMS, "ratify", (999,), {})
    assert problem(post(service, "/v1/mras/999/ratify", unknown)) == (409, "UNKNOWN_ARRANGEMENT", "mra_id")


def test_an_mra_names_the_partner_controls_it_recognises(service: Service):
    sg, nl = service.as_party(SG_CUSTOMS), service.as_party(NL_CUSTOMS)
    sg.propose_mra("NL", 0, controls=["EXPORT_INSPECTION"])

    def proposed() -> dict[str, Any] | None:
        # Ids are counted on chain: the SG-NL proposal's is found among the first few.
        return next((m for m in map(lambda i: mra(service, i), range(1, 10)) if m and m["proposer"] == "SG"), None)

    indexed(service, lambda: proposed() is not None, what="proposal indexed")
    arrangement = proposed()
    assert arrangement is not None and arrangement["recognised_controls"] == ["EXPORT_INSPECTION"]
    mra_id = arrangement["mra_id"]
    nl.ratify_mra(mra_id)
    indexed(service, lambda: mra(service, mra_id)["in_force_now"], what="ratification indexed")  # type: ignore[index]
    book, now = service.runtime.evidence_reader.book()  # type: ignore[union-attr]
    assert book.recognised_controls("NL", "SG", now) == 1


def test_a_proposal_naming_an_unknown_control_or_other_controls_than_signed_is_refused(service: Service):
    signed_call = ("SG", 0, 0)  # AEO status only
    fields = {"partner": "SG", "effective_from": 0}
    unknown = signed_body(service, JP_CUSTOMS, "propose", signed_call, {**fields, "recognised_controls": ["X_RAY"]})
    assert problem(post(service, "/v1/mras", unknown)) == (422, "INVALID_CONTROLS", "recognised_controls")
    more = signed_body(
        service, JP_CUSTOMS, "propose", signed_call, {**fields, "recognised_controls": ["EXPORT_INSPECTION"]}
    )
    assert problem(post(service, "/v1/mras", more)) == (422, "WRONG_SIGNER", "signature")


def test_recognition_calls_signed_by_authorities_match_the_compiled_abi():
    abi = load_artifacts(PROJECT_ROOT / "build")["RecognitionRegistry"].abi
    functions = {f["name"]: [i["type"] for i in f["inputs"]] for f in abi if f["type"] == "function"}
    for name, types in RECOGNITION_FUNCTIONS.values():
        assert functions[name] == types
