"""`ledger` end to end against a real service: keys, the life of a consignment, refusals
with their field and reason, imports in batches and one by one, and exit codes."""

from __future__ import annotations

import json
import re
import stat
from pathlib import Path
from typing import Any

from support.cli import PASSWORD, Ledger
from support.payloads import custody, decision, declaration, transit
from support.service import Service, wait_until

from ledger_api.chain.node import free_port

RECORD_ID = re.compile(r"0x[0-9a-f]{64}")


def write(path: Path, payload: Any) -> Path:
    path.write_text(json.dumps(payload), encoding="utf-8")
    return path


def record_id(output: str) -> str:
    match = RECORD_ID.search(output)
    assert match, output
    return match[0]


def test_a_new_key_is_listed_with_its_address_and_stored_readable_only_by_its_owner(ledger: Ledger, keys_dir: Path):
    created = ledger("keys", "new", "cli-fresh")
    assert created.exit_code == 0, created.output
    address = re.search(r"0x[0-9a-fA-F]{40}", created.stdout)
    assert address

    listed = ledger("keys", "list")
    assert listed.exit_code == 0, listed.output
    assert "cli-fresh" in listed.stdout and address[0] in listed.stdout
    assert stat.S_IMODE((keys_dir / "cli-fresh.json").stat().st_mode) == 0o600
    assert json.loads((keys_dir / "cli-fresh.json").read_text())["version"] == 3


def test_imported_keys_are_listed_under_their_alias_and_never_echoed(ledger: Ledger, service: Service):
    listed = ledger("keys", "list")
    assert listed.exit_code == 0
    for name in ("exporter", "carrier", "customs_nl"):
        assert name in listed.stdout and service.address(name) in listed.stdout
        assert service.keys[name].key.hex() not in listed.output


def test_an_existing_alias_is_never_overwritten(ledger: Ledger, service: Service):
    again = ledger("keys", "import", "exporter", input=service.keys["carrier"].key.hex() + "\n")
    assert again.exit_code == 4
    assert "already exists" in again.output


def test_a_wrong_password_exits_4_with_a_clear_message(ledger: Ledger, tmp_path: Path):
    payload = write(tmp_path / "d.json", declaration("6NL123456789-CLI-0009"))
    result = ledger("declare", "--key", "exporter", "--payload", str(payload), env={"LEDGER_KEY_PASSWORD": "wrong"})
    assert result.exit_code == 4
    assert "wrong password for key 'exporter'" in result.output


def test_the_password_can_come_from_a_file(ledger: Ledger, tmp_path: Path):
    (tmp_path / "pw").write_text(PASSWORD + "\n")
    payload = write(tmp_path / "d.json", declaration("6NL123456789-CLI-0008"))
    result = ledger(
        "declare",
        "--key",
        "exporter",
        "--payload",
        str(payload),
        "--password-file",
        str(tmp_path / "pw"),
        env={"LEDGER_KEY_PASSWORD": "wrong"},
    )
    assert result.exit_code == 0, result.output


def test_an_unknown_key_exits_4(ledger: Ledger, tmp_path: Path):
    payload = write(tmp_path / "d.json", declaration("6NL123456789-CLI-0007"))
    result = ledger("declare", "--key", "nobody", "--payload", str(payload))
    assert result.exit_code == 4
    assert "no key named 'nobody'" in result.output


def test_a_key_written_in_fast_mode_is_named_with_a_warning_and_refused_in_production(ledger: Ledger, tmp_path: Path):
    """The suite's keys are written fast (LEDGER_KEYSTORE_FAST): cheap to brute-force."""
    payload = write(tmp_path / "d.json", declaration("6NL123456789-CLI-0006"))
    refused = ledger(
        "declare", "--key", "exporter", "--payload", str(payload), env={"LEDGER_ENVIRONMENT": "production"}
    )
    assert refused.exit_code == 4
    assert "fast mode" in refused.output and "refused in production" in refused.output
    signed = ledger("declare", "--key", "exporter", "--payload", str(payload))
    assert signed.exit_code == 0, signed.output
    assert "fast mode" in signed.output and "cheap to brute-force" in signed.output


