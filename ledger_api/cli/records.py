"""`ledger declare | handover | accept | decide | transit`: one record, signed here with the party's
key and submitted to the service. Its id goes to stdout alone on its line; with --wait,
its status once confirmed (or why not).

The commands differ only in the payload kind they sign and, for a custody record,
the option naming the other custodian: each is made from its line in COMMANDS.
"""

# No `from __future__ import annotations`: typer reads the options from the annotations,
# and a custody command's counterparty option is made from its spec when it is defined.

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from ledger_api.cli._common import (
    EXIT_UNAVAILABLE,
    KeyAlias,
    LocalError,
    PasswordFile,
    PayloadFile,
    Timeout,
    Wait,
    address,
    checked_payload,
    fail,
    out,
    read_json,
    reporting_errors,
    signer,
)
from ledger_api.domain.records import ZERO_ADDRESS


@dataclass(frozen=True)
class RecordCommand:
    """A command that signs one record: its name, the payload kind it signs, its help
    and, for a custody record, the option naming the counterparty."""

    name: str
    kind: str
    help: str
    counterparty: str | None = None
    counterparty_help: str = ""


COMMANDS = (
    RecordCommand(
        "declare",
        "DECLARATION",
        "Signs and submits a DECLARATION: the first record of a consignment. Prints its id.",
    ),
    RecordCommand(
        "handover",
        "HANDOVER",
        "Signs and submits a HANDOVER of the consignment to the next custodian. Prints its id.",
        "--to",
        "Address of the next custodian.",
    ),
    RecordCommand(
        "accept",
        "ACCEPTANCE",
        "Signs and submits the ACCEPTANCE of a pending handover. Prints its id.",
        "--from",
        "Address of the custodian handing over.",
    ),
    RecordCommand(
        "decide",
        "CUSTOMS_DECISION",
        "Signs and submits a CUSTOMS_DECISION (customs of a country on the route only). Prints its id.",
    ),
    RecordCommand(
        "transit",
        "TRANSIT",
        "Signs and submits a TRANSIT: the custodian adds the payload's transit_countries to the "
        "consignment's route. Prints its id.",
    ),
)


def command(spec: RecordCommand) -> Callable[..., None]:
    """The typer command of `spec`, its options in the order `--help` shows them."""
    return _custody_command(spec, spec.counterparty) if spec.counterparty else _own_command(spec)


def _own_command(spec: RecordCommand) -> Callable[..., None]:
    def sign_and_submit(
        key: KeyAlias,
        payload: PayloadFile,
        wait: Wait = False,
        timeout: Timeout = 60.0,
        password_file: PasswordFile = None,
    ) -> None:
        _sign_and_post(spec, key, password_file, payload, ZERO_ADDRESS, wait, timeout)

    sign_and_submit.__doc__ = spec.help
    return sign_and_submit


def _custody_command(spec: RecordCommand, option: str) -> Callable[..., None]:
    def sign_and_submit(
        key: KeyAlias,
        counterparty: Annotated[str, typer.Option(option, help=spec.counterparty_help)],
        payload: PayloadFile,
        wait: Wait = False,
        timeout: Timeout = 60.0,
        password_file: PasswordFile = None,
    ) -> None:
        _sign_and_post(spec, key, password_file, payload, address(counterparty, option), wait, timeout)

    sign_and_submit.__doc__ = spec.help
    return sign_and_submit


def _payload_file(path: Path, spec: RecordCommand) -> dict[str, Any]:
    payload = checked_payload(read_json(path), str(path))
    if payload["kind"] != spec.kind:
        raise LocalError(
            f"{path} holds a {payload['kind']} payload; `ledger {spec.name}` signs {spec.kind} payloads "
            f"(payload.kind must be {spec.kind!r})"
        )
    return payload


def _print_record_summary(record: dict[str, Any]) -> None:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold")
    grid.add_column()
    grid.add_row("status", Text(str(record["status"])))
    grid.add_row("block", Text(str(record.get("block_number") or "-")))
    grid.add_row("tx", Text(str(record.get("tx_hash") or "-")))
    if record.get("error"):
        grid.add_row("error", Text(str(record["error"]), style="red"))
    out().print(grid)


def _sign_and_post(
    spec: RecordCommand,
    alias: str,
    password_file: Path | None,
    payload_path: Path,
    counterparty: str,
    wait: bool,
    timeout: float,
) -> None:
    with reporting_errors():
        payload = _payload_file(payload_path, spec)
        client = signer(alias, password_file)
        try:
            accepted = client.post(client.sign(payload, counterparty=counterparty))
            record_id = str(accepted["id"])
            out().print(record_id, soft_wrap=True)
            if wait:
                record = client.wait_confirmed(record_id, timeout=timeout)
                _print_record_summary(record)
                if record["status"] != "confirmed":
                    what = "failed on chain" if record["status"] == "failed" else f"not confirmed after {timeout:g}s"
                    fail(EXIT_UNAVAILABLE, f"record {record_id} {what}")
        finally:
            client.close()
