"""The custody rules off chain (domain/custody.py, which submission and queries use) and
ConsignmentLedger agree on routes: each record below is put to both, and the contract
refuses exactly what `apply` refuses, with the error that code stands for, and otherwise
ends in the same route and custodian. Parties' roles and countries are read from the
registry, as the index has them."""

from __future__ import annotations

import time
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3.exceptions import ContractCustomError

from ledger_api.chain.abi import ContractAbi
from ledger_api.chain.artifacts import load_artifacts
from ledger_api.demo import ANVIL_AUTHORITY_KEYS
from ledger_api.domain.custody import ConsignmentState, CustodyRuleError, PartyStanding, apply
from ledger_api.domain.parties import Role, identifiers_hash
from ledger_api.domain.records import ZERO_ADDRESS, Record, RecordKind, consignment_key, sign_record
from ledger_api.settings import PROJECT_ROOT

ABI = ContractAbi(load_artifacts(PROJECT_ROOT / "build"))
# The contract's error for each code of the custody rules that this test provokes.
CODE_OF = {
    "LedgerNotOnRoute": "NOT_ON_ROUTE",
    "LedgerRouteFull": "ROUTE_FULL",
    "LedgerSameOriginAndDestination": "SAME_ORIGIN_AND_DESTINATION",
    "LedgerInvalidRouteLength": "INVALID_ROUTE_LENGTH",
    "LedgerNotCustodian": "NOT_CUSTODIAN",
    "LedgerInvalidCounterparty": "INVALID_COUNTERPARTY",
    "LedgerMissingRole": "MISSING_ROLE",
}
EXPORTER = Account.from_key(keccak(text="custody agreement exporter"))
CARRIER = Account.from_key(keccak(text="custody agreement carrier"))
SIXTEEN = ("DE", "PL", "BY", "RU", "KZ", "CN", "MN", "KR", "US", "CA", "MX", "BR", "AR", "CL", "PE", "ZA")


class Both:
    """One consignment, its state kept by `apply` beside the contract's."""

    def __init__(self, contracts: Any, ucr: str) -> None:
        self.c, self.key = contracts, consignment_key(ucr)
        self.state = ConsignmentState()
        self.relayer = contracts.w3.eth.accounts[9]

    def standing(self, address: str) -> PartyStanding:
        roles, status = self.c.registry.functions.stateOf(address).call()
        country = self.c.registry.functions.partyOf(address).call()[0].decode("ascii").strip("\0")
        return PartyStanding(roles, status, country)

    def put(
        self, kind: RecordKind, signer: LocalAccount, route: tuple[str, ...] = (), counterparty: str = ZERO_ADDRESS
    ) -> str | None:
        """Puts the record to both; returns the code both refuse it with, or None once written."""
        record = Record(
            consignment=self.key,
            kind=kind,
            payload_hash=keccak(text=f"{kind.name} {time.time_ns()}"),
            previous=self.state.head,
            party=signer.address,
            counterparty=counterparty,
            nonce=self.c.ledger.functions.nonces(signer.address).call(),
            deadline=int(time.time()) + 600,
            route=route,
        )
        signature = sign_record(record, self.c.ledger_domain, signer.key)
        rid = self.c.ledger.functions.recordId(record.as_tuple()).call()
        try:
            off_chain: str | None = None
            after = apply(self.state, record, rid, self.standing(signer.address), self.standing(counterparty))
        except CustodyRuleError as exc:
            off_chain = exc.code
        write = self.c.ledger.functions.write(record.as_tuple(), signature)
        try:
            write.call({"from": self.relayer})
            on_chain = None
        except ContractCustomError as exc:
            decoded = ABI.decode_error(bytes.fromhex(str(exc.data)[2:]))
            assert decoded is not None, exc.data
            on_chain = CODE_OF.get(decoded.name, decoded.name)
        assert off_chain == on_chain, (kind.name, route)
        if off_chain is None:
            receipt = self.c.w3.eth.wait_for_transaction_receipt(write.transact({"from": self.relayer}))
            assert receipt["status"] == 1
            self.state = after
            route_on_chain = [c.decode() for c in self.c.ledger.functions.routeOf(self.key).call()]
            assert route_on_chain == list(self.state.route)
            assert self.c.ledger.functions.consignmentOf(self.key).call()[1] == self.state.custodian
        return off_chain


