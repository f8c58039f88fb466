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

from sqlalchemy import bindparam, select

from ledger_api.domain.parties import PartyStatus, Role
from ledger_api.domain.records import consignment_key
from ledger_api.errors import NotAuthorised, NotFound
from ledger_api.services.credentials import CREDENTIAL_COLUMNS, check_secret, parse_token
from ledger_api.store import records as known
from ledger_api.store.db import Store
from ledger_api.store.tables import CREDENTIALS, PARTIES, RECORDS

View = Literal["full", "partner"]

_PARTIES_OF = select(RECORDS.c.party, RECORDS.c.counterparty).where(
    RECORDS.c.consignment == bindparam("key"), RECORDS.c.status != "failed"
)
_CONSIGNMENT_OF = select(RECORDS.c.consignment, RECORDS.c.party).where(RECORDS.c.id == bindparam("id"))
_CALLER = (
    select(*CREDENTIAL_COLUMNS, PARTIES.c.country, PARTIES.c.roles, PARTIES.c.status)
    .select_from(CREDENTIALS.outerjoin(PARTIES, PARTIES.c.address == CREDENTIALS.c.party))
    .where(CREDENTIALS.c.id == bindparam("id"))
)


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
        with self.store.connection() as conn:
            row = conn.execute(_CALLER, {"id": credential_id}).first()
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
        with self.store.connection() as conn:
            rows = conn.execute(_PARTIES_OF, {"key": key}).all()
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

    def require_record(self, caller: Caller, record_id: str) -> None:
        """A record is the caller's to see if its consignment is, in full, or if the caller
        signed it (its party: a record that failed, the only one of its party in the
        consignment, still shows its party why); else NotFound, word for word as for an
        id that does not exist."""
        with self.store.connection() as conn:
            row = conn.execute(_CONSIGNMENT_OF, {"id": record_id.lower()}).first()
        if row is None or (row.party != caller.address and self.view_of(caller, row.consignment) != "full"):
            raise NotFound(f"no record {record_id}")
