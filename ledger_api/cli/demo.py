"""`ledger demo`: the service on its own local chain with the demo consignments, as `make run`
starts it (ledger_api/run.py; the consignments are ledger_api/demo.py)."""

from __future__ import annotations

import typer


def demo() -> None:
    """Start the service on its own local chain with the demo consignments, as `make run`
    does (http://127.0.0.1:8000; Ctrl-C stops it). Settings come from LEDGER_* variables."""
    from ledger_api import run

    raise typer.Exit(run.main())
