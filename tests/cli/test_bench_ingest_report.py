"""How `ledger bench ingest` judges single records against issue #17's targets, each a
ratio against the same node measured in the same run: the stream from 4 clients at 50% or
more of the node's raw limit, and one record's POST-to-confirmed p50 within twice the
node's own sign-send-receipt p50 (the issue's raw figure), with send-to-receipt beside it."""

from __future__ import annotations

from dataclasses import replace

import pytest

from ledger_bench.ingest import BlockPeriodFigures, FloorFigures, IngestFigures, PathParts, render_ingest


def _figures(
    stream_records: int = 10_000, confirmed_seconds: float = 10.0, single_p50_ms: float = 9.0
) -> IngestFigures:
    return IngestFigures(
        records=10_000,
        batch_size=1_000,
        seconds=4.5,
        records_per_second=2_200,
        request_p50_ms=430,
        request_p99_ms=440,
        raw_records=2_000,
        raw_seconds=0.8,
        raw_records_per_second=2_500,
        raw_single_p50_ms=5.0,
        raw_send_p50_ms=4.0,
        single_samples=200,
        single_p50_ms=single_p50_ms,
        single_p99_ms=52.0,
        stream_clients=4,
        stream_records=stream_records,
        stream_accepted_seconds=confirmed_seconds - 1,
        stream_confirmed_seconds=confirmed_seconds,
        chain_blocks_at_end=12_000,
    )


def _row(page: str, start: str) -> str:
    return next(line for line in page.splitlines() if line.startswith(f"| {start}"))


@pytest.mark.parametrize(
    ("records", "seconds", "verdict"),
    [
        (10_000, 8.0, "50% (met)"),  # 1,250 records/s against 2,500
        (10_000, 7.9, "51% (met)"),
        (10_000, 8.1, "49% (not met)"),
        (3_000, 20.0, "6% (not met)"),  # 150 records/s
    ],
)
def test_the_stream_is_judged_against_half_the_raw_limit_of_the_same_run(records, seconds, verdict):
    page = render_ingest(_figures(records, seconds), "ledger bench ingest")
    assert _row(page, "single records from 4 clients").endswith(f"≥ 50% of the raw limit: {verdict} |")


@pytest.mark.parametrize(
    ("p50", "verdict"),
    [(10.0, "2.0 times (met; 2.5 times send to receipt)"), (10.5, "2.1 times (not met; 2.6 times send to receipt)")],
)
def test_one_records_latency_is_judged_against_twice_the_nodes_own(p50, verdict):
    page = render_ingest(_figures(single_p50_ms=p50), "ledger bench ingest")
    assert _row(page, "single record, POST until confirmed").endswith(f"twice the raw latency: {verdict} |")
    raw = _row(page, "raw latency of the same node")
    assert "| 5.0 ms |" in raw and "of which send to receipt 4.0 ms" in raw


def _period(**changes: float) -> BlockPeriodFigures:
    """Figures at a 1 s block period, 40 samples, with `changes`."""
    base = BlockPeriodFigures(
        seconds=1,
        samples=40,
        raw_p50_ms=500.0,
        raw_p99_ms=990.0,
        single_p50_ms=1_000.0,
        single_p99_ms=1_900.0,
        single_after_block_p50_ms=12.34,
        single_after_block_p99_ms=30.0,
        raw_after_block_p50_ms=0.71,
    )
    return replace(base, **changes)


def test_the_cpu_each_process_spent_per_streamed_record_is_reported_when_measured():
    measured = replace(_figures(), stream_cpu_ms={"API": 4.3, "relayer and indexer": 3.0, "anvil": 1.04})
    row = _row(render_ingest(measured, "ledger bench ingest"), "CPU time per streamed record, by process")
    assert "API 4.3 ms, relayer and indexer 3.0 ms, anvil 1.0 ms" in row
    assert "busy" not in row
    assert "CPU time" not in render_ingest(_figures(), "ledger bench ingest")


