"""`python -m ledger_api.cli …`: the same CLI as `ledger …`, without the installed script."""

from ledger_api.cli import app

app(prog_name="ledger")
