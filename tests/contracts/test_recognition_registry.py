"""RecognitionRegistry: who may issue AEO certificates and make mutual recognition
arrangements, the named errors of bad input, and when an operator is recognised by a
country (times are unix seconds, passed as `at`)."""

import pytest
from brownie import chain
from helpers import ZERO_ADDRESS, country, reverts_with

DAY = 24 * 3600
AEOF = b"AEOF".ljust(32, b"\x00")
AEOC = b"AEOC".ljust(32, b"\x00")
NO_COUNTRY = b"\x00\x00"

# IRecognitionRegistry.Recognition, in declaration order.
RECOGNISED = 0
NO_CERTIFICATE = 1
CERTIFICATE_NOT_YET_VALID = 2
CERTIFICATE_EXPIRED = 3
CERTIFICATE_SUSPENDED = 4
CERTIFICATE_REVOKED = 5
NO_ARRANGEMENT = 6
ARRANGEMENT_NOT_RATIFIED = 7
ARRANGEMENT_NOT_YET_IN_FORCE = 8
ARRANGEMENT_TERMINATED = 9

# IRecognitionRegistry.CertificateStatus
CERT = {"None": 0, "Active": 1, "Suspended": 2, "Revoked": 3}


def as_bytes(value) -> bytes:
    if isinstance(value, str):
        return bytes.fromhex(value[2:] if value.startswith("0x") else value)
    return bytes(value)


def recognition_of(recognition, operator, code: str, at: int) -> tuple[int, int]:
    reason, mra_id = recognition.recognitionOf(operator, country(code), at)
    return int(reason), int(mra_id)


def latest_timestamp() -> int:
    return chain[-1].timestamp


@pytest.fixture
def window():
    """A certificate window around now: valid from a day ago for thirty days."""
    now = latest_timestamp()
    return now - DAY, now + 30 * DAY


def issue(recognition, authority, operator, window, programme=AEOF):
    valid_from, valid_until = window
    return recognition.issueCertificate(
        operator.address, programme, valid_from, valid_until, {"from": authority.account}
    )


def propose(recognition, proposer, partner: str, effective_from: int = 0, controls: int = 0):
    tx = recognition.proposeArrangement(country(partner), effective_from, controls, {"from": proposer.account})
    return tx.return_value, tx


# ---------------------------------------------------------------- certificates: who may issue


def test_authority_issues_a_certificate_to_an_operator_of_its_country(recognition, cast, window):
    tx = issue(recognition, cast.customs_nl, cast.exporter, window)
    event = tx.events["CertificateIssued"]
    assert event["operator"] == cast.exporter.address
    assert as_bytes(event["country"]) == b"NL"
    assert as_bytes(event["programme"]) == AEOF
    assert (event["validFrom"], event["validUntil"]) == window
    assert event["issuedBy"] == cast.customs_nl.address
    cert = recognition.certificateOf(cast.exporter.address)
    assert as_bytes(cert[0]) == AEOF
    assert as_bytes(cert[1]) == b"NL"
    assert (cert[2], cert[3], cert[4], cert[5], cert[6], cert[7]) == (
        window[0],
        window[1],
        CERT["Active"],
        tx.timestamp,
        cast.customs_nl.address,
        1,
    )


def test_authority_renews_a_certificate(recognition, cast, window):
    issue(recognition, cast.customs_nl, cast.exporter, window)
    renewed = (window[1], window[1] + 365 * DAY)
    tx = issue(recognition, cast.customs_nl, cast.exporter, renewed, programme=AEOC)
    assert (tx.events["CertificateIssued"]["validFrom"], tx.events["CertificateIssued"]["validUntil"]) == renewed
    cert = recognition.certificateOf(cast.exporter.address)
    assert (as_bytes(cert[0]), cert[2], cert[3], cert[4], cert[7]) == (AEOC, *renewed, CERT["Active"], 2)


@pytest.mark.parametrize("name", ["customs_sg", "customs_de", "officer_nl", "carrier", "importer", "outsider"])
def test_caller_that_is_no_authority_of_the_operator_country_cannot_issue_its_certificate(
    recognition, cast, window, name
):
    caller = getattr(cast, name)
    with reverts_with("RecognitionNotAuthorityOf", caller.address, country("NL")):
        issue(recognition, caller, cast.exporter, window)
    assert recognition.certificateOf(cast.exporter.address)[4] == CERT["None"]


def test_admin_cannot_issue_a_certificate(recognition, admin, cast, window):
    with reverts_with("RecognitionNotAuthorityOf", admin.address, country("NL")):
        recognition.issueCertificate(cast.exporter.address, AEOF, window[0], window[1], {"from": admin})
    assert recognition.certificateOf(cast.exporter.address)[4] == CERT["None"]


@pytest.mark.parametrize("change", ["suspendParty", "revokeParty"])
def test_authority_that_is_not_active_cannot_issue_certificates(recognition, registry, admin, cast, window, change):
    getattr(registry, change)(cast.customs_nl.address, {"from": admin})
    with reverts_with("RecognitionNotAuthorityOf", cast.customs_nl.address, country("NL")):
        issue(recognition, cast.customs_nl, cast.exporter, window)
    assert recognition.certificateOf(cast.exporter.address)[4] == CERT["None"]


def test_authority_cannot_issue_a_certificate_to_an_unknown_operator(recognition, cast, window):
    with reverts_with("RecognitionUnknownOperator", cast.outsider.address):
        issue(recognition, cast.customs_nl, cast.outsider, window)
    assert recognition.certificateOf(cast.outsider.address)[4] == CERT["None"]


def test_authority_cannot_issue_a_certificate_to_the_zero_address(recognition, cast, window):
    with reverts_with("RecognitionZeroAddress"):
        recognition.issueCertificate(ZERO_ADDRESS, AEOF, window[0], window[1], {"from": cast.customs_nl.account})
    assert recognition.certificateOf(ZERO_ADDRESS)[4] == CERT["None"]


