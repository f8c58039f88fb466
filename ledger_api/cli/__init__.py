"""`ledger`: the command line of a party of the customs provenance ledger. Keys stay on the
party's disk, encrypted (ledger_api/keystore.py); records are signed here and only the
signatures reach the service.

    ledger keys new ALIAS | keys import ALIAS | keys list
    ledger declare  --key ALIAS --payload FILE.json [--wait]
    ledger handover --key ALIAS --to 0xADDR --payload FILE.json [--wait]
    ledger accept   --key ALIAS --from 0xADDR --payload FILE.json [--wait]
    ledger decide   --key ALIAS --payload FILE.json [--wait]
    ledger transit  --key ALIAS --payload FILE.json [--wait]
    ledger status RECORD_ID
    ledger history UCR
    ledger party ADDRESS
    ledger import FILE.json|FILE.csv --key ALIAS [--batch-size N | --single] [--wait]
    ledger import-epcis FILE.jsonld --key ALIAS [--chunk-size N] [--wait]
    ledger verify UCR --country CC [--at-block N] [--receipt-out FILE] [--evidence-out FILE]
    ledger verify-receipt FILE [--jwks FILE | --url URL | --rpc URL [--ledger ADDRESS]]
    ledger verify-bundle FILE [--rpc URL]

and, on the operator's side, `ledger admin …` (the service's store and receipt keys),
`ledger demo` and `ledger bench ingest|verify|worklist|consortium|multi`.

Exit codes, for scripts:

    0  success
    1  the service refused (a 4xx problem: its fields and reasons are printed)
    2  usage error (a bad option or argument)
    3  the service is unreachable or failed (5xx, 503), or with --wait a record failed on
       chain or was not confirmed in time
    4  local error: no such key, wrong password, unreadable or invalid payload file; with
       verify-receipt, a receipt that does not verify; with verify-bundle, a malformed bundle
    5  verify, verify-receipt, verify-bundle: the verification was made and its verdict is
       not VERIFIED (FAILED or INCOMPLETE: the verdict and every check are printed)
    6  verify-bundle --rpc: the chain contradicts the bundle (another chain id, an anchor
       missing or at another block or block hash); takes precedence over 5

Passwords come from --password-file, else LEDGER_KEY_PASSWORD, else a hidden prompt.
Record ids go to stdout alone on their line; tables and progress are for people.

This module assembles the commands, a module per group:

    _common.py  exit codes, error mapping, global options, signing options, the party's files
    keys.py     keys new | import | list
    records.py  declare, handover, accept, decide, transit
    reads.py    status, history, party
    imports.py  import, import-epcis
    verify.py   verify, verify-receipt, verify-bundle
    admin.py    admin credentials | receipt-keys | publish-endpoint (operator)
    bench.py    bench ingest | verify | worklist | consortium | multi (ledger_bench)
    demo.py     demo

A party's commands import nothing of the service's side (store, runtime, services): the
operator's commands import it inside the command (tests/cli/test_party_cli_imports.py).
"""

from __future__ import annotations

import typer

from ledger_api.cli import admin, bench, demo, imports, keys, reads, records, verify
from ledger_api.cli._common import main

_HELP = """Sign customs provenance records locally and submit them to the ledger service.

Exit codes:
  0  success
  1  the service refused (4xx): the problem's fields and reasons are printed
  2  usage error
  3  the service is unreachable or failed (5xx, 503); with --wait, a record failed on chain or was not confirmed in time
  4  local error: no such key, wrong password, bad payload file; an invalid receipt; a malformed evidence bundle
  5  verify, verify-receipt, verify-bundle: checked, but the verdict is not VERIFIED (FAILED or INCOMPLETE)
  6  verify-bundle --rpc: an anchor is not on chain as the bundle says (or another chain id)

Passwords: --password-file FILE, else env LEDGER_KEY_PASSWORD, else a hidden prompt."""

app = typer.Typer(help=_HELP, no_args_is_help=True, add_completion=False)
app.callback()(main)

for spec in records.COMMANDS:
    app.command(spec.name)(records.command(spec))
app.command("status")(reads.status)
app.command("history")(reads.history)
app.command("party")(reads.party)
app.command("import")(imports.import_records)
app.command("import-epcis")(imports.import_epcis)
app.command("demo")(demo.demo)
app.command("verify")(verify.verify)
app.command("verify-receipt")(verify.verify_receipt_command)
app.command("verify-bundle")(verify.verify_bundle)

app.add_typer(keys.app, name="keys")
app.add_typer(admin.app, name="admin")
app.add_typer(bench.app, name="bench")

__all__ = ["app"]
