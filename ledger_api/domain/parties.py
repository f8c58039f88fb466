"""Parties of the ledger as the PartyRegistry defines them: the roles a party holds (bits
of one uint64, as contracts/lib/PartyRoles.sol), its status (IPartyRegistry.Status), the
registry events that change a party, and the hash of its identifiers that goes on chain.

The one definition of each: a test holds them to the contracts' sources.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