def test_authority_cannot_issue_a_certificate_without_programme(recognition, cast, window):
    with reverts_with("RecognitionEmptyProgramme"):
        issue(recognition, cast.customs_nl, cast.exporter, window, programme=b"\x00" * 32)
    assert recognition.certificateOf(cast.exporter.address)[4] == CERT["None"]


@pytest.mark.parametrize("offset", [0, -1, -DAY])
def test_authority_cannot_issue_a_certificate_with_an_empty_or_reversed_window(recognition, cast, offset):
    valid_from = latest_timestamp()
    valid_until = valid_from + offset
    with reverts_with("RecognitionInvalidValidity", valid_from, valid_until):
        issue(recognition, cast.customs_nl, cast.exporter, (valid_from, valid_until))
    assert recognition.certificateOf(cast.exporter.address)[4] == CERT["None"]


# ---------------------------------------------------------------- certificates: status


def test_authority_suspends_reinstates_and_revokes_a_certificate(recognition, cast, window):
    nl = cast.customs_nl.account
    issue(recognition, cast.customs_nl, cast.exporter, window)
    steps = [
        ("suspendCertificate", "Active", "Suspended"),
        ("reinstateCertificate", "Suspended", "Active"),
        ("suspendCertificate", "Active", "Suspended"),
        ("revokeCertificate", "Suspended", "Revoked"),
    ]
    for function, previous, status in steps:
        tx = getattr(recognition, function)(cast.exporter.address, {"from": nl})
        event = tx.events["CertificateStatusChanged"]
        assert (event["operator"], event["previousStatus"], event["status"], event["changedBy"]) == (
            cast.exporter.address,
            CERT[previous],
            CERT[status],
            cast.customs_nl.address,
        )
        cert = recognition.certificateOf(cast.exporter.address)
        assert (cert[4], cert[5]) == (CERT[status], tx.timestamp)


@pytest.mark.parametrize("function", ["suspendCertificate", "revokeCertificate"])
@pytest.mark.parametrize("name", ["customs_sg", "officer_nl", "exporter", "outsider"])
def test_caller_that_is_no_authority_of_the_certificate_country_cannot_change_it(
    recognition, cast, window, function, name
):
    caller = getattr(cast, name)
    issue(recognition, cast.customs_nl, cast.exporter, window)
    with reverts_with("RecognitionNotAuthorityOf", caller.address, country("NL")):
        getattr(recognition, function)(cast.exporter.address, {"from": caller.account})
    assert recognition.certificateOf(cast.exporter.address)[4] == CERT["Active"]


@pytest.mark.parametrize("function", ["suspendCertificate", "reinstateCertificate", "revokeCertificate"])
def test_authority_cannot_change_a_certificate_that_was_never_issued(recognition, cast, function):
    with reverts_with("RecognitionUnknownOperator", cast.carrier.address):
        getattr(recognition, function)(cast.carrier.address, {"from": cast.customs_nl.account})
    assert recognition.certificateOf(cast.carrier.address)[4] == CERT["None"]


@pytest.mark.parametrize(
    "setup, function, current, requested",
    [
        ([], "reinstateCertificate", "Active", "Active"),
        (["suspendCertificate"], "suspendCertificate", "Suspended", "Suspended"),
        (["revokeCertificate"], "suspendCertificate", "Revoked", "Suspended"),
        (["revokeCertificate"], "reinstateCertificate", "Revoked", "Active"),
        (["revokeCertificate"], "revokeCertificate", "Revoked", "Revoked"),
    ],
)
def test_authority_cannot_make_an_invalid_certificate_status_change(
    recognition, cast, window, setup, function, current, requested
):
    nl = cast.customs_nl.account
    issue(recognition, cast.customs_nl, cast.exporter, window)
    for step in setup:
        getattr(recognition, step)(cast.exporter.address, {"from": nl})
    with reverts_with("RecognitionInvalidStatusChange", cast.exporter.address, CERT[current], CERT[requested]):
        getattr(recognition, function)(cast.exporter.address, {"from": nl})
    assert recognition.certificateOf(cast.exporter.address)[4] == CERT[current]


# ---------------------------------------------------------------- arrangements: who may make them


def test_authority_proposes_an_arrangement_with_a_partner_country(recognition, cast):
    effective = latest_timestamp() + DAY
    mra_id, tx = propose(recognition, cast.customs_nl, "SG", effective)
    assert mra_id == 1
    event = tx.events["ArrangementProposed"]
    assert (
        event["mraId"],
        as_bytes(event["proposer"]),
        as_bytes(event["partner"]),
        event["effectiveFrom"],
        event["recognisedControls"],
    ) == (1, b"NL", b"SG", effective, 0)
    a = recognition.arrangementOf(mra_id)
    assert (as_bytes(a[0]), as_bytes(a[1]), a[2], a[3], a[4], a[5]) == (b"NL", b"SG", effective, 0, 0, 0)
    assert list(recognition.arrangementsBetween(country("SG"), country("NL"))) == [1]
    assert list(recognition.arrangementsBetween(country("NL"), country("SG"))) == [1]


@pytest.mark.parametrize(
    "name, code", [("officer_nl", "NL"), ("exporter", "NL"), ("terminal", "SG"), ("outsider", None)]
)
def test_party_that_is_no_authority_cannot_propose_an_arrangement(recognition, cast, name, code):
    caller = getattr(cast, name)
    with reverts_with("RecognitionNotAuthorityOf", caller.address, country(code) if code else NO_COUNTRY):
        propose(recognition, caller, "DE")
    assert list(recognition.arrangementsBetween(country(code or "NL"), country("DE"))) == []


