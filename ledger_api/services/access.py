"""Who may see what. Parties to a consignment, and the customs of the countries on its route
(origin, destination, and the transit countries its custodians added), see its whole
history; a partner customs (any other active customs) sees its verdict, checks, lane and
recognition, not its records, values or consignee; anyone else sees nothing, and is told
the consignment does not exist rather than that it is hidden.

Writes are bound to the credential: a record, a registry or recognition request is made
with the credential of the party that acts in it (the record's party, the request's
authority), so a stolen or shared credential cannot post what another party signed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from ledger_api.domain.parties import PartyStatus, Role
from ledger_api.domain.records import RecordKind, consignment_key
from ledger_api.errors import NotAuthorised, NotFound
from ledger_api.services.credentials import CREDENTIAL_COLUMNS, check_secret, parse_token
from ledger_api.store.db import Store
from ledger_api.store.tables import CREDENTIALS, PARTIES, RecordRow, route_of

View = Literal["full", "partner"]

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
        key = "0x" + consignment_key(ucr).hex()
        with self.store.session() as session:
            rows = session.execute(
                select(RecordRow.party, RecordRow.counterparty).where(RecordRow.consignment == key)
            ).all()
            if not rows:
                return None
            if any(caller.address in (party, counterparty) for party, counterparty in rows):
                return "full"
            if not caller.is_customs:
                return None
            countries = _route_countries(session, key)
        return "full" if caller.country in countries else "partner"

    def require(self, caller: Caller, ucr: str, *, partner_ok: bool = False) -> View:
        view = self.view(caller, ucr)
        if view is None or (view == "partner" and not partner_ok):
            raise NotFound(f"no consignment {ucr}")
        return view

    def ucr_of_record(self, record_id: str) -> str:
        with self.store.session() as session:
            ucr = session.scalar(select(RecordRow.ucr).where(RecordRow.id == record_id.lower()))
        if ucr is None:
            raise NotFound(f"no record {record_id}")
        return ucr


def _route_countries(session: Session, key: str) -> set[str]:
    """The countries on the consignment's route: its declaration's origin and destination
    and the transit countries its custodians added, from records not failed (a transit
    accepted and not yet on chain counts: its country's customs may act on it already)."""
    rows = session.execute(
        select(RecordRow.kind, RecordRow.route, RecordRow.payload).where(
            RecordRow.consignment == key,
            RecordRow.kind.in_([int(RecordKind.DECLARATION), int(RecordKind.TRANSIT)]),
            RecordRow.status != "failed",
        )
    ).all()
    countries: set[str] = set()
    for kind, route, payload in rows:
        countries.update(route_of(route))
        if kind == RecordKind.DECLARATION and route is None:  # a row stored before routes were signed
            declaration = json.loads(payload)
            countries.update({declaration.get("origin_country"), declaration.get("destination_country")} - {None})
    return countries
