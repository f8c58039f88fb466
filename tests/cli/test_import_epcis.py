"""`ledger import-epcis`: a file of 10,000 EPCIS events signed and captured in chunks, with
a progress bar, every one recorded once; a file with a bad event sends nothing."""

from __future__ import annotations

import json
import time
from pathlib import Path

from sqlalchemy import func, select
from support.cli import Ledger
from support.epcis import document, shipping
from support.payloads import declaration
from support.service import Service

from ledger_api.store.tables import RecordRow

EVENTS = 10_000


def test_a_file_of_10000_events_is_captured_in_chunks_with_a_progress_bar(
    service: Service, ledger: Ledger, tmp_path: Path
):
    exporter, carrier = service.client("exporter"), service.client("carrier")
    ucrs = [f"6NL123456789-EPX-{n:05d}" for n in range(EVENTS)]
    nonce = time.time_ns() // 1000
    for start in range(0, EVENTS, 1_000):  # declared in batches: the events' consignments exist
        chunk = ucrs[start : start + 1_000]
        exporter.post_batch(
            [exporter.sign(declaration(u), previous=bytes(32), nonce=nonce + start + n) for n, u in enumerate(chunk)]
        )
    path = tmp_path / "events.jsonld"
    path.write_text(json.dumps(document(*(shipping(u, carrier.address) for u in ucrs))))

    started = time.monotonic()
    result = ledger("import-epcis", str(path), "--key", "exporter", "--chunk-size", "1000")
    seconds = time.monotonic() - started

    assert result.exit_code == 0, result.output
    assert f"accepted {EVENTS}, refused 0" in result.output
    assert "capturing events" in result.output  # the progress bar
    keys = ["0x" + k for k in _keys(ucrs)]
    assert service.runtime.store is not None
    with service.runtime.store.session() as session:
        handovers = session.scalar(
            select(func.count()).where(RecordRow.consignment.in_(keys), RecordRow.kind == 1, RecordRow.position == 1)
        )
    assert handovers == EVENTS
    print(f"import-epcis: {EVENTS:,} events captured in {seconds:.1f} s ({EVENTS / seconds:,.0f} events/s)")
    last = exporter.consignment(ucrs[-1])
    assert last is not None and last["pending_custodian"] == carrier.address


def test_a_file_with_a_bad_event_sends_nothing_and_names_the_event(service: Service, ledger: Ledger, tmp_path: Path):
    carrier = service.address("carrier")
    events = [shipping("6NL123456789-EPY-00001", carrier), shipping("6NL123456789-EPY-00002", carrier, bizStep="x")]
    path = tmp_path / "bad.jsonld"
    path.write_text(json.dumps(document(*events)))
    result = ledger("import-epcis", str(path), "--key", "exporter")
    assert result.exit_code == 4, result.output
    assert "nothing imported" in result.output and "event 1: bizStep" in result.output


def _keys(ucrs: list[str]) -> list[str]:
    from ledger_api.domain.records import consignment_key

    return [consignment_key(u).hex() for u in ucrs]
