"""The customs officer's page in a real browser (Playwright driving Debian's chromium)
against the service seeded with the demo consignments: a verdict with its checks and
risk lane, the parties by name, the broken consignment's reason, the downloads, and the
401 message without a credential; the worklist; decisions signed in the browser, a HOLD
changing the verdict (the decision in force, the RED lane) and the worklist.
The worklist's tests run before the HOLD, on the demo lane as seeded.
Screenshots go under the test's tmp_path and one of each to screenshots/ (gitignored)."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from eth_account import Account
from eth_utils.crypto import keccak
from support.demo_service import BROKEN, DELIVERED, IN_TRANSIT
from support.payloads import decision
from support.service import wait_until

from ledger_api import demo
from ledger_api.client import LedgerClient
from ledger_api.domain.verification import CHECK_NAMES
from ledger_api.keystore import FAST_ENV, import_key
from ledger_api.settings import PROJECT_ROOT

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHARED = PROJECT_ROOT / "screenshots"

if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is absent: install Debian's chromium (apt-get install -y chromium)", allow_module_level=True
    )
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield b
        finally:
            b.close()


def _page(browser, base_url: str, width: int = 1280, height: int = 900):
    context = browser.new_context(viewport={"width": width, "height": height}, base_url=base_url)
    return context, context.new_page()


def _token(http: httpx.Client) -> str:
    return http.headers["Authorization"].removeprefix("Bearer ")


def _shot(page, tmp_path: Path, name: str) -> Path:
    folder = tmp_path / "screenshots"
    folder.mkdir(exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    SHARED.mkdir(exist_ok=True)
    shutil.copy(path, SHARED / path.name)
    return path


def _verify(page, ucr: str, token: str | None, country: str = "NL") -> None:
    page.goto("/")
    if token is not None:
        page.fill("#token", token)
    page.fill("#ucr", ucr)
    page.fill("#country", country)
    page.click("#verify")


def test_the_officer_sees_the_delivered_consignment_verified_green_with_every_check_and_can_download_all(
    demo_service, browser, tmp_path
):
    http, _ = demo_service
    context, page = _page(browser, str(http.base_url))
    try:
        _verify(page, DELIVERED, _token(http))
        expect = sync_api.expect
        expect(page.locator("#verdict")).to_have_text("\u2714 VERIFIED", timeout=20_000)
        expect(page.locator("#lane")).to_contain_text("GREEN")
        expect(page.locator("#lane")).to_contain_text("\u25cf")  # a shape, not only a colour
        assert page.locator("#checks tbody td.code").all_inner_texts() == list(CHECK_NAMES)
        expect(page.locator("#timeline tbody tr").first).to_be_visible()
        rows = page.locator("#timeline tbody tr")
        assert rows.count() >= 4
        expect(page.locator("#timeline")).to_contain_text("CSQU3054383")
        # parties by name, the address on hover and a button copying it
        exporter = demo.EXPORTER_P.account.address
        expect(page.locator("#timeline")).to_contain_text("Sakura Precision KK")
        expect(page.locator("#custody")).to_contain_text("Rotterdam Hinterland Rail B.V.")
        named = page.locator(f'#timeline .party[data-address="{exporter}"]').first
        assert exporter in (named.get_attribute("title") or "")
        assert "LEI 353800SKRPRC7Q1D0J45" in (named.get_attribute("title") or "")
        assert named.locator("button.copy").get_attribute("data-address") == exporter
        # the token stays out of the URL, in this tab's sessionStorage
        assert _token(http) not in page.url
        assert page.evaluate("sessionStorage.getItem('ledger.officer.token')") == _token(http)
        _shot(page, tmp_path, "officer-verified-1280")

        with page.expect_download() as receipt:
            page.click("#download-receipt")
        text = Path(receipt.value.path()).read_text()
        assert "Verdict: VERIFIED" in text and receipt.value.suggested_filename.endswith(".txt")
        with page.expect_download() as evidence:
            page.click("#download-evidence")
        bundle = json.loads(Path(evidence.value.path()).read_bytes())
        assert len(bundle["records"]) == rows.count()
        with page.expect_download() as epcis:
            page.click("#download-epcis")
        history = json.loads(Path(epcis.value.path()).read_bytes())
        assert history["type"] == "EPCISDocument" and epcis.value.suggested_filename.endswith(".jsonld")
        assert len(history["epcisBody"]["eventList"]) == rows.count()
    finally:
        context.close()


def test_the_broken_consignment_shows_failed_with_the_unexplained_seal_change_on_a_tablet(
    demo_service, browser, tmp_path
):
    http, _ = demo_service
    context, page = _page(browser, str(http.base_url), width=768, height=1024)
    try:
        _verify(page, BROKEN, _token(http))
        expect = sync_api.expect
        expect(page.locator("#verdict")).to_have_text("\u2716 FAILED", timeout=20_000)
        custody = page.locator('#checks tr[data-check="CUSTODY_CONTINUITY"]')
        expect(custody).to_contain_text("INVALID")
        expect(custody).to_contain_text("SEAL_CHANGE_UNEXPLAINED")
        expect(page.locator("#fired")).to_contain_text("R004")
        assert "GREEN" not in page.locator("#lane").inner_text()
        # at tablet width nothing spills sideways out of the page
        assert page.evaluate("document.documentElement.scrollWidth") <= 768
        _shot(page, tmp_path, "officer-failed-768")
    finally:
        context.close()


def test_the_consignment_in_transit_is_incomplete_and_its_open_handover_is_marked_pending(
    demo_service, browser, tmp_path
):
    http, _ = demo_service
    context, page = _page(browser, str(http.base_url))
    try:
        _verify(page, IN_TRANSIT, _token(http))
        sync_api.expect(page.locator("#verdict")).to_have_text("\u25d4 INCOMPLETE", timeout=20_000)
        sync_api.expect(page.locator("#timeline tbody tr.pending")).to_contain_text("pending")
        sync_api.expect(page.locator("#custody")).to_contain_text("handover pending")
        _shot(page, tmp_path, "officer-incomplete-1280")
    finally:
        context.close()


def test_without_a_credential_the_page_asks_for_one(demo_service, browser, tmp_path):
    http, _ = demo_service
    context, page = _page(browser, str(http.base_url))
    try:
        _verify(page, DELIVERED, None)
        message = page.locator("#message")
        sync_api.expect(message).to_contain_text("401", timeout=20_000)
        sync_api.expect(message).to_contain_text("credential")
        assert page.locator("#result").is_hidden()
        _shot(page, tmp_path, "officer-401")
    finally:
        context.close()


PASSPHRASE = "officer page passphrase 7"
NL_AUTHORITY, SG_AUTHORITY = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
AWAITING_NL = f"{demo.UCR_PREFIX}0005"  # declared and released for export: the Dutch decision is awaited


# ---------------------------------------------------------------- the worklist


def _worklist(page, token: str, country: str = "NL") -> None:
    page.goto("/")
    page.fill("#token", token)
    page.fill("#country", country)
    page.click("#load-worklist")


def test_the_worklist_ranks_the_demo_lane_updates_live_when_a_record_is_written_and_a_row_opens_its_verification(
    demo_service, browser, tmp_path
):
    http, _ = demo_service
    context, page = _page(browser, str(http.base_url))
    try:
        expect = sync_api.expect
        _worklist(page, _token(http))
        rows = page.locator("#worklist tbody tr")
        expect(rows).to_have_count(3, timeout=20_000)
        # AMBER (the unexplained seal change) first, then GREEN by UCR; released ones are off it
        assert [rows.nth(i).get_attribute("data-ucr") for i in range(3)] == [BROKEN, IN_TRANSIT, AWAITING_NL]
        assert [rows.nth(i).get_attribute("data-lane") for i in range(3)] == ["AMBER", "GREEN", "GREEN"]
        expect(rows.first).to_contain_text("R004 Seals changed in custody without a stated reason")
        expect(rows.first).to_contain_text("Rotterdam Hinterland Rail B.V.")
        expect(rows.first).to_contain_text("\u2714 AEO JP-AEO-EXPORTER")
        expect(rows.first).to_contain_text("ACCEPTANCE NLRTM")
        expect(page.locator("#live-status")).to_contain_text("Live", timeout=20_000)
        _shot(page, tmp_path, "officer-worklist")

        # a record written elsewhere (the CLI, another officer) shows without a reload
        customs = LedgerClient(
            str(http.base_url).rstrip("/"),
            Account.from_key(demo.ANVIL_AUTHORITY_KEYS[NL_AUTHORITY]),
            token=_token(http),
        )
        try:
            ordered = decision(
                IN_TRANSIT, decision="INSPECTION_ORDERED", inspection={"method": "NON_INTRUSIVE", "result": "PENDING"}
            )
            customs.submit(ordered)
        finally:
            customs.close()
        transit = page.locator(f'#worklist tr[data-ucr="{IN_TRANSIT}"] .decision-cell')
        expect(transit).to_have_text("INSPECTION_ORDERED \u2014 open", timeout=20_000)
        # the open inspection order of NL's own customs sends it to the RED lane, first
        expect(rows.first).to_have_attribute("data-ucr", IN_TRANSIT)
        expect(rows.first).to_have_attribute("data-lane", "RED")
        expect(rows.first).to_contain_text("R014 This customs holds the consignment or ordered its inspection")
        _shot(page, tmp_path, "officer-worklist-live-update")

        page.click(f'#worklist tr[data-ucr="{BROKEN}"] td.code')
        expect(page.locator("#verdict")).to_have_text("\u2716 FAILED", timeout=20_000)
        assert page.input_value("#ucr") == BROKEN

        page.click("#load-rates")
        r004 = page.locator('#hit-rates tr[data-rule="R004"] td')
        expect(r004.nth(1)).to_have_text("1", timeout=20_000)  # flagged: the broken consignment
        _shot(page, tmp_path, "officer-hit-rates")

        page.reload()  # the tab holds the credential: the page opens on the worklist
        expect(page.locator("#worklist tbody tr")).to_have_count(3, timeout=20_000)
    finally:
        context.close()


def test_the_page_says_when_it_lost_the_live_connection_and_reconnects(demo_service, browser, tmp_path):
    http, _ = demo_service
    context, page = _page(browser, str(http.base_url))
    try:
        page.route("**/v1/worklist/events**", lambda route: route.abort())
        _worklist(page, _token(http))
        live = page.locator("#live-status")
        sync_api.expect(live).to_contain_text("Connection lost", timeout=20_000)
        assert "lost" in (live.get_attribute("class") or "")
        _shot(page, tmp_path, "officer-worklist-connection-lost")
        page.unroute("**/v1/worklist/events**")
        sync_api.expect(live).to_contain_text("Live", timeout=30_000)
    finally:
        context.close()


def test_a_worklist_of_another_country_is_refused_with_a_clear_message(demo_service, browser, tmp_path):
    http, _ = demo_service
    context, page = _page(browser, str(http.base_url))
    try:
        _worklist(page, _token(http), country="JP")  # an NL credential
        message = page.locator("#worklist-message")
        sync_api.expect(message).to_contain_text("This worklist is for customs of JP", timeout=20_000)
        _shot(page, tmp_path, "officer-worklist-403")
    finally:
        context.close()


# ---------------------------------------------------------------- decisions signed in the browser


def _keystore(tmp_path: Path, alias: str, key: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The officer's key as `ledger keys import` writes it (fast scrypt, as the suite's keys)."""
    monkeypatch.setenv(FAST_ENV, "1")
    import_key(alias, key, PASSPHRASE, keys_dir=tmp_path / "keys")
    return tmp_path / "keys" / f"{alias}.json"


