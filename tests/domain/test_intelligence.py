"""Intelligence flags: what a flag may say (field by field, as a 422 names them), the two
hashes that go on chain, and the content sealed so that exactly the recipients the chain
names can read it, and a document that was tampered with, sealed for someone else, or
saying other than the chain is refused with a named reason."""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from joserfc import jwe
from joserfc.jwk import OKPKey
from pydantic import ValidationError

from ledger_api.domain.intelligence import (
    MAX_RECIPIENTS,
    Category,
    FlagContent,
    FlagError,
    HeldFlag,
    PartySubject,
    SealedFlag,
    Severity,
    SharedFlag,
    flag_content_json,
    open_flag,
    parse_flag_content,
    seal_flag,
    subject_hash,
)
from ledger_api.settings import PROJECT_ROOT

CONTRACTS = PROJECT_ROOT / "contracts"
JP = to_checksum_address("0x" + "a1" * 20)  # Japan customs, the author
NL = to_checksum_address("0x" + "b2" * 20)  # Netherlands customs, a recipient
DE = to_checksum_address("0x" + "c3" * 20)  # German customs, a recipient
SG = to_checksum_address("0x" + "d4" * 20)  # Singapore customs, not a recipient
EXPORTER = to_checksum_address("0x" + "e5" * 20)
SALT = "0x" + "5a" * 32
VALID_FROM, VALID_UNTIL = 1_800_000_000, 1_800_000_000 + 30 * 86_400


