"""Verification receipts: a verdict signed by the verifying service, which anyone can check
with the service's public keys (GET /v1/keys, a JWKS) and nothing else: no chain, no
service.

A receipt is a compact JWS (RFC 7515) signed with Ed25519 (alg "EdDSA", RFC 8037)::

    base64url(header) . base64url(claims) . base64url(signature)

    header  {"alg": "EdDSA", "kid": <RFC 7638 thumbprint>, "typ": "customs-ledger-receipt+jwt"}
    claims  see `receipt_claims`

The JWS is made and checked by joserfc, through a registry that knows one algorithm,
EdDSA, and nothing else: "alg": "none", HS256 with the public key as its secret and every
other algorithm are unknown to it. Around it, a few guards of our own where a receipt
asks more than the library does: explicit typing (`typ`), no `crit` at all, no JSON member
twice, canonical base64url in the signature, and the one key of the JWKS its kid names.

Pure: the issuing time and the receipt's id come from the caller, and the keys are kept on
disk by ledger_api/store/receipt_keys.py.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from joserfc import jws
from joserfc.errors import JoseError, UnsupportedAlgorithmError
from joserfc.jwa import EdDSAAlgorithm
from joserfc.jwk import OKPKey, thumbprint
from joserfc.util import urlsafe_b64decode, urlsafe_b64encode

from ledger_api.errors import LedgerError

__all__ = [
    "ALG",
    "TYP",
    "ReceiptError",
    "SigningKey",
    "evidence_hash",
    "issue_receipt",
    "jwk_thumbprint",
    "public_jwk",
    "receipt_claims",
    "verify_receipt",
]

ALG = "EdDSA"
# Explicit typing (RFC 8725 §3.11): a receipt cannot be passed off as any other JWT the
# same key might one day sign, nor the other way round.
TYP = "customs-ledger-receipt+jwt"

VERDICTS = ("VERIFIED", "FAILED", "INCOMPLETE")
LANES = ("GREEN", "AMBER", "RED")


class ReceiptError(LedgerError):
    """A receipt that does not verify. `code` is stable: MALFORMED, UNSUPPORTED_ALG,
    WRONG_TYPE, UNKNOWN_KID, BAD_KEY, BAD_SIGNATURE, EXPIRED."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


# ---------------------------------------------------------------- the JWS library


class _EdDSA(EdDSAAlgorithm):
    # joserfc warns on every use of "EdDSA", which RFC 9864 supersedes with the fully
    # specified "Ed25519". Receipts name "EdDSA" (RFC 8037), as the verifiers of receipts
    # already issued expect; the warning would only fill the service's log. (joserfc's
    # base class allows None; its EdDSA subclass narrows the attribute to str.)
    security_warning = None  # type: ignore[assignment]


class _ReceiptAlgorithms(jws.JWSRegistry):
    # The algorithms joserfc knows are a class attribute of its registry: this registry
    # knows one, so any other alg is refused as unknown, not merely as not allowed.
    algorithms = {ALG: _EdDSA()}  # noqa: RUF012 (a class attribute in joserfc, shared by design)
    recommended = [ALG]  # noqa: RUF012


# The one JWS registry of the project (receipts and peer request tokens).
# strict_check_header=False: a header member the verifier does not know is ignored, as
# RFC 7515 §4 asks (and as receipts were read before); an unknown *critical* one is refused
# below, whatever the library makes of it.
EDDSA_ONLY = _ReceiptAlgorithms(algorithms=[ALG], strict_check_header=False)


def _b64(data: bytes) -> str:
    return urlsafe_b64encode(data).decode("ascii")


def _unb64(text: str, what: str) -> bytes:
    # joserfc's decoder is strict (no padding, no other alphabet, no unused bits set), so
    # one token has one spelling. Called on the signature too: joserfc reports one it
    # cannot decode as a signature that does not verify, where a receipt says MALFORMED.
    try:
        return urlsafe_b64decode(text.encode("ascii"))
    except (UnicodeEncodeError, ValueError) as exc:
        raise ReceiptError("MALFORMED", f"the {what} is not canonical base64url without padding") from exc


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False, allow_nan=False).encode()


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"member {key!r} appears twice")
        result[key] = value
    return result


def _object(data: bytes, what: str) -> dict[str, Any]:
    # A JSON object with a member twice reads differently in different parsers: refused
    # (joserfc's json.loads would keep the last).
    try:
        value = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ReceiptError("MALFORMED", f"the {what} is not a JSON object: {exc}") from exc
    if not isinstance(value, dict):
        raise ReceiptError("MALFORMED", f"the {what} is not a JSON object")
    return value


# ---------------------------------------------------------------- keys