def test_suspended_authority_cannot_propose_an_arrangement(recognition, registry, admin, cast):
    registry.suspendParty(cast.customs_nl.address, {"from": admin})
    with reverts_with("RecognitionNotAuthorityOf", cast.customs_nl.address, country("NL")):
        propose(recognition, cast.customs_nl, "SG")
    assert list(recognition.arrangementsBetween(country("NL"), country("SG"))) == []


@pytest.mark.parametrize("partner", [b"NL", b"sg", b"S1", b"\x00\x00", b"S\x00"])
def test_authority_cannot_propose_an_arrangement_with_its_own_or_a_malformed_country(recognition, cast, partner):
    with reverts_with("RecognitionInvalidCountry", partner):
        recognition.proposeArrangement(partner, 0, 0, {"from": cast.customs_nl.account})
    assert list(recognition.arrangementsBetween(country("NL"), partner)) == []


@pytest.mark.parametrize("second, partner", [("customs_nl", "SG"), ("customs_sg", "NL")])
def test_authority_cannot_propose_a_second_arrangement_while_one_is_pending(recognition, cast, second, partner):
    mra_id, _ = propose(recognition, cast.customs_nl, "SG")
    with reverts_with("RecognitionArrangementExists", mra_id):
        propose(recognition, getattr(cast, second), partner)
    assert list(recognition.arrangementsBetween(country("NL"), country("SG"))) == [mra_id]


@pytest.mark.parametrize("second, partner", [("customs_nl", "SG"), ("customs_sg", "NL")])
def test_authority_cannot_propose_a_second_arrangement_while_one_is_in_force(recognition, cast, second, partner):
    mra_id, _ = propose(recognition, cast.customs_nl, "SG")
    recognition.ratifyArrangement(mra_id, {"from": cast.customs_sg.account})
    with reverts_with("RecognitionArrangementExists", mra_id):
        propose(recognition, getattr(cast, second), partner)
    assert list(recognition.arrangementsBetween(country("NL"), country("SG"))) == [mra_id]


def test_arrangements_of_other_pairs_do_not_block_a_proposal(recognition, cast):
    propose(recognition, cast.customs_nl, "SG")
    de_id, _ = propose(recognition, cast.customs_de, "NL")
    sg_de_id, _ = propose(recognition, cast.customs_sg, "DE")
    assert (de_id, sg_de_id) == (2, 3)


def test_partner_authority_ratifies_an_arrangement(recognition, cast):
    mra_id, _ = propose(recognition, cast.customs_nl, "SG")
    tx = recognition.ratifyArrangement(mra_id, {"from": cast.customs_sg.account})
    event = tx.events["ArrangementRatified"]
    assert (event["mraId"], as_bytes(event["partner"]), event["ratifiedBy"]) == (mra_id, b"SG", cast.customs_sg.address)
    assert recognition.arrangementOf(mra_id)[3] == tx.timestamp


@pytest.mark.parametrize("name", ["customs_nl", "customs_de", "exporter_sg", "importer", "officer_nl", "outsider"])
def test_only_an_authority_of_the_partner_country_can_ratify(recognition, cast, name):
    caller = getattr(cast, name)
    mra_id, _ = propose(recognition, cast.customs_nl, "SG")
    with reverts_with("RecognitionNotAuthorityOf", caller.address, country("SG")):
        recognition.ratifyArrangement(mra_id, {"from": caller.account})
    assert recognition.arrangementOf(mra_id)[3] == 0


def test_suspended_partner_authority_cannot_ratify(recognition, registry, admin, cast):
    mra_id, _ = propose(recognition, cast.customs_nl, "SG")
    registry.suspendParty(cast.customs_sg.address, {"from": admin})
    with reverts_with("RecognitionNotAuthorityOf", cast.customs_sg.address, country("SG")):
        recognition.ratifyArrangement(mra_id, {"from": cast.customs_sg.account})
    assert recognition.arrangementOf(mra_id)[3] == 0


def test_partner_cannot_ratify_an_arrangement_twice(recognition, cast):
    mra_id, _ = propose(recognition, cast.customs_nl, "SG")
    ratified_at = recognition.ratifyArrangement(mra_id, {"from": cast.customs_sg.account}).timestamp
    with reverts_with("RecognitionAlreadyRatified", mra_id):
        recognition.ratifyArrangement(mra_id, {"from": cast.customs_sg.account})
    assert recognition.arrangementOf(mra_id)[3] == ratified_at


def test_partner_cannot_ratify_a_withdrawn_proposal(recognition, cast):
    mra_id, _ = propose(recognition, cast.customs_nl, "SG")
    terminated_at = latest_timestamp() + DAY
    recognition.terminateArrangement(mra_id, terminated_at, {"from": cast.customs_nl.account})
    with reverts_with("RecognitionAlreadyTerminated", mra_id, terminated_at):
        recognition.ratifyArrangement(mra_id, {"from": cast.customs_sg.account})
    assert recognition.arrangementOf(mra_id)[3] == 0


@pytest.mark.parametrize("side", ["customs_nl", "customs_sg"])
def test_either_side_terminates_an_arrangement(recognition, cast, side):
    mra_id, _ = propose(recognition, cast.customs_nl, "SG")
    recognition.ratifyArrangement(mra_id, {"from": cast.customs_sg.account})
    terminated_at = latest_timestamp() + 7 * DAY
    caller = getattr(cast, side)
    tx = recognition.terminateArrangement(mra_id, terminated_at, {"from": caller.account})
    event = tx.events["ArrangementTerminated"]
    assert (event["mraId"], as_bytes(event["terminatedByCountry"]), event["terminatedAt"]) == (
        mra_id,
        country(caller.country),
        terminated_at,
    )
    assert recognition.arrangementOf(mra_id)[4] == terminated_at


