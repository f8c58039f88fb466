"""The CLI tests' keystore: the parties whose keys it holds, the password they are kept
under, and the environment `ledger` runs in (the `keys_dir` and `ledger` fixtures,
tests/cli/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from click.testing import Result

PASSWORD = "correct horse battery staple"
PARTIES = ("exporter", "carrier", "customs_nl")

# `ledger(*args, input=…, url=…, env=…)`: runs `ledger --url <service> ARGS…`
Ledger = Callable[..., Result]


def cli_env(keys_dir: Path, **extra: str) -> dict[str, str]:
    # COLUMNS: rich sizes tables to 80 columns when not on a terminal, which would fold addresses.
    return {
        "LEDGER_KEYS_DIR": str(keys_dir),
        "LEDGER_KEYSTORE_FAST": "1",
        "LEDGER_KEY_PASSWORD": PASSWORD,
        "COLUMNS": "250",
        **extra,
    }
