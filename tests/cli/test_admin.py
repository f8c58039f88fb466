"""`ledger admin credentials`: an operator issues, lists and revokes a party's credential
in the service's store; the token is printed once and kept only hashed."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ledger_api.cli import app
from ledger_api.errors import NotAuthenticated
from ledger_api.services.credentials import Credentials
from ledger_api.store.db import Store

PARTY = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def test_an_operator_issues_lists_and_revokes_a_credential(tmp_path):
    env = {"LEDGER_DATA_DIR": str(tmp_path), "COLUMNS": "250"}
    runner = CliRunner()
    issued = runner.invoke(app, ["admin", "credentials", "issue", PARTY.lower(), "--label", "NL customs"], env=env)
    assert issued.exit_code == 0, issued.output
    token = issued.stdout.strip().splitlines()[-1]
    store = Store(f"sqlite:///{tmp_path / 'ledger.db'}")
    credentials = Credentials(store)
    assert credentials.authenticate(token) == PARTY
    secret = token.split("_", 2)[2]
    assert secret not in (tmp_path / "ledger.db").read_bytes().decode("latin-1")  # only its hash is kept

    listed = runner.invoke(app, ["admin", "credentials", "list"], env=env)
    credential_id = token.split("_")[1]
    assert credential_id in listed.stdout and PARTY in listed.stdout and secret not in listed.stdout

    revoked = runner.invoke(app, ["admin", "credentials", "revoke", credential_id], env=env)
    assert revoked.exit_code == 0
    with pytest.raises(NotAuthenticated, match="revoked"):
        credentials.authenticate(token)
    unknown = runner.invoke(app, ["admin", "credentials", "revoke", "0000000000000000"], env=env)
    assert unknown.exit_code == 1


def test_an_operator_rotates_the_receipt_key_and_old_receipts_stay_verifiable(tmp_path):
    from ledger_api.domain.receipts import verify_receipt
    from ledger_api.store.receipt_keys import load_or_create_keyring

    env = {"LEDGER_DATA_DIR": str(tmp_path)}
    keyring = load_or_create_keyring(tmp_path / "receipt-keys")
    old_receipt = keyring.issue({"verdict": "VERIFIED"})
    rotated = CliRunner().invoke(app, ["admin", "receipt-keys", "rotate"], env=env)
    assert rotated.exit_code == 0, rotated.output
    keyring.reload()
    assert len(keyring.keys) == 2 and keyring.active.kid in rotated.stdout
    listed = CliRunner().invoke(app, ["admin", "receipt-keys", "list"], env=env).stdout.split()
    assert listed[0] == keyring.active.kid and len(listed) == 2
    assert verify_receipt(old_receipt, keyring.jwks())["verdict"] == "VERIFIED"
    assert verify_receipt(keyring.issue({"verdict": "FAILED"}), keyring.jwks())["verdict"] == "FAILED"
