"""IntelligenceLedger: customs authorities and law-enforcement parties share flags with
customs authorities abroad; the chain keeps the content's hash, the subject's hash, the
class of the flag, its validity and its recipients. Every rule and every refusal, direct
and through the trusted forwarder."""

import pytest
from brownie import IntelligenceLedger, chain
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak
from helpers import DOMAIN_FIELDS, ZERO_ADDRESS, ZERO_HASH, reverts_with

CONTENT = keccak(text="ciphertext of a flag")
SUBJECT = keccak(text="salted subject of a flag")
SANCTIONED_PARTY, OTHER = 4, 6
LOW, HIGH = 0, 2
DAY = 24 * 3600
# IIntelligenceLedger.FlagStatus
NONE, PENDING, IN_FORCE, EXPIRED, WITHDRAWN = range(5)


@pytest.fixture(scope="module")
def intelligence(admin, registry, forwarder, cast):
    return IntelligenceLedger.deploy(registry, forwarder, {"from": admin})


def window(start: int = -DAY, end: int = 30 * DAY) -> tuple[int, int]:
    now = chain[-1].timestamp
    return now + start, now + end


def share(
    intelligence,
    author,
    recipients,
    *,
    content=CONTENT,
    subject=SUBJECT,
    category=SANCTIONED_PARTY,
    severity=HIGH,
    valid=None,
):
    valid_from, valid_until = window() if valid is None else valid
    return intelligence.shareFlag(
        content,
        subject,
        category,
        severity,
        valid_from,
        valid_until,
        [str(r) for r in recipients],
        {"from": author.account},
    )


def as_bytes(value) -> bytes:
    if isinstance(value, str):
        return bytes.fromhex(value[2:] if value.startswith("0x") else value)
    return bytes(value)


def flag_of(intelligence, flag_id) -> dict:
    author, country, category, severity, shared_at, valid_from, valid_until, withdrawn_at, content = (
        intelligence.flagOf(flag_id)
    )
    return {
        "author": author,
        "authorCountry": as_bytes(country),
        "category": category,
        "severity": severity,
        "sharedAt": shared_at,
        "validFrom": valid_from,
        "validUntil": valid_until,
        "withdrawnAt": withdrawn_at,
        "contentHash": as_bytes(content),
    }


# ---------------------------------------------------------------- sharing


def test_an_authority_shares_a_flag_with_foreign_authorities(intelligence, cast):
    valid = window()
    tx = share(intelligence, cast.customs_nl, [cast.customs_sg, cast.customs_de], valid=valid)
    event = tx.events["FlagShared"]
    assert (event["id"], event["author"], as_bytes(event["authorCountry"])) == (1, cast.customs_nl.address, b"NL")
    assert (as_bytes(event["contentHash"]), as_bytes(event["subjectHash"])) == (CONTENT, SUBJECT)
    assert (event["category"], event["severity"]) == (SANCTIONED_PARTY, HIGH)
    assert (event["validFrom"], event["validUntil"]) == valid
    assert list(event["recipients"]) == [cast.customs_sg.address, cast.customs_de.address]
    assert tx.return_value == 1
    assert flag_of(intelligence, 1) == {
        "author": cast.customs_nl.address,
        "authorCountry": b"NL",
        "category": SANCTIONED_PARTY,
        "severity": HIGH,
        "sharedAt": tx.block_number,
        "validFrom": valid[0],
        "validUntil": valid[1],
        "withdrawnAt": 0,
        "contentHash": CONTENT,
    }
    assert intelligence.statusOf(1) == IN_FORCE
    assert intelligence.flagCount() == 1


def test_a_law_enforcement_party_shares_a_flag_in_its_country_name(intelligence, cast):
    tx = share(intelligence, cast.police_nl, [cast.customs_sg], category=OTHER, severity=LOW)
    event = tx.events["FlagShared"]
    assert (event["author"], as_bytes(event["authorCountry"])) == (cast.police_nl.address, b"NL")
    assert (event["category"], event["severity"]) == (OTHER, LOW)


def test_flags_are_numbered_from_one_in_the_order_they_are_shared(intelligence, cast):
    first = share(intelligence, cast.customs_nl, [cast.customs_sg])
    second = share(intelligence, cast.customs_sg, [cast.customs_nl, cast.customs_de])
    assert (first.return_value, second.return_value) == (1, 2)
    assert flag_of(intelligence, 2)["author"] == cast.customs_sg.address
    assert intelligence.flagCount() == 2


