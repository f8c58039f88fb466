"""Gas per ledger operation, measured on a fresh anvil from the same deployment code the
service uses. Prints a table and writes it into docs/benchmarks.md.

    make gas        (or: .venv/bin/python -m scripts.bench_gas)

"First" is a party's first write on the ledger (its nonce slot goes from zero);
"steady" is any later one, the usual case.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml
from eth_account import Account
from eth_utils import keccak
from web3 import HTTPProvider, Web3

from ledger_api.chain.contracts import Contracts
from ledger_api.chain.deploy import Sender, ensure_deployed, load_config
from ledger_api.chain.node import AnvilNode
from ledger_api.domain.merkle import MerkleTree
from ledger_api.domain.parties import identifiers_hash
from ledger_api.domain.records import ZERO_ADDRESS, Record, RecordKind, consignment_key, sign_record
from ledger_api.settings import DEV_DEPLOYMENT_CONFIG, PROJECT_ROOT
from ledger_bench.docs import write_section

BENCHMARKS = PROJECT_ROOT / "docs" / "benchmarks.md"

# Peer ledgers' figures on anvil 1.7.1, as given in the contracts issue (#2).
OA_ISSUE = 48_168
TT_TRANSFER_HOLDER = 78_010
TT_TWO_PARTY = 138_653
TARGET_RECORD = 110_000

EXPORTER, CARRIER, CARRIER2, CUSTOMS_OFFICER = 1, 2, 2, 32
# The parties are NL's (registered by NL customs): the consignments go from NL to JP.
DECLARED_ROUTE = ("NL", "JP")


class Bench:
    def __init__(self, w3: Web3, contracts: Contracts, relayer: str) -> None:
        self.w3, self.c, self.relayer = w3, contracts, relayer
        self.domain = contracts.ledger_domain

    def send(self, fn: Any, sender: str) -> Any:
        tx_hash = fn.transact({"from": sender})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, poll_latency=0.02)
        assert receipt["status"] == 1, f"transaction reverted: {fn}"
        return receipt

    def record(
        self,
        key: bytes,
        ucr: str,
        kind: RecordKind,
        counterparty: str = ZERO_ADDRESS,
        previous: bytes | None = None,
        nonce: int | None = None,
        route: tuple[str, ...] | None = None,
    ) -> tuple[Record, bytes]:
        party = Account.from_key(key).address
        cons = consignment_key(ucr)
        head = bytes(self.c.ledger.functions.consignmentOf(cons).call()[0])
        rec = Record(
            consignment=cons,
            kind=kind,
            payload_hash=keccak(text=f"{ucr}/{kind.name}/{time.time_ns()}"),
            previous=head if previous is None else previous,
            party=party,
            counterparty=counterparty,
            nonce=self.c.ledger.functions.nonces(party).call() if nonce is None else nonce,
            deadline=int(time.time()) + 3600,
            route=(DECLARED_ROUTE if kind == RecordKind.DECLARATION else ()) if route is None else route,
        )
        return rec, sign_record(rec, self.domain, key)

    def write(
        self,
        key: bytes,
        ucr: str,
        kind: RecordKind,
        counterparty: str = ZERO_ADDRESS,
        route: tuple[str, ...] | None = None,
    ) -> int:
        rec, sig = self.record(key, ucr, kind, counterparty, route=route)
        return int(self.send(self.c.ledger.functions.write(rec.as_tuple(), sig), self.relayer)["gasUsed"])

    def hop(self, from_key: bytes, to_key: bytes, ucr: str) -> int:
        to = Account.from_key(to_key).address
        handover, h_sig = self.record(from_key, ucr, RecordKind.HANDOVER, counterparty=to)
        h_id = self.c.ledger.functions.recordId(handover.as_tuple()).call()
        acceptance, a_sig = self.record(
            to_key, ucr, RecordKind.ACCEPTANCE, counterparty=Account.from_key(from_key).address, previous=h_id
        )
        fn = self.c.ledger.functions.writeHop(handover.as_tuple(), h_sig, acceptance.as_tuple(), a_sig)
        return int(self.send(fn, self.relayer)["gasUsed"])


Row = tuple[str, int, str]


def measure() -> list[Row]:
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp, AnvilNode(Path(tmp)) as node:
        w3 = Web3(HTTPProvider(node.url))
        accounts = w3.eth.accounts
        manifest, _ = ensure_deployed(
            w3,
            Sender(w3, accounts[0]),
            load_config(DEV_DEPLOYMENT_CONFIG),
            PROJECT_ROOT / "build",
            Path(tmp) / "deployment.json",
        )
        contracts = Contracts.load(w3, manifest, PROJECT_ROOT / "build")
        bench = Bench(w3, contracts, relayer=accounts[9])
        authority = manifest.authorities[0]["address"]  # NL customs, an unlocked anvil account

        keys = {name: keccak(text=f"gas bench {name}") for name in ("exporter", "carrier", "carrier2", "officer")}
        roles = {"exporter": EXPORTER, "carrier": CARRIER, "carrier2": CARRIER2, "officer": CUSTOMS_OFFICER}
        for name, key in keys.items():
            receipt = bench.send(
                contracts.registry.functions.registerParty(
                    Account.from_key(key).address, roles[name], identifiers_hash({"name": name})
                ),
                authority,
            )
        rows.append(("PartyRegistry.registerParty", int(receipt["gasUsed"]), "authority registers a trader"))

        addr = {name: Account.from_key(k).address for name, k in keys.items()}
        rows.append(
            ("declaration, exporter's first record", bench.write(keys["exporter"], "UCR-A", RecordKind.DECLARATION), "")
        )
        rows.append(("declaration, steady", bench.write(keys["exporter"], "UCR-B", RecordKind.DECLARATION), ""))
        bench.write(keys["exporter"], "UCR-C", RecordKind.DECLARATION)
        handover = bench.write(keys["exporter"], "UCR-A", RecordKind.HANDOVER, addr["carrier"])
        acceptance = bench.write(keys["carrier"], "UCR-A", RecordKind.ACCEPTANCE, addr["exporter"])
        rows.append(("handover, steady", handover, ""))
        rows.append(("acceptance, carrier's first record", acceptance, ""))
        handover2 = bench.write(keys["exporter"], "UCR-B", RecordKind.HANDOVER, addr["carrier"])
        acceptance2 = bench.write(keys["carrier"], "UCR-B", RecordKind.ACCEPTANCE, addr["exporter"])
        rows.append(("acceptance, steady", acceptance2, ""))
        rows.append(("custody hop as two transactions, steady", handover2 + acceptance2, "handover + acceptance"))
        rows.append(
            (
                "custody hop in one transaction (writeHop), receiver's first record",
                bench.hop(keys["carrier"], keys["carrier2"], "UCR-A"),
                "both parties sign",
            )
        )
        rows.append(
            (
                "custody hop in one transaction (writeHop), steady",
                bench.hop(keys["exporter"], keys["carrier2"], "UCR-C"),
                "both parties sign",
            )
        )
        rows.append(
            (
                "customs decision, officer's first record",
                bench.write(keys["officer"], "UCR-B", RecordKind.CUSTOMS_DECISION),
                "",
            )
        )
        rows.append(
            ("customs decision, steady", bench.write(keys["officer"], "UCR-C", RecordKind.CUSTOMS_DECISION), "")
        )
        # The custodian of UCR-C (carrier2 since the last hop) adds transit countries.
        rows.append(
            (
                "transit, the route's first transit country, steady",
                bench.write(keys["carrier2"], "UCR-C", RecordKind.TRANSIT, route=("DE",)),
                "the transit slot from zero",
            )
        )
        rows.append(
            (
                "transit, four more countries, steady",
                bench.write(keys["carrier2"], "UCR-C", RecordKind.TRANSIT, route=("PL", "BY", "KZ", "CN")),
                "the transit slot written before",
            )
        )
        # Packs of single records (the relayer's writeMany): each record still checked as
        # `write` checks it; one transaction's 21,000 base gas and calldata shared.
        for size in (10, 50):
            pack = [
                bench.record(
                    keys["exporter"],
                    f"UCR-PACK-{size}-{i}",
                    RecordKind.DECLARATION,
                    nonce=contracts.ledger.functions.nonces(addr["exporter"]).call() + i,
                )
                for i in range(size)
            ]
            fn = contracts.ledger.functions.writeMany([r.as_tuple() for r, _ in pack], [sig for _, sig in pack])
            gas = int(bench.send(fn, bench.relayer)["gasUsed"])
            rows.append(
                (f"declaration, steady, per record in a writeMany pack of {size}", gas // size, "one transaction")
            )
        for size in (1, 100, 10_000):
            tree = MerkleTree([keccak(text=f"record {size} {i}") for i in range(size)])
            receipt = bench.send(contracts.ledger.functions.anchorRoot(tree.root, size), accounts[9])
            rows.append((f"Merkle anchor of {size:,} records", int(receipt["gasUsed"]), "one transaction"))
        rows += _intelligence_rows(w3, bench, contracts, [a["address"] for a in manifest.authorities], accounts[0])
    return rows


def _intelligence_rows(w3: Web3, bench: Bench, contracts: Contracts, authorities: list[str], admin: str) -> list[Row]:
    """Flags shared by NL customs (the first authority) with authorities of other countries:
    the config's, and six more the admin registers (recipients send nothing: any address)."""
    extra = [Account.from_key(keccak(text=f"gas bench authority {i}")).address for i in range(6)]
    for i, address in enumerate(extra):
        country = ("X" + chr(ord("A") + i)).encode()
        bench.send(
            contracts.registry.functions.registerAuthority(address, country, identifiers_hash({"name": address})), admin
        )
    author, recipients = authorities[0], [*authorities[1:], *extra]
    now = int(w3.eth.get_block("latest")["timestamp"])

    def share(n: int, recipients: list[str]) -> int:
        fn = contracts.intelligence.functions.shareFlag(
            keccak(text=f"flag {n}"), keccak(text=f"subject {n}"), 4, 2, now, now + 30 * 86_400, recipients
        )
        return int(bench.send(fn, author)["gasUsed"])

    rows: list[Row] = [
        ("IntelligenceLedger.shareFlag, the ledger's first flag, 2 recipients", share(1, recipients[:2]), ""),
        ("IntelligenceLedger.shareFlag, steady, 2 recipients", share(2, recipients[:2]), "authority shares a flag"),
        ("IntelligenceLedger.shareFlag, steady, 8 recipients", share(3, recipients[:8]), ""),
    ]
    receipt = bench.send(contracts.intelligence.functions.withdrawFlag(2), author)
    rows.append(("IntelligenceLedger.withdrawFlag", int(receipt["gasUsed"]), "by its author"))
    return rows


