"""`ledger verify-bundle --rpc`: a genuine bundle of the demo service is not contradicted
by its chain, and forged ones are, each contradiction named: a batch root anchored by an
account no authority published as its relayer, or never anchored; party histories the
registry does not show; the EIP-712 domain of another ledger deployment; a payload hash
that is not the chain's."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from eth_utils.address import to_checksum_address
from support.demo_service import DELIVERED, DemoService
from support.service import wait_until
from typer.testing import CliRunner
from web3 import HTTPProvider, Web3

from ledger_api import demo
from ledger_api.chain.artifacts import load_artifact
from ledger_api.chain.bundle_facts import EVENTS, VIEWS
from ledger_api.chain.deploy import Sender
from ledger_api.cli import app
from ledger_api.client import LedgerClient
from ledger_api.domain.merkle import MerkleTree
from ledger_api.domain.records import ZERO_HASH
from ledger_api.settings import PROJECT_ROOT

ENV = {"COLUMNS": "250", "NO_COLOR": "1"}


def run(demo_service: DemoService, *args: str) -> Result:
    http, _ = demo_service
    env = dict(ENV)
    authorization = http.headers.get("Authorization", "")
    if authorization.startswith("Bearer "):
        env["LEDGER_TOKEN"] = authorization.removeprefix("Bearer ")
    return CliRunner().invoke(app, ["--url", str(http.base_url).rstrip("/"), *args], env=env)


def check(demo_service: DemoService, bundle: dict[str, Any], folder: Path, *options: str) -> Result:
    _, rt = demo_service
    assert rt.node is not None
    path = folder / f"bundle-{time.time_ns()}.json"
    path.write_text(json.dumps(bundle))
    return CliRunner().invoke(app, ["verify-bundle", str(path), "--rpc", rt.node.url, *options], env=ENV)


def contradicted(result: Result) -> list[str]:
    return [line.strip() for line in result.stdout.splitlines() if "✗ CONTRADICTED" in line]


@pytest.fixture(scope="module")
def genuine(demo_service: DemoService, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    evidence = tmp_path_factory.mktemp("genuine") / "evidence.json"
    result = run(demo_service, "verify", DELIVERED, "--country", "NL", "--evidence-out", str(evidence))
    assert result.exit_code == 0, result.output
    return dict(json.loads(evidence.read_bytes()))


@pytest.fixture(scope="module")
def genuine_batch(demo_service: DemoService, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A declaration the service anchored in a batch, and its bundle."""
    http, rt = demo_service
    assert rt.credentials is not None
    ucr = f"{demo.UCR_PREFIX}0911"
    token = rt.credentials.issue(demo.EXPORTER_P.account.address)
    exporter = LedgerClient(str(http.base_url).rstrip("/"), demo.EXPORTER_P.account, token=token)
    try:
        signed = exporter.sign(
            demo.declaration(ucr, "JP-SEAL-000911"), previous=ZERO_HASH, nonce=time.time_ns() // 1000
        )
        exporter.post_batch([signed])
        wait_until(
            lambda: http.get(f"/v1/records/{signed.id}").json().get("status") == "confirmed",
            what="the batch record confirmed",
        )
    finally:
        exporter.close()
    evidence = tmp_path_factory.mktemp("batch") / "evidence.json"
    result = run(demo_service, "verify", ucr, "--country", "NL", "--evidence-out", str(evidence))
    assert result.exit_code == 5, result.output  # a declaration alone: no export release yet
    bundle = dict(json.loads(evidence.read_bytes()))
    assert [r["mode"] for r in bundle["records"]] == ["batch"]
    return bundle


def web3_of(demo_service: DemoService) -> Web3:
    _, rt = demo_service
    assert rt.node is not None
    return Web3(HTTPProvider(rt.node.url, request_kwargs={"timeout": 30}))


def test_a_genuine_bundle_is_contradicted_in_nothing_with_the_ledger_from_the_bundle_or_pinned(
    demo_service: DemoService, genuine: dict[str, Any], tmp_path: Path
):
    _, rt = demo_service
    assert rt.manifest is not None
    ledger = rt.manifest.address("ConsignmentLedger")
    for options in ([], ["--ledger", ledger], ["--manifest", str(rt.settings.manifest_file)]):
        result = check(demo_service, genuine, tmp_path, *options)
        assert result.exit_code == 0, result.output
        assert not contradicted(result)
        assert "the chain contradicts none of the bundle's claims" in result.stdout
        assert f"ledger {ledger}" in result.stdout
    assert "the bundle's (give --ledger or --manifest" in check(demo_service, genuine, tmp_path).stdout


