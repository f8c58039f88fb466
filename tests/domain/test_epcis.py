"""Which EPCIS events become which ledger records, without a chain (ledger_api/domain/epcis.py)."""

from __future__ import annotations

from typing import Any

import pytest
from support.epcis import did, document, inspecting, receiving, shipping

from ledger_api.domain.epcis import EpcisError, capture_document, capture_event

CHAIN = 31337
A, B = "0x" + "aa" * 20, "0x" + "bb" * 20
UCR = "6NL123456789-DOM-0001"


def reasons(event: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(EpcisError) as refused:
        capture_event(event, CHAIN)
    return dict(refused.value.errors)


@pytest.mark.parametrize(
    ("step", "kind"),
    [
        ("shipping", "HANDOVER"),
        ("departing", "HANDOVER"),
        ("https://ref.gs1.org/cbv/BizStep-shipping", "HANDOVER"),
        ("urn:epcglobal:cbv:bizstep:departing", "HANDOVER"),
    ],
)
def test_shipping_and_departing_in_any_cbv_form_are_handovers_to_the_destination_party(step: str, kind: str):
    captured = capture_event(shipping(UCR, B, bizStep=step), CHAIN)
    assert captured.payload.kind == kind
    assert captured.counterparty.lower() == B
    assert captured.actor is None


def test_receiving_is_an_acceptance_from_the_source_party_and_names_its_actor_when_given():
    event = receiving(UCR, A, destinationList=[{"type": "possessing_party", "destination": did(B)}])
    captured = capture_event(event, CHAIN)
    assert captured.payload.kind == "ACCEPTANCE"
    assert captured.counterparty.lower() == A and captured.actor is not None and captured.actor.lower() == B


def test_inspecting_is_a_customs_decision_with_the_decision_of_the_extension():
    captured = capture_event(inspecting(UCR), CHAIN)
    assert captured.payload.kind == "CUSTOMS_DECISION"
    assert captured.payload.model_dump()["decision"] == "EXPORT_RELEASE"


def test_events_the_ledger_does_not_record_are_refused_with_the_field_and_reason():
    assert "AssociationEvent" in reasons(shipping(UCR, B, type="AssociationEvent"))["type"]
    assert "OBSERVE or ADD" in reasons(shipping(UCR, B, action="DELETE"))["action"]
    assert "installing" in reasons(shipping(UCR, B, bizStep="installing"))["bizStep"]
    assert "is required" in reasons({k: v for k, v in shipping(UCR, B).items() if k != "ledger:ucr"})["ledger:ucr"]


def test_an_event_declaring_an_earlier_one_in_error_is_refused_not_captured_as_live_custody():
    """Security review: GS1 events with an errorDeclaration were captured as new custody events."""
    correction = shipping(
        UCR,
        B,
        errorDeclaration={"declarationTime": "2026-05-02T10:00:00Z", "reason": "incorrect_data"},
    )
    assert "REVOCATION" in reasons(correction)["errorDeclaration"]
    for kind_of_event in (receiving(UCR, A), inspecting(UCR)):
        kind_of_event["errorDeclaration"] = {"declarationTime": "2026-05-02T10:00:00Z"}
        assert "errorDeclaration" in reasons(kind_of_event)


def test_parties_must_be_ledger_accounts_on_this_chain_and_a_handover_must_name_its_receiver():
    other_chain = [{"type": "possessing_party", "destination": f"did:pkh:eip155:1:{B}"}]
    assert "chain 1" in reasons(shipping(UCR, B, destinationList=other_chain))["destinationList[0].destination"]
    pgln = [{"type": "possessing_party", "destination": "urn:epc:id:pgln:4012345.00000"}]
    assert "did:pkh" in reasons(shipping(UCR, B, destinationList=pgln))["destinationList[0].destination"]
    assert "who takes custody" in reasons(shipping(UCR, B, destinationList=[]))["destinationList"]
    two = [{"type": "possessing_party", "destination": did(A)}, {"type": "possessing_party", "destination": did(B)}]
    assert "more than one" in reasons(shipping(UCR, B, destinationList=two))["destinationList"]


def test_payload_errors_name_the_events_field_not_the_payloads():
    bad = reasons(shipping(UCR, B, **{"ledger:containers": ["CSQU3054384"], "eventTime": "yesterday"}))
    assert "check digit" in bad["ledger:containers[0]"]
    assert "eventTime" in bad
    decision = inspecting(UCR)
    decision["ledger:decision"]["decision"] = "MAYBE"
    decision["ledger:decision"]["colour"] = "red"
    bad = reasons(decision)
    assert "ledger:decision.decision" in bad and "ledger:decision.colour" in bad


def test_a_document_reports_every_bad_event_by_index():
    doc = document(shipping(UCR, B), shipping(UCR, B, bizStep="x"), shipping(UCR, B), shipping(UCR, B, action="DELETE"))
    with pytest.raises(EpcisError) as refused:
        capture_document(doc, CHAIN)
    assert [f for f, _ in refused.value.errors] == ["epcisBody.eventList[1].bizStep", "epcisBody.eventList[3].action"]


def test_a_document_that_is_not_epcis_2_is_refused_at_its_root():
    for doc, field in [
        ({"type": "EPCISQueryDocument"}, "type"),
        ({**document(shipping(UCR, B)), "schemaVersion": "1.2"}, "schemaVersion"),
        ({**document(shipping(UCR, B)), "@context": ["https://example.org/ctx"]}, "@context"),
        (document(), "epcisBody.eventList"),
    ]:
        with pytest.raises(EpcisError) as refused:
            capture_document(doc, CHAIN)
        assert field in dict(refused.value.errors)
