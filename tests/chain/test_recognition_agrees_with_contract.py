"""The recognition the service recomputes from the index (domain/recognition.py, read
through EvidenceReader as /v1/recognition and every verification do) answers as the
RecognitionRegistry does, at every time of a certificate's history: issue, suspension,
reinstatement, renewal, two changes in one second, revocation, a new certificate; and an
MRA's recognised controls while it is in force.

The security finding this holds: "suspend then reinstate, and the suspension disappears
from the past". The registry keeps each status by time now; the book must too."""

from __future__ import annotations

from typing import Any

from eth_account import Account
from eth_utils.crypto import keccak

from ledger_api.domain.parties import Role, identifiers_hash
from ledger_api.domain.recognition import REASONS, RecognitionBook

OPERATOR = Account.from_key(keccak(text="recognition agreement operator")).address
EXPORT_INSPECTION = 1


def test_the_recognition_book_answers_as_the_registry_at_every_time_of_a_certificates_history(stepped_runtime):
    rt, contracts = stepped_runtime()
    w3 = contracts.w3
    authority = {a["country"]: a["address"] for a in rt.manifest.authorities}
    recognition, registry = contracts.recognition, contracts.registry

    def rpc(method: str, *params: Any) -> Any:
        return w3.provider.make_request(method, list(params)).get("result")

    def at(when: int, *calls: tuple[Any, str]) -> None:
        """`calls` (function, sender) mined together in one block at time `when`."""
        rpc("evm_setAutomine", False)
        hashes = [fn.transact({"from": sender, "gas": 500_000}) for fn, sender in calls]
        rpc("evm_mine", when)
        rpc("evm_setAutomine", True)
        for tx in hashes:
            assert w3.eth.get_transaction_receipt(tx)["status"] == 1

    programme = b"AEOF".ljust(32, b"\0")
    registry_call = registry.functions.registerParty(OPERATOR, int(Role.EXPORTER), identifiers_hash({"n": "1"}))
    w3.eth.wait_for_transaction_receipt(registry_call.transact({"from": authority["NL"]}))
    t0 = int(w3.eth.get_block("latest")["timestamp"]) + 1_000
    nl, jp = authority["NL"], authority["JP"]
    f = recognition.functions
    at(t0, (f.issueCertificate(OPERATOR, programme, t0 - 500, t0 + 10_000), nl))
    at(t0 + 50, (f.proposeArrangement(b"NL", t0 + 120, EXPORT_INSPECTION), jp))
    at(t0 + 100, (f.suspendCertificate(OPERATOR), nl), (f.ratifyArrangement(1), nl))
    at(t0 + 200, (f.reinstateCertificate(OPERATOR), nl))  # the suspension stays in the past
    at(t0 + 300, (f.issueCertificate(OPERATOR, b"AEOS".ljust(32, b"\0"), t0 + 250, t0 + 20_000), nl))  # renewal
    at(t0 + 400, (f.suspendCertificate(OPERATOR), nl), (f.reinstateCertificate(OPERATOR), nl))  # one second
    at(t0 + 500, (f.revokeCertificate(OPERATOR), nl), (f.terminateArrangement(1, t0 + 650), jp))
    at(t0 + 600, (f.issueCertificate(OPERATOR, programme, t0 + 600, t0 + 900), nl))  # a new certificate
    at(t0 + 700, (f.suspendCertificate(OPERATOR), nl))
    while rt.indexer.step():
        pass

    book, _ = rt.evidence_reader.book()
    assert isinstance(book, RecognitionBook)
    times = sorted(
        {t0 + d for d in range(-1_200, 25_000, 250)}
        | {t0 + d + e for d in (0, 50, 100, 120, 200, 250, 300, 400, 500, 600, 650, 700, 900) for e in (-1, 0, 1)}
    )
    for when in times:
        on_chain = recognition.functions.certificateAt(OPERATOR, when).call()
        mine = book.certificate_at(OPERATOR, when)
        assert mine is not None
        assert (
            mine.programme.encode().ljust(32, b"\0"),
            mine.country.encode(),
            mine.valid_from,
            mine.valid_until,
            mine.status,
            mine.status_since,
            mine.issued_by,
            mine.sequence,
        ) == tuple(on_chain), when
        for country in ("NL", "JP", "SG"):
            reason, mra_id = recognition.functions.recognitionOf(OPERATOR, country.encode(), when).call()
            answer = book.recognition(OPERATOR, country, when)
            assert (answer.reason, answer.mra_id or 0) == (REASONS[reason], mra_id), (when, country)
        assert (
            book.recognised_controls("JP", "NL", when)
            == recognition.functions.recognisedControls(b"NL", b"JP", when).call()
        ), when

    # The finding, told plainly: suspended between t0+100 and t0+200, whatever came after.
    assert rt.evidence_reader.recognition(OPERATOR, "NL", t0 + 150).reason == "CERTIFICATE_SUSPENDED"
    assert rt.evidence_reader.recognition(OPERATOR, "NL", t0 + 250).reason == "RECOGNISED"
    assert book.certificate_of(OPERATOR) is not None and book.certificate_of(OPERATOR).sequence == 3