def test_a_genuine_batch_bundle_is_contradicted_in_nothing(
    demo_service: DemoService, genuine_batch: dict[str, Any], tmp_path: Path
):
    result = check(demo_service, genuine_batch, tmp_path)
    assert result.exit_code == 5, result.output  # the chain holds it; the verdict is not VERIFIED
    assert not contradicted(result) and "the chain contradicts none" in result.stdout


def test_a_batch_root_anchored_by_an_account_no_authority_published_is_contradicted(
    demo_service: DemoService, genuine_batch: dict[str, Any], tmp_path: Path
):
    _, rt = demo_service
    assert rt.manifest is not None
    w3 = web3_of(demo_service)
    relayer = demo_relayer(rt)
    forger = next(a for a in reversed(w3.eth.accounts) if a != relayer)
    record = genuine_batch["records"][0]
    # The forger's own tree over the genuine record: a root no instance's relayer anchored.
    other = bytes(range(32))
    tree = MerkleTree([bytes.fromhex(record["id"][2:]), other])
    ledger = w3.eth.contract(
        address=to_checksum_address(rt.manifest.address("ConsignmentLedger")),
        abi=load_artifact(PROJECT_ROOT / "build", "ConsignmentLedger").abi,
    )
    receipt = Sender(w3, forger).call(ledger, "anchorRoot", tree.root, 2)
    forged = copy.deepcopy(genuine_batch)
    item = forged["records"][0]
    item.update(
        batch_root="0x" + tree.root.hex(),
        inclusion_proof=["0x" + p.hex() for p in tree.proof(bytes.fromhex(record["id"][2:]))],
        root_anchored_block=receipt["blockNumber"],
        block_number=receipt["blockNumber"],
        block_hash="0x" + bytes(receipt["blockHash"]).hex(),
    )
    forged["as_of_block"] = receipt["blockNumber"]  # as the forger would: its anchor is later than the bundle
    result = check(demo_service, forged, tmp_path)
    assert result.exit_code == 6, result.output
    (line,) = contradicted(result)
    assert line.startswith(f"✗ CONTRADICTED  ANCHORER_NOT_RELAYER record {record['id']}")
    assert f"anchored by {forger}" in line and "no customs authority had published" in line


def demo_relayer(rt: Any) -> str:
    from eth_account import Account

    return str(Account.from_key(rt.settings.relayer_secret).address)


def test_a_batch_root_never_anchored_is_contradicted(
    demo_service: DemoService, genuine_batch: dict[str, Any], tmp_path: Path
):
    record = genuine_batch["records"][0]
    tree = MerkleTree([bytes.fromhex(record["id"][2:]), bytes(range(1, 33))])
    forged = copy.deepcopy(genuine_batch)
    forged["records"][0].update(
        batch_root="0x" + tree.root.hex(),
        inclusion_proof=["0x" + p.hex() for p in tree.proof(bytes.fromhex(record["id"][2:]))],
    )
    result = check(demo_service, forged, tmp_path)
    assert result.exit_code == 6, result.output
    (line,) = contradicted(result)
    assert f"ROOT_NOT_ANCHORED record {record['id']}" in line and "0x" + tree.root.hex() in line


def test_roles_the_registry_does_not_show_at_that_block_are_contradicted(
    demo_service: DemoService, genuine: dict[str, Any], tmp_path: Path
):
    forged = copy.deepcopy(genuine)
    declaration = forged["records"][0]
    exporter = declaration["record"]["party"]
    party = next(p for p in forged["parties"] if p["address"] == exporter)
    real_roles = party["history"][0]["roles"]
    # A foreign history: the exporter a customs authority too (PartyRoles.CUSTOMS), from registration on.
    for checkpoint in party["history"]:
        checkpoint["roles"] |= 1 << 5
    result = check(demo_service, forged, tmp_path)
    assert result.exit_code == 6, result.output
    lines = contradicted(result)
    history = [line for line in lines if f"PARTY_HISTORY party {exporter}" in line]
    assert history and f"the registry has roles {real_roles:#x} Active" in history[0]
    signer = next(line for line in lines if f"SIGNER_STATE record {declaration['id']}" in line)
    assert f"its signer {exporter} had roles {real_roles:#x} Active at block {declaration['block_number']}" in signer
    assert all("PARTY_HISTORY" in line or "SIGNER_STATE" in line for line in lines)


