"""Verification receipts: compact JWS signed with Ed25519, checked against a JWKS alone;
keys kept on disk, rotated without orphaning old receipts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger_api.domain.receipts import (
    TYP,
    ReceiptError,
    SigningKey,
    evidence_hash,
    issue_receipt,
    jwk_thumbprint,
    receipt_claims,
    verify_receipt,
)
from ledger_api.store.receipt_keys import KeyRingError, generate_key, load_or_create_keyring

# RFC 8037 appendix A.1 (the key), A.3 (its thumbprint) and A.4 (a signature with it).
RFC8037_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
RFC8037_JWS = (
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
    "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
)


ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"  # base64url


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def arguments(**changes):
    values = dict(
        verdict="VERIFIED",
        checks=[
            {"name": "RECORD_SIGNATURE", "status": "VALID", "reason": {"code": "OK", "message": "all 5 records"}},
            {"name": "AEO_RECOGNITION", "status": "INVALID", "code": "NO_MRA"},
        ],
        lane="AMBER",
        score=30,
        fired=["R002"],
        as_of_block=9100,
        ucr="4NL123456789-INV2026-0001",
        consignment=bytes.fromhex("ab" * 32),
        chain_id=31337,
        ledger="0x" + "11" * 20,
        evidence=b'{"bundle": 1}',
        iss="customs-ledger.nl.example",
        iat=1_772_000_000,
        jti="5f0c7e0a1b2c4d5e8f9a0b1c2d3e4f50",
    )
    values.update(changes)
    return values


def claims(**changes):
    return receipt_claims(**arguments(**changes))


@pytest.fixture
def ring(tmp_path):
    return load_or_create_keyring(tmp_path / "keys")


def parts(token):
    header, payload, signature = token.split(".")
    return json.loads(unb64(header)), json.loads(unb64(payload)), unb64(signature)


# ---------------------------------------------------------------- issuing and verifying


def test_a_receipt_verifies_against_the_services_jwks_and_gives_back_its_claims(ring):
    token = issue_receipt(ring.active, claims())
    assert verify_receipt(token, ring.jwks()) == claims()


def test_the_header_names_eddsa_the_receipt_type_and_the_key(ring):
    header, _, signature = parts(issue_receipt(ring.active, claims()))
    assert header == {"alg": "EdDSA", "typ": "customs-ledger-receipt+jwt", "kid": ring.active.kid}
    assert len(signature) == 64


def test_both_parts_are_sorted_compact_json_so_the_same_receipt_is_the_same_bytes():
    key = SigningKey.from_private_bytes(unb64(RFC8037_D))
    token = issue_receipt(key, claims(ucr="4NL123456789-INV2026-0001 é"))
    header, payload, _ = token.split(".")
    assert unb64(header) == f'{{"alg":"EdDSA","kid":"{RFC8037_THUMBPRINT}","typ":"{TYP}"}}'.encode()
    expected = json.dumps(
        claims(ucr="4NL123456789-INV2026-0001 é"), separators=(",", ":"), sort_keys=True, ensure_ascii=False
    )
    assert unb64(payload) == expected.encode("utf-8")
    assert token == issue_receipt(key, claims(ucr="4NL123456789-INV2026-0001 é"))  # Ed25519 is deterministic


def test_the_claims_carry_verdict_checks_lane_and_where_the_verdict_was_drawn_from():
    assert claims() == {
        "iss": "customs-ledger.nl.example",
        "iat": 1_772_000_000,
        "jti": "5f0c7e0a1b2c4d5e8f9a0b1c2d3e4f50",
        "verdict": "VERIFIED",
        "checks": [
            {"name": "RECORD_SIGNATURE", "status": "VALID", "code": "OK"},
            {"name": "AEO_RECOGNITION", "status": "INVALID", "code": "NO_MRA"},
        ],
        "risk": {"lane": "AMBER", "score": 30, "fired": ["R002"]},
        "as_of_block": 9100,
        "ucr": "4NL123456789-INV2026-0001",
        "consignment": "0x" + "ab" * 32,
        "chain_id": 31337,
        "ledger": "0x" + "11" * 20,
        "evidence": "sha256:" + hashlib.sha256(b'{"bundle": 1}').hexdigest(),
    }


def test_the_time_and_id_of_a_receipt_come_from_the_caller_and_are_not_made_up():
    # The service gives each receipt the current time and an id of its own
    # (tests/api/test_verification.py); the claims never read a clock nor draw an id.
    without = arguments()
    del without["iat"], without["jti"]
    with pytest.raises(TypeError, match="'iat' and 'jti'"):
        receipt_claims(**without)
    assert (claims(iat=5)["iat"], claims(jti="mine")["jti"]) == (5, "mine")


def test_an_unknown_verdict_or_lane_is_refused_when_building_claims():
    with pytest.raises(ValueError, match="verdict"):
        claims(verdict="OK")
    with pytest.raises(ValueError, match="lane"):
        claims(lane="YELLOW")


def test_evidence_hash_is_sha256_of_the_bundle_bytes():
    assert evidence_hash(b"") == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_evidence_can_be_given_as_its_digest_but_not_as_anything_else():
    digest = evidence_hash(b'{"bundle": 1}')
    assert claims(evidence=digest)["evidence"] == digest == claims()["evidence"]
    with pytest.raises(ValueError, match="evidence must be"):
        claims(evidence="md5:abc")


# ---------------------------------------------------------------- tampering and forgery


def test_a_flipped_byte_in_the_claims_is_refused(ring):
    header, payload, signature = issue_receipt(ring.active, claims()).split(".")
    changed = bytearray(unb64(payload))
    changed[changed.index(b"AMBER")] ^= 0x01  # AMBER -> @MBER
    with pytest.raises(ReceiptError, match="does not verify") as refused:
        verify_receipt(f"{header}.{b64(bytes(changed))}.{signature}", ring.jwks())
    assert refused.value.code == "BAD_SIGNATURE"


def test_a_flipped_byte_in_the_signature_is_refused(ring):
    header, payload, signature = issue_receipt(ring.active, claims()).split(".")
    changed = bytearray(unb64(signature))
    changed[10] ^= 0x80
    with pytest.raises(ReceiptError) as refused:
        verify_receipt(f"{header}.{payload}.{b64(bytes(changed))}", ring.jwks())
    assert refused.value.code == "BAD_SIGNATURE"


def test_a_receipt_signed_by_a_key_not_in_the_jwks_is_refused(ring):
    stranger = generate_key()
    with pytest.raises(ReceiptError, match=f"no key with kid '{stranger.kid}'") as refused:
        verify_receipt(issue_receipt(stranger, claims()), ring.jwks())
    assert refused.value.code == "UNKNOWN_KID"


def test_a_receipt_with_alg_none_is_refused(ring):
    _, payload, _ = issue_receipt(ring.active, claims()).split(".")
    header = b64(json.dumps({"alg": "none", "typ": TYP, "kid": ring.active.kid}).encode())
    with pytest.raises(ReceiptError, match="alg 'none'") as refused:
        verify_receipt(f"{header}.{payload}.", ring.jwks())
    assert refused.value.code == "UNSUPPORTED_ALG"


def test_a_receipt_macd_with_the_public_key_as_hs256_secret_is_refused(ring):
    # The classic key-confusion forgery: the public x used as an HMAC secret.
    _, payload, _ = issue_receipt(ring.active, claims()).split(".")
    header = b64(json.dumps({"alg": "HS256", "typ": TYP, "kid": ring.active.kid}).encode())
    secret = ring.active.public_jwk()["x"].encode()
    mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    with pytest.raises(ReceiptError) as refused:
        verify_receipt(f"{header}.{payload}.{b64(mac)}", ring.jwks())
    assert refused.value.code == "UNSUPPORTED_ALG"


def test_a_valid_eddsa_jws_that_is_not_a_receipt_is_refused():
    key = SigningKey.from_private_bytes(unb64(RFC8037_D))
    with pytest.raises(ReceiptError, match="not a receipt") as refused:
        verify_receipt(RFC8037_JWS, {"keys": [key.public_jwk()]})
    assert refused.value.code == "WRONG_TYPE"


@pytest.mark.parametrize(
    "token",
    ["", "a.b", "a.b.c.d", "!!!.e30.AA", "eyJhbGciOiJFZERTQSJ9=.e30.AA", "bm90IGpzb24.e30.AA", "WzFd.e30.AA"],
    ids=["empty", "two parts", "four parts", "not base64url", "padded", "header not json", "header not object"],
)
def test_a_malformed_receipt_is_refused_as_malformed(ring, token):
    with pytest.raises(ReceiptError) as refused:
        verify_receipt(token, ring.jwks())
    assert refused.value.code == "MALFORMED"


def test_a_header_with_a_member_twice_is_refused(ring):
    token = issue_receipt(ring.active, claims())
    _, payload, signature = token.split(".")
    header = b64(f'{{"alg":"EdDSA","typ":"{TYP}","kid":"{ring.active.kid}","kid":"other"}}'.encode())
    with pytest.raises(ReceiptError, match="appears twice"):
        verify_receipt(f"{header}.{payload}.{signature}", ring.jwks())


def signed(key: SigningKey, header: bytes, payload: bytes) -> str:
    """A compact JWS over exactly these header and payload bytes, signed by `key`: what a
    receipt would be if the service had signed it."""
    signing_input = f"{b64(header)}.{b64(payload)}"
    return f"{signing_input}.{b64(key.private.sign(signing_input.encode()))}"


def test_a_signed_receipt_whose_header_names_critical_extensions_is_refused(ring):
    for crit in (["kid"], ["exp"]):
        header = json.dumps({"alg": "EdDSA", "typ": TYP, "kid": ring.active.kid, "crit": crit, "exp": 1}).encode()
        with pytest.raises(ReceiptError, match="critical extensions") as refused:
            verify_receipt(signed(ring.active, header, json.dumps(claims()).encode()), ring.jwks())
        assert refused.value.code == "MALFORMED"


def test_signed_claims_with_a_member_twice_are_refused(ring):
    header = json.dumps({"alg": "EdDSA", "typ": TYP, "kid": ring.active.kid}).encode()
    payload = b'{"verdict":"FAILED","verdict":"VERIFIED"}'
    with pytest.raises(ReceiptError, match="appears twice") as refused:
        verify_receipt(signed(ring.active, header, payload), ring.jwks())
    assert refused.value.code == "MALFORMED"


def test_a_signature_spelled_in_non_canonical_base64url_is_refused_as_malformed(ring):
    header, payload, signature = issue_receipt(ring.active, claims()).split(".")
    # 64 bytes take 86 characters; the last one carries 4 unused bits, zero when canonical.
    other = signature[:-1] + ALPHABET[ALPHABET.index(signature[-1]) | 1]
    assert unb64(other) == unb64(signature)  # the same bytes, another spelling
    with pytest.raises(ReceiptError, match="not canonical base64url") as refused:
        verify_receipt(f"{header}.{payload}.{other}", ring.jwks())
    assert refused.value.code == "MALFORMED"


def test_a_signature_with_characters_outside_base64url_is_refused_as_malformed(ring):
    header, payload, _ = issue_receipt(ring.active, claims()).split(".")
    for signature in ("é" * 86, "+" * 86, "A" * 85 + "="):
        with pytest.raises(ReceiptError) as refused:
            verify_receipt(f"{header}.{payload}.{signature}", ring.jwks())
        assert refused.value.code == "MALFORMED"


def test_claims_spelled_in_non_canonical_base64url_are_refused_even_when_signed_so(ring):
    header = b64(json.dumps({"alg": "EdDSA", "typ": TYP, "kid": ring.active.kid}).encode())
    canonical = b64(b'{"verdict":"VERIFIED"}')  # 22 bytes, 30 characters: the last carries 4 unused bits
    other = canonical[:-1] + ALPHABET[ALPHABET.index(canonical[-1]) | 1]
    assert unb64(other) == unb64(canonical)
    signing_input = f"{header}.{other}"
    token = f"{signing_input}.{b64(ring.active.private.sign(signing_input.encode()))}"
    with pytest.raises(ReceiptError) as refused:
        verify_receipt(token, ring.jwks())
    assert refused.value.code == "MALFORMED"


# ---------------------------------------------------------------- keys


def test_the_kid_is_the_rfc_7638_thumbprint_of_the_rfc_8037_test_key():
    key = SigningKey.from_private_bytes(unb64(RFC8037_D))
    assert key.public_jwk()["x"] == RFC8037_X
    assert key.kid == RFC8037_THUMBPRINT
    assert jwk_thumbprint({"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X}) == RFC8037_THUMBPRINT


def test_the_jwks_has_the_rfc_8037_shape(ring):
    jwks = ring.jwks()
    assert list(jwks) == ["keys"]
    [jwk] = jwks["keys"]
    assert set(jwk) == {"kty", "crv", "x", "kid", "use", "alg"}
    assert (jwk["kty"], jwk["crv"], jwk["use"], jwk["alg"]) == ("OKP", "Ed25519", "sig", "EdDSA")
    assert len(unb64(jwk["x"])) == 32
    assert jwk["kid"] == jwk_thumbprint(jwk) == ring.active.kid


def test_after_rotation_old_receipts_still_verify_and_new_ones_use_the_new_key(ring):
    old_key = ring.active
    old_receipt = ring.issue(claims())
    new_key = ring.rotate()
    assert new_key.kid != old_key.kid and ring.active == new_key
    jwks = ring.jwks()
    assert [k["kid"] for k in jwks["keys"]] == [new_key.kid, old_key.kid]
    assert verify_receipt(old_receipt, jwks) == claims()
    new_receipt = ring.issue(claims())
    assert parts(new_receipt)[0]["kid"] == new_key.kid
    assert verify_receipt(new_receipt, jwks) == claims()


def test_keys_persist_as_private_pem_files_and_the_newest_signs_after_a_restart(tmp_path):
    folder = tmp_path / "keys"
    first = load_or_create_keyring(folder)
    first.rotate()
    files = sorted(folder.iterdir())
    assert [f.name for f in files] == ["receipt-key-000001.pem", "receipt-key-000002.pem"]
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert files[0].read_text().startswith("-----BEGIN PRIVATE KEY-----")
    again = load_or_create_keyring(folder)
    assert again.active.kid == first.active.kid
    assert again.jwks() == first.jwks()


def test_an_encrypted_keyring_needs_its_password(tmp_path):
    folder = tmp_path / "keys"
    ring = load_or_create_keyring(folder, password=b"correct horse")
    assert (folder / "receipt-key-000001.pem").read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert load_or_create_keyring(folder, password=b"correct horse").active.kid == ring.active.kid
    with pytest.raises(KeyRingError, match=r"receipt-key-000001\.pem"):
        load_or_create_keyring(folder, password=b"wrong")


def test_a_key_file_that_is_not_ed25519_is_refused(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    folder = tmp_path / "keys"
    folder.mkdir()
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    (folder / "receipt-key-000001.pem").write_bytes(pem)
    with pytest.raises(KeyRingError, match="not an Ed25519 private key"):
        load_or_create_keyring(folder)


def test_a_jwks_key_that_is_not_ed25519_is_refused(ring):
    token = ring.issue(claims())
    jwk = {**ring.active.public_jwk(), "crv": "X25519"}
    with pytest.raises(ReceiptError) as refused:
        verify_receipt(token, {"keys": [jwk]})
    assert refused.value.code == "BAD_KEY"


def test_a_receipt_past_its_expiry_is_refused_when_the_time_is_given():
    key = SigningKey.from_private(Ed25519PrivateKey.generate())
    token = issue_receipt(key, {"verdict": "VERIFIED", "iat": 1_000, "exp": 2_000})
    jwks = {"keys": [key.public_jwk()]}
    assert verify_receipt(token, jwks, now=2_000)["exp"] == 2_000
    assert verify_receipt(token, jwks)["exp"] == 2_000  # an audit reads exp itself
    with pytest.raises(ReceiptError) as refused:
        verify_receipt(token, jwks, now=2_001)
    assert refused.value.code == "EXPIRED"
