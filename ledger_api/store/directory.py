"""The parties' names: identifiers kept by their hash, and joined to the parties whose
on-chain identifiers hash they match. A row whose hash no party holds names nobody, so
anyone may offer identifiers: only the registry's hash decides whose they are."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping

import rfc8785
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ledger_api.domain.parties import NAME_KEY, PartyName, identifiers_hash
from ledger_api.store.tables import PartyIdentifiersRow, PartyRow


def save_identifiers(session: Session, identifiers: Mapping[str, str]) -> str:
    """Keeps `identifiers` under their hash (once: the same identifiers again change
    nothing); returns the hash as 0x hex."""
    key = "0x" + identifiers_hash(identifiers).hex()
    values = {"hash": key, "identifiers": rfc8785.dumps(dict(identifiers)).decode()}
    if session.get_bind().dialect.name == "postgresql":
        session.execute(postgresql.insert(PartyIdentifiersRow).values(values).on_conflict_do_nothing())
    else:
        session.execute(sqlite.insert(PartyIdentifiersRow).values(values).on_conflict_do_nothing())
    return key


def identifiers_of(session: Session, hashes: Iterable[str]) -> dict[str, dict[str, str]]:
    """The identifiers kept under each of `hashes` that the store has."""
    wanted = sorted(set(hashes))
    if not wanted:
        return {}
    rows = session.execute(
        select(PartyIdentifiersRow.hash, PartyIdentifiersRow.identifiers).where(PartyIdentifiersRow.hash.in_(wanted))
    ).all()
    return {h: dict(json.loads(text)) for h, text in rows}


def names_of(session: Session, addresses: Iterable[str]) -> dict[str, PartyName]:
    """Each registered party among `addresses`, with its name and identifiers when the
    store holds those its on-chain hash covers."""
    wanted = sorted({a for a in addresses if a})
    if not wanted:
        return {}
    rows = session.execute(
        select(PartyRow.address, PartyRow.identifiers_hash, PartyIdentifiersRow.identifiers)
        .outerjoin(PartyIdentifiersRow, PartyIdentifiersRow.hash == PartyRow.identifiers_hash)
        .where(PartyRow.address.in_(wanted))
    ).all()
    names = {}
    for address, _hash, text in rows:
        ids = dict(json.loads(text)) if text else None
        names[address] = PartyName(address, ids.get(NAME_KEY) if ids else None, ids)
    return names