def test_the_domain_of_another_ledger_deployment_is_contradicted(
    demo_service: DemoService, genuine: dict[str, Any], tmp_path: Path
):
    _, rt = demo_service
    assert rt.manifest is not None
    w3 = web3_of(demo_service)
    consortium = rt.manifest.address("ConsignmentLedger")
    # Another deployment of the same contract, on the same registry: code of the same build.
    other, _ = Sender(w3, w3.eth.accounts[0]).deploy(
        load_artifact(PROJECT_ROOT / "build", "ConsignmentLedger"), rt.manifest.address("PartyRegistry")
    )
    forged = copy.deepcopy(genuine)
    forged["eip712_domain"]["verifyingContract"] = other
    forged["contracts"]["ConsignmentLedger"] = other

    pinned = check(demo_service, forged, tmp_path, "--ledger", consortium)
    assert pinned.exit_code == 6, pinned.output
    lines = contradicted(pinned)
    assert any(
        line.startswith("✗ CONTRADICTED  EIP712_DOMAIN verifyingContract")
        and f"the bundle's domain names {other}, the consortium's ledger is {consortium}" in line
        for line in lines
    ), lines
    by_manifest = check(demo_service, forged, tmp_path, "--manifest", str(rt.settings.manifest_file))
    assert by_manifest.exit_code == 6
    assert any(
        f"CONTRACTS_WIRING ConsignmentLedger: the consortium's is {consortium}" in x for x in contradicted(by_manifest)
    )

    # Not pinned, the bundle's own ledger is asked: it never wrote these records.
    unpinned = check(demo_service, forged, tmp_path)
    assert unpinned.exit_code == 6, unpinned.output
    lines = contradicted(unpinned)
    not_written = [line for line in lines if "RECORD_NOT_ON_CHAIN" in line]
    assert len(not_written) == len(genuine["records"])


def test_a_payload_hash_that_is_not_the_chains_is_contradicted(
    demo_service: DemoService, genuine: dict[str, Any], tmp_path: Path
):
    forged = copy.deepcopy(genuine)
    record = forged["records"][1]
    real = record["record"]["payloadHash"]
    record["record"]["payloadHash"] = "0x" + "42" * 32
    result = check(demo_service, forged, tmp_path)
    assert result.exit_code == 6, result.output
    (line,) = contradicted(result)
    assert line == (
        f"✗ CONTRADICTED  RECORD_FIELDS record {record['id']}: payloadHash is {real} on chain, "
        f"the bundle says 0x{'42' * 32}"
    )


def test_ledger_and_manifest_go_with_rpc_and_not_together(genuine: dict[str, Any], tmp_path: Path):
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(genuine))
    alone = CliRunner().invoke(app, ["verify-bundle", str(path), "--ledger", "0x" + "11" * 20], env=ENV)
    assert alone.exit_code == 2
    both = CliRunner().invoke(
        app,
        ["verify-bundle", str(path), "--rpc", "http://127.0.0.1:9", "--ledger", "0x" + "11" * 20, "--manifest", "m"],
        env=ENV,
    )
    assert both.exit_code == 2


def test_the_views_and_events_the_chain_reads_use_are_those_of_the_build():
    def signature(entry: dict[str, Any]) -> str:
        def kind(i: dict[str, Any]) -> str:
            if i["type"].startswith("tuple"):
                return "(" + ",".join(kind(c) for c in i["components"]) + ")" + i["type"][5:]
            return str(i["type"])

        return f"{entry['name']}({','.join(kind(i) for i in entry['inputs'])})"

    functions: set[str] = set()
    events: set[str] = set()
    for name in ("ConsignmentLedger", "PartyRegistry", "RecognitionRegistry"):
        abi = load_artifact(PROJECT_ROOT / "build", name).abi
        functions |= {signature(e) for e in abi if e["type"] == "function"}
        events |= {signature(e) for e in abi if e["type"] == "event"}
    assert set(VIEWS) <= functions, set(VIEWS) - functions
    assert set(EVENTS) <= events, set(EVENTS) - events