@pytest.mark.parametrize(
    "name, code", [("customs_de", "SG"), ("outsider", "SG"), ("officer_nl", "NL"), ("importer", "SG")]
)
def test_caller_that_is_no_authority_of_either_side_cannot_terminate(recognition, cast, name, code):
    caller = getattr(cast, name)
    mra_id, _ = propose(recognition, cast.customs_nl, "SG")
    recognition.ratifyArrangement(mra_id, {"from": cast.customs_sg.account})
    with reverts_with("RecognitionNotAuthorityOf", caller.address, country(code)):
        recognition.terminateArrangement(mra_id, latest_timestamp() + DAY, {"from": caller.account})
    assert recognition.arrangementOf(mra_id)[4] == 0


def test_authority_cannot_terminate_an_arrangement_twice(recognition, cast):
    mra_id, _ = propose(recognition, cast.customs_nl, "SG")
    terminated_at = latest_timestamp() + DAY
    recognition.terminateArrangement(mra_id, terminated_at, {"from": cast.customs_nl.account})
    with reverts_with("RecognitionAlreadyTerminated", mra_id, terminated_at):
        recognition.terminateArrangement(mra_id, terminated_at + DAY, {"from": cast.customs_sg.account})
    assert recognition.arrangementOf(mra_id)[4] == terminated_at


@pytest.mark.parametrize("seconds_ago", [1, DAY])
def test_authority_cannot_terminate_an_arrangement_retroactively(recognition, cast, seconds_ago):
    mra_id, _ = propose(recognition, cast.customs_nl, "SG")
    recognition.ratifyArrangement(mra_id, {"from": cast.customs_sg.account})
    # A call runs on the latest block, so block.timestamp is that block's timestamp.
    now = latest_timestamp()
    with reverts_with("RecognitionRetroactiveTermination", now - seconds_ago, now):
        recognition.terminateArrangement.call(mra_id, now - seconds_ago, {"from": cast.customs_nl.account})
    assert recognition.arrangementOf(mra_id)[4] == 0


def test_authority_may_terminate_an_arrangement_with_effect_from_now(recognition, cast):
    mra_id, _ = propose(recognition, cast.customs_nl, "SG")
    recognition.ratifyArrangement(mra_id, {"from": cast.customs_sg.account})
    chain.mine()
    now = latest_timestamp()
    recognition.terminateArrangement.call(mra_id, now, {"from": cast.customs_nl.account})
    assert recognition.arrangementOf(mra_id)[4] == 0


@pytest.mark.parametrize("mra_id", [0, 2, 2**256 - 1])
def test_nobody_can_ratify_terminate_or_read_an_unknown_arrangement(recognition, cast, mra_id):
    propose(recognition, cast.customs_nl, "SG")
    with reverts_with("RecognitionUnknownArrangement", mra_id):
        recognition.ratifyArrangement(mra_id, {"from": cast.customs_sg.account})
    with reverts_with("RecognitionUnknownArrangement", mra_id):
        recognition.terminateArrangement(mra_id, latest_timestamp() + DAY, {"from": cast.customs_nl.account})
    with reverts_with("RecognitionUnknownArrangement", mra_id):
        recognition.arrangementOf(mra_id)
    assert recognition.arrangementOf(1)[3] == 0


def test_nothing_is_an_arrangement_before_the_first_proposal(recognition, cast):
    with reverts_with("RecognitionUnknownArrangement", 1):
        recognition.ratifyArrangement(1, {"from": cast.customs_sg.account})
    assert list(recognition.arrangementsBetween(country("NL"), country("SG"))) == []


# ---------------------------------------------------------------- recognition


def test_operator_without_certificate_is_recognised_nowhere(recognition, cast):
    now = latest_timestamp()
    for code in ("NL", "SG", "DE"):
        assert recognition_of(recognition, cast.carrier.address, code, now) == (NO_CERTIFICATE, 0)
        assert recognition.isRecognised(cast.carrier.address, country(code), now) is False


def test_own_country_recognises_its_operator_without_any_arrangement(recognition, cast, window):
    issue(recognition, cast.customs_nl, cast.exporter, window)
    for at in (window[0], latest_timestamp(), window[1] - 1):
        assert recognition_of(recognition, cast.exporter.address, "NL", at) == (RECOGNISED, 0)
        assert recognition.isRecognised(cast.exporter.address, country("NL"), at) is True


def test_country_without_arrangement_does_not_recognise_a_foreign_operator(recognition, cast, window):
    issue(recognition, cast.customs_nl, cast.exporter, window)
    now = latest_timestamp()
    assert recognition_of(recognition, cast.exporter.address, "SG", now) == (NO_ARRANGEMENT, 0)
    assert recognition.isRecognised(cast.exporter.address, country("SG"), now) is False


def test_certificate_is_not_recognised_before_it_is_valid_nor_from_its_expiry(recognition, cast, window):
    valid_from, valid_until = window
    issue(recognition, cast.customs_nl, cast.exporter, window)
    assert recognition_of(recognition, cast.exporter.address, "NL", valid_from - 1) == (CERTIFICATE_NOT_YET_VALID, 0)
    assert recognition_of(recognition, cast.exporter.address, "NL", valid_from) == (RECOGNISED, 0)
    assert recognition_of(recognition, cast.exporter.address, "NL", valid_until - 1) == (RECOGNISED, 0)
    assert recognition_of(recognition, cast.exporter.address, "NL", valid_until) == (CERTIFICATE_EXPIRED, 0)
    assert recognition.isRecognised(cast.exporter.address, country("NL"), valid_until) is False


