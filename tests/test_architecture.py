"""The rooms of ledger_api import only what docs/architecture.md says they may: arrows point
down and inward (api -> services -> domain <- chain, store), and the domain does no I/O."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "ledger_api"

# room -> the rooms of ledger_api it may import ("" is the package itself).
ALLOWED: dict[str, set[str]] = {
    "domain": {"domain", "errors"},
    "store": {"store", "domain", "errors"},
    "chain": {"chain", "store", "domain", "errors"},  # the relayer keeps its outbox in the store
    "services": {"services", "store", "domain", "errors"},
    "indexer": {"chain", "store", "domain", "errors"},
    "api": {"api", "services", "domain", "errors", "runtime"},
    "runtime": {"chain", "store", "services", "indexer", "peering", "domain", "errors", "settings"},
    "peering": {"domain", "errors"},  # the HTTP client of requests to other instances
    "client": {"domain", "errors"},
    "keystore": {"errors"},
    "cli": {"", "cli", "client", "chain", "domain", "errors", "keystore", "settings", "services", "store"},
}
# Libraries that do I/O (or talk to a database, a node or a network): never in the domain.
IO_LIBRARIES = {
    "sqlalchemy",
    "web3",
    "websockets",
    "httpx",
    "fastapi",
    "uvicorn",
    "yaml",
    "requests",
    "urllib",
    "socket",
}


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
        elif isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
    return names


def _room(path: Path) -> str:
    relative = path.relative_to(PACKAGE)
    return relative.parts[0] if len(relative.parts) > 1 else relative.stem


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_a_room_imports_only_the_rooms_below_it(room: str):
    offences = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if _room(path) != room:
            continue
        for name in _imports(path):
            parts = name.split(".")
            if parts[0] != "ledger_api":
                continue
            target = parts[1] if len(parts) > 1 else ""
            if target not in ALLOWED[room]:
                offences.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert not offences, "\n".join(offences)


def test_the_domain_does_no_io():
    offences = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in sorted((PACKAGE / "domain").rglob("*.py"))
        for name in _imports(path)
        if name.split(".")[0] in IO_LIBRARIES
    ]
    assert not offences, "\n".join(offences)


def test_sql_is_written_only_in_store_services_and_the_chain_workers():
    """Until the services and workers call repositories (issue #13), SQLAlchemy stays out of
    the HTTP layer, the CLI's party commands and the domain."""
    for room in ("api", "domain", "client"):
        for path in sorted(PACKAGE.rglob("*.py")):
            if _room(path) == room:
                assert not [n for n in _imports(path) if n.startswith("sqlalchemy")], path
