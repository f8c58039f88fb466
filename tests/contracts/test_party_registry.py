"""PartyRegistry: who may register and manage whom, the named errors of bad input, and
the block-by-block history that the verifier relies on."""

import pytest
from brownie import accounts, chain
from eth_utils import keccak, to_checksum_address
from helpers import ROLES, STATUS, ZERO_ADDRESS, ZERO_HASH, country, payload_hash, reverts_with

ADMIN_ROLE = b"\x00" * 32
ALL_ROLES = sum(ROLES.values())
NO_COUNTRY = b"\x00\x00"


def fresh_address(label: str) -> str:
    """An address nobody registered, derived from a label."""
    return to_checksum_address(keccak(text=f"party registry test {label}")[-20:])


NEWCOMER = fresh_address("newcomer")


def as_country(value) -> bytes:
    """A bytes2 as brownie hands it back (HexString or bytes), as raw bytes."""
    if isinstance(value, str):
        return bytes.fromhex(value[2:] if value.startswith("0x") else value)
    return bytes(value)


def state_of(registry, party) -> tuple[int, int]:
    roles, status = registry.stateOf(party)
    return int(roles), int(status)


def state_at(registry, party, block: int) -> tuple[int, int]:
    roles, status = registry.stateAt(party, block)
    return int(roles), int(status)


# ---------------------------------------------------------------- who may do what

# The four ways to manage a registered party; each takes (registry, party) and the sender.
MANAGE = {
    "setRoles": lambda registry, party, sender: registry.setRoles(party, ROLES["CARRIER"], {"from": sender}),
    "suspendParty": lambda registry, party, sender: registry.suspendParty(party, {"from": sender}),
    "reinstateParty": lambda registry, party, sender: registry.reinstateParty(party, {"from": sender}),
    "revokeParty": lambda registry, party, sender: registry.revokeParty(party, {"from": sender}),
}


def prepare_target(registry, cast, action: str, target) -> None:
    """Reinstating needs a suspended party, so that only the caller is wrong."""
    if action == "reinstateParty":
        manager = cast.customs_nl.account if target != cast.customs_nl.address else None
        if manager is None:
            return
        registry.suspendParty(target, {"from": manager})


@pytest.mark.parametrize("name", ["customs_nl", "officer_nl", "exporter", "outsider"])
def test_only_the_admin_can_register_an_authority(registry, cast, name):
    caller = getattr(cast, name)
    with reverts_with("AccessControlUnauthorizedAccount", caller.address, ADMIN_ROLE):
        registry.registerAuthority(NEWCOMER, country("FR"), payload_hash("fr"), {"from": caller.account})
    assert registry.partyOf(NEWCOMER)[2] == 0


def test_admin_registers_an_authority_with_the_customs_role(registry, admin, cast):
    tx = registry.registerAuthority(NEWCOMER, country("FR"), payload_hash("fr"), {"from": admin})
    event = tx.events["AuthorityRegistered"]
    assert event["authority"] == NEWCOMER
    assert as_country(event["country"]) == b"FR"
    assert event["identifiersHash"] == payload_hash("fr")
    registered = tx.events["PartyRegistered"]
    assert registered["party"] == NEWCOMER
    assert registered["roles"] == ROLES["CUSTOMS"]
    assert registered["registeredBy"] == admin
    assert as_country(registered["country"]) == b"FR"
    assert state_of(registry, NEWCOMER) == (ROLES["CUSTOMS"], STATUS["Active"])
    party = registry.partyOf(NEWCOMER)
    assert as_country(party[0]) == b"FR"
    assert party[1] is True
    assert party[2] == tx.block_number
    assert party[3] == payload_hash("fr")