@pytest.fixture
def customs(contracts: Any, deployed: Any) -> dict[str, LocalAccount]:
    """The deployment's authorities (customs of NL, JP, SG), and the cast registered by NL customs."""
    authorities = {a["country"]: Account.from_key(ANVIL_AUTHORITY_KEYS[a["address"]]) for a in deployed.authorities}
    for account, roles in ((EXPORTER, Role.EXPORTER), (CARRIER, Role.CARRIER)):
        call = contracts.registry.functions.registerParty(account.address, int(roles), identifiers_hash({"n": "1"}))
        contracts.w3.eth.wait_for_transaction_receipt(call.transact({"from": authorities["NL"].address}))
    return authorities


def test_the_route_rules_refuse_on_both_sides_alike_and_end_in_the_same_route(contracts, customs):
    nl_jp = Both(contracts, "6NL123456789-ROUTE-1")
    assert nl_jp.put(RecordKind.DECLARATION, EXPORTER, ("NL", "NL")) == "SAME_ORIGIN_AND_DESTINATION"
    assert nl_jp.put(RecordKind.DECLARATION, EXPORTER, ("NL",)) == "INVALID_ROUTE_LENGTH"
    assert nl_jp.put(RecordKind.DECLARATION, EXPORTER, ("NL", "JP")) is None
    assert nl_jp.put(RecordKind.CUSTOMS_DECISION, customs["JP"]) is None  # the destination's customs
    assert nl_jp.put(RecordKind.CUSTOMS_DECISION, customs["SG"]) == "NOT_ON_ROUTE"
    assert nl_jp.put(RecordKind.REVOCATION, customs["SG"]) == "NOT_ON_ROUTE"
    assert nl_jp.put(RecordKind.CUSTOMS_DECISION, customs["NL"], ("NL",)) == "INVALID_ROUTE_LENGTH"
    assert nl_jp.put(RecordKind.TRANSIT, CARRIER, ("SG",)) == "NOT_CUSTODIAN"
    assert nl_jp.put(RecordKind.TRANSIT, EXPORTER, ("SG",), counterparty=CARRIER.address) == "INVALID_COUNTERPARTY"
    assert nl_jp.put(RecordKind.TRANSIT, customs["NL"], ("SG",)) == "NOT_CUSTODIAN"
    assert nl_jp.put(RecordKind.TRANSIT, EXPORTER, ("SG", "NL", "LK")) is None
    assert nl_jp.state.route == ("NL", "JP", "SG", "LK")
    assert nl_jp.put(RecordKind.CUSTOMS_DECISION, customs["SG"]) is None  # a transit country's customs now
    assert nl_jp.put(RecordKind.REVOCATION, customs["SG"]) is None
    # The custodian hands over; the carrier, custodian once it accepts, declares transit too.
    assert nl_jp.put(RecordKind.HANDOVER, EXPORTER, counterparty=CARRIER.address) is None
    assert nl_jp.put(RecordKind.TRANSIT, CARRIER, ("EG",)) == "NOT_CUSTODIAN"
    assert nl_jp.put(RecordKind.ACCEPTANCE, CARRIER, counterparty=EXPORTER.address) is None
    assert nl_jp.put(RecordKind.TRANSIT, CARRIER, SIXTEEN[:14]) is None
    assert nl_jp.put(RecordKind.TRANSIT, CARRIER, ("SG", "EG")) == "ROUTE_FULL"  # 2 + 14 + EG would be 17
    assert nl_jp.put(RecordKind.TRANSIT, CARRIER, ("SG", "JP")) is None  # nothing new: nothing to hold
    assert len(nl_jp.state.transits) == 16
