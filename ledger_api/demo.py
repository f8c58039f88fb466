"""The demo consignments that `make run` seeds on a new chain: an exporter in Japan ships
to an importer in the Netherlands, with a Japanese ocean carrier and a Dutch rail operator,
Japan Customs releasing for export and Dutch customs for import, both under an EU-Japan
style mutual recognition arrangement.

Consignments:
  ...-0001  delivered: declared, released for export, two custody hops, released for import
  ...-0002  in transit: handed to the rail operator, not yet accepted
  ...-0003  broken: the rail operator accepts with other seals and no explanation
  ...-0004  delivered, a second shipment, via Singapore: the ocean carrier declares the transit
  ...-0005  declared and released for export, still with the exporter

The parties' keys are derived from public names: this is demo data, on a local chain.
Registrations and the MRA are sent as the authorities themselves (anvil's unlocked
development accounts); every record goes through the service's API like any other.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils.crypto import keccak
from web3 import HTTPProvider, Web3

from ledger_api.chain.contracts import Contracts
from ledger_api.chain.deploy import Manifest, load_config
from ledger_api.client import ClientError, LedgerClient
from ledger_api.domain.parties import Role, identifiers_hash
from ledger_api.domain.records import ZERO_ADDRESS
from ledger_api.settings import DEV_DEPLOYMENT_CONFIG

log = logging.getLogger(__name__)

UCR_PREFIX = "6JP7010001008-DEMO-"
# Keys of anvil's development accounts 1-3, the authorities of config/deployment.dev.yaml
# (mnemonic "test test … junk"; public, local chains only).
ANVIL_AUTHORITY_KEYS = {
    "0x70997970C51812dc3A010C7d01b50e0d17dc79C8": "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC": "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x90F79bf6EB2c4f870365E785982E1f101E93b906": "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
}
AEO_VALID_DAYS = 3 * 365


@dataclass(frozen=True)
class DemoParty:
    name: str
    country: str
    roles: int
    identifiers: dict[str, str]

    @property
    def account(self) -> LocalAccount:
        account: LocalAccount = Account.from_key(keccak(text=f"customs provenance ledger demo: {self.name}"))
        return account


# Identifiers as registration carries them (their hash is on chain): the legal name, and the
# numbers each has — a Japanese corporate number, an LEI (ISO 17442, valid check digits),
# Dutch EORIs and GS1 GLNs (valid check digits). Invented, like the companies.
EXPORTER_P = DemoParty(
    "Sakura Precision KK",
    "JP",
    Role.EXPORTER,
    {"name": "Sakura Precision KK", "corporate_number": "7010001008844", "lei": "353800SKRPRC7Q1D0J45"},
)
OCEAN = DemoParty(
    "Nippon Ocean Lines",
    "JP",
    Role.CARRIER,
    {
        "name": "Nippon Ocean Lines KK",
        "corporate_number": "1010401012345",
        "lei": "353800NPPNOCLN4X8W32",
        "scac": "NOLU",
    },
)
RAIL = DemoParty(
    "Rotterdam Hinterland Rail BV",
    "NL",
    Role.CARRIER,
    {"name": "Rotterdam Hinterland Rail B.V.", "eori": "NL811223344", "gln": "8718501001014"},
)
IMPORTER_P = DemoParty(
    "Delta Distribution BV",
    "NL",
    Role.IMPORTER,
    {"name": "Delta Distribution B.V.", "eori": "NL855667788", "gln": "8718502001020"},
)
PARTIES = (EXPORTER_P, OCEAN, RAIL, IMPORTER_P)


def declaration(ucr: str, seal: str) -> dict[str, Any]:
    """The demo's declaration; it and the custody and decision payloads below are the
    benchmarks' records too (ledger_bench)."""
    return {
        "schema_version": "1",
        "kind": "DECLARATION",
        "ucr": ucr,
        "exporter": {
            "name": EXPORTER_P.name,
            "address": "2-3-1 Minatomirai, Nishi-ku, Yokohama",
            "country": "JP",
            "identifier": {"scheme": "OTHER", "value": "7010001008844"},
        },
        "consignee": {"name": IMPORTER_P.name, "address": "Waalhaven Zuidzijde 19, Rotterdam", "country": "NL"},
        "origin_country": "JP",
        "destination_country": "NL",
        "goods": [
            {
                "line_number": 1,
                "hs_code": "848210",
                "description": "Ball bearings",
                "quantity": "4000",
                "quantity_unit": "PCE",
                "gross_mass_kg": "1250",
                "value": "38000",
                "currency": "JPY",
            },
            {
                "line_number": 2,
                "hs_code": "903180",
                "description": "Measuring instruments, optical",
                "quantity": "40",
                "quantity_unit": "PCE",
                "gross_mass_kg": "210.5",
                "value": "5200000",
                "currency": "JPY",
            },
        ],
        "containers": ["CSQU3054383"],
        "seals": [seal],
    }


