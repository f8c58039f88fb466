"""The customs officer's page in a real browser (Playwright driving Debian's chromium)
against the service seeded with the demo consignments: a verdict with its checks and
risk lane, the parties by name, the broken consignment's reason, the downloads, and the
401 message without a credential.
Screenshots go under the test's tmp_path and one of each to screenshots/ (gitignored)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.demo_service import BROKEN, DELIVERED, IN_TRANSIT

from ledger_api import demo
from ledger_api.domain.verification import CHECK_NAMES
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
