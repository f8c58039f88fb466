"""Parties of the ledger as the PartyRegistry defines them: the roles a party holds (bits
of one uint64, as contracts/lib/PartyRoles.sol), its status (IPartyRegistry.Status), the
registry events that change a party, and the hash of its identifiers that goes on chain.

The one definition of each: a test holds them to the contracts' sources.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum, IntFlag

import rfc8785
from eth_utils.crypto import keccak


class Role(IntFlag):
    """contracts/lib/PartyRoles.sol, bit for bit."""

    EXPORTER = 1 << 0
    CARRIER = 1 << 1
    FORWARDER = 1 << 2
    TERMINAL = 1 << 3
    IMPORTER = 1 << 4
    CUSTOMS = 1 << 5
    LAW_ENFORCEMENT = 1 << 6


# Roles that may hold the goods, and so be named in a handover.
CUSTODIAN_ROLES = Role.EXPORTER | Role.CARRIER | Role.FORWARDER | Role.TERMINAL | Role.IMPORTER
ALL_ROLES = CUSTODIAN_ROLES | Role.CUSTOMS | Role.LAW_ENFORCEMENT


class PartyStatus(IntEnum):
    """IPartyRegistry.Status, in its order (the contract's `None` is a party never registered)."""

    UNREGISTERED = 0
    ACTIVE = 1
    SUSPENDED = 2
    REVOKED = 3

    @property
    def label(self) -> str:
        return self.name.lower()


# PartyRegistry's events that change what the index knows of a party.
PARTY_EVENTS: frozenset[str] = frozenset(
    {"AuthorityRegistered", "PartyRegistered", "PartyRolesChanged", "PartyStatusChanged"}
)


def status_name(status: int) -> str:
    """The status as a word ("active", "suspended"…), or the number itself for a status
    the contract does not define."""
    try:
        return PartyStatus(status).label
    except ValueError:
        return str(status)


def role_names(roles: int) -> list[str]:
    """The names of the roles set in `roles`, in the contract's bit order."""
    return [role.name for role in Role if roles & role and role.name is not None]


def roles_of(names: Iterable[str]) -> int:
    """The roles value of role names ("EXPORTER", …); KeyError names one that is unknown."""
    value = 0
    for name in names:
        value |= Role[name]
    return value


def identifiers_hash(identifiers: Mapping[str, str]) -> bytes:
    """keccak256 of a party's identifiers (legal name, EORI, LEI, GLN…) as RFC 8785
    canonical JSON, the one canonical form of the project: only this hash goes on chain."""
    return keccak(rfc8785.dumps(dict(identifiers)))


# A party's identifiers as registration carries them: its legal name (required), and the
# registers' numbers it has. Other keys (tin, corporate_number…) are kept as given.
NAME_KEY = "name"
_EORI = re.compile(r"^[A-Z]{2}[A-Z0-9]{1,15}$")  # EU/UK EORI: country code and up to 15 characters
_LEI = re.compile(r"^[A-Z0-9]{18}[0-9]{2}$")  # ISO 17442
_GLN = re.compile(r"^[0-9]{13}$")  # GS1 Global Location Number


def lei_is_valid(lei: str) -> bool:
    """ISO 17442: 20 characters whose ISO 7064 MOD 97-10 remainder is 1."""
    if not _LEI.fullmatch(lei):
        return False
    return int("".join(str(int(c, 36)) for c in lei)) % 97 == 1


def gln_is_valid(gln: str) -> bool:
    """GS1: 13 digits, the last the mod-10 check digit of the first 12 (weights 1, 3 from the left)."""
    if not _GLN.fullmatch(gln):
        return False
    total = sum(int(d) * (3 if i % 2 else 1) for i, d in enumerate(gln[:12]))
    return (10 - total % 10) % 10 == int(gln[12])


def identifier_errors(identifiers: Mapping[str, str], *, name_required: bool = True) -> list[tuple[str, str]]:
    """What is wrong with a party's identifiers, as (key, reason) pairs: a missing legal
    name, or an EORI, LEI or GLN that is not one. Empty when they are fine."""
    errors: list[tuple[str, str]] = []
    name = identifiers.get(NAME_KEY)
    if name is None:
        if name_required:
            errors.append((NAME_KEY, "a registration names the party's legal name"))
    elif not name.strip() or name != name.strip():
        errors.append((NAME_KEY, "the legal name is empty or has surrounding spaces"))
    eori, lei, gln = identifiers.get("eori"), identifiers.get("lei"), identifiers.get("gln")
    if eori is not None and not _EORI.fullmatch(eori):
        errors.append(("eori", "an EORI is a country code and up to 15 capital letters or digits"))
    if lei is not None and not lei_is_valid(lei):
        errors.append(("lei", "not an ISO 17442 LEI (20 characters, check digits mod 97)"))
    if gln is not None and not gln_is_valid(gln):
        errors.append(("gln", "not a GS1 GLN (13 digits, the last its check digit)"))
    return errors


@dataclass(frozen=True)
class PartyName:
    """A party by name: its identifiers as registered, where the service holds those its
    on-chain identifiers hash covers (name and identifiers None otherwise)."""

    address: str
    name: str | None
    identifiers: dict[str, str] | None