def test_expired_certificate_is_not_recognised_when_the_chain_reaches_its_expiry(recognition, cast):
    now = latest_timestamp()
    issue(recognition, cast.customs_nl, cast.exporter, (now - DAY, now + 60))
    assert recognition.isRecognised(cast.exporter.address, country("NL"), latest_timestamp()) is True
    chain.sleep(120)
    chain.mine()
    assert recognition_of(recognition, cast.exporter.address, "NL", latest_timestamp()) == (CERTIFICATE_EXPIRED, 0)


def test_suspended_certificate_is_not_recognised_from_its_suspension_on(recognition, cast, window):
    issue(recognition, cast.customs_nl, cast.exporter, window)
    suspended_at = recognition.suspendCertificate(cast.exporter.address, {"from": cast.customs_nl.account}).timestamp
    assert recognition_of(recognition, cast.exporter.address, "NL", suspended_at - 1) == (RECOGNISED, 0)
    assert recognition_of(recognition, cast.exporter.address, "NL", suspended_at) == (CERTIFICATE_SUSPENDED, 0)
    assert recognition_of(recognition, cast.exporter.address, "NL", window[1] - 1) == (CERTIFICATE_SUSPENDED, 0)


def test_reinstated_certificate_is_recognised_again(recognition, cast, window):
    issue(recognition, cast.customs_nl, cast.exporter, window)
    recognition.suspendCertificate(cast.exporter.address, {"from": cast.customs_nl.account})
    reinstated_at = recognition.reinstateCertificate(cast.exporter.address, {"from": cast.customs_nl.account}).timestamp
    assert recognition_of(recognition, cast.exporter.address, "NL", reinstated_at) == (RECOGNISED, 0)


def test_revoked_certificate_is_not_recognised_from_its_revocation_on(recognition, cast, window):
    issue(recognition, cast.customs_nl, cast.exporter, window)
    revoked_at = recognition.revokeCertificate(cast.exporter.address, {"from": cast.customs_nl.account}).timestamp
    assert recognition_of(recognition, cast.exporter.address, "NL", revoked_at - 1) == (RECOGNISED, 0)
    assert recognition_of(recognition, cast.exporter.address, "NL", revoked_at) == (CERTIFICATE_REVOKED, 0)
    assert recognition.isRecognised(cast.exporter.address, country("NL"), revoked_at + DAY) is False


def test_reissued_certificate_after_revocation_is_recognised(recognition, cast, window):
    issue(recognition, cast.customs_nl, cast.exporter, window)
    recognition.revokeCertificate(cast.exporter.address, {"from": cast.customs_nl.account})
    issue(recognition, cast.customs_nl, cast.exporter, window)
    assert recognition_of(recognition, cast.exporter.address, "NL", latest_timestamp()) == (RECOGNISED, 0)


def test_proposed_arrangement_is_not_recognition_until_the_partner_ratifies(recognition, cast, window):
    issue(recognition, cast.customs_nl, cast.exporter, window)
    mra_id, _ = propose(recognition, cast.customs_nl, "SG")
    now = latest_timestamp()
    assert recognition_of(recognition, cast.exporter.address, "SG", now) == (ARRANGEMENT_NOT_RATIFIED, mra_id)
    assert recognition_of(recognition, cast.exporter.address, "SG", now + DAY) == (ARRANGEMENT_NOT_RATIFIED, mra_id)
    assert recognition.isRecognised(cast.exporter.address, country("SG"), now) is False
    # Still no word from a third country.
    assert recognition_of(recognition, cast.exporter.address, "DE", now) == (NO_ARRANGEMENT, 0)


def test_ratified_arrangement_recognises_operators_of_both_sides(recognition, cast, window):
    issue(recognition, cast.customs_nl, cast.exporter, window)
    issue(recognition, cast.customs_sg, cast.exporter_sg, window)
    mra_id, _ = propose(recognition, cast.customs_nl, "SG")
    ratified_at = recognition.ratifyArrangement(mra_id, {"from": cast.customs_sg.account}).timestamp
    for operator, partner in ((cast.exporter, "SG"), (cast.exporter_sg, "NL")):
        assert recognition_of(recognition, operator.address, partner, ratified_at) == (RECOGNISED, mra_id)
        assert recognition_of(recognition, operator.address, partner, window[1] - 1) == (RECOGNISED, mra_id)
        assert recognition.isRecognised(operator.address, country(partner), ratified_at) is True
        # Not before the partner agreed, although the effective date (0) had passed.
        assert recognition_of(recognition, operator.address, partner, ratified_at - 1) == (
            ARRANGEMENT_NOT_YET_IN_FORCE,
            mra_id,
        )
        # The certificate still has to be valid.
        assert recognition_of(recognition, operator.address, partner, window[1]) == (CERTIFICATE_EXPIRED, 0)
    assert recognition_of(recognition, cast.exporter.address, "DE", ratified_at) == (NO_ARRANGEMENT, 0)


def test_arrangement_is_in_force_only_from_its_effective_date(recognition, cast, window):
    issue(recognition, cast.customs_nl, cast.exporter, window)
    effective = latest_timestamp() + 3 * DAY
    mra_id, _ = propose(recognition, cast.customs_nl, "SG", effective)
    ratified_at = recognition.ratifyArrangement(mra_id, {"from": cast.customs_sg.account}).timestamp
    assert recognition_of(recognition, cast.exporter.address, "SG", ratified_at) == (
        ARRANGEMENT_NOT_YET_IN_FORCE,
        mra_id,
    )
    assert recognition_of(recognition, cast.exporter.address, "SG", effective - 1) == (
        ARRANGEMENT_NOT_YET_IN_FORCE,
        mra_id,
    )
    assert recognition_of(recognition, cast.exporter.address, "SG", effective) == (RECOGNISED, mra_id)
    chain.sleep(3 * DAY + 60)
    chain.mine()
    assert recognition.isRecognised(cast.exporter.address, country("SG"), latest_timestamp()) is True


