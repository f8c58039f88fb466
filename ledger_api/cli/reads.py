"""`ledger status RECORD_ID`, `ledger history UCR` and `ledger party ADDRESS`: what the
service's index holds of a record, a consignment and a party, read with the party's
credential (nothing is signed). Parties are shown by name, with their address."""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from ledger_api.cli._common import EXIT_REFUSED, RECORD_ID, UCR, fail, out, reader, reporting_errors

ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")
ADDRESS_HELP = "The party's address, 0x and 40 hex digits."


def status(record_id: Annotated[str, typer.Argument(help="The record id, 0x and 64 hex digits.")]) -> None:
    """Shows a record's status, confirmations, transaction, block and batch root."""
    if not RECORD_ID.fullmatch(record_id):
        raise typer.BadParameter("expected 0x and 64 hex digits", param_hint="RECORD_ID")
    with reporting_errors():
        client = reader()
        try:
            record = client.record(record_id)
        finally:
            client.close()
        table = Table("field", "value", title=f"record {record['id']}")
        rows = [
            ("ucr", record["ucr"]),
            ("kind", record["kind"]),
            ("position", record["position"]),
            ("mode", record["mode"]),
            ("status", record["status"]),
            ("confirmations", record["confirmations"]),
            ("tx", record.get("tx_hash")),
            ("block", record.get("block_number")),
            ("block hash", record.get("block_hash")),
            ("batch root", record.get("batch_root")),
            ("error", record.get("error")),
        ]
        for name, value in rows:
            table.add_row(name, Text("-" if value is None else str(value)))
        out().print(table)


def history(ucr: Annotated[str, typer.Argument(help="The consignment's WCO UCR.")]) -> None:
    """Shows a consignment's records in order, its custodian, any pending handover and its route."""
    if not UCR.fullmatch(ucr):
        raise typer.BadParameter("not a WCO UCR (e.g. 4NL123456789-INV2026-0001)", param_hint="UCR")
    with reporting_errors():
        client = reader()
        try:
            consignment = client.consignment(ucr)
        finally:
            client.close()
        if consignment is None:
            fail(EXIT_REFUSED, f"no consignment with UCR {ucr}")
        parties = consignment.get("parties") or {}
        table = Table("#", "kind", "party", "counterparty", "status", "conf.", title=f"consignment {ucr}")
        for record in consignment["records"]:
            table.add_row(
                str(record["position"]),
                record["kind"],
                Text(named(record["party"], parties)),
                Text(named(record.get("counterparty"), parties)),
                record["status"],
                str(record["confirmations"]),
            )
        console = out()
        console.print(table)
        console.print(Text(f"custodian: {named(consignment['custodian'], parties)}"))
        console.print(Text(f"pending handover to: {named(consignment.get('pending_custodian'), parties, 'none')}"))
        # Origin, destination, then the transit countries in the order they were added.
        console.print(Text(f"route: {' → '.join(consignment.get('route') or []) or '-'}"))


def named(address: str | None, parties: dict[str, Any], absent: str = "-") -> str:
    """`Legal Name (0xADDRESS)`, or the address alone when the service holds no name for it."""
    if not address:
        return absent
    name = (parties.get(address) or {}).get("name")
    return f"{name} ({address})" if name else address


def party(address: Annotated[str, typer.Argument(help=ADDRESS_HELP)]) -> None:
    """Shows a registered party: its legal name and identifiers (EORI, LEI, GLN…), country,
    roles and status."""
    if not ADDRESS.fullmatch(address):
        raise typer.BadParameter("expected 0x and 40 hex digits", param_hint="ADDRESS")
    with reporting_errors():
        client = reader()
        try:
            found = client.party(address)
        finally:
            client.close()
        if found is None:
            fail(EXIT_REFUSED, f"no party {address}")
        table = Table("field", "value", title=f"party {found['address']}")
        table.add_row("name", Text(found.get("name") or "- (identifiers not known to this service)"))
        for key, value in sorted((found.get("identifiers") or {}).items()):
            if key != "name":
                table.add_row(key, Text(value))
        table.add_row("country", found["country"])
        table.add_row("roles", ", ".join(found["roles"]))
        table.add_row("status", found["status"])
        table.add_row("identifiers hash", found["identifiers_hash"])
        out().print(table)
