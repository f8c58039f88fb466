"""Example payloads of each family, valid, for tests to build on (`**changes` replaces
top-level fields). One place, so that every test speaks of the same consignment."""

from __future__ import annotations

from typing import Any


def declaration(ucr: str, **changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "schema_version": "1",
        "kind": "DECLARATION",
        "ucr": ucr,
        "exporter": {
            "name": "Delta Electronics Export BV",
            "address": "Waalhaven Zuidzijde 19, 3089 JH Rotterdam",
            "country": "NL",
            "identifier": {"scheme": "EORI", "value": "NL123456789"},
        },
        "consignee": {"name": "Sakura Trading KK", "address": "1-1 Marunouchi, Chiyoda-ku, Tokyo", "country": "JP"},
        "origin_country": "NL",
        "destination_country": "JP",
        "goods": [
            {
                "line_number": 1,
                "hs_code": "85044090",
                "description": "Static converters (power supplies for servers)",
                "quantity": "120",
                "quantity_unit": "PCE",
                "gross_mass_kg": "850.50",
                "value": "24000.00",
                "currency": "EUR",
            }
        ],
        "containers": ["CSQU3054383"],
        "seals": ["NL-SEAL-000123"],
    }
    payload.update(changes)
    return payload


def custody(ucr: str, kind: str, location: str = "NLRTM", **changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "schema_version": "1",
        "kind": kind,
        "ucr": ucr,
        "location": location,
        "time": "2026-03-01T10:30:00Z",
        "transport": {"mode": "sea", "means_id": "IMO9321483", "voyage": "024E"},
        "containers": ["CSQU3054383"],
        "seals": ["NL-SEAL-000123"],
    }
    payload.update(changes)
    return payload


def decision(ucr: str, **changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "schema_version": "1",
        "kind": "CUSTOMS_DECISION",
        "ucr": ucr,
        "authority_country": "NL",
        "customs_office": "NL000396",
        "decision": "EXPORT_RELEASE",
        "inspection": {"method": "DOCUMENTARY", "result": "CONFORM"},
        "time": "2026-03-01T09:00:00Z",
    }
    payload.update(changes)
    return payload


def transit(ucr: str, countries: list[str] | None = None, **changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "schema_version": "1",
        "kind": "TRANSIT",
        "ucr": ucr,
        "transit_countries": ["SG"] if countries is None else countries,
        "time": "2026-03-05T06:00:00Z",
        "location": "NLRTM",
        "reason": "transhipment in Singapore",
    }
    payload.update(changes)
    return payload