def test_termination_ends_recognition_from_its_date(recognition, cast, window):
    issue(recognition, cast.customs_nl, cast.exporter, window)
    mra_id, _ = propose(recognition, cast.customs_nl, "SG")
    ratified_at = recognition.ratifyArrangement(mra_id, {"from": cast.customs_sg.account}).timestamp
    terminated_at = latest_timestamp() + 5 * DAY
    recognition.terminateArrangement(mra_id, terminated_at, {"from": cast.customs_sg.account})
    assert recognition_of(recognition, cast.exporter.address, "SG", ratified_at) == (RECOGNISED, mra_id)
    assert recognition_of(recognition, cast.exporter.address, "SG", terminated_at - 1) == (RECOGNISED, mra_id)
    assert recognition_of(recognition, cast.exporter.address, "SG", terminated_at) == (ARRANGEMENT_TERMINATED, mra_id)
    assert recognition_of(recognition, cast.exporter.address, "SG", terminated_at + DAY) == (
        ARRANGEMENT_TERMINATED,
        mra_id,
    )
    assert recognition.isRecognised(cast.exporter.address, country("SG"), terminated_at) is False


def test_suspended_certificate_stays_recognised_abroad_for_times_before_its_suspension(recognition, cast, window):
    issue(recognition, cast.customs_nl, cast.exporter, window)
    mra_id, _ = propose(recognition, cast.customs_nl, "SG")
    ratified_at = recognition.ratifyArrangement(mra_id, {"from": cast.customs_sg.account}).timestamp
    chain.sleep(60)
    suspended_at = recognition.suspendCertificate(cast.exporter.address, {"from": cast.customs_nl.account}).timestamp
    assert suspended_at > ratified_at
    assert recognition_of(recognition, cast.exporter.address, "SG", ratified_at) == (RECOGNISED, mra_id)
    assert recognition_of(recognition, cast.exporter.address, "SG", suspended_at - 1) == (RECOGNISED, mra_id)
    assert recognition_of(recognition, cast.exporter.address, "SG", suspended_at) == (CERTIFICATE_SUSPENDED, 0)


def test_revoked_certificate_is_not_recognised_abroad_either(recognition, cast, window):
    issue(recognition, cast.customs_nl, cast.exporter, window)
    mra_id, _ = propose(recognition, cast.customs_nl, "SG")
    recognition.ratifyArrangement(mra_id, {"from": cast.customs_sg.account})
    chain.sleep(60)
    revoked_at = recognition.revokeCertificate(cast.exporter.address, {"from": cast.customs_nl.account}).timestamp
    assert recognition_of(recognition, cast.exporter.address, "SG", revoked_at - 1) == (RECOGNISED, mra_id)
    assert recognition_of(recognition, cast.exporter.address, "SG", revoked_at) == (CERTIFICATE_REVOKED, 0)


def test_new_arrangement_may_be_proposed_after_termination(recognition, cast, window):
    issue(recognition, cast.customs_nl, cast.exporter, window)
    first, _ = propose(recognition, cast.customs_nl, "SG")
    first_ratified = recognition.ratifyArrangement(first, {"from": cast.customs_sg.account}).timestamp
    first_ends = latest_timestamp() + 30
    recognition.terminateArrangement(first, first_ends, {"from": cast.customs_nl.account})
    chain.sleep(60)
    second, tx = propose(recognition, cast.customs_sg, "NL")
    assert second == first + 1
    assert tx.events["ArrangementProposed"]["mraId"] == second
    assert list(recognition.arrangementsBetween(country("NL"), country("SG"))) == [first, second]
    now = latest_timestamp()
    assert recognition_of(recognition, cast.exporter.address, "SG", now) == (ARRANGEMENT_NOT_RATIFIED, second)
    with reverts_with("RecognitionArrangementExists", second):
        propose(recognition, cast.customs_nl, "SG")
    chain.sleep(10)
    second_ratified = recognition.ratifyArrangement(second, {"from": cast.customs_nl.account}).timestamp
    assert second_ratified > first_ends
    # Each time is judged by the arrangement that was in force then.
    assert recognition_of(recognition, cast.exporter.address, "SG", first_ratified) == (RECOGNISED, first)
    assert recognition_of(recognition, cast.exporter.address, "SG", first_ends - 1) == (RECOGNISED, first)
    assert recognition_of(recognition, cast.exporter.address, "SG", first_ends) == (
        ARRANGEMENT_NOT_YET_IN_FORCE,
        second,
    )
    assert recognition_of(recognition, cast.exporter.address, "SG", second_ratified) == (RECOGNISED, second)


def test_terminated_arrangement_stays_terminated_for_later_times_without_a_successor(recognition, cast, window):
    issue(recognition, cast.customs_sg, cast.exporter_sg, window)
    mra_id, _ = propose(recognition, cast.customs_de, "SG")
    recognition.ratifyArrangement(mra_id, {"from": cast.customs_sg.account})
    ends = latest_timestamp() + DAY
    recognition.terminateArrangement(mra_id, ends, {"from": cast.customs_de.account})
    assert recognition_of(recognition, cast.exporter_sg.address, "DE", ends - 1) == (RECOGNISED, mra_id)
    assert recognition_of(recognition, cast.exporter_sg.address, "DE", ends) == (ARRANGEMENT_TERMINATED, mra_id)
    assert recognition_of(recognition, cast.exporter_sg.address, "NL", ends - 1) == (NO_ARRANGEMENT, 0)


