"""`ledger status RECORD_ID` and `ledger history UCR`: what the service's index holds of a
record and of a consignment, read with the party's credential (nothing is signed)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from ledger_api.cli._common import EXIT_REFUSED, RECORD_ID, UCR, fail, out, reader, reporting_errors


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
        table = Table("#", "kind", "party", "counterparty", "status", "conf.", title=f"consignment {ucr}")
        for record in consignment["records"]:
            table.add_row(
                str(record["position"]),
                record["kind"],
                Text(record["party"]),
                Text(record.get("counterparty") or "-"),
                record["status"],
                str(record["confirmations"]),
            )
        console = out()
        console.print(table)
        console.print(Text(f"custodian: {consignment['custodian']}"))
        console.print(Text(f"pending handover to: {consignment.get('pending_custodian') or 'none'}"))
        # Origin, destination, then the transit countries in the order they were added.
        console.print(Text(f"route: {' → '.join(consignment.get('route') or []) or '-'}"))
