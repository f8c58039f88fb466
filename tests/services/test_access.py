"""Who may see what (services/access.py), from what the store knows, records learnt from
the chain included: a named party to a live record (on chain or held here) or customs of
a country on the route sees a consignment in full, another customs its verification,
anyone else nothing; a record that failed makes no one a party, though its signer still
sees that record. No chain here (support/chain_facts.py). On each store."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils.crypto import keccak
from support.chain_facts import learn, register_party, signed
from support.payloads import declaration
from support.postgres import STORES, database_url
from support.submissions import CHAIN_NONCE, chainless_submissions

from ledger_api.domain.parties import Role
from ledger_api.errors import NotFound
from ledger_api.services.access import Access, Caller
from ledger_api.store import records
from ledger_api.store.db import Store

UCR = "6NL123456789-SEEN-0001"
KEYS = {name: Account.from_key(keccak(text=f"access {name}")) for name in ("a", "b", "carrier", "jp", "sg")}
ROLES = {
    "a": (Role.EXPORTER, "NL"),
    "b": (Role.EXPORTER, "NL"),
    "carrier": (Role.CARRIER, "JP"),
    "jp": (Role.CUSTOMS, "JP"),
    "sg": (Role.CUSTOMS, "SG"),
}
UNKNOWN = "0x" + "ab" * 32


@pytest.fixture(params=STORES)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    store = Store(database_url(request, request.param) or f"sqlite:///{tmp_path / 'ledger.db'}")
    for name, (roles, country) in ROLES.items():
        register_party(store, KEYS[name], int(roles), country)
    yield store
    store.close()


def caller(name: str) -> Caller:
    roles, country = ROLES[name]
    return Caller(KEYS[name].address, country, int(roles), True, f"credential of {name}")


def hidden_like_unknown(access: Access, who: Caller, record_id: str) -> None:
    """`record_id` is refused to `who` in exactly the words used for an id that does not exist."""
    with pytest.raises(NotFound) as hidden:
        access.require_record(who, record_id)
    with pytest.raises(NotFound) as unknown:
        access.require_record(who, UNKNOWN)
    assert str(hidden.value) == str(unknown.value).replace(UNKNOWN, record_id)


def test_a_party_whose_only_record_failed_is_no_party_to_the_consignment_yet_still_sees_that_record(store: Store):
    ours = signed(KEYS["a"], declaration(UCR))
    chainless_submissions(store).submit(ours.submission())
    access = Access(store)
    assert access.view_of(caller("a"), ours.consignment) == "full"
    # Another exporter declared the same UCR straight on the contract first: ours fails.
    theirs = signed(KEYS["b"], declaration(UCR), nonce=CHAIN_NONCE)
    learn(store, theirs.fact(10))
    assert access.view_of(caller("a"), ours.consignment) is None
    assert access.view(caller("b"), UCR) == "full"
    access.require_record(caller("a"), ours.id)  # its signer is told why it failed
    access.require_record(caller("b"), ours.id)  # a party to the consignment sees it in its history
    hidden_like_unknown(access, caller("carrier"), ours.id)
    hidden_like_unknown(access, caller("a"), theirs.id)


def test_customs_of_a_country_the_chain_put_on_the_route_sees_a_consignment_none_of_whose_records_is_held(
    store: Store,
):
    theirs = signed(KEYS["b"], declaration(UCR))
    learn(store, theirs.fact(10))
    with store.connection() as conn:
        records.learn_route(conn, theirs.consignment, ["NL", "JP"], 10, theirs.id)
    access = Access(store)
    assert {name: access.view_of(caller(name), theirs.consignment) for name in ("b", "jp", "sg", "carrier", "a")} == {
        "b": "full",  # its party, although its record is not held here
        "jp": "full",  # customs of its destination
        "sg": "partner",  # another customs: the verification only
        "carrier": None,
        "a": None,
    }
    hidden_like_unknown(access, caller("sg"), theirs.id)
    # Its custodian adds Singapore to the route on chain: Singapore's customs sees it all.
    with store.connection() as conn:
        records.learn_route(conn, theirs.consignment, ["SG"], 12, "0x" + "cd" * 32)
    assert access.view_of(caller("sg"), theirs.consignment) == "full"
    access.require_record(caller("sg"), theirs.id)