def _credential(demo_service, address: str) -> str:
    _, runtime = demo_service
    assert runtime.credentials is not None
    return runtime.credentials.issue(address, "officer page test")


def _load_key(page, keystore: Path, passphrase: str = PASSPHRASE) -> None:
    page.set_input_files("#keystore-file", str(keystore))
    page.fill("#keystore-pass", passphrase)
    page.click("#load-key")


def _decide(page, decision: str, office: str = "NL000396") -> None:
    page.select_option("#decision", decision)
    page.fill("#office", office)
    page.click("#sign-decision")


def test_an_officer_loads_a_keystore_signs_a_hold_in_the_browser_and_the_view_shows_it_without_the_key_leaking(
    demo_service, browser, tmp_path, monkeypatch, caplog, capfd
):
    caplog.set_level(logging.DEBUG)
    http, _ = demo_service
    key = demo.ANVIL_AUTHORITY_KEYS[NL_AUTHORITY]
    keystore = _keystore(tmp_path, "nl-officer", key, monkeypatch)
    context, page = _page(browser, str(http.base_url))
    sent: list[str] = []
    page.on("request", lambda r: sent.append(f"{r.url}\n{json.dumps(r.headers)}\n{r.post_data or ''}"))
    try:
        expect = sync_api.expect
        _verify(page, AWAITING_NL, _credential(demo_service, NL_AUTHORITY))
        expect(page.locator("#verdict")).to_be_visible(timeout=20_000)
        expect(page.locator("#decision-state")).to_contain_text("awaiting its decision")
        expect(page.locator("#lane")).to_contain_text("GREEN")
        expect(page.locator("#verdict-decision")).to_have_text("No decision of customs of NL in force.")
        assert "R014" not in page.locator("#fired").inner_text()
        page.click("#load-worklist")
        awaiting = page.locator(f'#worklist tr[data-ucr="{AWAITING_NL}"] .decision-cell')
        expect(awaiting).to_have_text("awaiting", timeout=20_000)
        _load_key(page, keystore)
        expect(page.locator("#key-status")).to_contain_text(NL_AUTHORITY, timeout=20_000)
        expect(page.locator("#key-status")).to_contain_text("Douane Nederland")
        assert page.input_value("#keystore-pass") == ""  # the passphrase does not stay in the form
        _shot(page, tmp_path, "officer-key-loaded")

        _decide(page, "HOLD")
        expect(page.locator("#decision-message")).to_contain_text("Signed and accepted: HOLD", timeout=20_000)
        expect(page.locator("#decision-state")).to_have_attribute("data-decision", "HOLD", timeout=20_000)
        expect(page.locator("#decision-state")).to_contain_text("decision open")
        expect(page.locator("#timeline tbody tr").last).to_contain_text("CUSTOMS_DECISION")
        # the verdict changes: the HOLD is in force, named with its officer and block, and the lane is RED
        in_force = page.locator("#verdict-decision")
        expect(in_force).to_have_attribute("data-decision", "HOLD", timeout=20_000)
        expect(in_force).to_contain_text("HOLD in force \u2014 customs of NL, signed by Douane Nederland")
        expect(in_force.locator(".party")).to_have_attribute("data-address", NL_AUTHORITY)
        expect(page.locator("#lane")).to_contain_text("RED")
        expect(page.locator("#fired")).to_contain_text("R014")
        held = http.get(f"/v1/consignments/{AWAITING_NL}/verification", params={"country": "NL"}).json()
        assert (held["decision"]["decision"], held["decision"]["by"], held["risk"]["lane"]) == (
            "HOLD",
            NL_AUTHORITY,
            "RED",
        )
        assert f"at block {held['decision']['block']}" in in_force.inner_text()
        expect(awaiting).to_have_text("HOLD \u2014 open", timeout=20_000)  # the worklist follows
        held_row = page.locator(f'#worklist tr[data-ucr="{AWAITING_NL}"]')
        expect(held_row).to_have_attribute("data-lane", "RED", timeout=20_000)
        _shot(page, tmp_path, "officer-signed-hold")
        records = http.get(f"/v1/consignments/{AWAITING_NL}").json()["records"]
        assert (records[-1]["party"], records[-1]["payload"]["decision"]) == (NL_AUTHORITY, "HOLD")

        # forgotten on request: nothing left to sign with
        page.click("#forget-key")
        expect(page.locator("#key-status")).to_have_text("No key loaded.")
        _decide(page, "HOLD")
        expect(page.locator("#decision-message")).to_contain_text("Load your signing key first")

        # the key (nor its passphrase) is in no request, storage or log
        secrets = (key.removeprefix("0x").lower(), PASSPHRASE)
        assert sent and not [s for s in sent if any(secret in s.lower() for secret in secrets)]
        stored = page.evaluate(
            """async () => ({
                local: JSON.stringify(Object.assign({}, localStorage)),
                session: JSON.stringify(Object.assign({}, sessionStorage)),
                databases: JSON.stringify(await indexedDB.databases()),
            })"""
        )
        assert json.loads(stored["databases"]) == [] and json.loads(stored["local"]) == {}
        assert list(json.loads(stored["session"])) == ["ledger.officer.token"]  # the credential, as before
        assert not any(secret in json.dumps(stored).lower() for secret in secrets)
        assert context.cookies() == []
        logged = "\n".join(r.getMessage() for r in caplog.records) + "".join(capfd.readouterr())
        assert not any(secret in logged.lower() for secret in secrets)
    finally:
        context.close()


