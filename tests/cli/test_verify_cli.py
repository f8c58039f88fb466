"""`ledger verify`, `verify-receipt` and `verify-bundle` against the demo consignments: a
verdict with its checks and risk demo_service, a receipt that checks with the service's keys or a
JWKS file and refuses a flipped character, and an evidence bundle that re-derives the
verdict offline and whose anchors are confirmed on the demo service's chain."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from eth_utils.crypto import keccak
from support.demo_service import BROKEN, DELIVERED, DemoService
from support.service import wait_until
from typer.testing import CliRunner

from ledger_api import demo
from ledger_api.chain.anchors import ANCHORED_AT, RECORD_WRITTEN
from ledger_api.chain.artifacts import load_artifact
from ledger_api.cli import app
from ledger_api.client import LedgerClient
from ledger_api.domain.records import ZERO_HASH
from ledger_api.settings import PROJECT_ROOT


def run(demo_service: DemoService, *args: str) -> Result:
    http, _ = demo_service
    env = {"COLUMNS": "250", "NO_COLOR": "1"}
    # The demo service's client carries a credential when the service asks for one: the CLI sends it as --token.
    authorization = http.headers.get("Authorization", "")
    if authorization.startswith("Bearer "):
        env["LEDGER_TOKEN"] = authorization.removeprefix("Bearer ")
    return CliRunner().invoke(app, ["--url", str(http.base_url).rstrip("/"), *args], env=env)


@pytest.fixture(scope="module")
def delivered(demo_service: DemoService, tmp_path_factory: pytest.TempPathFactory) -> tuple[Result, Path, Path]:
    folder = tmp_path_factory.mktemp("verify")
    receipt, evidence = folder / "receipt.jws", folder / "evidence.json"
    result = run(
        demo_service,
        "verify",
        DELIVERED,
        "--country",
        "NL",
        "--receipt-out",
        str(receipt),
        "--evidence-out",
        str(evidence),
    )
    return result, receipt, evidence


def test_the_delivered_consignment_verifies_with_its_checks_lane_receipt_and_evidence(delivered):
    result, receipt, evidence = delivered
    assert result.exit_code == 0, result.output
    assert "✓ VERIFIED" in result.stdout
    for name in ("RECORD_SIGNATURE", "CUSTODY_CONTINUITY", "AEO_RECOGNITION", "CONFIRMATIONS"):
        assert name in result.stdout
    assert "✓ VALID" in result.stdout and "INVALID" not in result.stdout
    assert "lane: GREEN (score" in result.stdout and "fired rules" in result.stdout
    token = receipt.read_text()
    assert token.count(".") == 2 and "\n" not in token
    bundle = json.loads(evidence.read_bytes())
    assert bundle["ucr"] == DELIVERED and bundle["records"]


def test_the_broken_consignment_fails_on_unexplained_seals_and_exits_5(demo_service):
    result = run(demo_service, "verify", BROKEN, "--country", "NL")
    assert result.exit_code == 5, result.output
    assert "✗ FAILED" in result.stdout
    custody = next(line for line in result.stdout.splitlines() if "CUSTODY_CONTINUITY" in line)
    assert "✗ INVALID" in custody and "SEAL_CHANGE_UNEXPLAINED" in custody
    assert "R004" in result.stdout


def test_verify_refuses_a_bad_ucr_or_country_before_asking(demo_service):
    assert run(demo_service, "verify", "not a ucr", "--country", "NL").exit_code == 2
    assert run(demo_service, "verify", DELIVERED, "--country", "nl").exit_code == 2


def test_an_unknown_consignment_is_refused_by_the_service_with_exit_1(demo_service):
    result = run(demo_service, "verify", "9ZZ000000000-NONE-0001", "--country", "NL")
    assert result.exit_code == 1, result.output


def test_the_receipt_verifies_against_the_service_keys(demo_service, delivered):
    _, receipt, evidence = delivered
    http, _ = demo_service
    result = run(demo_service, "verify-receipt", str(receipt), "--url", str(http.base_url))
    assert result.exit_code == 0, result.output
    assert "signature valid (kid " in result.stdout
    assert DELIVERED in result.stdout and "VERIFIED" in result.stdout and "GREEN" in result.stdout
    # The Dutch import release is the decision in force the receipt carries.
    assert "decision in force" in result.stdout and "IMPORT_RELEASE by customs of NL" in result.stdout
    from ledger_api.domain.receipts import evidence_hash

    assert evidence_hash(evidence.read_bytes()) in result.stdout


def test_the_receipt_verifies_offline_against_a_jwks_file(demo_service, delivered, tmp_path: Path):
    _, receipt, _ = delivered
    http, _ = demo_service
    jwks = tmp_path / "jwks.json"
    jwks.write_text(http.get("/v1/keys").text)
    # A service that cannot be reached: the check must not need it.
    result = CliRunner().invoke(
        app,
        ["--url", "http://127.0.0.1:9", "verify-receipt", str(receipt), "--jwks", str(jwks)],
        env={"COLUMNS": "250"},
    )
    assert result.exit_code == 0, result.output
    assert "signature valid (kid " in result.stdout


def test_a_receipt_with_one_flipped_character_in_its_claims_is_refused(demo_service, delivered, tmp_path: Path):
    _, receipt, _ = delivered
    http, _ = demo_service
    jwks = tmp_path / "jwks.json"
    jwks.write_text(http.get("/v1/keys").text)
    header, claims, signature = receipt.read_text().split(".")
    middle = len(claims) // 2
    flipped = "B" if claims[middle] != "B" else "C"
    tampered = tmp_path / "tampered.jws"
    tampered.write_text(".".join([header, claims[:middle] + flipped + claims[middle + 1 :], signature]))
    for source in (["--jwks", str(jwks)], ["--url", str(http.base_url)]):
        result = run(demo_service, "verify-receipt", str(tampered), *source)
        assert result.exit_code == 4, result.output
        assert (
            "BAD_SIGNATURE" in result.output
            and "is not a valid receipt" in result.output
            and "signature valid" not in result.output
        )


def test_verify_receipt_takes_keys_from_one_place(demo_service, delivered, tmp_path: Path):
    _, receipt, _ = delivered
    result = run(demo_service, "verify-receipt", str(receipt), "--jwks", str(tmp_path / "k.json"), "--url", "http://x")
    assert result.exit_code == 2


def test_the_evidence_bundle_re_derives_the_verdict_offline(delivered):
    _, _, evidence = delivered
    result = CliRunner().invoke(app, ["verify-bundle", str(evidence)], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert "✓ VERIFIED" in result.stdout and "CUSTODY_CONTINUITY" in result.stdout


def test_every_anchor_of_the_bundle_is_confirmed_on_the_demo_chain(demo_service, delivered):
    _, rt = demo_service
    _, _, evidence = delivered
    records = json.loads(evidence.read_bytes())["records"]
    result = CliRunner().invoke(app, ["verify-bundle", str(evidence), "--rpc", rt.node.url], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    assert result.stdout.count("✓ on chain") == len(records) + 1  # the chain id, then every record
    assert f"all {len(records) + 1} anchors confirmed" in result.stdout


def test_a_bundle_with_another_block_hash_is_contradicted_by_the_chain(demo_service, delivered, tmp_path: Path):
    _, rt = demo_service
    _, _, evidence = delivered
    bundle = json.loads(evidence.read_bytes())
    record = bundle["records"][1]
    record["block_hash"] = "0x" + "ab" * 32
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(bundle))
    offline = CliRunner().invoke(app, ["verify-bundle", str(changed)], env={"COLUMNS": "250"})
    assert offline.exit_code == 0, offline.output  # the block hash is the chain's word: only --rpc can tell
    result = CliRunner().invoke(app, ["verify-bundle", str(changed), "--rpc", rt.node.url], env={"COLUMNS": "250"})
    assert result.exit_code == 6, result.output
    wrong = next(line for line in result.stdout.splitlines() if "NOT AS SAID" in line)
    assert record["id"] in wrong and "0x" + "ab" * 32 in wrong
    assert "1 of" in result.output


def test_a_bundle_of_another_chain_is_contradicted(demo_service, delivered, tmp_path: Path):
    _, rt = demo_service
    _, _, evidence = delivered
    bundle = json.loads(evidence.read_bytes())
    bundle["chain_id"] += 1
    changed = tmp_path / "other-chain.json"
    changed.write_text(json.dumps(bundle))
    result = CliRunner().invoke(app, ["verify-bundle", str(changed), "--rpc", rt.node.url], env={"COLUMNS": "250"})
    assert result.exit_code == 6, result.output


def test_a_batch_record_is_confirmed_by_its_root_anchor_and_a_wrong_anchor_block_is_caught(
    demo_service: DemoService,
    tmp_path: Path,
):
    http, rt = demo_service
    ucr = f"{demo.UCR_PREFIX}0901"
    token = rt.credentials.issue(demo.EXPORTER_P.account.address)  # a batch goes with its party's credential
    exporter = LedgerClient(str(http.base_url).rstrip("/"), demo.EXPORTER_P.account, token=token)
    try:
        # A declaration opens its consignment: previous is the zero hash, no need to ask.
        declaration = demo.declaration(ucr, "JP-SEAL-000901")
        signed = exporter.sign(declaration, previous=ZERO_HASH, nonce=time.time_ns() // 1000)
        exporter.post_batch([signed])
        wait_until(
            lambda: http.get(f"/v1/records/{signed.id}").json().get("status") == "confirmed",
            what="the batch record confirmed",
        )
    finally:
        exporter.close()
    evidence = tmp_path / "batch.json"
    verified = run(demo_service, "verify", ucr, "--country", "NL", "--evidence-out", str(evidence))
    assert verified.exit_code == 5, verified.output  # a declaration alone: no export release yet
    bundle = json.loads(evidence.read_bytes())
    (record,) = bundle["records"]
    assert record["mode"] == "batch" and record["root_anchored_block"] is not None

    result = CliRunner().invoke(app, ["verify-bundle", str(evidence), "--rpc", rt.node.url], env={"COLUMNS": "250"})
    assert result.exit_code == 5, result.output  # anchors hold; the verdict is not VERIFIED
    anchored = next(line for line in result.stdout.splitlines() if signed.id in line)
    assert "✓ on chain" in anchored and f"anchored at block {record['root_anchored_block']}" in anchored

    record["root_anchored_block"] += 1
    changed = tmp_path / "batch-changed.json"
    changed.write_text(json.dumps(bundle))
    result = CliRunner().invoke(app, ["verify-bundle", str(changed), "--rpc", rt.node.url], env={"COLUMNS": "250"})
    assert result.exit_code == 6, result.output
    assert "NOT AS SAID" in result.stdout


def test_an_unreachable_node_exits_3(delivered):
    _, _, evidence = delivered
    result = CliRunner().invoke(app, ["verify-bundle", str(evidence), "--rpc", "http://127.0.0.1:9"])
    assert result.exit_code == 3, result.output


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("this is not JSON {", "is not JSON"),
        ("[1, 2]", "a JSON object is expected"),
        ('{"version": 2}', "missing member"),
        ('{"version": 99}', "unsupported bundle version"),
        ('{"version": 1}', "unsupported bundle version"),  # made before records signed a route
    ],
)
def test_a_malformed_bundle_exits_4_with_its_reason(tmp_path: Path, content: str, reason: str):
    bundle = tmp_path / "bundle.json"
    bundle.write_text(content)
    result = CliRunner().invoke(app, ["verify-bundle", str(bundle)], env={"COLUMNS": "250"})
    assert result.exit_code == 4, result.output
    assert reason in result.output


def test_the_event_and_view_the_anchor_check_uses_are_those_of_the_build():
    abi = load_artifact(PROJECT_ROOT / "build", "ConsignmentLedger").abi

    def signature(entry: dict[str, Any]) -> str:
        return f"{entry['name']}({','.join(i['type'] for i in entry['inputs'])})"

    events = {signature(e) for e in abi if e["type"] == "event"}
    functions = {signature(e) for e in abi if e["type"] == "function"}
    assert RECORD_WRITTEN in events and ANCHORED_AT in functions
    assert keccak(text=RECORD_WRITTEN).hex() != keccak(text=ANCHORED_AT).hex()


def test_history_and_party_show_the_parties_by_legal_name_with_their_address_and_identifiers(demo_service):
    history = run(demo_service, "history", DELIVERED)
    assert history.exit_code == 0, history.output
    exporter = demo.EXPORTER_P.account.address
    assert f"Sakura Precision KK ({exporter})" in history.stdout
    assert f"custodian: Rotterdam Hinterland Rail B.V. ({demo.RAIL.account.address})" in history.stdout

    party = run(demo_service, "party", demo.RAIL.account.address)
    assert party.exit_code == 0, party.output
    for text in ("Rotterdam Hinterland Rail B.V.", "NL811223344", "8718501001014", "CARRIER", "active"):
        assert text in party.stdout
    unknown = run(demo_service, "party", "0x" + "12" * 20)
    assert unknown.exit_code == 1 and "no party" in unknown.output


def _claims(receipt: Path) -> dict[str, Any]:
    part = receipt.read_text().split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))))


def test_the_receipt_names_its_authority_and_verifies_against_the_keys_it_published_on_chain(demo_service, delivered):
    _, receipt, _ = delivered
    _, rt = demo_service
    assert rt.node is not None and rt.manifest is not None
    nl_customs = next(a["address"] for a in rt.manifest.authorities if a["country"] == "NL")
    claims = _claims(receipt)
    assert (claims["authority"], claims["country"]) == (nl_customs, "NL")
    # No service: the chain alone says which keys the authority signs with.
    result = CliRunner().invoke(
        app,
        ["--url", "http://127.0.0.1:9", "verify-receipt", str(receipt), "--rpc", rt.node.url],
        env={"COLUMNS": "250"},
    )
    assert result.exit_code == 0, result.output
    assert f"{nl_customs} (NL)" in result.stdout and "published on chain" in result.stdout


def test_a_receipt_of_another_chain_or_without_an_authority_is_not_checked_on_chain(demo_service, tmp_path: Path):
    _, rt = demo_service
    assert rt.node is not None
    from ledger_api.store.receipt_keys import load_or_create_keyring

    keyring = load_or_create_keyring(tmp_path / "keys")
    nameless = tmp_path / "nameless.jws"
    nameless.write_text(keyring.issue({"verdict": "VERIFIED", "chain_id": 31337, "ledger": "0x" + "11" * 20}))
    result = CliRunner().invoke(app, ["verify-receipt", str(nameless), "--rpc", rt.node.url], env={"COLUMNS": "250"})
    assert result.exit_code == 4 and "names no issuing authority" in result.output
    elsewhere = tmp_path / "elsewhere.jws"
    elsewhere.write_text(keyring.issue({"verdict": "VERIFIED", "chain_id": 1, "authority": "0x" + "22" * 20}))
    result = CliRunner().invoke(
        app,
        ["verify-receipt", str(elsewhere), "--rpc", rt.node.url, "--ledger", "0x" + "11" * 20],
        env={"COLUMNS": "250"},
    )
    assert result.exit_code == 4 and "is for chain 1" in result.output


def test_after_a_rotation_the_authority_publishes_the_new_key_and_old_and_new_receipts_verify_on_chain(
    demo_service, delivered, tmp_path: Path
):
    """Rotates the demo service's receipt key: the tests above need the first one."""
    _, old_receipt, _ = delivered
    http, rt = demo_service
    assert rt.node is not None and rt.manifest is not None and rt.verifier is not None
    nl_customs = next(a["address"] for a in rt.manifest.authorities if a["country"] == "NL")
    rotated = rt.verifier.keyring.rotate()  # as `ledger admin receipt-keys rotate` does, seen at once
    new_receipt = tmp_path / "new.jws"
    assert run(demo_service, "verify", DELIVERED, "--country", "NL", "--receipt-out", str(new_receipt)).exit_code == 0
    assert json.loads(base64.urlsafe_b64decode(new_receipt.read_text().split(".")[0] + "=="))["kid"] == rotated.kid

    # Not published yet: the chain does not vouch for the new key.
    unpublished = run(demo_service, "verify-receipt", str(new_receipt), "--rpc", rt.node.url)
    assert unpublished.exit_code == 4 and "UNKNOWN_KID" in unpublished.output

    # The authority publishes it, signing with its own key.
    keys = tmp_path / "keystore"
    env = {"LEDGER_KEYS_DIR": str(keys), "LEDGER_KEYSTORE_FAST": "1", "LEDGER_KEY_PASSWORD": "pw", "COLUMNS": "250"}
    imported = CliRunner().invoke(
        app, ["keys", "import", "nl-customs"], input=demo.ANVIL_AUTHORITY_KEYS[nl_customs] + "\n", env=env
    )
    assert imported.exit_code == 0, imported.output
    token = http.headers["Authorization"].removeprefix("Bearer ")  # NL customs' credential
    published = CliRunner().invoke(
        app,
        ["--url", str(http.base_url).rstrip("/"), "--token", token, "admin", "publish-endpoint", "--key", "nl-customs"],
        env=env,
    )
    assert published.exit_code == 0, published.output
    assert rotated.kid in published.stdout
    wait_until(lambda: http.get("/v1/instance").json()["up_to_date"], what="the new key indexed")

    for receipt in (old_receipt, new_receipt):
        result = run(demo_service, "verify-receipt", str(receipt), "--rpc", rt.node.url)
        assert result.exit_code == 0, result.output


def test_publish_endpoint_refuses_the_key_of_another_authority(demo_service, tmp_path: Path):
    http, rt = demo_service
    assert rt.manifest is not None
    jp_customs = next(a["address"] for a in rt.manifest.authorities if a["country"] == "JP")
    env = {"LEDGER_KEYS_DIR": str(tmp_path), "LEDGER_KEYSTORE_FAST": "1", "LEDGER_KEY_PASSWORD": "pw", "COLUMNS": "250"}
    CliRunner().invoke(app, ["keys", "import", "jp"], input=demo.ANVIL_AUTHORITY_KEYS[jp_customs] + "\n", env=env)
    result = CliRunner().invoke(
        app, ["--url", str(http.base_url).rstrip("/"), "admin", "publish-endpoint", "--key", "jp"], env=env
    )
    assert result.exit_code == 1 and "the instance acts for" in result.output