def test_exporter_declares_hands_over_carrier_accepts_customs_decides_and_history_shows_it(
    ledger: Ledger, service: Service, tmp_path: Path
):
    ucr = "6NL123456789-CLI-0001"
    exporter, carrier = service.address("exporter"), service.address("carrier")

    declared = ledger(
        "declare", "--key", "exporter", "--payload", str(write(tmp_path / "d.json", declaration(ucr))), "--wait"
    )
    assert declared.exit_code == 0, declared.output
    assert "confirmed" in declared.stdout
    handed = ledger(
        "handover",
        "--key",
        "exporter",
        "--to",
        carrier,
        "--payload",
        str(write(tmp_path / "h.json", custody(ucr, "HANDOVER"))),
    )
    assert handed.exit_code == 0, handed.output
    pending = ledger("history", ucr)
    assert pending.exit_code == 0, pending.output
    assert f"pending handover to: {carrier}" in pending.stdout

    accepted = ledger(
        "accept",
        "--key",
        "carrier",
        "--from",
        exporter,
        "--payload",
        str(write(tmp_path / "a.json", custody(ucr, "ACCEPTANCE"))),
        "--wait",
    )
    assert accepted.exit_code == 0, accepted.output
    decided = ledger(
        "decide", "--key", "customs_nl", "--payload", str(write(tmp_path / "c.json", decision(ucr))), "--wait"
    )
    assert decided.exit_code == 0, decided.output

    ids = [record_id(r.stdout) for r in (declared, handed, accepted, decided)]
    history = ledger("history", ucr)
    assert history.exit_code == 0, history.output
    for kind in ("DECLARATION", "HANDOVER", "ACCEPTANCE", "CUSTOMS_DECISION"):
        assert kind in history.stdout
    assert f"custodian: {carrier}" in history.stdout
    assert "pending handover to: none" in history.stdout
    on_service = service.http.get(f"/v1/consignments/{ucr}").json()
    assert [r["id"] for r in on_service["records"]] == ids

    for rid in ids:
        shown = ledger("status", rid)
        assert shown.exit_code == 0, shown.output
        record = service.http.get(f"/v1/records/{rid}").json()
        assert record["status"] == "confirmed"
        assert record["tx_hash"] in shown.stdout and str(record["block_number"]) in shown.stdout


def test_the_custodian_adds_transit_countries_with_ledger_transit_and_history_shows_the_route(
    ledger: Ledger, tmp_path: Path
):
    ucr = "6NL123456789-CLI-0010"
    declared = ledger("declare", "--key", "exporter", "--payload", str(write(tmp_path / "d.json", declaration(ucr))))
    assert declared.exit_code == 0, declared.output
    payload = str(write(tmp_path / "t.json", transit(ucr, ["SG", "LK"])))
    by_customs = ledger("transit", "--key", "customs_nl", "--payload", payload)  # it sees it, it does not hold it
    assert by_customs.exit_code == 1 and "NOT_CUSTODIAN" in by_customs.output
    transited = ledger("transit", "--key", "exporter", "--payload", payload, "--wait")
    assert transited.exit_code == 0, transited.output
    assert "confirmed" in transited.stdout
    history = ledger("history", ucr)
    assert history.exit_code == 0, history.output
    assert "TRANSIT" in history.stdout and "route: NL → JP → SG → LK" in history.stdout
    wrong_kind = ledger("transit", "--key", "exporter", "--payload", str(write(tmp_path / "d2.json", declaration(ucr))))
    assert wrong_kind.exit_code == 4 and "`ledger transit` signs TRANSIT payloads" in wrong_kind.output


def test_a_carrier_declaring_is_refused_with_exit_1_naming_the_field_and_reason(ledger: Ledger, tmp_path: Path):
    payload = write(tmp_path / "d.json", declaration("6NL123456789-CLI-0002"))
    result = ledger("declare", "--key", "carrier", "--payload", str(payload))
    assert result.exit_code == 1
    assert "MISSING_ROLE" in result.output
    assert "record.party:" in result.output and "is not registered as exporter to declare" in result.output


def test_a_bad_hs_code_is_caught_before_signing_and_names_the_field(ledger: Ledger, tmp_path: Path):
    bad = declaration("6NL123456789-CLI-0003")
    bad["goods"][0]["hs_code"] = "999999"
    result = ledger("declare", "--key", "exporter", "--payload", str(write(tmp_path / "d.json", bad)))
    assert result.exit_code == 4
    assert "payload.goods[0].hs_code: HS subheading 999999 is not in the HS 2022 nomenclature" in result.output


def test_a_payload_of_another_kind_or_an_unreadable_file_exits_4(ledger: Ledger, tmp_path: Path):
    handover = write(tmp_path / "h.json", custody("6NL123456789-CLI-0004", "HANDOVER"))
    wrong_kind = ledger("declare", "--key", "exporter", "--payload", str(handover))
    assert wrong_kind.exit_code == 4 and "`ledger declare` signs DECLARATION payloads" in wrong_kind.output
    (tmp_path / "broken.json").write_text("{not json")
    broken = ledger("declare", "--key", "exporter", "--payload", str(tmp_path / "broken.json"))
    assert broken.exit_code == 4 and "is not JSON" in broken.output
    missing = ledger("declare", "--key", "exporter", "--payload", str(tmp_path / "missing.json"))
    assert missing.exit_code == 4 and "cannot read" in missing.output


def test_a_bad_address_or_record_id_is_a_usage_error(ledger: Ledger, tmp_path: Path):
    payload = write(tmp_path / "h.json", custody("6NL123456789-CLI-0005", "HANDOVER"))
    assert ledger("handover", "--key", "exporter", "--to", "0x1234", "--payload", str(payload)).exit_code == 2
    assert ledger("status", "not-an-id").exit_code == 2