def test_authority_registers_a_party_of_its_own_country(registry, cast):
    tx = registry.registerParty(
        NEWCOMER, ROLES["FORWARDER"], payload_hash("newcomer"), {"from": cast.customs_nl.account}
    )
    event = tx.events["PartyRegistered"]
    assert event["party"] == NEWCOMER
    assert as_country(event["country"]) == b"NL"
    assert event["roles"] == ROLES["FORWARDER"]
    assert event["identifiersHash"] == payload_hash("newcomer")
    assert event["registeredBy"] == cast.customs_nl.address
    assert "AuthorityRegistered" not in tx.events
    party = registry.partyOf(NEWCOMER)
    assert as_country(party[0]) == b"NL"
    assert party[1] is False
    assert state_of(registry, NEWCOMER) == (ROLES["FORWARDER"], STATUS["Active"])


@pytest.mark.parametrize(
    "name, code",
    [("officer_nl", "NL"), ("exporter", "NL"), ("importer", "SG"), ("outsider", None)],
)
def test_party_that_is_no_authority_cannot_register_parties(registry, cast, name, code):
    caller = getattr(cast, name)
    with reverts_with("RegistryNotAuthorityOf", caller.address, country(code) if code else NO_COUNTRY):
        registry.registerParty(NEWCOMER, ROLES["EXPORTER"], payload_hash("newcomer"), {"from": caller.account})
    assert state_of(registry, NEWCOMER) == (0, STATUS["None"])


def test_admin_is_no_party_and_cannot_register_parties(registry, admin):
    with reverts_with("RegistryNotAuthorityOf", admin.address, NO_COUNTRY):
        registry.registerParty(NEWCOMER, ROLES["EXPORTER"], payload_hash("newcomer"), {"from": admin})
    assert registry.partyOf(NEWCOMER)[2] == 0


def test_suspended_authority_cannot_register_parties(registry, admin, cast):
    registry.suspendParty(cast.customs_nl.address, {"from": admin})
    with reverts_with("RegistryNotAuthorityOf", cast.customs_nl.address, country("NL")):
        registry.registerParty(NEWCOMER, ROLES["EXPORTER"], payload_hash("newcomer"), {"from": cast.customs_nl.account})
    assert registry.partyOf(NEWCOMER)[2] == 0


def test_revoked_authority_cannot_register_parties(registry, admin, cast):
    registry.revokeParty(cast.customs_sg.address, {"from": admin})
    with reverts_with("RegistryNotAuthorityOf", cast.customs_sg.address, country("SG")):
        registry.registerParty(NEWCOMER, ROLES["EXPORTER"], payload_hash("newcomer"), {"from": cast.customs_sg.account})
    assert registry.partyOf(NEWCOMER)[2] == 0


def test_reinstated_authority_can_register_parties_again(registry, admin, cast):
    registry.suspendParty(cast.customs_nl.address, {"from": admin})
    registry.reinstateParty(cast.customs_nl.address, {"from": admin})
    tx = registry.registerParty(
        NEWCOMER, ROLES["EXPORTER"], payload_hash("newcomer"), {"from": cast.customs_nl.account}
    )
    assert tx.events["PartyRegistered"]["registeredBy"] == cast.customs_nl.address


@pytest.mark.parametrize("action", list(MANAGE))
@pytest.mark.parametrize(
    "name",
    ["customs_sg", "customs_de", "officer_nl", "carrier", "importer", "outsider"],
)
def test_caller_that_is_no_authority_of_the_party_country_cannot_manage_it(registry, cast, action, name):
    caller = getattr(cast, name)
    prepare_target(registry, cast, action, cast.exporter.address)
    before = state_of(registry, cast.exporter.address)
    with reverts_with("RegistryNotAuthorityOf", caller.address, country("NL")):
        MANAGE[action](registry, cast.exporter.address, caller.account)
    assert state_of(registry, cast.exporter.address) == before


@pytest.mark.parametrize("action", list(MANAGE))
def test_suspended_authority_cannot_manage_parties_of_its_country(registry, admin, cast, action):
    prepare_target(registry, cast, action, cast.exporter.address)
    registry.suspendParty(cast.customs_nl.address, {"from": admin})
    before = state_of(registry, cast.exporter.address)
    with reverts_with("RegistryNotAuthorityOf", cast.customs_nl.address, country("NL")):
        MANAGE[action](registry, cast.exporter.address, cast.customs_nl.account)
    assert state_of(registry, cast.exporter.address) == before