def test_a_flag_is_pending_before_its_validity_and_expired_after_it(intelligence, cast):
    valid = window(start=DAY, end=2 * DAY)
    share(intelligence, cast.customs_nl, [cast.customs_sg], valid=valid)
    assert intelligence.statusOf(1) == PENDING
    chain.sleep(DAY + 10)
    chain.mine()
    assert intelligence.statusOf(1) == IN_FORCE
    chain.sleep(DAY)
    chain.mine()
    assert intelligence.statusOf(1) == EXPIRED


def test_an_unknown_flag_has_no_status_and_cannot_be_read(intelligence, cast):
    assert intelligence.statusOf(0) == NONE
    assert intelligence.statusOf(1) == NONE
    with reverts_with("IntelligenceUnknownFlag", 1):
        intelligence.flagOf(1)
    with reverts_with("IntelligenceUnknownFlag", 0):
        intelligence.flagOf(0)


@pytest.mark.parametrize("name", ["exporter", "carrier", "officer_nl", "outsider"])
def test_a_party_that_is_neither_an_authority_nor_law_enforcement_cannot_share(intelligence, cast, name):
    # officer_nl holds CUSTOMS but is an office the NL authority registered, not an authority.
    party = getattr(cast, name)
    with reverts_with("IntelligenceNotAnAuthor", party.address):
        share(intelligence, party, [cast.customs_sg])
    assert intelligence.flagCount() == 0


def test_a_suspended_authority_cannot_share(intelligence, registry, admin, cast):
    registry.suspendParty(cast.customs_nl, {"from": admin})
    with reverts_with("IntelligenceNotAnAuthor", cast.customs_nl.address):
        share(intelligence, cast.customs_nl, [cast.customs_sg])


def test_a_suspended_law_enforcement_party_cannot_share(intelligence, registry, cast):
    registry.suspendParty(cast.police_nl, {"from": cast.customs_nl.account})
    with reverts_with("IntelligenceNotAnAuthor", cast.police_nl.address):
        share(intelligence, cast.police_nl, [cast.customs_sg])


def test_an_authority_whose_customs_role_was_taken_away_cannot_share(intelligence, registry, admin, cast):
    registry.setRoles(cast.customs_de, 64, {"from": admin})  # LAW_ENFORCEMENT only
    with reverts_with("IntelligenceNotAnAuthor", cast.customs_de.address):
        share(intelligence, cast.customs_de, [cast.customs_sg])


def test_a_flag_needs_a_content_hash_and_a_subject_hash(intelligence, cast):
    with reverts_with("IntelligenceEmptyContentHash"):
        share(intelligence, cast.customs_nl, [cast.customs_sg], content=ZERO_HASH)
    with reverts_with("IntelligenceEmptySubjectHash"):
        share(intelligence, cast.customs_nl, [cast.customs_sg], subject=ZERO_HASH)


def test_a_category_or_severity_outside_the_fixed_lists_is_refused(intelligence, cast):
    with reverts_with("IntelligenceInvalidCategory", 7):
        share(intelligence, cast.customs_nl, [cast.customs_sg], category=7)
    with reverts_with("IntelligenceInvalidSeverity", 3):
        share(intelligence, cast.customs_nl, [cast.customs_sg], severity=3)
    with reverts_with("IntelligenceInvalidSeverity", 255):
        share(intelligence, cast.customs_nl, [cast.customs_sg], severity=255)


@pytest.mark.parametrize(("start", "end"), [(DAY, DAY), (2 * DAY, DAY)])
def test_an_empty_or_reversed_validity_is_refused(intelligence, cast, start, end):
    valid = window(start, end)
    with reverts_with("IntelligenceInvalidValidity", *valid):
        share(intelligence, cast.customs_nl, [cast.customs_sg], valid=valid)


def test_a_flag_that_has_expired_already_is_refused(intelligence, cast):
    valid = window(-2 * DAY, -DAY)
    tx_time = chain[-1].timestamp
    try:
        share(intelligence, cast.customs_nl, [cast.customs_sg], valid=valid)
    except Exception as exc:  # the block's time is the next block's, not known before
        assert exc.revert_msg.startswith(f"IntelligenceAlreadyExpired: {valid[1]}, ")
        assert int(exc.revert_msg.rsplit(", ", 1)[1]) >= tx_time
    else:
        raise AssertionError("an expired flag was shared")
    assert intelligence.flagCount() == 0


def test_a_flag_needs_one_recipient_at_least_and_at_most_the_maximum(intelligence, cast):
    assert intelligence.MAX_RECIPIENTS() == 32
    with reverts_with("IntelligenceInvalidRecipientCount", 0, 32):
        share(intelligence, cast.customs_nl, [])
    with reverts_with("IntelligenceInvalidRecipientCount", 33, 32):
        share(intelligence, cast.customs_nl, [cast.customs_sg] * 33)


