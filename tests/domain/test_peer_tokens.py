"""Tokens one instance signs to ask another for payloads: accepted only for the request,
the serving authority and the minute they were made for, and only under a key an
authority published."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger_api.domain import peer_tokens
from ledger_api.domain.peer_tokens import PeerTokenError, key_id, raw_public

JP, NL = "0x" + "aa" * 20, "0x" + "bb" * 20
PATH = "/v1/peer/consignments/0x" + "11" * 32 + "/records"
NOW = 1_800_000_000


@pytest.fixture(scope="module")
def jp_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def published(jp_key: Ed25519PrivateKey) -> dict[str, tuple[str, object]]:
    public = jp_key.public_key()
    return {key_id(raw_public(public)): (JP, public)}


def _issue(key: Ed25519PrivateKey, **overrides: object) -> str:
    args: dict[str, object] = dict(authority=JP, audience=NL, method="GET", path=PATH, now=NOW, jti="j1")
    args.update(overrides)
    return peer_tokens.issue(key, **args)  # type: ignore[arg-type]


def _read(token: str, published: dict[str, tuple[str, object]], **overrides: object) -> peer_tokens.PeerClaims:
    args: dict[str, object] = dict(keys=published, audience=NL, method="GET", path=PATH, now=NOW + 1)
    args.update(overrides)
    return peer_tokens.read(token, **args)  # type: ignore[arg-type]


def test_the_serving_instance_reads_who_asked_for_what(jp_key, published):
    claims = _read(_issue(jp_key), published)
    assert (claims.authority, claims.audience, claims.method, claims.path, claims.jti) == (JP, NL, "GET", PATH, "j1")
    assert claims.expires_at == NOW + 30


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"audience": JP}, "WRONG_AUDIENCE"),
        ({"path": PATH.replace("11", "22")}, "WRONG_REQUEST"),
        ({"method": "POST"}, "WRONG_REQUEST"),
        ({"now": NOW + 31}, "EXPIRED"),
        ({"now": NOW - 10}, "NOT_YET_VALID"),
    ],
)
def test_a_token_for_another_request_audience_or_minute_is_refused(jp_key, published, overrides, code):
    with pytest.raises(PeerTokenError) as caught:
        _read(_issue(jp_key), published, **overrides)
    assert caught.value.code == code


def test_a_key_no_authority_published_is_unknown(published):
    with pytest.raises(PeerTokenError) as caught:
        _read(_issue(Ed25519PrivateKey.generate()), published)
    assert caught.value.code == "UNKNOWN_KEY"


def test_a_published_key_cannot_speak_for_another_authority(jp_key, published):
    with pytest.raises(PeerTokenError) as caught:
        _read(_issue(jp_key, authority=NL), published)
    assert caught.value.code == "UNKNOWN_KEY"


def test_a_token_whose_claims_were_changed_does_not_verify(jp_key, published):
    header, claims, signature = _issue(jp_key).split(".")
    changed = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
    changed["exp"] = NOW + 3600
    forged = base64.urlsafe_b64encode(json.dumps(changed).encode()).rstrip(b"=").decode()
    with pytest.raises(PeerTokenError) as caught:
        _read(f"{header}.{forged}.{signature}", published)
    assert caught.value.code == "BAD_SIGNATURE"


def test_no_token_may_live_longer_than_a_minute(jp_key):
    with pytest.raises(ValueError):
        _issue(jp_key, lifetime=3600)


@pytest.mark.parametrize("token", ["", "abc", "e30.e30.", "bm90IGpzb24.e30.e30"])
def test_garbage_is_malformed_not_a_crash(published, token):
    with pytest.raises(PeerTokenError) as caught:
        _read(token, published)
    assert caught.value.code in {"MALFORMED", "UNKNOWN_KEY"}


def test_alg_none_is_refused(jp_key, published):
    header = base64.urlsafe_b64encode(
        json.dumps({"alg": "none", "typ": peer_tokens.TYP, "kid": next(iter(published))}).encode()
    )
    token = header.rstrip(b"=").decode() + "." + _issue(jp_key).split(".")[1] + "."
    with pytest.raises(PeerTokenError) as caught:
        _read(token, published)
    assert caught.value.code == "MALFORMED"
