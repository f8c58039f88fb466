"""The read schemas of the API carry the fields of the service views they are built from
(`RecordOut(**asdict(view))`), in the same order: a field added to a view alone would be
dropped from every answer without a word, one added to a schema alone would fail every
request."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from ledger_api.api.schemas import ConsignmentOut, PartyOut, RecordOut
from ledger_api.services.queries import ConsignmentView, PartyView, RecordView


def _names(view: Any) -> list[str]:
    return [f.name for f in fields(view)]


def test_a_record_is_answered_with_every_field_of_the_record_view():
    assert list(RecordOut.model_fields) == _names(RecordView)


def test_a_consignment_is_answered_with_every_field_of_the_consignment_view():
    assert list(ConsignmentOut.model_fields) == _names(ConsignmentView)


def test_a_party_is_answered_with_every_field_of_the_party_view_and_its_forwarder_nonce():
    assert list(PartyOut.model_fields) == [*_names(PartyView), "forwarder_nonce"]