def test_authority_may_propose_a_successor_while_a_terminated_arrangement_serves_its_notice(recognition, cast, window):
    # Current behaviour: only an arrangement that is not terminated at all blocks a new proposal,
    # so a successor can be agreed during the notice period and the two overlap.
    issue(recognition, cast.customs_nl, cast.exporter, window)
    first, _ = propose(recognition, cast.customs_nl, "SG")
    recognition.ratifyArrangement(first, {"from": cast.customs_sg.account})
    ends = latest_timestamp() + 10 * DAY
    recognition.terminateArrangement(first, ends, {"from": cast.customs_nl.account})
    second, _ = propose(recognition, cast.customs_sg, "NL", ends)
    recognition.ratifyArrangement(second, {"from": cast.customs_nl.account})
    assert recognition_of(recognition, cast.exporter.address, "SG", ends - 1) == (RECOGNISED, first)
    assert recognition_of(recognition, cast.exporter.address, "SG", ends) == (RECOGNISED, second)


# ---------------------------------------------------------------- certificate history


def certificate_at(recognition, operator, at: int) -> tuple:
    """(programme, validFrom, validUntil, status, statusSince, sequence) of the certificate in effect at `at`."""
    cert = recognition.certificateAt(operator, at)
    return as_bytes(cert[0]), cert[2], cert[3], int(cert[4]), cert[5], cert[7]