@pytest.mark.parametrize("name", ["exporter_sg", "importer", "outsider"])
def test_a_recipient_must_be_a_customs_authority(intelligence, cast, name):
    recipient = getattr(cast, name)
    with reverts_with("IntelligenceInvalidRecipient", recipient.address):
        share(intelligence, cast.customs_nl, [cast.customs_sg, recipient])


def test_the_zero_address_is_no_recipient(intelligence, cast):
    with reverts_with("IntelligenceInvalidRecipient", ZERO_ADDRESS):
        share(intelligence, cast.customs_nl, [ZERO_ADDRESS])


def test_a_suspended_authority_is_no_recipient(intelligence, registry, admin, cast):
    registry.suspendParty(cast.customs_sg, {"from": admin})
    with reverts_with("IntelligenceInvalidRecipient", cast.customs_sg.address):
        share(intelligence, cast.customs_nl, [cast.customs_de, cast.customs_sg])


def test_a_recipient_of_the_authors_own_country_is_refused(intelligence, cast):
    with reverts_with("IntelligenceOwnCountryRecipient", cast.customs_nl.address, b"NL"):
        share(intelligence, cast.customs_nl, [cast.customs_sg, cast.customs_nl])
    with reverts_with("IntelligenceOwnCountryRecipient", cast.customs_nl.address, b"NL"):
        share(intelligence, cast.police_nl, [cast.customs_nl])


def test_a_recipient_listed_twice_is_refused(intelligence, cast):
    with reverts_with("IntelligenceDuplicateRecipient", cast.customs_sg.address):
        share(intelligence, cast.customs_nl, [cast.customs_sg, cast.customs_de, cast.customs_sg])


# ---------------------------------------------------------------- withdrawing


def test_the_author_withdraws_its_flag(intelligence, cast):
    share(intelligence, cast.customs_nl, [cast.customs_sg])
    tx = intelligence.withdrawFlag(1, {"from": cast.customs_nl.account})
    event = tx.events["FlagWithdrawn"]
    assert (event["id"], event["by"]) == (1, cast.customs_nl.address)
    assert flag_of(intelligence, 1)["withdrawnAt"] == tx.block_number
    assert intelligence.statusOf(1) == WITHDRAWN


def test_the_authors_country_authority_withdraws_a_law_enforcement_flag(intelligence, cast):
    share(intelligence, cast.police_nl, [cast.customs_sg])
    tx = intelligence.withdrawFlag(1, {"from": cast.customs_nl.account})
    assert (tx.events["FlagWithdrawn"]["id"], tx.events["FlagWithdrawn"]["by"]) == (1, cast.customs_nl.address)
    assert intelligence.statusOf(1) == WITHDRAWN


def test_a_law_enforcement_author_withdraws_its_own_flag(intelligence, cast):
    share(intelligence, cast.police_nl, [cast.customs_sg])
    tx = intelligence.withdrawFlag(1, {"from": cast.police_nl.account})
    assert tx.events["FlagWithdrawn"]["by"] == cast.police_nl.address


def test_an_expired_flag_can_still_be_withdrawn(intelligence, cast):
    share(intelligence, cast.customs_nl, [cast.customs_sg], valid=window(-DAY, 60))
    chain.sleep(120)
    chain.mine()
    assert intelligence.statusOf(1) == EXPIRED
    intelligence.withdrawFlag(1, {"from": cast.customs_nl.account})
    assert intelligence.statusOf(1) == WITHDRAWN


@pytest.mark.parametrize("name", ["customs_sg", "customs_de", "officer_nl", "exporter", "outsider"])
def test_no_one_else_withdraws_a_flag(intelligence, cast, name):
    # Not a recipient (customs_sg), another country's authority, an office or a trader of
    # the author's country, an outsider.
    share(intelligence, cast.customs_nl, [cast.customs_sg])
    party = getattr(cast, name)
    with reverts_with("IntelligenceNotWithdrawer", 1, party.address):
        intelligence.withdrawFlag(1, {"from": party.account})
    assert intelligence.statusOf(1) == IN_FORCE


def test_law_enforcement_does_not_withdraw_its_authoritys_flag(intelligence, cast):
    share(intelligence, cast.customs_nl, [cast.customs_sg])
    with reverts_with("IntelligenceNotWithdrawer", 1, cast.police_nl.address):
        intelligence.withdrawFlag(1, {"from": cast.police_nl.account})


def test_a_suspended_author_cannot_withdraw_but_its_authority_can(intelligence, registry, cast):
    share(intelligence, cast.police_nl, [cast.customs_sg])
    registry.suspendParty(cast.police_nl, {"from": cast.customs_nl.account})
    with reverts_with("IntelligenceNotWithdrawer", 1, cast.police_nl.address):
        intelligence.withdrawFlag(1, {"from": cast.police_nl.account})
    intelligence.withdrawFlag(1, {"from": cast.customs_nl.account})
    assert intelligence.statusOf(1) == WITHDRAWN


