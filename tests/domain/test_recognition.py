"""Recognition answers as the contract gives them: its names, read from its source, and
its history by time (a service test holds the book to the contract on a chain)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ledger_api.domain.recognition import (
    ACTIVE,
    REASONS,
    RECOGNISED_CONTROLS,
    REVOKED,
    SUSPENDED,
    RecognitionBook,
    control_names,
    controls_of,
)
from ledger_api.settings import PROJECT_ROOT


def test_reasons_are_irecognitionregistry_recognition_in_its_order():
    source = (PROJECT_ROOT / "contracts" / "interfaces" / "IRecognitionRegistry.sol").read_text()
    body = re.search(r"enum Recognition \{([^}]*)\}", source)
    assert body is not None
    names = [n.strip() for n in body.group(1).split(",") if n.strip()]
    assert list(REASONS) == [re.sub(r"(?<!^)(?=[A-Z])", "_", n).upper() for n in names]


def test_recognised_controls_are_the_contracts_own_bits_by_name():
    source = (PROJECT_ROOT / "contracts" / "lib" / "RecognisedControls.sol").read_text()
    bits = {
        name: 1 << int(shift) for name, shift in re.findall(r"uint64 internal constant (\w+) = 1 << (\d+);", source)
    }
    assert bits == RECOGNISED_CONTROLS
    assert re.search(r"ALL = ([A-Z_| ]+);", source).group(1).replace(" ", "").split("|") == list(RECOGNISED_CONTROLS)
    assert controls_of(["EXPORT_INSPECTION"]) == 1 and control_names(1) == ["EXPORT_INSPECTION"]
    assert controls_of([]) == 0 and control_names(0) == []
    with pytest.raises(ValueError, match="unknown control 'PHYTOSANITARY'"):
        controls_of(["PHYTOSANITARY"])


OPERATOR = "0x" + "ab" * 20
NL = "0x" + b"NL".hex()


def issued(valid_from: int, valid_until: int, programme: str = "AEOF") -> dict[str, Any]:
    return {
        "operator": OPERATOR,
        "country": NL,
        "programme": "0x" + programme.encode().ljust(32, b"\0").hex(),
        "validFrom": valid_from,
        "validUntil": valid_until,
        "issuedBy": "0x" + "cc" * 20,
    }


def status(previous: int, new: int) -> dict[str, Any]:
    return {"operator": OPERATOR, "previousStatus": previous, "status": new, "changedBy": "0x" + "cc" * 20}


def book_of(*events: tuple[str, dict[str, Any], int]) -> RecognitionBook:
    book = RecognitionBook()
    for name, args, at in events:
        book.apply(name, args, at)
    return book


def test_a_suspension_lifted_later_still_answers_for_the_time_it_lasted():
    book = book_of(
        ("CertificateIssued", issued(0, 10_000), 100),
        ("CertificateStatusChanged", status(ACTIVE, SUSPENDED), 200),
        ("CertificateStatusChanged", status(SUSPENDED, ACTIVE), 300),
    )
    assert [book.recognition(OPERATOR, "NL", t).reason for t in (150, 200, 299, 300, 9_999)] == [
        "RECOGNISED",
        "CERTIFICATE_SUSPENDED",
        "CERTIFICATE_SUSPENDED",
        "RECOGNISED",
        "RECOGNISED",
    ]
    during = book.certificate_at(OPERATOR, 250)
    assert during is not None and (during.status, during.status_since, during.sequence) == (SUSPENDED, 200, 1)


def test_a_renewal_answers_from_its_time_and_the_old_certificate_before_it():
    book = book_of(
        ("CertificateIssued", issued(0, 1_000, "AEOF"), 100),
        ("CertificateIssued", issued(500, 5_000, "AEOS"), 400),
    )
    old, new = book.certificate_at(OPERATOR, 399), book.certificate_at(OPERATOR, 400)
    assert old is not None and (old.sequence, old.programme, old.valid_until) == (1, "AEOF", 1_000)
    assert new is not None and (new.sequence, new.programme, new.valid_from) == (2, "AEOS", 500)
    # The renewal's own validity starts later than it was recorded: not yet valid at 450.
    assert book.recognition(OPERATOR, "NL", 450).reason == "CERTIFICATE_NOT_YET_VALID"
    assert book.recognition(OPERATOR, "NL", 350).reason == "RECOGNISED"


def test_a_revoked_certificate_is_replaced_by_a_new_one_and_the_revocation_stays_in_the_past():
    book = book_of(
        ("CertificateIssued", issued(0, 10_000), 100),
        ("CertificateStatusChanged", status(ACTIVE, REVOKED), 200),
        ("CertificateIssued", issued(0, 10_000), 300),
    )
    assert book.recognition(OPERATOR, "NL", 250).reason == "CERTIFICATE_REVOKED"
    now = book.certificate_of(OPERATOR)
    assert now is not None and (now.sequence, now.status, now.status_since) == (2, ACTIVE, 300)


def test_two_changes_in_one_second_keep_the_last_and_a_time_before_the_first_is_the_first_as_issued():
    book = book_of(
        ("CertificateIssued", issued(0, 10_000), 100),
        ("CertificateStatusChanged", status(ACTIVE, SUSPENDED), 200),
        ("CertificateStatusChanged", status(SUSPENDED, ACTIVE), 200),
    )
    assert book.recognition(OPERATOR, "NL", 200).reason == "RECOGNISED"
    assert len(book.standing[OPERATOR]) == 2
    before = book.certificate_at(OPERATOR, 50)
    assert before is not None and (before.sequence, before.status, before.status_since) == (1, ACTIVE, 100)
    assert book.recognition(OPERATOR, "NL", 50).reason == "RECOGNISED"
    assert book.certificate_at("0x" + "00" * 20, 50) is None


def test_an_arrangement_carries_the_controls_it_recognises_while_in_force():
    proposal = {"mraId": 1, "proposer": NL, "partner": "0x" + b"JP".hex(), "effectiveFrom": 0, "recognisedControls": 1}
    book = book_of(("ArrangementProposed", proposal, 100), ("ArrangementRatified", {"mraId": 1}, 200))
    assert book.arrangements[1].recognised_controls == 1
    assert (book.recognised_controls("JP", "NL", 199), book.recognised_controls("NL", "JP", 200)) == (0, 1)
