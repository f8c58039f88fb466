"""Record ids and signatures: the fast path the service uses agrees with eth-account's
standard EIP-712 encoder (which the contract tests show the chain agrees with), and
refuses what OpenZeppelin's ECDSA refuses."""

from __future__ import annotations

from dataclasses import replace

import pytest
from eth_account import Account
from eth_utils.crypto import keccak
from hypothesis import given
from hypothesis import strategies as st

from ledger_api.domain.records import (
    ZERO_ADDRESS,
    LedgerDomain,
    Record,
    RecordKind,
    SignatureError,
    domain_separator,
    fast_record_id,
    fast_recover,
    record_id,
    sign_record,
)

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
DOMAIN = LedgerDomain(chain_id=31337, verifying_contract="0x5FbDB2315678afecb367f032d93F642f64180aa3")
KEY = keccak(text="record test key")
PARTY = Account.from_key(KEY).address

# Any two capital letters: the contract checks the shape alone (CountryCodes.isWellFormed).
countries = st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=2, max_size=2)

records = st.builds(
    Record,
    consignment=st.binary(min_size=32, max_size=32),
    kind=st.sampled_from(list(RecordKind)),
    payload_hash=st.binary(min_size=32, max_size=32),
    previous=st.binary(min_size=32, max_size=32),
    party=st.just(PARTY),
    counterparty=st.sampled_from([ZERO_ADDRESS, "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"]),
    nonce=st.integers(min_value=0, max_value=2**256 - 1),
    deadline=st.integers(min_value=0, max_value=2**256 - 1),
    route=st.lists(countries, max_size=16).map(tuple),
)


@given(records)
def test_fast_record_id_equals_the_standard_eip712_digest(record):
    assert fast_record_id(record, domain_separator(DOMAIN)) == record_id(record, DOMAIN)


@given(records)
def test_fast_recovery_finds_the_party_who_signed_with_a_wallet_encoder(record):
    signature = sign_record(record, DOMAIN, KEY)
    assert fast_recover(record_id(record, DOMAIN), signature) == PARTY


def test_the_route_is_signed_in_order_so_another_route_is_another_record():
    base = Record(keccak(b"c"), RecordKind.TRANSIT, keccak(b"p"), bytes(32), PARTY, ZERO_ADDRESS, 0, 10**10, ("DE",))
    separator = domain_separator(DOMAIN)
    ids = {
        fast_record_id(replace(base, route=route), separator)
        for route in [("DE",), ("PL",), ("DE", "PL"), ("PL", "DE"), ()]
    }
    assert len(ids) == 5


@pytest.mark.parametrize("country", ["nl", "N", "NLD", "N1", "ÑL"])
def test_a_route_country_that_is_not_two_capital_letters_cannot_be_signed(country):
    record = Record(keccak(b"c"), RecordKind.TRANSIT, keccak(b"p"), bytes(32), PARTY, ZERO_ADDRESS, 0, 1, (country,))
    with pytest.raises(ValueError, match="two capital letters"):
        fast_record_id(record, domain_separator(DOMAIN))
    with pytest.raises(ValueError, match="two capital letters"):
        record.as_tuple()


def test_a_record_signed_for_another_chain_or_contract_recovers_to_someone_else():
    record = Record(keccak(b"c"), RecordKind.DECLARATION, keccak(b"p"), bytes(32), PARTY, ZERO_ADDRESS, 0, 10**10)
    for other in (
        LedgerDomain(chain_id=1, verifying_contract=DOMAIN.verifying_contract),
        LedgerDomain(chain_id=31337, verifying_contract="0x" + "11" * 20),
    ):
        signature = sign_record(record, other, KEY)
        assert fast_recover(fast_record_id(record, domain_separator(DOMAIN)), signature) != PARTY


def test_a_high_s_twin_of_a_valid_signature_is_refused():
    record = Record(keccak(b"c"), RecordKind.DECLARATION, keccak(b"p"), bytes(32), PARTY, ZERO_ADDRESS, 0, 10**10)
    sig = sign_record(record, DOMAIN, KEY)
    s = int.from_bytes(sig[32:64], "big")
    twin = sig[:32] + (N - s).to_bytes(32, "big") + bytes([55 - sig[64]])
    with pytest.raises(SignatureError, match="upper half"):
        fast_recover(record_id(record, DOMAIN), twin)


@pytest.mark.parametrize(
    ("signature", "message"),
    [(b"\x01" * 64, "65 bytes"), (b"\x01" * 64 + b"\x05", "v must be 27 or 28")],
)
def test_a_malformed_signature_is_refused_with_the_reason(signature, message):
    with pytest.raises(SignatureError, match=message):
        fast_recover(bytes(32), signature)