def test_a_suspended_authority_cannot_withdraw(intelligence, registry, admin, cast):
    share(intelligence, cast.police_nl, [cast.customs_sg])
    registry.suspendParty(cast.customs_nl, {"from": admin})
    with reverts_with("IntelligenceNotWithdrawer", 1, cast.customs_nl.address):
        intelligence.withdrawFlag(1, {"from": cast.customs_nl.account})


def test_a_flag_is_withdrawn_once(intelligence, cast):
    share(intelligence, cast.customs_nl, [cast.customs_sg])
    tx = intelligence.withdrawFlag(1, {"from": cast.customs_nl.account})
    with reverts_with("IntelligenceAlreadyWithdrawn", 1, tx.block_number):
        intelligence.withdrawFlag(1, {"from": cast.customs_nl.account})


def test_an_unknown_flag_cannot_be_withdrawn(intelligence, cast):
    with reverts_with("IntelligenceUnknownFlag", 1):
        intelligence.withdrawFlag(1, {"from": cast.customs_nl.account})


def test_the_registry_must_be_given(admin, forwarder):
    with reverts_with("IntelligenceZeroAddress"):
        IntelligenceLedger.deploy(ZERO_ADDRESS, forwarder, {"from": admin})


# ---------------------------------------------------------------- through the forwarder

FORWARD_REQUEST_FIELDS = [
    {"name": "from", "type": "address"},
    {"name": "to", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "gas", "type": "uint256"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint48"},
    {"name": "data", "type": "bytes"},
]


def relay_signed(forwarder, relayer, signer, target, data: str):
    """`signer` signs an OpenZeppelin ForwardRequest for the call; the relayer, which holds
    no role, submits it."""
    request = {
        "from": signer.address,
        "to": target.address,
        "value": 0,
        "gas": 500_000,
        "nonce": forwarder.nonces(signer.address),
        "deadline": chain[-1].timestamp + 3600,
        "data": bytes.fromhex(data[2:]),
    }
    typed = {
        "types": {"EIP712Domain": DOMAIN_FIELDS, "ForwardRequest": FORWARD_REQUEST_FIELDS},
        "primaryType": "ForwardRequest",
        "domain": {
            "name": "LedgerForwarder",
            "version": "1",
            "chainId": chain.id,
            "verifyingContract": forwarder.address,
        },
        "message": request,
    }
    signature = bytes(Account.sign_message(encode_typed_data(full_message=typed), signer.key).signature)
    fields = ("from", "to", "value", "gas", "deadline", "data")
    return forwarder.execute((*(request[f] for f in fields), signature), {"from": relayer})


def test_the_relayer_shares_and_withdraws_a_flag_signed_by_the_authority(intelligence, forwarder, relayer, cast):
    valid_from, valid_until = window()
    data = intelligence.shareFlag.encode_input(
        CONTENT, SUBJECT, SANCTIONED_PARTY, HIGH, valid_from, valid_until, [cast.customs_sg.address]
    )
    tx = relay_signed(forwarder, relayer, cast.customs_nl, intelligence, data)
    assert tx.events["ExecutedForwardRequest"]["success"] is True
    assert tx.events["FlagShared"]["author"] == cast.customs_nl.address
    assert flag_of(intelligence, 1)["author"] == cast.customs_nl.address

    tx = relay_signed(forwarder, relayer, cast.customs_nl, intelligence, intelligence.withdrawFlag.encode_input(1))
    assert tx.events["FlagWithdrawn"]["by"] == cast.customs_nl.address
    assert intelligence.statusOf(1) == WITHDRAWN


def test_a_forwarded_flag_signed_by_a_trader_fails_in_the_contract(intelligence, forwarder, relayer, cast):
    valid_from, valid_until = window()
    data = intelligence.shareFlag.encode_input(
        CONTENT, SUBJECT, SANCTIONED_PARTY, HIGH, valid_from, valid_until, [cast.customs_sg.address]
    )
    with reverts_with("FailedCall"):
        relay_signed(forwarder, relayer, cast.exporter, intelligence, data)
    assert intelligence.flagCount() == 0


def test_the_relayer_itself_cannot_share(intelligence, relayer, cast):
    valid_from, valid_until = window()
    with reverts_with("IntelligenceNotAnAuthor", relayer.address):
        intelligence.shareFlag(
            CONTENT,
            SUBJECT,
            SANCTIONED_PARTY,
            HIGH,
            valid_from,
            valid_until,
            [cast.customs_sg.address],
            {"from": relayer},
        )