@pytest.mark.parametrize("action", list(MANAGE))
def test_admin_cannot_manage_a_party_that_is_no_authority(registry, admin, cast, action):
    prepare_target(registry, cast, action, cast.exporter.address)
    before = state_of(registry, cast.exporter.address)
    with reverts_with("RegistryNotAuthorityOf", admin.address, country("NL")):
        MANAGE[action](registry, cast.exporter.address, admin)
    assert state_of(registry, cast.exporter.address) == before


@pytest.mark.parametrize("action", list(MANAGE))
@pytest.mark.parametrize(
    "name, target",
    [
        ("customs_sg", "customs_nl"),
        ("customs_de", "customs_nl"),
        ("customs_nl", "customs_nl"),
        ("officer_nl", "customs_nl"),
    ],
)
def test_authority_cannot_manage_an_authority_only_the_admin_can(registry, admin, cast, action, name, target):
    caller, authority = getattr(cast, name), getattr(cast, target)
    if action == "reinstateParty":
        registry.suspendParty(authority.address, {"from": admin})
    before = state_of(registry, authority.address)
    with reverts_with("AccessControlUnauthorizedAccount", caller.address, ADMIN_ROLE):
        MANAGE[action](registry, authority.address, caller.account)
    assert state_of(registry, authority.address) == before


def test_second_authority_of_a_country_manages_its_parties_too(registry, admin, cast):
    second = accounts.add("0x" + keccak(text="party registry test second nl customs").hex())
    admin.transfer(second, "0.1 ether")
    registry.registerAuthority(second.address, country("NL"), payload_hash("second nl customs"), {"from": admin})
    tx = registry.suspendParty(cast.exporter.address, {"from": second})
    assert tx.events["PartyStatusChanged"]["changedBy"] == second.address
    assert state_of(registry, cast.exporter.address) == (ROLES["EXPORTER"], STATUS["Suspended"])
    with reverts_with("AccessControlUnauthorizedAccount", second.address, ADMIN_ROLE):
        registry.suspendParty(cast.customs_nl.address, {"from": second})


def test_authority_manages_parties_of_its_own_country(registry, cast):
    nl = cast.customs_nl
    tx = registry.setRoles(cast.carrier.address, ROLES["CARRIER"] | ROLES["FORWARDER"], {"from": nl.account})
    event = tx.events["PartyRolesChanged"]
    assert (event["party"], event["previousRoles"], event["roles"], event["changedBy"]) == (
        cast.carrier.address,
        ROLES["CARRIER"],
        ROLES["CARRIER"] | ROLES["FORWARDER"],
        nl.address,
    )
    tx = registry.suspendParty(cast.carrier.address, {"from": nl.account})
    event = tx.events["PartyStatusChanged"]
    assert (event["party"], event["previousStatus"], event["status"], event["changedBy"]) == (
        cast.carrier.address,
        STATUS["Active"],
        STATUS["Suspended"],
        nl.address,
    )
    tx = registry.reinstateParty(cast.carrier.address, {"from": nl.account})
    event = tx.events["PartyStatusChanged"]
    assert (event["previousStatus"], event["status"]) == (STATUS["Suspended"], STATUS["Active"])
    tx = registry.revokeParty(cast.carrier.address, {"from": nl.account})
    event = tx.events["PartyStatusChanged"]
    assert (event["previousStatus"], event["status"]) == (STATUS["Active"], STATUS["Revoked"])
    assert state_of(registry, cast.carrier.address) == (ROLES["CARRIER"] | ROLES["FORWARDER"], STATUS["Revoked"])


def test_authority_revokes_a_suspended_party(registry, cast):
    registry.suspendParty(cast.exporter.address, {"from": cast.customs_nl.account})
    tx = registry.revokeParty(cast.exporter.address, {"from": cast.customs_nl.account})
    event = tx.events["PartyStatusChanged"]
    assert (event["previousStatus"], event["status"]) == (STATUS["Suspended"], STATUS["Revoked"])
    assert state_of(registry, cast.exporter.address) == (ROLES["EXPORTER"], STATUS["Revoked"])


