"""How `ledger bench ingest` judges the single-record stream against issue #6's target:
10,000 single records confirmed within 60 s, that is at least 167 records/s."""

from __future__ import annotations

import pytest

from ledger_bench.ingest import IngestFigures, render_ingest


def _figures(stream_records: int, confirmed_seconds: float) -> IngestFigures:
    return IngestFigures(
        records=10_000,
        batch_size=1_000,
        seconds=4.5,
        records_per_second=2_200,
        request_p50_ms=430,
        request_p99_ms=440,
        raw_records=2_000,
        raw_seconds=0.7,
        raw_records_per_second=2_900,
        single_samples=200,
        single_p50_ms=41.0,
        single_p99_ms=52.0,
        stream_clients=4,
        stream_records=stream_records,
        stream_accepted_seconds=confirmed_seconds - 1,
        stream_confirmed_seconds=confirmed_seconds,
        chain_blocks_at_end=12_000,
    )


def _stream_row(page: str) -> str:
    return next(line for line in page.splitlines() if line.startswith("| single records (one transaction each)"))


@pytest.mark.parametrize(
    ("records", "seconds", "verdict"),
    [
        (10_000, 52.0, "met"),
        (10_000, 60.0, "met"),
        (10_000, 61.0, "not met"),
        (3_000, 20.0, "not met"),  # a shorter stream is judged by its rate: 150 records/s
    ],
)
def test_the_stream_meets_the_target_at_167_records_per_second_and_not_below(records, seconds, verdict):
    page = render_ingest(_figures(records, seconds), "ledger bench ingest")
    assert _stream_row(page).endswith(f"({verdict}) |")