def jwk_thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 thumbprint (SHA-256, base64url) of an OKP public key: the hash of its
    required members crv, kty, x in lexicographic order, without whitespace."""
    return thumbprint({"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]})


def _raw_public(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@dataclass(frozen=True)
class SigningKey:
    """An Ed25519 private key and its key id (the RFC 7638 thumbprint of its public JWK)."""

    private: Ed25519PrivateKey = field(repr=False)
    kid: str

    @classmethod
    def from_private(cls, private: Ed25519PrivateKey) -> SigningKey:
        return cls(private, OKPKey.import_key(private).thumbprint())

    @classmethod
    def from_private_bytes(cls, seed: bytes) -> SigningKey:
        """From the 32-byte private key (the JWK's "d")."""
        return cls.from_private(Ed25519PrivateKey.from_private_bytes(seed))

    def public_jwk(self) -> dict[str, str]:
        return public_jwk(self.private.public_key(), self.kid)

    @cached_property
    def jose_key(self) -> OKPKey:
        """The key as joserfc holds it; kept, as joserfc works out its JWK once a key object
        and the service signs a receipt for every answer."""
        return OKPKey.import_key(self.private)


def public_jwk(public: Ed25519PublicKey, kid: str) -> dict[str, str]:
    """The public key as RFC 8037 writes it, with its kid, use and alg."""
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64(_raw_public(public)), "kid": kid, "use": "sig", "alg": ALG}


# ---------------------------------------------------------------- issuing


def evidence_hash(bundle: bytes) -> str:
    """The "sha256:<hex>" digest of an evidence bundle's exact bytes."""
    return "sha256:" + hashlib.sha256(bundle).hexdigest()


