"""EPCIS 2.0 documents and events as a party sends them to the ledger (`**changes`
replaces top-level fields): shipping, receiving and inspecting. Their extension fields
(`ledger:…`) carry what the custody and decision payloads of support.payloads carry, so
that an event and a record speak of the same consignment. And where GS1's reference
files are (the `gs1` fixture, tests/epcis/conftest.py)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from ledger_api.settings import PROJECT_ROOT

from .payloads import custody, decision

CHAIN_ID = 31337

# GS1's EPCIS 2.0 reference files (its JSON schema, JSON-LD context and example documents)
# are not in the repository: they come with the team's shared folder beside the project.
GS1_SHARED = PROJECT_ROOT.parent / "shared" / "epcis"


def gs1_reference(environ: Mapping[str, str] = os.environ) -> Path:
    """The folder of GS1's reference files: GS1_EPCIS_DIR, else ../shared/epcis. Where it
    is absent, a test that reads it is skipped saying why, except in CI (CI=true), where
    it fails: a CI run must not pass without the checks against GS1's own files."""
    folder = Path(environ.get("GS1_EPCIS_DIR") or GS1_SHARED)
    if folder.is_dir():
        return folder
    reason = (
        f"GS1's EPCIS reference files are not in {folder}: they come with the team's shared folder "
        "(../shared/epcis beside the project), or GS1_EPCIS_DIR names a folder holding them"
    )
    if environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        pytest.fail(f"{reason}; CI={environ['CI']}, where these tests must run", pytrace=False)
    pytest.skip(reason)


def did(address: str) -> str:
    return f"did:pkh:eip155:{CHAIN_ID}:{address}"


def document(*events: dict[str, Any]) -> dict[str, Any]:
    return {
        "@context": [
            "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
            {"ledger": "urn:customs-provenance-ledger:epcis:"},
        ],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-03-01T12:00:00.000Z",
        "epcisBody": {"eventList": list(events)},
    }


def shipping(ucr: str, to: str, **changes: Any) -> dict[str, Any]:
    carried = custody(ucr, "HANDOVER")
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": "2026-03-01T11:30:00.000+01:00",
        "eventTimeZoneOffset": "+01:00",
        "epcList": ["urn:epc:id:sscc:0614141.1234567890"],
        "action": "OBSERVE",
        "bizStep": "shipping",
        "disposition": "in_transit",
        "readPoint": {"id": "urn:epc:id:sgln:0614141.07346.1234"},
        "destinationList": [{"type": "possessing_party", "destination": did(to)}],
        "ledger:ucr": ucr,
        **{f"ledger:{field}": carried[field] for field in ("location", "transport", "containers", "seals")},
    }
    event.update(changes)
    return event


def receiving(ucr: str, handed_over_by: str, **changes: Any) -> dict[str, Any]:
    event = shipping(ucr, handed_over_by, bizStep="receiving", disposition="in_progress")
    del event["destinationList"]
    event["sourceList"] = [{"type": "possessing_party", "source": did(handed_over_by)}]
    event.update(changes)
    return event


def inspecting(ucr: str, **changes: Any) -> dict[str, Any]:
    decided = decision(ucr)
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": "2026-03-01T13:00:00Z",
        "eventTimeZoneOffset": "+00:00",
        "epcList": [],
        "action": "OBSERVE",
        "bizStep": "urn:epcglobal:cbv:bizstep:inspecting",
        "ledger:ucr": ucr,
        "ledger:decision": {
            field: decided[field] for field in ("authority_country", "customs_office", "decision", "inspection")
        },
    }
    event.update(changes)
    return event