def _met(ok: bool) -> str:
    return "yes" if ok else "NO"


def render(rows: list[tuple[str, int, str]]) -> str:
    anvil_bin = str(PROJECT_ROOT / "node_modules/.bin/anvil")
    anvil = subprocess.run([anvil_bin, "--version"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    compiler = yaml.safe_load((PROJECT_ROOT / "brownie-config.yaml").read_text())["compiler"]
    runs = compiler["solc"]["optimizer"]["runs"]
    lines = [
        f"Measured by `make gas` on {anvil}, solc optimizer {runs:,} runs, EVM {compiler['evm_version']}.",
        "",
        "| operation | gas | note |",
        "|---|---:|---|",
    ]
    lines += [f"| {name} | {gas:,} | {note} |" for name, gas, note in rows]
    by_name = {name: gas for name, gas, _ in rows}
    anchor = max(gas for name, gas in by_name.items() if name.startswith("Merkle anchor"))
    single = ("declaration", "handover", "acceptance", "customs decision", "transit")
    record = max(gas for name, gas in by_name.items() if name.startswith(single) and "pack" not in name)
    packed = min(gas for name, gas in by_name.items() if "writeMany pack" in name)
    hop = by_name["custody hop in one transaction (writeHop), steady"]
    hop_first = by_name["custody hop in one transaction (writeHop), receiver's first record"]
    targets = [
        (
            "one Merkle anchor, any batch size ≤ OpenAttestation `issue(root)`",
            f"{OA_ISSUE:,}",
            f"{anchor:,}",
            _met(anchor <= OA_ISSUE),
        ),
        (
            f"one signed record, any kind, first or steady (largest) ≤ {TARGET_RECORD:,}",
            "—",
            f"{record:,}",
            _met(record <= TARGET_RECORD),
        ),
        (
            "one custody hop signed by both ≤ TradeTrust `nominate` + `transferBeneficiary`",
            f"{TT_TWO_PARTY:,}",
            f"{hop:,} (first: {hop_first:,})",
            _met(max(hop, hop_first) <= TT_TWO_PARTY),
        ),
        (
            f"a single record in a relayer's pack (writeMany, #17), steady ≤ {TARGET_RECORD:,}",
            "—",
            f"{packed:,}",
            _met(packed <= TARGET_RECORD),
        ),
        ("(for scale) TradeTrust `transferHolder`, one-sided", f"{TT_TRANSFER_HOLDER:,}", "—", ""),
    ]
    lines += ["", "| target (issue #2) | peer figure | ours | met |", "|---|---:|---:|---|"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in targets]
    return "\n".join(lines)


def main() -> None:
    table = render(measure())
    print(table)
    write_section(BENCHMARKS, "gas", table)
    print(f"\nwritten to {BENCHMARKS.relative_to(PROJECT_ROOT)}")


if __name__ == "__main__":
    main()