def test_suspension_stays_in_the_past_after_the_certificate_is_reinstated(recognition, cast, window):
    nl = cast.customs_nl.account
    issued_at = issue(recognition, cast.customs_nl, cast.exporter, window).timestamp
    chain.sleep(100)
    suspended_at = recognition.suspendCertificate(cast.exporter.address, {"from": nl}).timestamp
    chain.sleep(100)
    reinstated_at = recognition.reinstateCertificate(cast.exporter.address, {"from": nl}).timestamp
    assert issued_at < suspended_at < reinstated_at
    operator = cast.exporter.address
    assert recognition_of(recognition, operator, "NL", suspended_at - 1) == (RECOGNISED, 0)
    for at in (suspended_at, (suspended_at + reinstated_at) // 2, reinstated_at - 1):
        assert recognition_of(recognition, operator, "NL", at) == (CERTIFICATE_SUSPENDED, 0)
        assert recognition.isRecognised(operator, country("NL"), at) is False
        assert certificate_at(recognition, operator, at) == (AEOF, *window, CERT["Suspended"], suspended_at, 1)
    for at in (reinstated_at, reinstated_at + DAY, window[1] - 1):
        assert recognition_of(recognition, operator, "NL", at) == (RECOGNISED, 0)
    assert certificate_at(recognition, operator, reinstated_at) == (AEOF, *window, CERT["Active"], reinstated_at, 1)
    assert certificate_at(recognition, operator, suspended_at - 1) == (AEOF, *window, CERT["Active"], issued_at, 1)


def test_suspension_in_the_past_is_seen_abroad_too(recognition, cast, window):
    nl = cast.customs_nl.account
    issue(recognition, cast.customs_nl, cast.exporter, window)
    mra_id, _ = propose(recognition, cast.customs_nl, "SG")
    recognition.ratifyArrangement(mra_id, {"from": cast.customs_sg.account})
    chain.sleep(60)
    suspended_at = recognition.suspendCertificate(cast.exporter.address, {"from": nl}).timestamp
    chain.sleep(60)
    reinstated_at = recognition.reinstateCertificate(cast.exporter.address, {"from": nl}).timestamp
    assert recognition_of(recognition, cast.exporter.address, "SG", suspended_at) == (CERTIFICATE_SUSPENDED, 0)
    assert recognition_of(recognition, cast.exporter.address, "SG", reinstated_at) == (RECOGNISED, mra_id)


def test_authority_cannot_issue_over_a_suspended_certificate(recognition, cast, window):
    nl = cast.customs_nl.account
    issue(recognition, cast.customs_nl, cast.exporter, window)
    suspended_at = recognition.suspendCertificate(cast.exporter.address, {"from": nl}).timestamp
    with reverts_with("RecognitionCertificateSuspended", cast.exporter.address, suspended_at):
        issue(recognition, cast.customs_nl, cast.exporter, (window[0], window[1] + DAY), programme=AEOC)
    cert = recognition.certificateOf(cast.exporter.address)
    assert (as_bytes(cert[0]), cert[3], cert[4], cert[7]) == (AEOF, window[1], CERT["Suspended"], 1)
    # Reinstatement is its own act; after it, the certificate can be renewed.
    recognition.reinstateCertificate(cast.exporter.address, {"from": nl})
    issue(recognition, cast.customs_nl, cast.exporter, (window[0], window[1] + DAY), programme=AEOC)
    assert recognition.certificateOf(cast.exporter.address)[7] == 2


def test_renewal_keeps_the_old_window_for_times_before_it(recognition, cast, window):
    issued_at = issue(recognition, cast.customs_nl, cast.exporter, window).timestamp
    chain.sleep(3600)
    renewed = (latest_timestamp() + 5 * DAY, latest_timestamp() + 365 * DAY)
    tx = issue(recognition, cast.customs_nl, cast.exporter, renewed, programme=AEOC)
    renewed_at = tx.timestamp
    event = tx.events["CertificateIssued"]
    assert (as_bytes(event["programme"]), event["validFrom"], event["validUntil"]) == (AEOC, *renewed)
    operator = cast.exporter.address
    # Before the renewal, the first certificate answers: valid then.
    assert recognition_of(recognition, operator, "NL", renewed_at - 1) == (RECOGNISED, 0)
    assert certificate_at(recognition, operator, renewed_at - 1) == (AEOF, *window, CERT["Active"], issued_at, 1)
    # From the renewal on, the new certificate answers: not valid before its own start.
    assert recognition_of(recognition, operator, "NL", renewed_at) == (CERTIFICATE_NOT_YET_VALID, 0)
    assert recognition_of(recognition, operator, "NL", renewed[0]) == (RECOGNISED, 0)
    assert recognition_of(recognition, operator, "NL", renewed[1]) == (CERTIFICATE_EXPIRED, 0)
    assert certificate_at(recognition, operator, renewed_at) == (AEOC, *renewed, CERT["Active"], renewed_at, 2)
    assert certificate_at(recognition, operator, renewed[1]) == (AEOC, *renewed, CERT["Active"], renewed_at, 2)


def test_revocation_stays_in_the_past_after_a_new_certificate(recognition, cast, window):
    nl = cast.customs_nl.account
    issue(recognition, cast.customs_nl, cast.exporter, window)
    chain.sleep(60)
    revoked_at = recognition.revokeCertificate(cast.exporter.address, {"from": nl}).timestamp
    chain.sleep(60)
    reissued_at = issue(recognition, cast.customs_nl, cast.exporter, window).timestamp
    operator = cast.exporter.address
    assert recognition_of(recognition, operator, "NL", revoked_at - 1) == (RECOGNISED, 0)
    assert recognition_of(recognition, operator, "NL", revoked_at) == (CERTIFICATE_REVOKED, 0)
    assert recognition_of(recognition, operator, "NL", reissued_at - 1) == (CERTIFICATE_REVOKED, 0)
    assert recognition_of(recognition, operator, "NL", reissued_at) == (RECOGNISED, 0)
    assert certificate_at(recognition, operator, reissued_at - 1)[3:] == (CERT["Revoked"], revoked_at, 1)
    assert certificate_at(recognition, operator, reissued_at)[3:] == (CERT["Active"], reissued_at, 2)


def test_time_before_the_first_certificate_was_recorded_is_judged_by_its_window(recognition, cast):
    # An authorisation recorded on chain after the date it took effect still covers that date.
    now = latest_timestamp()
    window = (now - 10 * DAY, now + DAY)
    issued_at = issue(recognition, cast.customs_nl, cast.exporter, window).timestamp
    operator = cast.exporter.address
    assert recognition_of(recognition, operator, "NL", window[0]) == (RECOGNISED, 0)
    assert recognition_of(recognition, operator, "NL", window[0] - 1) == (CERTIFICATE_NOT_YET_VALID, 0)
    assert certificate_at(recognition, operator, window[0]) == (AEOF, *window, CERT["Active"], issued_at, 1)
    assert certificate_at(recognition, operator, 0) == (AEOF, *window, CERT["Active"], issued_at, 1)


def test_operator_without_certificate_has_none_at_any_time(recognition, cast):
    for at in (0, latest_timestamp(), 2**64 - 1):
        cert = recognition.certificateAt(cast.carrier.address, at)
        assert (int(cert[4]), cert[7], cert[6]) == (CERT["None"], 0, ZERO_ADDRESS)


def test_certificate_at_a_far_future_time_is_the_current_one(recognition, cast, window):
    issue(recognition, cast.customs_nl, cast.exporter, window)
    assert certificate_at(recognition, cast.exporter.address, 2**64 - 1)[5] == 1
    assert recognition_of(recognition, cast.exporter.address, "NL", 2**64 - 1) == (CERTIFICATE_EXPIRED, 0)


# ---------------------------------------------------------------- recognised controls

EXPORT_INSPECTION = 1 << 0


def test_arrangement_carries_the_partner_controls_it_recognises(recognition, cast):
    mra_id, tx = propose(recognition, cast.customs_nl, "SG", controls=EXPORT_INSPECTION)
    assert tx.events["ArrangementProposed"]["recognisedControls"] == EXPORT_INSPECTION
    assert recognition.arrangementOf(mra_id)[5] == EXPORT_INSPECTION


@pytest.mark.parametrize("controls", [1 << 1, 1 << 63, 2**64 - 1])
def test_authority_cannot_propose_undefined_controls(recognition, cast, controls):
    with reverts_with("RecognitionInvalidControls", controls):
        propose(recognition, cast.customs_nl, "SG", controls=controls)
    assert list(recognition.arrangementsBetween(country("NL"), country("SG"))) == []


def test_controls_are_recognised_only_while_the_arrangement_is_in_force(recognition, cast):
    effective = latest_timestamp() + DAY
    mra_id, _ = propose(recognition, cast.customs_nl, "SG", effective, EXPORT_INSPECTION)
    assert recognition.recognisedControls(country("NL"), country("SG"), effective) == 0  # not ratified
    recognition.ratifyArrangement(mra_id, {"from": cast.customs_sg.account})
    ends = effective + 10 * DAY
    recognition.terminateArrangement(mra_id, ends, {"from": cast.customs_sg.account})
    for a, b in (("NL", "SG"), ("SG", "NL")):
        assert recognition.recognisedControls(country(a), country(b), effective - 1) == 0
        assert recognition.recognisedControls(country(a), country(b), effective) == EXPORT_INSPECTION
        assert recognition.recognisedControls(country(a), country(b), ends - 1) == EXPORT_INSPECTION
        assert recognition.recognisedControls(country(a), country(b), ends) == 0
    assert recognition.recognisedControls(country("NL"), country("DE"), effective) == 0


def test_successor_arrangement_answers_with_its_own_controls(recognition, cast):
    first, _ = propose(recognition, cast.customs_nl, "SG", 0, EXPORT_INSPECTION)
    first_ratified = recognition.ratifyArrangement(first, {"from": cast.customs_sg.account}).timestamp
    ends = latest_timestamp() + DAY
    recognition.terminateArrangement(first, ends, {"from": cast.customs_nl.account})
    second, _ = propose(recognition, cast.customs_sg, "NL", ends, 0)
    recognition.ratifyArrangement(second, {"from": cast.customs_nl.account})
    assert recognition.recognisedControls(country("NL"), country("SG"), first_ratified) == EXPORT_INSPECTION
    assert recognition.recognisedControls(country("NL"), country("SG"), ends) == 0
    assert recognition_of(recognition, cast.exporter.address, "SG", ends) == (NO_CERTIFICATE, 0)
