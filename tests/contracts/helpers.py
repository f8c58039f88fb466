"""Test helpers for the contracts: the cast of parties, record signing with eth-account's
standard EIP-712 encoder, and an assertion on custom errors and their arguments."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import eth_abi
from brownie import chain, web3
from brownie.exceptions import VirtualMachineError
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

ZERO_ADDRESS = "0x" + "00" * 20
ZERO_HASH = "0x" + "00" * 32
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

ROLES = {
    "EXPORTER": 1,
    "CARRIER": 2,
    "FORWARDER": 4,
    "TERMINAL": 8,
    "IMPORTER": 16,
    "CUSTOMS": 32,
    "LAW_ENFORCEMENT": 64,
}
CUSTODIANS = 1 | 2 | 4 | 8 | 16
KIND = {"DECLARATION": 0, "HANDOVER": 1, "ACCEPTANCE": 2, "CUSTOMS_DECISION": 3, "REVOCATION": 4, "TRANSIT": 5}
# The route a declaration names unless a test says otherwise: the cast has NL and SG customs.
DEFAULT_ROUTE = ("NL", "SG")
STATUS = {"None": 0, "Active": 1, "Suspended": 2, "Revoked": 3}

RECORD_FIELDS = [
    {"name": "consignment", "type": "bytes32"},
    {"name": "kind", "type": "uint8"},
    {"name": "payloadHash", "type": "bytes32"},
    {"name": "previous", "type": "bytes32"},
    {"name": "party", "type": "address"},
    {"name": "counterparty", "type": "address"},
    {"name": "nonce", "type": "uint256"},
    {"name": "deadline", "type": "uint256"},
    {"name": "route", "type": "bytes2[]"},
]
DOMAIN_FIELDS = [
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
]


def consignment_key(ucr: str) -> str:
    """The ledger keys a consignment by keccak256 of its UCR."""
    return "0x" + keccak(text=ucr).hex()


def payload_hash(text: str) -> str:
    return "0x" + keccak(text=text).hex()


def country(code: str) -> bytes:
    return code.encode("ascii")


def route_of(*codes: str | bytes) -> list[bytes]:
    """A route as the record carries it: ISO alpha-2 codes as bytes2."""
    return [c if isinstance(c, bytes) else country(c) for c in codes]


# ---------------------------------------------------------------- parties


@dataclass
class Party:
    name: str
    account: Any  # brownie LocalAccount: holds the key, can also send transactions
    country: str | None
    roles: int
    authority: bool = False

    @property
    def address(self) -> str:
        return self.account.address

    @property
    def key(self) -> str:
        return self.account.private_key

    def __str__(self) -> str:
        return self.address


class Cast:
    """The people of the tests, each with a key of its own derived from its name.
    Customs of NL, SG and DE; the NL exporter, an SG exporter, carriers, a terminal, an
    importer, an NL law-enforcement agency, and an outsider nobody registered."""

    SPEC = [
        # name, country, roles, authority
        ("customs_nl", "NL", ROLES["CUSTOMS"], True),
        ("customs_sg", "SG", ROLES["CUSTOMS"], True),
        ("customs_de", "DE", ROLES["CUSTOMS"], True),
        ("officer_nl", "NL", ROLES["CUSTOMS"], False),
        ("exporter", "NL", ROLES["EXPORTER"], False),
        ("exporter_sg", "SG", ROLES["EXPORTER"], False),
        ("carrier", "NL", ROLES["CARRIER"], False),
        ("carrier_sg", "SG", ROLES["CARRIER"], False),
        ("terminal", "SG", ROLES["TERMINAL"], False),
        ("importer", "SG", ROLES["IMPORTER"], False),
        ("police_nl", "NL", ROLES["LAW_ENFORCEMENT"], False),
        ("outsider", None, 0, False),
    ]

    def __init__(self, parties: dict[str, Party]) -> None:
        self._parties = parties

    @classmethod
    def create(cls, accounts: Any, funder: Any) -> Cast:
        parties = {}
        for name, code, roles, authority in cls.SPEC:
            account = accounts.add("0x" + keccak(text=f"ledger test party {name}").hex())
            funder.transfer(account, "1 ether")
            parties[name] = Party(name, account, code, roles, authority)
        return cls(parties)

    def __getattr__(self, name: str) -> Party:
        try:
            return self._parties[name]
        except KeyError:
            raise AttributeError(name) from None

    def __iter__(self) -> Iterator[Party]:
        return iter(self._parties.values())


def register_cast(registry: Any, admin: Any, cast: Cast) -> None:
    authorities = {p.country: p for p in cast if p.authority}
    for p in cast:
        if p.authority:
            registry.registerAuthority(p.address, country(p.country), payload_hash(p.name), {"from": admin})
    for p in cast:
        if p.country and not p.authority:
            registry.registerParty(p.address, p.roles, payload_hash(p.name), {"from": authorities[p.country].account})


# ---------------------------------------------------------------- records


def ledger_domain(ledger: Any, **overrides: Any) -> dict[str, Any]:
    domain = {"name": "ConsignmentLedger", "version": "1", "chainId": chain.id, "verifyingContract": ledger.address}
    domain.update(overrides)
    return domain


def sign_record(domain: dict[str, Any], key: str, record: dict[str, Any]) -> bytes:
    """Signs with eth-account's standard EIP-712 encoder, as any wallet would."""
    message = {
        "types": {"EIP712Domain": DOMAIN_FIELDS, "Record": RECORD_FIELDS},
        "primaryType": "Record",
        "domain": domain,
        "message": record,
    }
    return bytes(Account.sign_message(encode_typed_data(full_message=message), key).signature)


