"""A flag as an author shares it with one recipient authority: sealed to the key that
authority published, and listed as the chain lists it, for tests that open it with the
recipient's private key (domain/intelligence.py open_flag)."""

from __future__ import annotations

from eth_utils.address import to_checksum_address

from ledger_api.domain.intelligence import SharedFlag, parse_flag_content, seal_flag

AUTHOR = to_checksum_address("0x" + "a1" * 20)  # Japan's customs, say
EXPORTER = to_checksum_address("0x" + "e5" * 20)
TEXT = "Hidden compartment found on an earlier shipment."


def flag_sealed_to(recipient: str, published_key: bytes) -> tuple[bytes, SharedFlag]:
    """The sealed document of a flag shared with `recipient` alone, sealed to its raw
    X25519 `published_key`, and the chain's record of it."""
    content = parse_flag_content(
        {
            "schema_version": "1",
            "author": AUTHOR,
            "subject": {"type": "PARTY", "address": EXPORTER},
            "subject_salt": "0x" + "07" * 32,
            "category": "CONCEALMENT",
            "severity": "HIGH",
            "text": TEXT,
            "valid_from": 1_800_000_000,
            "valid_until": 1_800_086_400,
        }
    )
    sealed = seal_flag(content, {recipient: published_key})
    shared = SharedFlag(
        flag_id=1,
        author=AUTHOR,
        author_country="JP",
        content_hash=sealed.content_hash,
        subject_hash=sealed.subject_hash,
        category=sealed.category,
        severity=sealed.severity,
        valid_from=sealed.valid_from,
        valid_until=sealed.valid_until,
        recipients=sealed.recipients,
        block_number=10,
    )
    return sealed.document, shared
