"""Who may see what. Parties to a consignment (the party or counterparty of one of its
records on chain or held here: a record that failed makes no one a party), and the customs
of the countries on its route (origin, destination, and the transit countries its
custodians added: the `routes` the chain says, and the routes its held records sign),
see its whole history; a partner customs (any other active customs) sees its verdict,
checks, lane and recognition, not its records, values or consignee; anyone else sees
nothing, and is told the consignment or the record does not exist, in exactly the words
used for one that does not.

Writes are bound to the credential: a record, a registry or recognition request is made
with the credential of the party that acts in it (the record's party, the request's
authority), so a stolen or shared credential cannot post what another party signed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ledger_api.domain.parties import PartyStatus, Role
from ledger_api.domain.records import consignment_key
from ledger_api.errors import InvalidSubmission, NotAuthorised, NotFound
from ledger_api.services.credentials import check_secret, parse_token
from ledger_api.store import credentials as stored_credentials
from ledger_api.store import records as known
from ledger_api.store.db import Store

View = Literal["full", "partner"]


@dataclass(frozen=True)
class Caller:
    address: str
    country: str | None
    roles: int
    active: bool
    credential: str  # the credential's id: what the rate limiter counts by

    @property
    def is_customs(self) -> bool:
        return self.active and bool(self.roles & Role.CUSTOMS)

    def require_acting(self, party: str, field: str) -> None:
        """A write acted by `party` (named in the request at `field`) is this caller's to
        make only if its credential is that party's; else NotAuthorised naming the field."""
        if party.lower() != self.address.lower():
            raise NotAuthorised(
                "WRONG_CREDENTIAL",
                field,
                f"the credential speaks for {self.address}, not for {party}: "
                "a write is made with the credential of the party that acts in it",
            )


class Access:
    def __init__(self, store: Store) -> None:
        self.store = store

    def caller(self, token: str) -> Caller:
        """The party a token speaks for, read with its credential in one statement (every
        request pays it)."""
        credential_id, secret = parse_token(token)
        with self.store.read() as conn:
            row = stored_credentials.caller(conn, credential_id)
        credential = check_secret(row, secret)
        assert row is not None
        if row.roles is None:  # a credential for a party not (yet) in the index
            return Caller(credential.party, None, 0, False, credential.id)
        return Caller(credential.party, row.country, row.roles, row.status == PartyStatus.ACTIVE, credential.id)

    def view(self, caller: Caller, ucr: str) -> View | None:
        return self.view_of(caller, "0x" + consignment_key(ucr).hex())

    def view_of(self, caller: Caller, key: str) -> View | None:
        """What `caller` may see of the consignment `key` (0x hex): all of it, its
        verification only, or nothing (None, also when it does not exist)."""
        with self.store.read() as conn:
            rows = known.consignment_parties(conn, key)
            if not rows:
                return None
            if any(caller.address in (party, counterparty) for party, counterparty in rows):
                return "full"
            if not caller.is_customs:
                return None
            countries = known.route_countries(conn, key)
        return "full" if caller.country in countries else "partner"

    def require(self, caller: Caller, ucr: str, *, partner_ok: bool = False) -> View:
        view = self.view(caller, ucr)
        if view is None or (view == "partner" and not partner_ok):
            raise NotFound(f"no consignment {ucr}")
        return view

    def require_verifying_country(self, caller: Caller, ucr: str, country: str) -> None:
        """The country a verification is made for, and its receipt names, must be one whose
        customs authority is an active member of the ledger (a real ISO 3166 code, checked
        by the registry: `ZZ` has none), and one the caller may act for: customs only for
        their own country; a party to the consignment for a country on its route. Call
        after `require`: the caller sees the consignment."""
        with self.store.read() as conn:
            member = stored_credentials.customs_authority_of(conn, country)
            route = known.route_countries(conn, "0x" + consignment_key(ucr).hex()) if not caller.is_customs else set()
        if not member:
            raise InvalidSubmission(
                "UNKNOWN_COUNTRY", "country", f"no active customs authority of the ledger acts for {country}"
            )
        if caller.is_customs and caller.country != country:
            raise NotAuthorised(
                "WRONG_COUNTRY",
                "country",
                f"the credential speaks for customs of {caller.country}: a verification is made for its own country",
            )
        if not caller.is_customs and country not in route:
            raise InvalidSubmission(
                "COUNTRY_NOT_ON_ROUTE",
                "country",
                f"{country} is not on this consignment's route: a party verifies for the customs of its route",
            )

    def require_record(self, caller: Caller, record_id: str) -> None:
        """A record is the caller's to see if its consignment is, in full, or if the caller
        signed it (its party: a record that failed, the only one of its party in the
        consignment, still shows its party why); else NotFound, word for word as for an
        id that does not exist."""
        with self.store.connection() as conn:
            row = known.record_consignment(conn, record_id.lower())
        if row is None or (row.party != caller.address and self.view_of(caller, row.consignment) != "full"):
            raise NotFound(f"no record {record_id}")
