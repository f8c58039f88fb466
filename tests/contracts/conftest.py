"""Fixtures for the contract tests (run by `bin/brownie test`): the three contracts and
the forwarder deployed fresh per module, a cast of parties with their own keys, and
helpers that sign records exactly as a wallet would (eth-account's EIP-712 encoder)."""

import pytest
from brownie import (
    ConsignmentLedger,
    LedgerForwarder,
    PartyRegistry,
    RecognitionRegistry,
    accounts,
)
from helpers import Cast, LedgerBook, register_cast


@pytest.fixture(autouse=True)
def isolation(fn_isolation):
    """Every test starts from the module's deployment, whatever the previous one wrote."""


@pytest.fixture(scope="module")
def admin():
    return accounts[0]


@pytest.fixture(scope="module")
def relayer():
    """Pays gas and relays what parties signed; holds no role anywhere."""
    return accounts[9]


@pytest.fixture(scope="module")
def forwarder(admin):
    return LedgerForwarder.deploy({"from": admin})


@pytest.fixture(scope="module")
def registry(admin, forwarder):
    return PartyRegistry.deploy(0, admin, forwarder, {"from": admin})


@pytest.fixture(scope="module")
def ledger(admin, registry):
    return ConsignmentLedger.deploy(registry, {"from": admin})


@pytest.fixture(scope="module")
def recognition(admin, registry, forwarder):
    return RecognitionRegistry.deploy(registry, forwarder, {"from": admin})


@pytest.fixture(scope="module")
def cast(admin, registry):
    """Customs of NL and SG, and the NL exporter, carriers, a terminal and an importer,
    all registered and active; plus an outsider nobody registered."""
    people = Cast.create(accounts, funder=admin)
    register_cast(registry, admin, people)
    return people


@pytest.fixture(scope="module")
def book(ledger, relayer, cast):
    return LedgerBook(ledger, relayer)
