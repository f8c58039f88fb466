"""The CLI tests drive `ledger` against the API tests' real service, with a keystore of
their own holding the API test parties' keys."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

# tests/ has no __init__.py: pytest puts tests/ itself on sys.path, so the API tests are the
# package `api` (their own modules say `from .conftest import`), not `tests.api`.
from api.conftest import Service, service  # noqa: F401
from click.testing import Result
from typer.testing import CliRunner

from ledger_api.cli import app

PASSWORD = "correct horse battery staple"
PARTIES = ("exporter", "carrier", "customs_nl")

Ledger = Callable[..., Result]


def _env(keys_dir: Path, **extra: str) -> dict[str, str]:
    # COLUMNS: rich sizes tables to 80 columns when not on a terminal, which would fold addresses.
    return {
        "LEDGER_KEYS_DIR": str(keys_dir),
        "LEDGER_KEYSTORE_FAST": "1",
        "LEDGER_KEY_PASSWORD": PASSWORD,
        "COLUMNS": "250",
        **extra,
    }


@pytest.fixture(scope="module")
def keys_dir(service: Service, tmp_path_factory: pytest.TempPathFactory) -> Path:  # noqa: F811
    """A keystore holding the parties' keys, imported the way a party would: `ledger keys import`."""
    folder = tmp_path_factory.mktemp("keys")
    runner = CliRunner()
    for name in PARTIES:
        result = runner.invoke(
            app, ["keys", "import", name], input=service.keys[name].key.hex() + "\n", env=_env(folder)
        )
        assert result.exit_code == 0, result.output
    return folder


@pytest.fixture
def ledger(service: Service, keys_dir: Path) -> Ledger:  # noqa: F811
    """Runs `ledger --url <service> ARGS…`; `url=` overrides the service, `env=` adds variables."""

    def run(*args: str, input: str | None = None, url: str | None = None, env: dict[str, str] | None = None) -> Result:
        argv: Sequence[str] = ["--url", url or service.url, *args]
        # A party runs the CLI with its own credential: the one of its --key. Without a key
        # it reads as NL customs, who sees every consignment of these tests (origin NL).
        key = next((args[i + 1] for i, a in enumerate(args[:-1]) if a in ("--key", "-k")), "customs_nl")
        token = service.tokens.get(key, service.tokens["customs_nl"])
        variables = {"LEDGER_TOKEN": token, **(env or {})}
        return CliRunner().invoke(app, list(argv), input=input, env=_env(keys_dir, **variables))

    return run