def raw_public(key: X25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


@pytest.fixture(scope="module")
def keys() -> dict[str, X25519PrivateKey]:
    return {who: X25519PrivateKey.generate() for who in (NL, DE, SG)}


def content(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schema_version": "1",
        "author": JP,
        "subject": {"type": "PARTY", "address": EXPORTER},
        "subject_salt": SALT,
        "category": "SANCTIONED_PARTY",
        "severity": "HIGH",
        "text": "Exporter ships on behalf of a listed entity; see case JP-2026-114.",
        "valid_from": VALID_FROM,
        "valid_until": VALID_UNTIL,
    }
    data.update(changes)
    return data


def sealed_for(keys: dict[str, X25519PrivateKey], *who: str, **changes: Any) -> tuple[FlagContent, SealedFlag]:
    flag = parse_flag_content(content(**changes))
    return flag, seal_flag(flag, {address: raw_public(keys[address]) for address in who})


def on_chain(sealed: SealedFlag, **changes: Any) -> SharedFlag:
    """The FlagShared event the author's shareFlag with `sealed.share_arguments()` emits."""
    content_hash, subject, category, severity, valid_from, valid_until, recipients = sealed.share_arguments()
    shared = SharedFlag(
        flag_id=7,
        author=JP,
        author_country="JP",
        content_hash=content_hash,
        subject_hash=subject,
        category=Category(category),
        severity=Severity(severity),
        valid_from=valid_from,
        valid_until=valid_until,
        recipients=tuple(recipients),
        block_number=500,
    )
    return replace(shared, **changes)


def refusal(data: dict[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    with pytest.raises(ValidationError) as refused:
        parse_flag_content(data)
    return [(tuple(e["loc"]), e["msg"]) for e in refused.value.errors()]


# ---------------------------------------------------------------- the contract's lists


def _solidity_constants(prefix: str) -> dict[str, int]:
    source = (CONTRACTS / "lib" / "IntelligenceFlags.sol").read_text()
    return {name: int(value) for name, value in re.findall(rf"uint8 internal constant {prefix}_(\w+) = (\d+);", source)}


def test_categories_are_the_contracts_in_its_numbers():
    assert {c.name: int(c) for c in Category} == _solidity_constants("CATEGORY")


def test_severities_are_the_contracts_in_its_numbers():
    assert {s.name: int(s) for s in Severity} == _solidity_constants("SEVERITY")


def test_the_maxima_are_the_contracts():
    library = (CONTRACTS / "lib" / "IntelligenceFlags.sol").read_text()
    assert re.search(r"MAX_CATEGORY = CATEGORY_(\w+);", library).group(1) == max(Category).name  # type: ignore[union-attr]
    assert re.search(r"MAX_SEVERITY = SEVERITY_(\w+);", library).group(1) == max(Severity).name  # type: ignore[union-attr]
    contract = (CONTRACTS / "IntelligenceLedger.sol").read_text()
    assert f"uint256 public constant MAX_RECIPIENTS = {MAX_RECIPIENTS};" in contract


# ---------------------------------------------------------------- the content


@pytest.mark.parametrize(
    "subject",
    [
        {"type": "PARTY", "address": EXPORTER},
        {"type": "CONSIGNMENT", "ucr": "6JP7010001008-DEMO-0001"},
        {"type": "HS_CODE", "prefix": "93"},
        {"type": "HS_CODE", "prefix": "847130"},
        {"type": "ROUTE", "from_country": "JP", "to_country": "NL"},
    ],
)
def test_a_flag_names_a_party_a_consignment_an_hs_code_or_a_route(subject: dict[str, Any]):
    flag = parse_flag_content(content(subject=subject))
    assert flag.subject.model_dump(mode="json") == subject
    assert (flag.category, flag.severity) == (Category.SANCTIONED_PARTY, Severity.HIGH)


def test_the_content_reads_back_by_names_and_in_one_canonical_form():
    flag = parse_flag_content(content(author=JP.lower(), subject={"type": "PARTY", "address": EXPORTER.lower()}))
    assert flag.author == JP and flag.subject == PartySubject(type="PARTY", address=EXPORTER)
    dumped = json.loads(flag_content_json(flag))
    assert dumped == content()
    assert flag_content_json(flag) == rfc8785.dumps(content())
    assert parse_flag_content(flag_content_json(flag)) == flag


@pytest.mark.parametrize(
    ("changes", "loc", "message"),
    [
        ({"category": "SMUGGLING"}, ("category",), "unknown category 'SMUGGLING' (one of: MISDECLARED_ORIGIN,"),
        ({"category": 4}, ("category",), "unknown category 4"),
        ({"severity": "CRITICAL"}, ("severity",), "unknown severity 'CRITICAL' (one of: LOW, MEDIUM, HIGH)"),
        ({"text": ""}, ("text",), "at least 1 character"),
        ({"text": "x" * 4001}, ("text",), "at most 4000 characters"),
        ({"valid_until": VALID_FROM}, ("valid_until",), f"valid_until ({VALID_FROM}) must be after valid_from"),
        ({"valid_from": -1}, ("valid_from",), "greater than or equal to 0"),
        ({"valid_from": "1800000000"}, ("valid_from",), "valid integer"),
        ({"valid_until": 2**64}, ("valid_until",), "less than 18446744073709551616"),
        ({"author": "0x" + "a1" * 19}, ("author",), "not an address"),
        ({"author": JP[:-1] + ("a" if JP[-1] != "a" else "b")}, ("author",), "wrong EIP-55 checksum"),
        ({"subject_salt": "0x1234"}, ("subject_salt",), "a subject salt is 0x and 64 hex digits"),
        ({"schema_version": "2"}, ("schema_version",), "Input should be '1'"),
        ({"tlp": "RED"}, ("tlp",), "Extra inputs are not permitted"),
        ({"subject": {"type": "VESSEL", "imo": "9321483"}}, ("subject",), "does not match any of the expected tags"),
        ({"subject": {"type": "PARTY"}}, ("subject", "PARTY", "address"), "Field required"),
        ({"subject": {"type": "HS_CODE", "prefix": "847"}}, ("subject", "HS_CODE", "prefix"), "not an HS code prefix"),
        ({"subject": {"type": "HS_CODE", "prefix": "84.71"}}, ("subject", "HS_CODE", "prefix"), "not an HS code"),
        ({"subject": {"type": "CONSIGNMENT", "ucr": "nope"}}, ("subject", "CONSIGNMENT", "ucr"), "not a WCO UCR"),
        (
            {"subject": {"type": "ROUTE", "from_country": "JP", "to_country": "JP"}},
            ("subject", "ROUTE", "to_country"),
            "a route goes from one country to another",
        ),
        (
            {"subject": {"type": "ROUTE", "from_country": "JP", "to_country": "XX"}},
            ("subject", "ROUTE", "to_country"),
            "unknown ISO 3166-1 country: 'XX'",
        ),
    ],
)
def test_a_bad_field_is_refused_naming_the_field(changes: dict[str, Any], loc: tuple[str, ...], message: str):
    errors = refusal(content(**changes))
    assert len(errors) == 1, errors
    assert errors[0][0] == loc
    assert message in errors[0][1]


# ---------------------------------------------------------------- the subject's hash


def test_the_subject_hash_is_keccak_of_the_rfc8785_json_of_subject_and_salt():
    flag = parse_flag_content(content())
    expected = keccak(rfc8785.dumps({"salt": SALT, "subject": {"type": "PARTY", "address": EXPORTER}}))
    assert flag.subject_hash == subject_hash(flag.subject, SALT) == expected


def test_the_subject_hash_does_not_depend_on_how_the_subject_was_written():
    lower = parse_flag_content(content(subject={"address": EXPORTER.lower(), "type": "PARTY"}))
    upper_salt = parse_flag_content(content(subject_salt=SALT.upper().replace("0X", "0x")))
    assert lower.subject_hash == upper_salt.subject_hash == parse_flag_content(content()).subject_hash


def test_without_the_salt_the_subject_hash_cannot_be_found_by_trying_subjects():
    # An unsalted hash of a party address could be found by hashing every registered party.
    flag = parse_flag_content(content())
    unsalted = keccak(rfc8785.dumps({"type": "PARTY", "address": EXPORTER}))
    other_salt = subject_hash(flag.subject, "0x" + "00" * 32)
    assert flag.subject_hash not in (unsalted, other_salt)


# ---------------------------------------------------------------- sealing and opening


def test_each_recipient_opens_the_flag_with_its_own_key(keys):
    flag, sealed = sealed_for(keys, NL, DE)
    shared = on_chain(sealed)
    assert open_flag(sealed.document, shared, NL, keys[NL]) == flag
    assert open_flag(sealed.document, shared, DE.lower(), keys[DE]) == flag


def test_what_goes_on_chain_is_the_documents_hash_and_the_contents_class(keys):
    flag, sealed = sealed_for(keys, NL, DE)
    assert sealed.share_arguments() == (
        keccak(sealed.document),
        flag.subject_hash,
        4,  # SANCTIONED_PARTY
        2,  # HIGH
        VALID_FROM,
        VALID_UNTIL,
        [NL, DE],
    )


def test_the_document_is_a_jwe_for_each_recipient_by_address_and_hides_the_content(keys):
    _, sealed = sealed_for(keys, NL, DE)
    document = json.loads(sealed.document)
    assert rfc8785.dumps(document) == sealed.document  # served and hashed in one canonical form
    assert set(document) == {"protected", "iv", "ciphertext", "tag", "recipients"}
    assert [r["header"]["kid"] for r in document["recipients"]] == [NL, DE]
    assert {r["header"]["alg"] for r in document["recipients"]} == {"ECDH-ES+A256KW"}
    assert {r["header"]["epk"]["crv"] for r in document["recipients"]} == {"X25519"}
    protected = json.loads(base64.urlsafe_b64decode(document["protected"] + "=="))
    assert protected == {"enc": "A256GCM", "typ": "ledger-flag+jwe"}
    for secret in (EXPORTER, EXPORTER.lower(), "listed entity", SALT):
        assert secret.encode() not in sealed.document


def test_sealing_twice_gives_two_documents_that_say_the_same(keys):
    flag, first = sealed_for(keys, NL)
    second = seal_flag(flag, {NL: raw_public(keys[NL])})
    assert first.content_hash != second.content_hash  # fresh keys and IV each time
    assert open_flag(second.document, on_chain(second), NL, keys[NL]) == flag


def test_a_party_the_chain_does_not_name_cannot_open_the_flag(keys):
    _, sealed = sealed_for(keys, NL)
    with pytest.raises(FlagError) as refused:
        open_flag(sealed.document, on_chain(sealed), SG, keys[SG])
    assert refused.value.code == "NOT_A_RECIPIENT"
    assert f"flag 7 was not shared with {SG}" in refused.value.message


def test_a_recipient_with_another_key_cannot_decrypt(keys):
    _, sealed = sealed_for(keys, NL, DE)
    with pytest.raises(FlagError) as refused:
        open_flag(sealed.document, on_chain(sealed), NL, keys[DE])
    assert refused.value.code == "DECRYPTION_FAILED"


def test_a_tampered_document_is_refused_by_its_hash(keys):
    _, sealed = sealed_for(keys, NL)
    document = json.loads(sealed.document)
    ciphertext = document["ciphertext"]
    document["ciphertext"] = ("A" if ciphertext[0] != "A" else "B") + ciphertext[1:]
    tampered = rfc8785.dumps(document)
    with pytest.raises(FlagError) as refused:
        open_flag(tampered, on_chain(sealed), NL, keys[NL])
    assert refused.value.code == "HASH_MISMATCH"
    assert f"the chain says 0x{sealed.content_hash.hex()}" in refused.value.message


@pytest.mark.parametrize("member", ["ciphertext", "tag", "iv", "protected"])
def test_a_tampered_ciphertext_whose_hash_is_on_chain_does_not_decrypt(keys, member):
    # An author that put the hash of a tampered document on chain: the hash holds, the
    # authenticated encryption does not.
    _, sealed = sealed_for(keys, NL)
    document = json.loads(sealed.document)
    value = document[member]
    document[member] = value[:-2] + ("AA" if value[-2:] != "AA" else "BA")
    tampered = rfc8785.dumps(document)
    with pytest.raises(FlagError) as refused:
        open_flag(tampered, on_chain(sealed, content_hash=keccak(tampered)), NL, keys[NL])
    assert refused.value.code == "DECRYPTION_FAILED"


def test_a_document_sealed_for_a_reader_the_chain_does_not_name_is_refused(keys):
    # Sealed for NL and SG, shared on chain with NL alone: SG would read unaudited.
    _, sealed = sealed_for(keys, NL, SG)
    shared = on_chain(sealed, recipients=(NL,))
    with pytest.raises(FlagError) as refused:
        open_flag(sealed.document, shared, NL, keys[NL])
    assert refused.value.code == "RECIPIENTS_MISMATCH"


def test_a_recipient_the_chain_names_but_the_document_leaves_out_is_refused(keys):
    _, sealed = sealed_for(keys, NL)
    with pytest.raises(FlagError) as refused:
        open_flag(sealed.document, on_chain(sealed, recipients=(NL, DE)), NL, keys[NL])
    assert refused.value.code == "RECIPIENTS_MISMATCH"


@pytest.mark.parametrize(
    ("chain", "differs"),
    [
        ({"author": DE}, f"author {JP} (chain: {DE})"),
        ({"severity": Severity.MEDIUM}, "severity HIGH (chain: MEDIUM)"),
        ({"category": Category.OTHER}, "category SANCTIONED_PARTY (chain: OTHER)"),
        ({"valid_until": VALID_UNTIL + 1}, f"valid_until {VALID_UNTIL} (chain: {VALID_UNTIL + 1})"),
        ({"valid_from": VALID_FROM - 1}, f"valid_from {VALID_FROM} (chain: {VALID_FROM - 1})"),
        ({"subject_hash": b"\x01" * 32}, "subject hash 0x"),
    ],
)
def test_content_that_says_other_than_the_chain_is_refused(keys, chain: dict[str, Any], differs: str):
    # Another author re-sharing a copied document, or an author whose event misstates its flag.
    _, sealed = sealed_for(keys, NL)
    with pytest.raises(FlagError) as refused:
        open_flag(sealed.document, on_chain(sealed, **chain), NL, keys[NL])
    assert refused.value.code == "CHAIN_MISMATCH"
    assert differs in refused.value.message


@pytest.mark.parametrize(
    "document",
    [
        b"not json",
        b"[]",
        b'{"protected":"x","iv":"x","ciphertext":"x","tag":"x"}',
        b'{"protected":"x","iv":"x","ciphertext":"x","tag":"x","recipients":[{"encrypted_key":"x"}]}',
        b'{"protected":"x","iv":"x","ciphertext":"x","tag":"x","recipients":[],"aad":"x"}',
    ],
)
def test_a_document_that_is_not_a_general_jwe_is_malformed(keys, document: bytes):
    _, sealed = sealed_for(keys, NL)
    with pytest.raises(FlagError) as refused:
        open_flag(document, on_chain(sealed, content_hash=keccak(document)), NL, keys[NL])
    assert refused.value.code == "MALFORMED"


def test_a_sealed_plaintext_that_is_no_flag_is_invalid_content(keys):
    _, sealed = sealed_for(keys, NL)
    # Sealed by hand with the same library: a document whose plaintext is not a flag.
    obj = jwe.GeneralJSONEncryption({"enc": "A256GCM", "typ": "ledger-flag+jwe"}, b'{"hello": "world"}')
    public = OKPKey.import_key(keys[NL].public_key())
    obj.add_recipient({"alg": "ECDH-ES+A256KW", "kid": NL}, public)
    document = rfc8785.dumps(dict(jwe.encrypt_json(obj, None)))
    with pytest.raises(FlagError) as refused:
        open_flag(document, on_chain(sealed, content_hash=keccak(document)), NL, keys[NL])
    assert refused.value.code == "INVALID_CONTENT"


@pytest.mark.parametrize(
    ("recipients", "code"),
    [
        ({}, "NO_RECIPIENTS"),
        ({NL: b"\x00" * 32}, "NO_ENCRYPTION_KEY"),
        ({NL: b"\x01" * 31}, "NO_ENCRYPTION_KEY"),
        ({"0x1234": b"\x01" * 32}, "BAD_RECIPIENT"),
        ({NL: b"\x01" * 32, NL.lower(): b"\x01" * 32}, "BAD_RECIPIENT"),
        ({to_checksum_address(f"0x{i:040x}"): b"\x01" * 32 for i in range(1, 34)}, "TOO_MANY_RECIPIENTS"),
    ],
)
def test_a_flag_is_sealed_only_for_recipients_with_an_encryption_key(recipients: dict[str, bytes], code: str):
    with pytest.raises(FlagError) as refused:
        seal_flag(parse_flag_content(content()), recipients)
    assert refused.value.code == code


# ---------------------------------------------------------------- the chain's view


def test_a_shared_flag_reads_from_the_event_decoded_or_as_indexed():
    decoded = {
        "id": 3,
        "author": JP.lower(),
        "authorCountry": b"JP",
        "contentHash": b"\x11" * 32,
        "subjectHash": b"\x22" * 32,
        "category": 4,
        "severity": 2,
        "validFrom": VALID_FROM,
        "validUntil": VALID_UNTIL,
        "recipients": [NL.lower(), DE.lower()],
    }
    indexed = {
        **decoded,
        "authorCountry": "0x4a50",
        "contentHash": "0x" + "11" * 32,
        "subjectHash": "0x" + "22" * 32,
    }
    expected = SharedFlag(
        3, JP, "JP", b"\x11" * 32, b"\x22" * 32, Category.SANCTIONED_PARTY, Severity.HIGH,
        VALID_FROM, VALID_UNTIL, (NL, DE), 42,
    )  # fmt: skip
    assert SharedFlag.from_event(decoded, 42) == SharedFlag.from_event(indexed, 42) == expected


def test_a_held_flag_is_in_force_from_its_block_and_validity_until_withdrawn_or_expired(keys):
    flag, sealed = sealed_for(keys, NL)
    held = HeldFlag(on_chain(sealed, block_number=500), flag)
    assert held.in_force(500, VALID_FROM)
    assert not held.in_force(499, VALID_FROM)  # not shared yet at that block
    assert not held.in_force(600, VALID_FROM - 1)  # not valid yet
    assert held.in_force(600, VALID_UNTIL - 1)
    assert not held.in_force(600, VALID_UNTIL)  # valid_until is exclusive
    withdrawn = replace(held, withdrawn_block=550)
    assert withdrawn.in_force(549, VALID_FROM)
    assert not withdrawn.in_force(550, VALID_FROM)
    assert not withdrawn.in_force(551, VALID_FROM)