def custody(ucr: str, kind: str, where: str, when: str, means: str, seal: str) -> dict[str, Any]:
    mode = "rail" if means.startswith("TRAIN") else "sea"
    return {
        "schema_version": "1",
        "kind": kind,
        "ucr": ucr,
        "location": where,
        "time": when,
        "transport": {"mode": mode, "means_id": means},
        "containers": ["CSQU3054383"],
        "seals": [seal],
    }


def decision(ucr: str, country: str, office: str, decision: str, when: str) -> dict[str, Any]:
    return {
        "schema_version": "1",
        "kind": "CUSTOMS_DECISION",
        "ucr": ucr,
        "authority_country": country,
        "customs_office": office,
        "decision": decision,
        "inspection": {"method": "DOCUMENTARY", "result": "CONFORM"},
        "time": when,
    }


def transit(ucr: str, countries: list[str], when: str, where: str) -> dict[str, Any]:
    return {
        "schema_version": "1",
        "kind": "TRANSIT",
        "ucr": ucr,
        "transit_countries": countries,
        "time": when,
        "location": where,
        "reason": "transhipment",
    }


def register_on_chain(w3: Web3, manifest: Manifest, build_dir: Any) -> dict[str, LocalAccount]:
    """Registers the demo parties, the exporter's AEO certificate and the JP-NL MRA, as
    the authorities of the deployment config (unlocked accounts of the local chain)."""
    contracts = Contracts.load(w3, manifest, build_dir)
    registry, recognition = contracts.registry, contracts.recognition
    authority = {a["country"]: a["address"] for a in manifest.authorities}

    def send(fn: Any, sender: str) -> None:
        receipt = w3.eth.wait_for_transaction_receipt(fn.transact({"from": sender}))
        if receipt["status"] != 1:
            raise RuntimeError(f"demo setup transaction reverted: {fn.fn_name}")

    for party in PARTIES:
        if registry.functions.partyOf(party.account.address).call()[2] == 0:
            # As an int: web3 takes an IntFlag, which iterates over its flags, for a list.
            send(
                registry.functions.registerParty(
                    party.account.address, int(party.roles), identifiers_hash(party.identifiers)
                ),
                authority[party.country],
            )
    now = int(time.time())
    if recognition.functions.certificateOf(EXPORTER_P.account.address).call()[4] == 0:
        send(
            recognition.functions.issueCertificate(
                EXPORTER_P.account.address,
                b"JP-AEO-EXPORTER".ljust(32, b"\0"),
                now - 86400,
                now + AEO_VALID_DAYS * 86400,
            ),
            authority["JP"],
        )
    if not recognition.functions.arrangementsBetween(b"JP", b"NL").call():
        # AEO status only (no recognised controls), as the EU-Japan agreement.
        send(recognition.functions.proposeArrangement(b"NL", now - 86400, 0), authority["JP"])
        send(recognition.functions.ratifyArrangement(1), authority["NL"])
    return {p.name: p.account for p in PARTIES}