def test_an_unknown_record_or_consignment_exits_1(ledger: Ledger):
    assert ledger("status", "0x" + "ab" * 32).exit_code == 1
    missing = ledger("history", "6NL123456789-CLI-NONE")
    assert missing.exit_code == 1 and "no consignment" in missing.output


def test_an_unreachable_service_exits_3(ledger: Ledger, tmp_path: Path):
    url = f"http://127.0.0.1:{free_port()}"
    status = ledger("status", "0x" + "ab" * 32, url=url)
    assert status.exit_code == 3
    assert f"cannot reach the ledger service at {url}" in status.output
    payload = write(tmp_path / "d.json", declaration("6NL123456789-CLI-0006"))
    assert ledger("declare", "--key", "exporter", "--payload", str(payload), url=url).exit_code == 3


def test_thirty_declarations_import_in_batches_of_ten_and_are_all_confirmed(
    ledger: Ledger, service: Service, tmp_path: Path
):
    ucrs = [f"6NL123456789-CLI-IMP-{n:04d}" for n in range(30)]
    source = write(tmp_path / "records.json", [{"payload": declaration(ucr)} for ucr in ucrs])

    result = ledger("import", str(source), "--key", "exporter", "--batch-size", "10")
    assert result.exit_code == 0, result.output
    assert "accepted 30, refused 0" in result.stdout

    def confirmed(ucr: str) -> dict[str, Any] | None:
        response = service.http.get(f"/v1/consignments/{ucr}")
        if response.status_code != 200:
            return None
        record: dict[str, Any] = response.json()["records"][0]
        return record if record["status"] == "confirmed" else None

    wait_until(lambda: all(confirmed(ucr) for ucr in ucrs), what="the imported declarations confirmed")
    records = [confirmed(ucr) for ucr in ucrs]
    assert all(r is not None and r["mode"] == "batch" for r in records)
    assert len({r["batch_root"] for r in records if r}) == 3


def test_an_import_chains_the_records_of_a_consignment_and_waits_for_them(
    ledger: Ledger, service: Service, tmp_path: Path
):
    ucr = "6NL123456789-CLI-IMP-CHAIN"
    carrier = service.address("carrier")
    source = write(
        tmp_path / "chain.json",
        [{"payload": declaration(ucr)}, {"payload": custody(ucr, "HANDOVER"), "counterparty": carrier}],
    )
    result = ledger("import", str(source), "--key", "exporter", "--wait")
    assert result.exit_code == 0, result.output
    assert "accepted 2, refused 0" in result.stdout and "confirmed 2" in result.stdout
    history = service.http.get(f"/v1/consignments/{ucr}").json()
    assert [r["kind"] for r in history["records"]] == ["DECLARATION", "HANDOVER"]
    assert history["pending_custodian"] == carrier


def test_a_csv_import_one_by_one_uses_the_next_nonces_in_order(ledger: Ledger, service: Service, tmp_path: Path):
    ucr = "6NL123456789-CLI-IMP-SINGLE"
    rows = [(declaration(ucr), ""), (custody(ucr, "HANDOVER"), service.address("carrier"))]
    source = tmp_path / "records.csv"
    import csv

    with source.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["payload_json", "counterparty"])
        for payload, counterparty in rows:
            writer.writerow([json.dumps(payload), counterparty])

    result = ledger("import", str(source), "--key", "exporter", "--single", "--wait")
    assert result.exit_code == 0, result.output
    assert "accepted 2, refused 0" in result.stdout
    history = service.http.get(f"/v1/consignments/{ucr}").json()
    assert history["mode"] == "single"
    assert [r["status"] for r in history["records"]] == ["confirmed", "confirmed"]


def test_an_import_refused_by_the_service_exits_1_with_the_reasons(ledger: Ledger, tmp_path: Path):
    source = write(tmp_path / "records.json", [{"payload": declaration(f"6NL123456789-CLI-REF-{n}")} for n in range(3)])
    result = ledger("import", str(source), "--key", "carrier", "--batch-size", "2")
    assert result.exit_code == 1
    assert "accepted 0, refused 3" in result.stdout
    assert "is not registered as exporter to declare" in result.output


def test_an_import_with_an_invalid_payload_sends_nothing_and_exits_4(ledger: Ledger, service: Service, tmp_path: Path):
    bad = declaration("6NL123456789-CLI-BAD-1")
    bad["goods"][0]["hs_code"] = "999999"
    source = write(tmp_path / "records.json", [{"payload": declaration("6NL123456789-CLI-BAD-0")}, {"payload": bad}])
    result = ledger("import", str(source), "--key", "exporter")
    assert result.exit_code == 4
    assert "record 2" in result.output and "payload.goods[0].hs_code: HS subheading 999999" in result.output
    assert service.http.get("/v1/consignments/6NL123456789-CLI-BAD-0").status_code == 404
