"""The CLI tests drive `ledger` against a real service (the `service` fixture,
tests/conftest.py), with a keystore of their own holding the service's parties' keys."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
from click.testing import Result
from support.cli import PARTIES, Ledger, cli_env
from support.service import Service
from typer.testing import CliRunner

from ledger_api.cli import app


@pytest.fixture(scope="module")
def keys_dir(service: Service, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A keystore holding the parties' keys, imported the way a party would: `ledger keys import`."""
    folder = tmp_path_factory.mktemp("keys")
    runner = CliRunner()
    for name in PARTIES:
        result = runner.invoke(
            app, ["keys", "import", name], input=service.keys[name].key.hex() + "\n", env=cli_env(folder)
        )
        assert result.exit_code == 0, result.output
    return folder


@pytest.fixture
def ledger(service: Service, keys_dir: Path) -> Ledger:
    """Runs `ledger --url <service> ARGS…`; `url=` overrides the service, `env=` adds variables."""

    def run(*args: str, input: str | None = None, url: str | None = None, env: dict[str, str] | None = None) -> Result:
        argv: Sequence[str] = ["--url", url or service.url, *args]
        # A party runs the CLI with its own credential: the one of its --key. Without a key
        # it reads as NL customs, who sees every consignment of these tests (origin NL).
        key = next((args[i + 1] for i, a in enumerate(args[:-1]) if a in ("--key", "-k")), "customs_nl")
        token = service.tokens.get(key, service.tokens["customs_nl"])
        variables = {"LEDGER_TOKEN": token, **(env or {})}
        return CliRunner().invoke(app, list(argv), input=input, env=cli_env(keys_dir, **variables))

    return run
