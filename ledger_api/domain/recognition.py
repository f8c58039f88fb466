"""AEO recognition as RecognitionRegistry decides it, recomputed from the registry's
events in the index, so that a verification or a partner's question never needs a
contract call. The rules are the contract's (RecognitionRegistry.recognitionOf); a
service test checks both give the same answer.

Times are unix seconds; an event's time is its block's timestamp."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

REASONS = (
    "RECOGNISED",
    "NO_CERTIFICATE",
    "CERTIFICATE_NOT_YET_VALID",
    "CERTIFICATE_EXPIRED",
    "CERTIFICATE_SUSPENDED",
    "CERTIFICATE_REVOKED",
    "NO_ARRANGEMENT",
    "ARRANGEMENT_NOT_RATIFIED",
    "ARRANGEMENT_NOT_YET_IN_FORCE",
    "ARRANGEMENT_TERMINATED",
)
ACTIVE, SUSPENDED, REVOKED = 1, 2, 3


@dataclass
class Certificate:
    operator: str
    country: str
    programme: str
    valid_from: int
    valid_until: int
    status: int = ACTIVE
    status_since: int = 0


@dataclass
class Arrangement:
    mra_id: int
    proposer: str
    partner: str
    effective_from: int
    ratified_at: int = 0
    terminated_at: int = 0

    def in_force(self, when: int) -> bool:
        if not self.ratified_at:
            return False
        start = max(self.effective_from, self.ratified_at)
        return when >= start and (not self.terminated_at or when < self.terminated_at)


@dataclass(frozen=True)
class Recognition:
    """Whether `operator`'s AEO status is recognised by `country` at time `at`: for a
    verification, the exporter's by the verifying country at the declaration's block time.
    `reason` is one of REASONS, the contract's Recognition enum names; the certificate's
    programme, country and end, and the arrangement that applies, where there are some."""

    operator: str
    country: str
    at: int
    recognised: bool
    reason: str
    programme: str | None = None
    mra_id: int | None = None
    valid_until: int | None = None
    certificate_country: str | None = None


@dataclass
class RecognitionBook:
    """Certificates and arrangements as of some block, built by replaying events."""

    certificates: dict[str, Certificate] = field(default_factory=dict)
    arrangements: dict[int, Arrangement] = field(default_factory=dict)

    def apply(self, name: str, args: dict[str, Any], timestamp: int) -> None:
        if name == "CertificateIssued":
            self.certificates[args["operator"]] = Certificate(
                operator=args["operator"],
                country=_country(args["country"]),
                programme=_text(args["programme"]),
                valid_from=int(args["validFrom"]),
                valid_until=int(args["validUntil"]),
                status=ACTIVE,
                status_since=timestamp,
            )
        elif name == "CertificateStatusChanged" and args["operator"] in self.certificates:
            cert = self.certificates[args["operator"]]
            cert.status, cert.status_since = int(args["status"]), timestamp
        elif name == "ArrangementProposed":
            self.arrangements[int(args["mraId"])] = Arrangement(
                int(args["mraId"]), _country(args["proposer"]), _country(args["partner"]), int(args["effectiveFrom"])
            )
        elif name == "ArrangementRatified" and int(args["mraId"]) in self.arrangements:
            self.arrangements[int(args["mraId"])].ratified_at = timestamp
        elif name == "ArrangementTerminated" and int(args["mraId"]) in self.arrangements:
            self.arrangements[int(args["mraId"])].terminated_at = int(args["terminatedAt"])

    def recognition(self, operator: str, country: str, when: int) -> Recognition:
        cert = self.certificates.get(operator)

        def answer(reason: str, mra_id: int | None = None) -> Recognition:
            return Recognition(
                recognised=reason == "RECOGNISED",
                reason=reason,
                operator=operator,
                country=country,
                at=when,
                programme=cert.programme if cert else None,
                certificate_country=cert.country if cert else None,
                valid_until=cert.valid_until if cert else None,
                mra_id=mra_id,
            )

        if cert is None:
            return answer("NO_CERTIFICATE")
        if when < cert.valid_from:
            return answer("CERTIFICATE_NOT_YET_VALID")
        if when >= cert.valid_until:
            return answer("CERTIFICATE_EXPIRED")
        if cert.status == SUSPENDED and when >= cert.status_since:
            return answer("CERTIFICATE_SUSPENDED")
        if cert.status == REVOKED and when >= cert.status_since:
            return answer("CERTIFICATE_REVOKED")
        if cert.country == country:
            return answer("RECOGNISED")
        pair = {cert.country, country}
        between = sorted(
            (a for a in self.arrangements.values() if {a.proposer, a.partner} == pair), key=lambda a: a.mra_id
        )
        if not between:
            return answer("NO_ARRANGEMENT")
        for arrangement in reversed(between):
            if arrangement.in_force(when):
                return answer("RECOGNISED", arrangement.mra_id)
        latest = between[-1]
        if not latest.ratified_at:
            return answer("ARRANGEMENT_NOT_RATIFIED", latest.mra_id)
        if latest.terminated_at and when >= latest.terminated_at:
            return answer("ARRANGEMENT_TERMINATED", latest.mra_id)
        return answer("ARRANGEMENT_NOT_YET_IN_FORCE", latest.mra_id)


def _country(value: Any) -> str:
    if isinstance(value, str) and value.startswith("0x"):
        return bytes.fromhex(value[2:]).decode("ascii", "replace")
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    return str(value)


def _text(value: Any) -> str:
    raw = bytes.fromhex(value[2:]) if isinstance(value, str) and value.startswith("0x") else value
    if isinstance(raw, bytes):
        return raw.rstrip(b"\0").decode("utf-8", "replace")
    return str(raw)