def test_admin_manages_an_authority(registry, admin, cast):
    sg = cast.customs_sg.address
    tx = registry.suspendParty(sg, {"from": admin})
    event = tx.events["PartyStatusChanged"]
    assert (event["party"], event["previousStatus"], event["status"], event["changedBy"]) == (
        sg,
        STATUS["Active"],
        STATUS["Suspended"],
        admin.address,
    )
    registry.reinstateParty(sg, {"from": admin})
    tx = registry.setRoles(sg, ROLES["CUSTOMS"] | ROLES["IMPORTER"], {"from": admin})
    assert tx.events["PartyRolesChanged"]["changedBy"] == admin
    tx = registry.revokeParty(sg, {"from": admin})
    assert tx.events["PartyStatusChanged"]["status"] == STATUS["Revoked"]
    assert state_of(registry, sg) == (ROLES["CUSTOMS"] | ROLES["IMPORTER"], STATUS["Revoked"])


def test_revoked_authority_cannot_manage_parties_of_its_country(registry, admin, cast):
    registry.revokeParty(cast.customs_nl.address, {"from": admin})
    with reverts_with("RegistryNotAuthorityOf", cast.customs_nl.address, country("NL")):
        registry.suspendParty(cast.exporter.address, {"from": cast.customs_nl.account})
    assert state_of(registry, cast.exporter.address) == (ROLES["EXPORTER"], STATUS["Active"])


# ---------------------------------------------------------------- bad input


def test_admin_cannot_register_the_zero_address_as_authority(registry, admin):
    with reverts_with("RegistryZeroAddress"):
        registry.registerAuthority(ZERO_ADDRESS, country("FR"), payload_hash("fr"), {"from": admin})
    assert registry.partyOf(ZERO_ADDRESS)[2] == 0


def test_authority_cannot_register_the_zero_address(registry, cast):
    with reverts_with("RegistryZeroAddress"):
        registry.registerParty(ZERO_ADDRESS, ROLES["EXPORTER"], payload_hash("zero"), {"from": cast.customs_nl.account})
    assert registry.partyOf(ZERO_ADDRESS)[2] == 0


def test_admin_cannot_register_an_authority_without_identifiers(registry, admin):
    with reverts_with("RegistryEmptyIdentifiers", NEWCOMER):
        registry.registerAuthority(NEWCOMER, country("FR"), ZERO_HASH, {"from": admin})
    assert registry.partyOf(NEWCOMER)[2] == 0


def test_authority_cannot_register_a_party_without_identifiers(registry, cast):
    with reverts_with("RegistryEmptyIdentifiers", NEWCOMER):
        registry.registerParty(NEWCOMER, ROLES["EXPORTER"], ZERO_HASH, {"from": cast.customs_nl.account})
    assert registry.partyOf(NEWCOMER)[2] == 0


@pytest.mark.parametrize("roles", [0, 1 << 7, 1 << 40, ALL_ROLES | (1 << 63)])
def test_authority_cannot_register_a_party_with_undefined_roles(registry, cast, roles):
    with reverts_with("RegistryInvalidRoles", roles):
        registry.registerParty(NEWCOMER, roles, payload_hash("newcomer"), {"from": cast.customs_nl.account})
    assert registry.partyOf(NEWCOMER)[2] == 0


@pytest.mark.parametrize("roles", [0, 1 << 7, 1 << 40, ALL_ROLES | (1 << 63)])
def test_authority_cannot_set_undefined_roles(registry, cast, roles):
    with reverts_with("RegistryInvalidRoles", roles):
        registry.setRoles(cast.exporter.address, roles, {"from": cast.customs_nl.account})
    assert state_of(registry, cast.exporter.address) == (ROLES["EXPORTER"], STATUS["Active"])