def test_a_wrong_passphrase_loads_nothing_and_says_so(demo_service, browser, tmp_path, monkeypatch):
    http, _ = demo_service
    keystore = _keystore(tmp_path, "nl-officer", demo.ANVIL_AUTHORITY_KEYS[NL_AUTHORITY], monkeypatch)
    context, page = _page(browser, str(http.base_url))
    try:
        page.goto("/")
        _load_key(page, keystore, "not the passphrase")
        sync_api.expect(page.locator("#key-message")).to_contain_text("Wrong passphrase", timeout=20_000)
        sync_api.expect(page.locator("#key-status")).to_have_text("No key loaded.")
        _shot(page, tmp_path, "officer-wrong-passphrase")
    finally:
        context.close()


def test_a_revoked_officer_is_refused_with_a_clear_message(demo_service, browser, tmp_path, monkeypatch):
    http, _ = demo_service
    authority = LedgerClient(
        str(http.base_url).rstrip("/"),
        Account.from_key(demo.ANVIL_AUTHORITY_KEYS[NL_AUTHORITY]),
        token=_credential(demo_service, NL_AUTHORITY),
    )
    officer = Account.from_key(keccak(text="officer page: a revoked officer"))
    try:
        authority.manage_party(
            "register", officer.address, roles=["CUSTOMS"], identifiers={"name": "Revoked Officer (test)"}
        )
        wait_until(lambda: (authority.party(officer.address) or {}).get("status") == "active", what="registered")
        authority.manage_party("revoke", officer.address)
        wait_until(lambda: (authority.party(officer.address) or {}).get("status") == "revoked", what="revoked")
    finally:
        authority.close()
    keystore = _keystore(tmp_path, "revoked", "0x" + officer.key.hex().removeprefix("0x"), monkeypatch)
    context, page = _page(browser, str(http.base_url))
    try:
        _verify(page, AWAITING_NL, _credential(demo_service, officer.address))
        # a revoked party's credential reads nothing
        sync_api.expect(page.locator("#message")).to_contain_text("404", timeout=20_000)
        _load_key(page, keystore)
        sync_api.expect(page.locator("#key-message")).to_contain_text("revoked", timeout=20_000)
        _decide(page, "HOLD")
        message = page.locator("#decision-message")
        sync_api.expect(message).to_contain_text("revoked or suspended", timeout=20_000)
        _shot(page, tmp_path, "officer-revoked")
    finally:
        context.close()


def test_customs_of_a_country_not_on_the_route_is_refused_with_a_clear_message(
    demo_service, browser, tmp_path, monkeypatch
):
    http, _ = demo_service
    keystore = _keystore(tmp_path, "sg-officer", demo.ANVIL_AUTHORITY_KEYS[SG_AUTHORITY], monkeypatch)
    context, page = _page(browser, str(http.base_url))
    try:
        _verify(page, DELIVERED, _credential(demo_service, SG_AUTHORITY), country="SG")  # JP -> NL, not via SG
        sync_api.expect(page.locator("#verdict")).to_be_visible(timeout=20_000)
        _load_key(page, keystore)
        sync_api.expect(page.locator("#key-status")).to_contain_text(SG_AUTHORITY, timeout=20_000)
        _decide(page, "HOLD", office="SGSIN")
        message = page.locator("#decision-message")
        sync_api.expect(message).to_contain_text("not on this consignment's route", timeout=20_000)
        sync_api.expect(message).to_contain_text("customs of SG")
        _shot(page, tmp_path, "officer-not-on-route")
    finally:
        context.close()