def malleate(signature: bytes) -> bytes:
    """The same signature with s replaced by n - s (and v flipped): valid for ecrecover,
    refused by OpenZeppelin's ECDSA."""
    r, s, v = signature[:32], int.from_bytes(signature[32:64], "big"), signature[64]
    return r + (SECP256K1_N - s).to_bytes(32, "big") + bytes([55 - v])


def as_tuple(record: dict[str, Any]) -> tuple:
    return tuple(record[f["name"]] for f in RECORD_FIELDS)


def pack(book: Any, signed: list[tuple[Party, dict[str, Any]]]) -> tuple[list[tuple], list[bytes]]:
    """writeMany's two arguments for records each signed by its party."""
    return [as_tuple(r) for _, r in signed], [book.sign(p, r) for p, r in signed]


class LedgerBook:
    """Builds, signs and relays records the way the ledger service will: each party signs
    its own record, the relayer sends it."""

    def __init__(self, ledger: Any, relayer: Any) -> None:
        self.ledger = ledger
        self.relayer = relayer

    def head(self, ucr: str) -> str:
        return "0x" + bytes(self.ledger.consignmentOf(consignment_key(ucr))[0]).hex()

    def record(
        self,
        party: Party,
        ucr: str,
        kind: str,
        *,
        counterparty: Any = ZERO_ADDRESS,
        previous: str | None = None,
        nonce: int | None = None,
        deadline: int | None = None,
        payload: str | None = None,
        route: Any = None,
    ) -> dict[str, Any]:
        """A record of `party`; a declaration names DEFAULT_ROUTE unless `route` says otherwise,
        every other kind an empty route."""
        kind_value = KIND[kind] if isinstance(kind, str) else kind
        if route is None:
            route = DEFAULT_ROUTE if kind_value == KIND["DECLARATION"] else ()
        return {
            "consignment": consignment_key(ucr),
            "kind": kind_value,
            "payloadHash": payload_hash(payload or f"{ucr}:{kind}:{party.name}"),
            "previous": self.head(ucr) if previous is None else previous,
            "party": party.address,
            "counterparty": str(counterparty),
            "nonce": self.ledger.nonces(party.address) if nonce is None else nonce,
            "deadline": chain.time() + 3600 if deadline is None else deadline,
            "route": route_of(*route),
        }

    def sign(self, party: Party, record: dict[str, Any], **domain: Any) -> bytes:
        return sign_record(ledger_domain(self.ledger, **domain), party.key, record)

    def send(self, record: dict[str, Any], signature: bytes) -> Any:
        return self.ledger.write(as_tuple(record), signature, {"from": self.relayer})

    def write(self, party: Party, ucr: str, kind: str, **fields: Any) -> Any:
        record = self.record(party, ucr, kind, **fields)
        return self.send(record, self.sign(party, record))

    def declare(self, exporter: Party, ucr: str, route: Any = DEFAULT_ROUTE) -> Any:
        return self.write(exporter, ucr, "DECLARATION", previous=ZERO_HASH, route=route)

    def transit(self, custodian: Party, ucr: str, *countries: str) -> Any:
        return self.write(custodian, ucr, "TRANSIT", route=countries)

    def hand_over(self, custodian: Party, to: Party, ucr: str) -> Any:
        return self.write(custodian, ucr, "HANDOVER", counterparty=to)

    def accept(self, party: Party, from_: Party, ucr: str) -> Any:
        return self.write(party, ucr, "ACCEPTANCE", counterparty=from_)

    def decide(self, customs: Party, ucr: str) -> Any:
        return self.write(customs, ucr, "CUSTOMS_DECISION")

    def hop(self, custodian: Party, to: Party, ucr: str) -> Any:
        handover = self.record(custodian, ucr, "HANDOVER", counterparty=to)
        handover_sig = self.sign(custodian, handover)
        handover_id = self.ledger.recordId(as_tuple(handover))
        acceptance = self.record(to, ucr, "ACCEPTANCE", counterparty=custodian, previous=handover_id)
        return self.ledger.writeHop(
            as_tuple(handover), handover_sig, as_tuple(acceptance), self.sign(to, acceptance), {"from": self.relayer}
        )