def receipt_claims(
    *,
    verdict: str,
    checks: Sequence[Mapping[str, Any]],
    lane: str,
    score: int,
    fired: Sequence[str],
    as_of_block: int,
    ucr: str,
    consignment: bytes | str,
    chain_id: int,
    ledger: str,
    evidence: bytes | str,
    iss: str,
    iat: int,
    jti: str,
    authority: str | None = None,
    country: str | None = None,
    requester: str | None = None,
    exp: int | None = None,
    as_of_block_hash: str | None = None,
    decision: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The claims of a receipt, from plain values.

    `checks` are the verdict's checks as mappings with `name`, `status` and either `code`
    or `reason: {code, ...}` (the shape of a check in the verification response): a receipt
    carries the code, not the message, so that its meaning is the append-only code's.
    `fired` are the ids of the risk rules that fired; `consignment` is the ledger key
    (bytes or 0x-hex); `ledger` the ConsignmentLedger address; `evidence` the exact bytes of
    the evidence bundle the verdict was drawn from, or their digest already written as
    "sha256:<64 hex>". `iat` is the issuing time (unix seconds) and `jti` the
    receipt's own id, both from the caller: each receipt gets its own. `authority` and
    `country` name the customs authority whose instance issued the receipt, and its
    country: a verifier finds the keys it signs with on chain (`ledger verify-receipt
    --rpc`); receipts of an instance that acts for none leave them out. `requester` is the
    address whose credential asked for the verification, `exp` the time (unix seconds) after
    which the receipt is not to be relied on, `as_of_block_hash` the hash of the block the
    verdict was computed at (a reorg that replaced it shows), `decision` the verifying
    country's customs decision in force then (domain/decisions.py DecisionInForce.as_dict),
    left out when there is none."""
    if verdict not in VERDICTS:
        raise ValueError(f"verdict must be one of {', '.join(VERDICTS)}, got {verdict!r}")
    if lane not in LANES:
        raise ValueError(f"lane must be one of {', '.join(LANES)}, got {lane!r}")
    issuer = {} if authority is None else {"authority": authority, "country": country}
    return {
        **issuer,
        "iss": iss,
        "iat": iat,
        "jti": jti,
        "verdict": verdict,
        "checks": [_check(check) for check in checks],
        "risk": {"lane": lane, "score": score, "fired": list(fired)},
        "as_of_block": as_of_block,
        "ucr": ucr,
        "consignment": consignment if isinstance(consignment, str) else "0x" + consignment.hex(),
        "chain_id": chain_id,
        "ledger": ledger,
        "evidence": _evidence(evidence),
        **({} if requester is None else {"requester": requester}),
        **({} if exp is None else {"exp": exp}),
        **({} if as_of_block_hash is None else {"as_of_block_hash": as_of_block_hash}),
        **({} if decision is None else {"decision": dict(decision)}),
    }


_EVIDENCE_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def _evidence(evidence: bytes | str) -> str:
    if isinstance(evidence, bytes):
        return evidence_hash(evidence)
    if not _EVIDENCE_DIGEST.fullmatch(evidence):
        raise ValueError(f'evidence must be the bundle\'s bytes or "sha256:<64 lower-case hex>", got {evidence!r}')
    return evidence


def _check(check: Mapping[str, Any]) -> dict[str, str]:
    code = check.get("code")
    reason = check.get("reason")
    if code is None and isinstance(reason, Mapping):
        code = reason.get("code")
    if not isinstance(code, str):
        raise ValueError(f"check {check.get('name')!r} has no reason code")
    return {"name": str(check["name"]), "status": str(check["status"]), "code": code}


def issue_receipt(key: SigningKey, claims: dict[str, Any]) -> str:
    """Signs `claims` (any JSON-serialisable mapping) as a compact JWS."""
    # Members in lexicographic order and the claims as sorted, compact JSON: the same
    # bytes for the same receipt, whoever serialises them.
    header = {"alg": ALG, "kid": key.kid, "typ": TYP}
    return jws.serialize_compact(header, _json(claims), key.jose_key, registry=EDDSA_ONLY)


# ---------------------------------------------------------------- verifying


def verify_receipt(token: str, jwks: Mapping[str, Any], *, now: int | None = None) -> dict[str, Any]:
    """The claims of a receipt whose signature verifies with the key its kid names in
    `jwks`; ReceiptError otherwise. Only EdDSA over Ed25519 is accepted. With `now` (unix
    seconds), a receipt whose `exp` has passed is refused (EXPIRED): an audit of an old
    receipt leaves `now` out and reads `exp` itself."""
    try:
        jws_object = jws.extract_compact(token.strip().encode("utf-8"), registry=EDDSA_ONLY)
    except (JoseError, ValueError, TypeError) as exc:
        raise ReceiptError("MALFORMED", f"not a compact JWS (three base64url parts joined by '.'): {exc}") from exc
    header = _object(urlsafe_b64decode(jws_object.segments["header"]), "header")
    alg = header.get("alg")
    try:
        EDDSA_ONLY.get_alg(str(alg))
    except UnsupportedAlgorithmError as exc:
        raise ReceiptError("UNSUPPORTED_ALG", f"receipts are signed with {ALG}; this one says alg {alg!r}") from exc
    if "crit" in header:
        # RFC 7515 §4.1.11: an extension the verifier does not understand must be refused.
        # joserfc lets `crit` name members it knows ("kid"), which receipts never do.
        raise ReceiptError("MALFORMED", f"the header names critical extensions {header['crit']!r}")
    if header.get("typ") != TYP:
        raise ReceiptError("WRONG_TYPE", f"not a receipt: typ is {header.get('typ')!r}, expected {TYP!r}")
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise ReceiptError("MALFORMED", "the header has no kid")
    public = _public_key(jwks, kid)
    _unb64(jws_object.segments["signature"].decode("utf-8"), "signature")
    try:
        verified = jws.validate_compact(jws_object, public, registry=EDDSA_ONLY)
    except JoseError as exc:
        raise ReceiptError("MALFORMED", f"the header cannot be used: {exc}") from exc
    if not verified:
        raise ReceiptError("BAD_SIGNATURE", f"the signature does not verify with key {kid}")
    claims = _object(jws_object.payload, "claims")
    exp = claims.get("exp")
    if now is not None and isinstance(exp, int) and now > exp:
        raise ReceiptError("EXPIRED", f"the receipt expired at {exp} (unix time); it is {now}")
    return claims


def _public_key(jwks: Mapping[str, Any], kid: str) -> OKPKey:
    keys = jwks.get("keys")
    if not isinstance(keys, list):
        raise ReceiptError("BAD_KEY", 'the key set is not a JWKS (no "keys" list)')
    matching = [k for k in keys if isinstance(k, Mapping) and k.get("kid") == kid]
    if not matching:
        raise ReceiptError("UNKNOWN_KID", f"no key with kid {kid!r} in the key set")
    if len(matching) > 1:
        raise ReceiptError("BAD_KEY", f"the key set has {len(matching)} keys with kid {kid!r}")
    jwk = matching[0]
    # joserfc takes any OKP curve (Ed448, X25519 too) and a key of any `use`: a receipt
    # key is an Ed25519 signing key and nothing else.
    if jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ReceiptError("BAD_KEY", f"key {kid} is not an Ed25519 (OKP) key")
    if jwk.get("alg", ALG) != ALG or jwk.get("use", "sig") != "sig":
        raise ReceiptError("BAD_KEY", f"key {kid} is not for {ALG} signatures")
    x = jwk.get("x")
    if not isinstance(x, str) or len(_unb64(x, "key's x")) != 32:
        raise ReceiptError("BAD_KEY", f"key {kid} has no 32-byte x")
    try:
        return OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": x})
    except (JoseError, ValueError) as exc:
        raise ReceiptError("BAD_KEY", f"key {kid} cannot be used: {exc}") from exc