def test_authority_registers_a_law_enforcement_agency_of_its_country(registry, cast):
    tx = registry.registerParty(
        NEWCOMER, ROLES["LAW_ENFORCEMENT"], payload_hash("police"), {"from": cast.customs_nl.account}
    )
    assert tx.events["PartyRegistered"]["roles"] == ROLES["LAW_ENFORCEMENT"] == 1 << 6
    assert as_country(registry.partyOf(NEWCOMER)[0]) == b"NL"
    assert state_of(registry, NEWCOMER) == (ROLES["LAW_ENFORCEMENT"], STATUS["Active"])
    registry.setRoles(NEWCOMER, ROLES["LAW_ENFORCEMENT"] | ROLES["IMPORTER"], {"from": cast.customs_nl.account})
    assert state_of(registry, NEWCOMER) == (ROLES["LAW_ENFORCEMENT"] | ROLES["IMPORTER"], STATUS["Active"])


def test_authority_may_give_a_party_every_defined_role(registry, cast):
    registry.setRoles(cast.exporter.address, ALL_ROLES, {"from": cast.customs_nl.account})
    assert state_of(registry, cast.exporter.address) == (ALL_ROLES, STATUS["Active"])


@pytest.mark.parametrize("code", [b"nl", b"N1", b"\x00\x00", b"N\x00", b"@A", b"[A", b"A["])
def test_admin_cannot_register_an_authority_for_a_malformed_country(registry, admin, code):
    with reverts_with("RegistryInvalidCountry", code):
        registry.registerAuthority(NEWCOMER, code, payload_hash("newcomer"), {"from": admin})
    assert registry.partyOf(NEWCOMER)[2] == 0


@pytest.mark.parametrize("name", ["exporter", "officer_nl", "importer", "customs_sg"])
def test_authority_cannot_register_a_party_twice(registry, cast, name):
    party = getattr(cast, name)
    with reverts_with("RegistryPartyAlreadyRegistered", party.address):
        registry.registerParty(
            party.address, ROLES["IMPORTER"], payload_hash("again"), {"from": cast.customs_nl.account}
        )
    assert as_country(registry.partyOf(party.address)[0]) == country(party.country)


@pytest.mark.parametrize("name", ["customs_nl", "exporter"])
def test_admin_cannot_register_an_existing_party_as_authority(registry, admin, cast, name):
    party = getattr(cast, name)
    with reverts_with("RegistryPartyAlreadyRegistered", party.address):
        registry.registerAuthority(party.address, country("NL"), payload_hash("again"), {"from": admin})
    assert registry.partyOf(party.address)[1] is party.authority


@pytest.mark.parametrize("action", list(MANAGE))
def test_authority_cannot_manage_an_unknown_party(registry, cast, action):
    with reverts_with("RegistryUnknownParty", cast.outsider.address):
        MANAGE[action](registry, cast.outsider.address, cast.customs_nl.account)
    assert state_of(registry, cast.outsider.address) == (0, STATUS["None"])


@pytest.mark.parametrize("action", list(MANAGE))
def test_admin_cannot_manage_an_unknown_party(registry, admin, action):
    with reverts_with("RegistryUnknownParty", ZERO_ADDRESS):
        MANAGE[action](registry, ZERO_ADDRESS, admin)
    assert state_of(registry, ZERO_ADDRESS) == (0, STATUS["None"])


@pytest.mark.parametrize(
    "setup, action, current, requested",
    [
        ([], "reinstateParty", "Active", "Active"),
        (["suspendParty"], "suspendParty", "Suspended", "Suspended"),
        (["revokeParty"], "suspendParty", "Revoked", "Suspended"),
        (["revokeParty"], "reinstateParty", "Revoked", "Active"),
        (["revokeParty"], "revokeParty", "Revoked", "Revoked"),
        (["suspendParty", "revokeParty"], "reinstateParty", "Revoked", "Active"),
        (["revokeParty"], "setRoles", "Revoked", "Revoked"),
    ],
)
def test_authority_cannot_make_an_invalid_status_change(registry, cast, setup, action, current, requested):
    nl = cast.customs_nl.account
    for step in setup:
        MANAGE[step](registry, cast.exporter.address, nl)
    before = state_of(registry, cast.exporter.address)
    with reverts_with("RegistryInvalidStatusChange", cast.exporter.address, STATUS[current], STATUS[requested]):
        MANAGE[action](registry, cast.exporter.address, nl)
    assert state_of(registry, cast.exporter.address) == before
    assert before[1] == STATUS[current]


