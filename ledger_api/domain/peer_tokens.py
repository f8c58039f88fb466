"""Requests between the instances of a consortium: a short-lived token, signed with the
requesting authority's instance key, in the shape of a DPoP proof (RFC 9449). It names the
requesting authority (`iss`) and the serving one (`aud`), binds the request's method (`htm`)
and path (`htu`), lives at most `MAX_LIFETIME` seconds and carries a one-time id (`jti`)
that the serving instance remembers until the token expires, so a captured token cannot be
replayed.

Signed and checked with joserfc (JWS, EdDSA over Ed25519). The header's `kid` is the RFC 7638
thumbprint of the signing key; the serving instance looks it up among the signing keys the
authorities published on chain (PartyRegistry.publishEndpoint), which is how it knows who
is asking. Pure: keys, time and ids come in as arguments; remembering `jti`s is the caller's.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import OKPKey

from ledger_api.domain.receipts import EDDSA_ONLY
from ledger_api.errors import LedgerError

ALG = "EdDSA"
TYP = "ledger-peer-request+jwt"
MAX_LIFETIME = 60  # seconds a token may live, whatever its exp says
CLOCK_SKEW = 5  # seconds an iat may lie in the future (clocks of two machines)
AUTH_SCHEME = "Peer"  # Authorization: Peer <token>


class PeerTokenError(LedgerError):
    """A peer request token that is not acceptable. `code` is stable: MALFORMED,
    UNKNOWN_KEY, BAD_SIGNATURE, WRONG_AUDIENCE, WRONG_REQUEST, EXPIRED, NOT_YET_VALID."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class PeerClaims:
    authority: str  # the requesting authority (iss)
    audience: str  # the serving authority (aud)
    method: str
    path: str
    issued_at: int
    expires_at: int
    jti: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def raw_public(key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of an Ed25519 public key: what an authority publishes on chain."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(raw: bytes) -> str:
    """The RFC 7638 thumbprint of the Ed25519 public key with these raw bytes: the `kid`
    of tokens and receipts it signs."""
    return str(OKPKey.import_key({"kty": "OKP", "crv": "Ed25519", "x": _b64(raw)}).thumbprint())


def issue(
    private_key: Ed25519PrivateKey,
    *,
    authority: str,
    audience: str,
    method: str,
    path: str,
    now: int,
    jti: str,
    lifetime: int = 30,
) -> str:
    """A token for one request `method path` from `authority` to `audience`."""
    if not 0 < lifetime <= MAX_LIFETIME:
        raise ValueError(f"a peer token lives 1 to {MAX_LIFETIME} seconds, not {lifetime}")
    key = OKPKey.import_key(private_key)
    header = {"alg": ALG, "typ": TYP, "kid": key_id(raw_public(private_key.public_key()))}
    claims = {
        "iss": authority,
        "aud": audience,
        "htm": method.upper(),
        "htu": path,
        "iat": now,
        "exp": now + lifetime,
        "jti": jti,
    }
    payload = json.dumps(claims, separators=(",", ":"), sort_keys=True).encode()
    return str(jws.serialize_compact(header, payload, key, registry=EDDSA_ONLY))


def _header(token: str) -> dict[str, Any]:
    try:
        first = token.split(".")[0]
        value = json.loads(base64.urlsafe_b64decode(first + "=" * (-len(first) % 4)))
    except (ValueError, IndexError) as exc:
        raise PeerTokenError("MALFORMED", f"not a compact JWS: {exc}") from exc
    if not isinstance(value, dict):
        raise PeerTokenError("MALFORMED", "the header is not a JSON object")
    return value


def read(
    token: str,
    *,
    keys: Mapping[str, tuple[str, Ed25519PublicKey]],
    audience: str,
    method: str,
    path: str,
    now: int,
) -> PeerClaims:
    """The claims of `token` if it is acceptable for the request `method path` served by
    `audience` at time `now`; PeerTokenError otherwise. `keys` maps a kid to the authority
    that published that key and the key itself."""
    header = _header(token)
    if header.get("alg") != ALG or header.get("typ") != TYP or "crit" in header:
        raise PeerTokenError("MALFORMED", "not a peer request token (alg, typ or crit)")
    kid = header.get("kid")
    if not isinstance(kid, str) or kid not in keys:
        raise PeerTokenError("UNKNOWN_KEY", f"no authority published the key {kid!r}")
    authority, public = keys[kid]
    try:
        verified = jws.deserialize_compact(token, OKPKey.import_key(public), registry=EDDSA_ONLY)
    except (JoseError, ValueError) as exc:
        raise PeerTokenError("BAD_SIGNATURE", f"the token does not verify with key {kid}: {exc}") from exc
    try:
        claims = json.loads(verified.payload)
        issued_at, expires_at = int(claims["iat"]), int(claims["exp"])
        iss, aud, htm, htu, jti = (str(claims[k]) for k in ("iss", "aud", "htm", "htu", "jti"))
    except (ValueError, KeyError, TypeError) as exc:
        raise PeerTokenError("MALFORMED", f"the claims are not those of a peer token: {exc}") from exc
    if iss.lower() != authority.lower():
        raise PeerTokenError("UNKNOWN_KEY", f"key {kid} is {authority}'s, not {iss}'s")
    if aud.lower() != audience.lower():
        raise PeerTokenError("WRONG_AUDIENCE", f"the token is for {aud}, not {audience}")
    if htm != method.upper() or htu != path:
        raise PeerTokenError("WRONG_REQUEST", f"the token is for {htm} {htu}, not {method.upper()} {path}")
    if issued_at > now + CLOCK_SKEW:
        raise PeerTokenError("NOT_YET_VALID", f"issued at {issued_at}, after now ({now})")
    if expires_at <= now or expires_at - issued_at > MAX_LIFETIME:
        raise PeerTokenError("EXPIRED", f"expired at {expires_at} (now {now}, at most {MAX_LIFETIME} s after iat)")
    return PeerClaims(authority, aud, htm, htu, issued_at, expires_at, jti)
