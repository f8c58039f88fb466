"""`ledger keys new | import | list`: the party's signing keys, encrypted on its own disk
(Ethereum keystore v3, one file per alias; ledger_api/keystore.py). A key never leaves
this machine: only signatures reach the service."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.table import Table
from rich.text import Text

from ledger_api import keystore
from ledger_api.cli._common import LocalError, PasswordFile, err, new_password, out, reporting_errors, settings

app = typer.Typer(help="Encrypted signing keys (Ethereum keystore v3), one file per alias.", no_args_is_help=True)

Alias = Annotated[str, typer.Argument(help="Name of the key, e.g. 'exporter'.")]


@app.command("new")
def keys_new(alias: Alias, password_file: PasswordFile = None) -> None:
    """Creates a random key and stores it encrypted under ALIAS; prints its address."""
    with reporting_errors():
        account = keystore.new_key(alias, new_password(password_file, alias), keys_dir=settings.keys_dir)
        out().print(f"{alias} {account.address}")


@app.command("import")
def keys_import(alias: Alias, password_file: PasswordFile = None) -> None:
    """Stores an existing private key (hex) under ALIAS, encrypted. The key is read from
    stdin (first line) or a hidden prompt, never from the command line, where other users
    and the shell history would see it."""
    with reporting_errors():
        if sys.stdin.isatty():
            private_key = str(typer.prompt("Private key (hex)", hide_input=True))
        else:
            private_key = sys.stdin.readline()
        if not private_key.strip():
            raise LocalError("no private key given on stdin")
        password = new_password(password_file, alias)
        account = keystore.import_key(alias, private_key, password, keys_dir=settings.keys_dir)
        out().print(f"{alias} {account.address}")


@app.command("list")
def keys_list() -> None:
    """Lists the stored keys: alias and address (no password needed)."""
    with reporting_errors():
        keys = keystore.list_keys(keys_dir=settings.keys_dir)
        if not keys:
            err().print(f"no keys in {settings.keys_dir or keystore.default_keys_dir()}")
            return
        table = Table("alias", "address")
        for alias, address in keys:
            table.add_row(Text(alias), Text(address))
        out().print(table)
