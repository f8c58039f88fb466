"""A trader's or a carrier's `ledger` loads only what signs, reads files and speaks HTTP:
never the service's store, SQLAlchemy, its runtime or its services. The commands run in a
fresh interpreter, where nothing else has imported those first; the operator's commands
load them when they run, which shows that the check sees an import when there is one."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import ledger_api

# The project whose code this test imports: the child imports the same code.
PROJECT = Path(ledger_api.__file__).resolve().parents[1]
SERVICE_SIDE = ["ledger_api.store", "sqlalchemy", "ledger_api.runtime", "ledger_api.services"]
PARTY_COMMANDS = [
    ["keys", "new", "--help"],
    ["keys", "import", "--help"],
    ["keys", "list", "--help"],
    ["declare", "--help"],
    ["handover", "--help"],
    ["accept", "--help"],
    ["decide", "--help"],
    ["status", "--help"],
    ["history", "--help"],
    ["import", "--help"],
    ["import-epcis", "--help"],
    ["verify", "--help"],
    ["verify-receipt", "--help"],
    ["verify-bundle", "--help"],
]

# Runs each command line in turn in one interpreter; prints, per command, its exit code
# and the service-side modules loaded by then.
CHILD = """
import json, sys
from ledger_api.cli import app

commands, service_side = json.loads(sys.argv[1]), json.loads(sys.argv[2])
report = {}
for argv in commands:
    try:
        app(argv, prog_name="ledger")
        code = 0
    except SystemExit as exit:
        code = exit.code
    report[" ".join(argv)] = {"exit": code, "loaded": [m for m in service_side if m in sys.modules]}
print(json.dumps(report))
"""


def _run(commands: list[list[str]], **env: str) -> dict[str, dict[str, object]]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(commands), json.dumps(SERVICE_SIDE)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(PROJECT), "COLUMNS": "120", **env},
        cwd=PROJECT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, dict[str, object]] = json.loads(done.stdout.strip().splitlines()[-1])
    return report


def test_a_party_command_loads_nothing_of_the_service_side():
    report = _run(PARTY_COMMANDS)
    assert {command: r["exit"] for command, r in report.items()} == {" ".join(c): 0 for c in PARTY_COMMANDS}
    assert {command: r["loaded"] for command, r in report.items() if r["loaded"]} == {}


def test_an_operator_command_loads_the_store_when_it_runs_not_before(tmp_path):
    report = _run(
        [["admin", "credentials", "list", "--help"], ["admin", "credentials", "list"]], LEDGER_DATA_DIR=str(tmp_path)
    )
    assert report["admin credentials list --help"] == {"exit": 0, "loaded": []}
    ran = report["admin credentials list"]
    assert ran["exit"] == 0
    assert "ledger_api.store" in ran["loaded"] and "sqlalchemy" in ran["loaded"]
