"""PartyRegistry's consortium admin: the role passes in two steps (OpenZeppelin
AccessControlDefaultAdminRules), the new admin accepting with its own key after a delay,
directly or through the trusted forwarder; it can never be granted in one step."""

import pytest
from brownie import PartyRegistry, accounts, chain
from eth_utils import keccak
from helpers import ZERO_ADDRESS, country, payload_hash, reverts_with
from test_forwarded_writes import forward_request, relay, sign_request

ADMIN_ROLE = b"\x00" * 32
DELAY = 3 * 24 * 3600


def pending(registry) -> tuple[str, int]:
    """(pending admin, the time from which it may accept), as plain values."""
    new_admin, schedule = registry.pendingDefaultAdmin()
    return str(new_admin), int(schedule)


@pytest.fixture(scope="module")
def successor(admin):
    """The consortium admin named to take over; holds its own key."""
    account = accounts.add("0x" + keccak(text="registry admin test successor").hex())
    admin.transfer(account, "1 ether")
    return account


@pytest.fixture(scope="module")
def delayed(admin, forwarder):
    """A registry whose admin role takes three days to pass on, as in production."""
    return PartyRegistry.deploy(DELAY, admin, forwarder, {"from": admin})


def test_registry_starts_with_the_admin_and_delay_it_was_deployed_with(delayed, admin):
    assert delayed.defaultAdmin() == admin.address
    assert delayed.owner() == admin.address
    assert delayed.defaultAdminDelay() == DELAY
    assert delayed.hasRole(ADMIN_ROLE, admin.address) is True
    assert pending(delayed) == (ZERO_ADDRESS, 0)


def test_registry_refuses_to_be_deployed_without_an_admin(admin, forwarder):
    with reverts_with("AccessControlInvalidDefaultAdmin", ZERO_ADDRESS):
        PartyRegistry.deploy(DELAY, ZERO_ADDRESS, forwarder, {"from": admin})


def test_admin_role_passes_only_when_the_successor_accepts_after_the_delay(delayed, admin, successor):
    tx = delayed.beginDefaultAdminTransfer(successor, {"from": admin})
    schedule = tx.timestamp + DELAY
    scheduled = tx.events["DefaultAdminTransferScheduled"]
    assert (scheduled["newAdmin"], scheduled["acceptSchedule"]) == (successor.address, schedule)
    assert pending(delayed) == (successor.address, schedule)
    # The old admin is still the admin meanwhile, and the successor cannot accept early.
    with reverts_with("AccessControlEnforcedDefaultAdminDelay", schedule):
        delayed.acceptDefaultAdminTransfer({"from": successor})
    assert delayed.defaultAdmin() == admin.address
    delayed.registerAuthority(accounts[5], country("FR"), payload_hash("fr"), {"from": admin})

    chain.sleep(DELAY + 1)
    delayed.acceptDefaultAdminTransfer({"from": successor})
    assert delayed.defaultAdmin() == successor.address
    assert delayed.hasRole(ADMIN_ROLE, successor.address) is True
    assert delayed.hasRole(ADMIN_ROLE, admin.address) is False
    assert pending(delayed) == (ZERO_ADDRESS, 0)
    with reverts_with("AccessControlUnauthorizedAccount", admin.address, ADMIN_ROLE):
        delayed.registerAuthority(accounts[6], country("BE"), payload_hash("be"), {"from": admin})
    tx = delayed.registerAuthority(accounts[6], country("BE"), payload_hash("be"), {"from": successor})
    assert tx.events["AuthorityRegistered"]["authority"] == accounts[6].address


def test_nobody_but_the_named_successor_accepts_the_admin_role(delayed, admin, successor, cast):
    delayed.beginDefaultAdminTransfer(successor, {"from": admin})
    chain.sleep(DELAY + 1)
    for intruder in (cast.customs_nl.account, admin):
        with reverts_with("AccessControlInvalidDefaultAdmin", intruder.address):
            delayed.acceptDefaultAdminTransfer({"from": intruder})
    assert delayed.defaultAdmin() == admin.address


def test_only_the_admin_begins_a_transfer(delayed, cast, successor):
    with reverts_with("AccessControlUnauthorizedAccount", cast.customs_nl.address, ADMIN_ROLE):
        delayed.beginDefaultAdminTransfer(successor, {"from": cast.customs_nl.account})
    assert pending(delayed) == (ZERO_ADDRESS, 0)


def test_admin_cancels_a_transfer_before_it_is_accepted(delayed, admin, successor):
    delayed.beginDefaultAdminTransfer(successor, {"from": admin})
    delayed.cancelDefaultAdminTransfer({"from": admin})
    chain.sleep(DELAY + 1)
    with reverts_with("AccessControlInvalidDefaultAdmin", successor.address):
        delayed.acceptDefaultAdminTransfer({"from": successor})
    assert delayed.defaultAdmin() == admin.address


@pytest.mark.parametrize("function", ["grantRole", "revokeRole"])
def test_admin_role_is_never_granted_or_revoked_in_one_step(delayed, admin, successor, function):
    with reverts_with("AccessControlEnforcedDefaultAdminRules"):
        getattr(delayed, function)(ADMIN_ROLE, successor, {"from": admin})
    assert delayed.hasRole(ADMIN_ROLE, successor.address) is False
    assert delayed.hasRole(ADMIN_ROLE, admin.address) is True


def test_successor_accepts_through_the_forwarder_with_its_own_signature(delayed, admin, successor, forwarder, relayer):
    delayed.beginDefaultAdminTransfer(successor, {"from": admin})
    chain.sleep(DELAY + 1)
    chain.mine()
    data = delayed.acceptDefaultAdminTransfer.encode_input()
    request = forward_request(forwarder, successor.address, delayed, data)
    tx = relay(forwarder, relayer, request, sign_request(forwarder, successor.private_key, request))
    assert tx.events["ExecutedForwardRequest"]["success"] is True
    assert delayed.defaultAdmin() == successor.address
    assert delayed.hasRole(ADMIN_ROLE, relayer.address) is False


def test_registry_without_delay_passes_the_role_at_once_but_still_in_two_steps(registry, admin, successor):
    assert registry.defaultAdminDelay() == 0
    registry.beginDefaultAdminTransfer(successor, {"from": admin})
    assert registry.defaultAdmin() == admin.address
    chain.sleep(1)
    registry.acceptDefaultAdminTransfer({"from": successor})
    assert registry.defaultAdmin() == successor.address
    assert registry.hasRole(ADMIN_ROLE, admin.address) is False
