"""AEO recognition as RecognitionRegistry decides it, recomputed from the registry's
events in the index, so that a verification or a partner's question never needs a
contract call. The rules are the contract's (RecognitionRegistry.certificateAt and
recognitionOf); a service test checks both give the same answers over a history.

Like the contract, nothing about a certificate is overwritten: each issue or renewal is a
new certificate (numbered from 1, its `sequence`), and each change of which certificate
is in effect, and of its status, is a checkpoint at the block time it took effect. A time
is judged by the certificate and status in effect then, for ever after: a suspension
lifted later still answers for the time it lasted. Two changes in one second keep the
last (the first held for no time at all). A time before an operator's first certificate
was recorded is answered by that certificate as issued (a certificate recorded late still
covers its earlier validity).

Arrangements carry the partner control results they recognise besides AEO status
(`RECOGNISED_CONTROLS`, the contract's RecognisedControls bits).

Times are unix seconds; an event's time is its block's timestamp."""

from __future__ import annotations

from collections.abc import Iterable
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
NONE, ACTIVE, SUSPENDED, REVOKED = 0, 1, 2, 3
# contracts/lib/RecognisedControls.sol, by name; a test holds the two together.
RECOGNISED_CONTROLS: dict[str, int] = {"EXPORT_INSPECTION": 1 << 0}
ALL_CONTROLS = sum(RECOGNISED_CONTROLS.values())
_UINT48_MAX = 2**48 - 1  # checkpoint keys are uint48 seconds: a later time asks about the last


def controls_of(names: Iterable[str]) -> int:
    """The bits of the named controls; ValueError for a name the contract does not define."""
    bits = 0
    for name in names:
        if name not in RECOGNISED_CONTROLS:
            raise ValueError(f"unknown control {name!r}: an arrangement recognises {', '.join(RECOGNISED_CONTROLS)}")
        bits |= RECOGNISED_CONTROLS[name]
    return bits


def control_names(bits: int) -> list[str]:
    """The names of the controls `bits` holds, in the contract's order."""
    return [name for name, bit in RECOGNISED_CONTROLS.items() if bits & bit]


@dataclass(frozen=True)
class Certificate:
    """An operator's AEO certificate with the status it had at the time asked about and
    when that status took effect (IRecognitionRegistry.Certificate)."""

    operator: str
    country: str
    programme: str
    valid_from: int
    valid_until: int
    issued_by: str
    sequence: int  # the operator's certificates count from 1
    status: int = ACTIVE
    status_since: int = 0


@dataclass(frozen=True)
class _Issued:
    programme: str
    country: str
    valid_from: int
    valid_until: int
    issued_by: str


@dataclass(frozen=True)
class _Standing:
    """Certificate `sequence` has `status` from `since` on (a checkpoint of the contract)."""

    since: int
    sequence: int
    status: int


@dataclass
class Arrangement:
    mra_id: int
    proposer: str
    partner: str
    effective_from: int
    ratified_at: int = 0
    terminated_at: int = 0
    recognised_controls: int = 0  # RECOGNISED_CONTROLS bits; 0: AEO status only

    def in_force(self, when: int) -> bool:
        if not self.ratified_at:
            return False
        start = max(self.effective_from, self.ratified_at)
        return when >= start and (not self.terminated_at or when < self.terminated_at)