# ---------------------------------------------------------------- custom errors


def _error_abis() -> dict[str, dict[str, Any]]:
    errors: dict[str, dict[str, Any]] = {}
    for artifact in Path("build/contracts").glob("*.json"):
        for item in json.loads(artifact.read_text()).get("abi", []):
            if item.get("type") == "error":
                errors[item["name"]] = item
    return errors


_ERRORS: dict[str, dict[str, Any]] = {}


def expected_revert_message(error: str, *args: Any) -> str:
    """Brownie decodes a custom error as 'Name: arg, arg'; build the same text from the
    expected arguments passed through the ABI, so that every argument is compared."""
    if not _ERRORS:
        _ERRORS.update(_error_abis())
    types = [i["type"] for i in _ERRORS[error]["inputs"]]
    values = [str(a) if isinstance(a, Party) or (hasattr(a, "address") and not isinstance(a, str)) else a for a in args]
    values = [v.address if hasattr(v, "address") and not isinstance(v, str) else v for v in values]
    decoded = eth_abi.decode(types, eth_abi.encode(types, values)) if types else ()
    return f"{error}: {', '.join(str(v) for v in decoded)}"


def encode_error(error: str, *args: Any) -> bytes:
    """The revert data of custom error `error` with `args`: selector, then the ABI-encoded arguments."""
    if not _ERRORS:
        _ERRORS.update(_error_abis())
    types = [i["type"] for i in _ERRORS[error]["inputs"]]
    values = [v.address if hasattr(v, "address") and not isinstance(v, str) else v for v in args]
    return keccak(text=f"{error}({','.join(types)})")[:4] + eth_abi.encode(types, values)


@contextmanager
def reverts_with(error: str, *args: Any) -> Iterator[None]:
    """Asserts that the block reverts with the custom error `error` and exactly `args`."""
    expected = expected_revert_message(error, *args)
    try:
        yield
    except VirtualMachineError as exc:
        assert exc.revert_msg == expected, f"reverted with {exc.revert_msg!r}, expected {expected!r}"
    else:
        raise AssertionError(f"did not revert; expected {expected!r}")


def mine_block() -> None:
    web3.provider.make_request("evm_mine", [])


def record_digest(domain: dict[str, Any], record: dict[str, Any]) -> str:
    """The EIP-712 digest of `record` as eth-account computes it: what a wallet signs, and
    so the record id the ledger must give it."""
    from eth_account.messages import _hash_eip191_message

    message = {
        "types": {"EIP712Domain": DOMAIN_FIELDS, "Record": RECORD_FIELDS},
        "primaryType": "Record",
        "domain": domain,
        "message": record,
    }
    return "0x" + _hash_eip191_message(encode_typed_data(full_message=message)).hex()
