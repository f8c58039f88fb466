"""The fault suite's figures: each test records what it measured with the `figure`
fixture, and `python -m scripts.reliability_doc` writes the last run's figures into
docs/reliability.md. A figure is only ever what a test saw, never typed by hand.

A test whose service's store matters runs on each store: parametrized with
`@pytest.mark.parametrize("database", STORES, indirect=True)`, it gets the `database`
fixture, the LEDGER_DATABASE_URL of its service (None: SQLite in its data folder), and
its figures are rows of their own ("…, on PostgreSQL")."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator

import pytest
from support.faults import Figure
from support.postgres import database_url

from ledger_api.settings import PROJECT_ROOT

FIGURES = PROJECT_ROOT / "build" / "reliability.json"


@pytest.fixture
def database(request: pytest.FixtureRequest) -> str | None:
    """The store URL of the test's service: a new database on the session's PostgreSQL
    server, or None for SQLite (see the module's docstring)."""
    return database_url(request, str(request.param))


def _store_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    return None if callspec is None else callspec.params.get("database")


@pytest.fixture
def figure(request: pytest.FixtureRequest) -> Iterator[Figure]:
    """`figure(row, measured)`: one row of docs/reliability.md, e.g.
    `figure("node SIGKILL during a 1,000-record ingest", "1,000 of 1,000 on chain, 0 duplicates")`.
    Written when the test passes, so the page never shows a figure of a failed run."""
    rows: list[tuple[str, str]] = []
    yield lambda row, measured: rows.append((row, measured))
    report = getattr(request.node, "rep_call", None)
    if not rows or report is None or not report.passed:
        return
    FIGURES.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    path, _, name = request.node.nodeid.partition("::")
    # The suite's own knobs (LEDGER_FAULTS_SINGLE_BURST=…) belong to the command that reproduces the row.
    knobs = "".join(f"{k}={v} " for k, v in sorted(os.environ.items()) if k.startswith("LEDGER_FAULTS_"))
    store = _store_of(request.node)
    selection = name.split("[")[0] if store is None else f"'{name.split('[')[0]} and {store}'"
    for row, measured in rows:
        if store == "postgresql":
            row += ", on PostgreSQL"
        data[row] = {
            "measured": measured,
            "command": f"{knobs}.venv/bin/pytest {path} -k {selection}",
            "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "cpus": os.cpu_count(),
        }
    FIGURES.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report