@dataclass(frozen=True)
class Recognition:
    """Whether `operator`'s AEO status is recognised by `country` at time `at`: for a
    verification, the exporter's by the verifying country at the declaration's block time.
    `reason` is one of REASONS, the contract's Recognition enum names; the programme,
    country and end of the certificate in effect at `at`, and the arrangement that
    applies, where there are some."""

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

    issued: dict[str, list[_Issued]] = field(default_factory=dict)  # sequence = index + 1
    standing: dict[str, list[_Standing]] = field(default_factory=dict)  # by `since`, one per second
    arrangements: dict[int, Arrangement] = field(default_factory=dict)

    def apply(self, name: str, args: dict[str, Any], timestamp: int) -> None:
        if name == "CertificateIssued":
            operator = args["operator"]
            certificates = self.issued.setdefault(operator, [])
            certificates.append(
                _Issued(
                    programme=_text(args["programme"]),
                    country=_country(args["country"]),
                    valid_from=int(args["validFrom"]),
                    valid_until=int(args["validUntil"]),
                    issued_by=str(args.get("issuedBy", "")),
                )
            )
            self._push(operator, timestamp, len(certificates), ACTIVE)
        elif name == "CertificateStatusChanged" and self.standing.get(args["operator"]):
            operator = args["operator"]
            self._push(operator, timestamp, self.standing[operator][-1].sequence, int(args["status"]))
        elif name == "ArrangementProposed":
            self.arrangements[int(args["mraId"])] = Arrangement(
                int(args["mraId"]),
                _country(args["proposer"]),
                _country(args["partner"]),
                int(args["effectiveFrom"]),
                recognised_controls=int(args.get("recognisedControls", 0)),
            )
        elif name == "ArrangementRatified" and int(args["mraId"]) in self.arrangements:
            self.arrangements[int(args["mraId"])].ratified_at = timestamp
        elif name == "ArrangementTerminated" and int(args["mraId"]) in self.arrangements:
            self.arrangements[int(args["mraId"])].terminated_at = int(args["terminatedAt"])

    def _push(self, operator: str, since: int, sequence: int, status: int) -> None:
        history = self.standing.setdefault(operator, [])
        entry = _Standing(since, sequence, status)
        if history and history[-1].since == since:
            history[-1] = entry  # two changes in one second: the last one holds
        else:
            history.append(entry)

    # ------------------------------------------------------------ certificates

    def certificate_of(self, operator: str) -> Certificate | None:
        """The operator's certificate now, with its current status (None: never issued)."""
        history = self.standing.get(operator)
        return self._certificate(operator, history[-1]) if history else None

    def certificate_at(self, operator: str, when: int) -> Certificate | None:
        """The certificate in effect at `when`, with its status then
        (RecognitionRegistry.certificateAt); None when the operator never had one."""
        history = self.standing.get(operator)
        if not history:
            return None
        key = min(when, _UINT48_MAX)
        entry = next((s for s in reversed(history) if s.since <= key), None)
        if entry is None:  # before the first certificate was recorded: that one, as issued
            entry = _Standing(history[0].since, 1, ACTIVE)
        return self._certificate(operator, entry)

    def _certificate(self, operator: str, entry: _Standing) -> Certificate:
        issued = self.issued[operator][entry.sequence - 1]
        return Certificate(
            operator=operator,
            country=issued.country,
            programme=issued.programme,
            valid_from=issued.valid_from,
            valid_until=issued.valid_until,
            issued_by=issued.issued_by,
            sequence=entry.sequence,
            status=entry.status,
            status_since=entry.since,
        )

    # ------------------------------------------------------------ arrangements

    def between(self, a: str, b: str) -> list[Arrangement]:
        """Every arrangement ever proposed between `a` and `b`, oldest first."""
        pair = {a, b}
        return sorted(
            (x for x in self.arrangements.values() if {x.proposer, x.partner} == pair), key=lambda x: x.mra_id
        )

    def in_force_between(self, a: str, b: str, when: int) -> Arrangement | None:
        """The arrangement in force between `a` and `b` at `when`, the latest if several
        are; None when none is."""
        return next((x for x in reversed(self.between(a, b)) if x.in_force(when)), None)

    def recognised_controls(self, a: str, b: str, when: int) -> int:
        """The controls the arrangement in force between `a` and `b` at `when` recognises;
        0 when none is in force (RecognitionRegistry.recognisedControls)."""
        arrangement = self.in_force_between(a, b, when)
        return 0 if arrangement is None else arrangement.recognised_controls

    # ------------------------------------------------------------ recognition

    def recognition(self, operator: str, country: str, when: int) -> Recognition:
        cert = self.certificate_at(operator, when)

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

        if cert is None or cert.status == NONE:
            return answer("NO_CERTIFICATE")
        if when < cert.valid_from:
            return answer("CERTIFICATE_NOT_YET_VALID")
        if when >= cert.valid_until:
            return answer("CERTIFICATE_EXPIRED")
        if cert.status == SUSPENDED:
            return answer("CERTIFICATE_SUSPENDED")
        if cert.status == REVOKED:
            return answer("CERTIFICATE_REVOKED")
        if cert.country == country:
            return answer("RECOGNISED")
        between = self.between(cert.country, country)
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