def test_admin_cannot_reinstate_an_active_authority(registry, admin, cast):
    with reverts_with("RegistryInvalidStatusChange", cast.customs_nl.address, STATUS["Active"], STATUS["Active"]):
        registry.reinstateParty(cast.customs_nl.address, {"from": admin})
    assert state_of(registry, cast.customs_nl.address) == (ROLES["CUSTOMS"], STATUS["Active"])


def test_nobody_can_ask_about_a_future_block(registry, cast):
    current = chain.height
    # eth_call runs on top of the latest block: stateAt sees block.number == chain.height.
    assert state_at(registry, cast.exporter.address, current) == (ROLES["EXPORTER"], STATUS["Active"])
    with reverts_with("RegistryFutureLookup", current + 1, current):
        registry.stateAt(cast.exporter.address, current + 1)
    with reverts_with("RegistryFutureLookup", 2**256 - 1, current):
        registry.stateAt(cast.exporter.address, 2**256 - 1)


# ---------------------------------------------------------------- history


def test_state_at_past_blocks_stays_what_it_was_after_later_changes(registry, cast):
    nl = cast.customs_nl.account
    before = chain.height
    registered = registry.registerParty(
        NEWCOMER, ROLES["EXPORTER"], payload_hash("newcomer"), {"from": nl}
    ).block_number
    chain.mine(2)
    reroled = registry.setRoles(NEWCOMER, ROLES["EXPORTER"] | ROLES["IMPORTER"], {"from": nl}).block_number
    suspended = registry.suspendParty(NEWCOMER, {"from": nl}).block_number
    chain.mine()
    reinstated = registry.reinstateParty(NEWCOMER, {"from": nl}).block_number
    revoked = registry.revokeParty(NEWCOMER, {"from": nl}).block_number
    chain.mine(3)

    both = ROLES["EXPORTER"] | ROLES["IMPORTER"]
    expected = {before: (0, STATUS["None"])}
    for block in range(registered, reroled):
        expected[block] = (ROLES["EXPORTER"], STATUS["Active"])
    for block in range(reroled, suspended):
        expected[block] = (both, STATUS["Active"])
    for block in range(suspended, reinstated):
        expected[block] = (both, STATUS["Suspended"])
    for block in range(reinstated, revoked):
        expected[block] = (both, STATUS["Active"])
    for block in range(revoked, chain.height + 1):
        expected[block] = (both, STATUS["Revoked"])
    assert registered > before and revoked < chain.height
    for block in range(before, chain.height + 1):
        assert state_at(registry, NEWCOMER, block) == expected[block], f"block {block}"
    assert state_at(registry, NEWCOMER, 0) == (0, STATUS["None"])
    assert state_of(registry, NEWCOMER) == (both, STATUS["Revoked"])


def test_state_at_of_an_authority_follows_the_admin_changes(registry, admin, cast):
    sg = cast.customs_sg.address
    active = chain.height
    suspended = registry.suspendParty(sg, {"from": admin}).block_number
    reinstated = registry.reinstateParty(sg, {"from": admin}).block_number
    assert state_at(registry, sg, active) == (ROLES["CUSTOMS"], STATUS["Active"])
    assert state_at(registry, sg, suspended) == (ROLES["CUSTOMS"], STATUS["Suspended"])
    assert state_at(registry, sg, reinstated) == (ROLES["CUSTOMS"], STATUS["Active"])


def test_state_of_an_unknown_party_is_none_at_every_block(registry, cast):
    assert state_of(registry, cast.outsider.address) == (0, STATUS["None"])
    assert state_at(registry, cast.outsider.address, chain.height) == (0, STATUS["None"])
    assert state_at(registry, cast.outsider.address, 1) == (0, STATUS["None"])
    party = registry.partyOf(cast.outsider.address)
    assert (as_country(party[0]), party[1], party[2], party[3]) == (NO_COUNTRY, False, 0, ZERO_HASH)