def test_how_busy_the_machine_was_during_the_stream_is_reported_beside_its_cpu():
    measured = replace(_figures(), stream_cpu_ms={"API": 2.5}, stream_busy=0.674)
    row = _row(render_ingest(measured, "ledger bench ingest"), "CPU time per streamed record, by process")
    assert row.endswith("| API 2.5 ms | the two cores 67% busy meanwhile |  |")


@pytest.mark.parametrize(("p50", "verdict"), [(1_000.0, "2.00 times (met)"), (1_010.0, "2.02 times (not met)")])
def test_at_a_block_period_one_records_latency_is_judged_against_the_nodes_own_at_that_period(p50, verdict):
    page = render_ingest(replace(_figures(), block_period=_period(single_p50_ms=p50)), "ledger bench ingest")
    raw = _row(page, "raw latency of the same node mining a block every 1 s")
    assert raw.endswith("(40) |  | 500 / 990 ms |  |")
    single = _row(page, "single record at that block period")
    assert single.endswith(f"twice the raw latency at that period: {verdict} |")
    after = _row(page, "of which after its block")
    assert after.endswith(
        "(40) | the node's own writes, their receipts asked for every ms: p50 0.7 ms | **12.3** / 30.0 ms |  |"
    )
    assert "block period" not in render_ingest(_figures(), "ledger bench ingest")


FLOOR = FloorFigures(posts=10_000, seconds=8.0, server_cpu_ms=0.48, load_cpu_ms=0.71, post_p50_ms=1.2, get_p50_ms=1.0)


def test_what_http_alone_allows_the_streams_clients_is_set_beside_the_raw_limit():
    floor = FLOOR
    row = _row(render_ingest(replace(_figures(), floor=floor), "ledger bench ingest"), "the same 4 clients posting")
    # 1,250 posts/s against the raw limit's 2,500 records/s
    assert row.endswith("CPU per post: server 0.48 ms, load generator 0.71 ms | 1,250 posts/s | 50% of the raw limit |")
    assert "does nothing" not in render_ingest(_figures(), "ledger bench ingest")


def test_the_least_a_records_way_can_take_is_the_sum_of_its_io_set_against_the_nodes_own_latency():
    parts = PathParts(call_ms=0.5, read_ms=0.4, commit_ms=0.3)
    page = render_ingest(replace(_figures(), floor=FLOOR, parts=parts), "ledger bench ingest")
    row = _row(page, "the least that way can take here")
    # POST 1.2 + three commits 0.9 + call 0.5 + the node's 5.0 + read 0.4 + GET 1.0 = 9.0 ms
    assert row.endswith(
        "| POST 1.20, GET 1.00, commit 0.30, call 0.50, read 0.40 ms | 9.0 ms | "
        "1.8 times the raw latency, before any work of the service's |"
    )
    lines = page.splitlines()
    assert lines.index(row) == lines.index(_row(page, "single record, POST until confirmed")) + 1
    assert "the least" not in render_ingest(replace(_figures(), floor=FLOOR), "ledger bench ingest")


def test_the_command_prints_the_block_period_figures_and_passes_its_options(monkeypatch):
    """`ledger bench ingest` hands --block-period and --block-period-samples to the run and
    prints what it measured at that period, the time after the block included."""
    from typer.testing import CliRunner

    import ledger_bench.ingest
    from ledger_api.cli import app

    asked: dict[str, object] = {}
    period = _period(seconds=5, samples=12, single_p50_ms=2_050.0, single_p99_ms=4_950.0)

    def run_ingest(*args: object, **kwargs: object) -> IngestFigures:
        asked.update(kwargs)
        return replace(_figures(), block_period=period)

    monkeypatch.setattr(ledger_bench.ingest, "run_ingest", run_ingest)
    result = CliRunner().invoke(
        app, ["bench", "ingest", "--block-period", "5", "--block-period-samples", "12"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert (asked["block_period"], asked["block_period_samples"]) == (5, 12)
    assert "2050 / 4950 ms" in result.output
    assert "12.3 / 30.0 ms (the node's own client: 0.7 ms)" in result.output
