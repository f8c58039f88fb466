"""No configured secret (a private key, a database password) ever appears in a log line or
in the message of a refused setting (security review: pydantic's `input_value` carried the
tail of both into the log)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys

import httpx
import pytest
from support.service import local_settings, served

from ledger_api.errors import ConfigurationError
from ledger_api.settings import PROJECT_ROOT, Settings

# anvil's development accounts 0 and 8: funded on the embedded chain, so a service can run
# with them as its deployer and relayer; the test treats them as the secrets they would be.
DEPLOYER = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
RELAYER = "0xdbda1821b80551c9d65939329250298aa3472ba22feea921c0cf5d620ea67b97"
PASSWORD = "s3cret-db-pa55word"


def _leaks(text: str, secrets: tuple[str, ...]) -> list[str]:
    """Any piece of a secret in `text`: 8 characters of a key (hex: a shorter piece could
    be any hash's), 5 of a password (pydantic's truncated input_value showed its last 5)."""
    found = []
    for secret in secrets:
        bare = secret.removeprefix("0x")
        size = 8 if all(c in "0123456789abcdef" for c in bare) else 5
        found += [bare[i : i + size] for i in range(len(bare) - size + 1) if bare[i : i + size] in text]
    return found


@pytest.mark.parametrize(
    "values",
    [
        {"port": "not a port"},  # a field error
        {},  # a model error: an external chain without a relayer key
        {"environment": "production", "relayer_key": RELAYER},  # the production guard
    ],
)
def test_a_refused_setting_names_itself_but_not_any_secret(values):
    given = {
        "rpc_url": "http://127.0.0.1:1",
        "deployer_key": DEPLOYER,
        "database_url": f"postgresql://u:{PASSWORD}@h/d",
    }
    with pytest.raises(ConfigurationError) as refused:
        Settings.load(**(given | values))
    assert str(refused.value)
    assert not _leaks(str(refused.value), (DEPLOYER, RELAYER, PASSWORD))


def test_make_run_refusing_its_settings_logs_the_reason_without_the_secrets(tmp_path):
    env = {
        **os.environ,
        "LEDGER_DATA_DIR": str(tmp_path),
        "LEDGER_RPC_URL": "http://127.0.0.1:1",
        "LEDGER_DEPLOYER_KEY": DEPLOYER,
        "LEDGER_DATABASE_URL": f"postgresql+psycopg://ledger:{PASSWORD}@127.0.0.1/ledger",
    }  # an external chain without a relayer key: refused as a whole, all values in view
    done = subprocess.run(
        [sys.executable, "-m", "ledger_api.run"], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "LEDGER_RELAYER_KEY" in done.stderr
    assert not _leaks(done.stdout + done.stderr, (DEPLOYER, RELAYER, PASSWORD))


def test_a_service_run_with_its_own_keys_logs_none_of_them(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    settings = local_settings(tmp_path, deployer_key=DEPLOYER, relayer_key=RELAYER, chain_worker="thread")
    with served(settings) as runtime:
        url = f"http://127.0.0.1:{settings.port}"
        assert httpx.get(f"{url}/readyz", timeout=10).status_code in (200, 503)
        assert httpx.get(f"{url}/v1/ledger", timeout=10).status_code == 200
        assert runtime.relayer is not None
    lines = [record.getMessage() + (record.exc_text or "") for record in caplog.records]
    assert lines, "the run logged nothing: the test would prove nothing"
    assert not _leaks("\n".join(lines), (DEPLOYER, RELAYER))