def seed(url: str, manifest: Manifest, build_dir: Any, chain_url: str, issue_token: Callable[[str], str]) -> list[str]:
    """Seeds the demo consignments through the API at `url`, each party reading with a
    credential from `issue_token(address)`; returns the UCRs written."""
    authority_keys = {a["country"]: ANVIL_AUTHORITY_KEYS.get(a["address"]) for a in manifest.authorities}
    if not (authority_keys.get("JP") and authority_keys.get("NL")):
        raise RuntimeError("the demo needs the development deployment config (JP and NL authorities on anvil)")
    w3 = Web3(HTTPProvider(chain_url))
    register_on_chain(w3, manifest, build_dir)

    def client_of(account: LocalAccount) -> LedgerClient:
        return LedgerClient(url, account, token=issue_token(account.address))

    exporter, ocean, rail = (client_of(p.account) for p in (EXPORTER_P, OCEAN, RAIL))
    jp_customs = client_of(Account.from_key(authority_keys["JP"] or ""))
    nl_customs = client_of(Account.from_key(authority_keys["NL"] or ""))
    _wait_indexed(exporter, [p.account.address for p in PARTIES])
    _publish_identifiers(exporter, manifest)
    start = datetime.now(UTC).replace(microsecond=0)

    def at(minutes: int) -> str:
        # A consignment's events follow one another after the declaration is on chain (a
        # compressed voyage): real times, so the risk rules see no declaration after departure.
        return (start + timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z")

    ucrs = []
    for n in range(1, 6):
        ucr = f"{UCR_PREFIX}{n:04d}"
        seal, ship = f"JP-SEAL-{n:06d}", f"IMO93{n:05d}"
        arrival_seal = "NL-SEAL-990001" if n == 3 else seal  # 3: other seals, no reason given
        steps: list[tuple[LedgerClient, dict[str, Any], str]] = [
            (exporter, declaration(ucr, seal), ZERO_ADDRESS),
            (jp_customs, decision(ucr, "JP", "JPYOK", "EXPORT_RELEASE", at(1)), ZERO_ADDRESS),
        ]
        if n != 5:  # 5: released for export, not handed over yet
            steps += [
                (exporter, custody(ucr, "HANDOVER", "JPYOK", at(2), ship, seal), ocean.address),
                (ocean, custody(ucr, "ACCEPTANCE", "JPYOK", at(3), ship, seal), exporter.address),
            ]
            if n == 4:  # 4: transhipped in Singapore, which the custodian adds to the route
                steps.append((ocean, transit(ucr, ["SG"], at(3), "JPYOK"), ZERO_ADDRESS))
            steps.append((ocean, custody(ucr, "HANDOVER", "NLRTM", at(4), ship, seal), rail.address))
        if n not in (2, 5):  # 2: in transit, the rail operator has not accepted yet
            steps.append((rail, custody(ucr, "ACCEPTANCE", "NLRTM", at(5), "TRAIN-4471", arrival_seal), ocean.address))
        if n not in (2, 3, 5):  # 3: the broken chain, not released for import
            steps.append((nl_customs, decision(ucr, "NL", "NL000396", "IMPORT_RELEASE", at(6)), ZERO_ADDRESS))
        # An earlier start may have seeded part of it (stopped with Ctrl-C): go on from there.
        seeded = exporter.consignment(ucr)
        done = len(seeded["records"]) if seeded else 0
        for client, payload, counterparty in steps[done:]:
            client.submit(payload, counterparty=counterparty)
        if done < len(steps):
            ucrs.append(ucr)
    for client in (exporter, ocean, rail, jp_customs, nl_customs):
        client.close()
    log.info("demo consignments seeded: %s", ", ".join(ucrs) or "already there")
    return ucrs


def _wait_indexed(client: LedgerClient, addresses: list[str], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    for address in addresses:
        while client.http.get(f"/v1/parties/{address}").status_code != 200:
            if time.monotonic() > deadline:
                raise RuntimeError(f"party {address} did not appear in the index")
            time.sleep(0.05)


def _publish_identifiers(client: LedgerClient, manifest: Manifest) -> None:
    """Gives the service the demo parties' and the authorities' identifiers, which were
    registered on chain by their hash only, so that it shows them by name."""
    known = {a.address: a.identifiers for a in load_config(DEV_DEPLOYMENT_CONFIG).authorities}
    named: dict[str, dict[str, str]] = {p.account.address: p.identifiers for p in PARTIES}
    named |= {a["address"]: known[a["address"]] for a in manifest.authorities if a["address"] in known}
    for address, identifiers in named.items():
        try:
            client.publish_identifiers(address, identifiers)
        except ClientError as exc:  # registered earlier with other identifiers: shown by address
            log.warning("identifiers of %s not taken: %s", address, exc)
