"""`ledger bench multi` (ledger_bench/multi.py) end to end at a tiny size on the session's
PostgreSQL server: a lone SQLite instance, one and two PostgreSQL writers, one and two
readers, every record confirmed and every verification answered, a standby carrying on
after the writer holding the relayer is SIGKILLed; and the section it writes, its own
between its markers, each PostgreSQL figure beside SQLite's of the same run."""

from __future__ import annotations

from pathlib import Path

from ledger_bench.docs import write_section
from ledger_bench.multi import POSTGRESQL, SQLITE, IngestRun, MultiFigures, ReadRun, render_multi, run_multi
from ledger_bench.postgres import PostgresServer
from ledger_bench.verify import LoadRun

SETUPS = [(SQLITE, 1), (POSTGRESQL, 1), (POSTGRESQL, 2)]


def test_the_bench_measures_each_setup_and_a_standby_taking_over_after_the_relayers_holder_is_killed(
    postgres_server: PostgresServer, tmp_path: Path
):
    f = run_multi(
        batch_records=60,
        batch_size=20,
        stream_records=20,
        stream_clients=2,
        records=4,
        seconds=1,
        connections=2,
        server=postgres_server,
    )
    # measure_batches and measure_stream return only once every record they posted is confirmed.
    assert [(r.store, r.instances) for r in f.ingest] == SETUPS
    for run in f.ingest:
        assert run.batch_seconds > 0 and 0 < run.stream_accepted_seconds <= run.stream_confirmed_seconds
    assert [(r.store, r.instances) for r in f.reads] == SETUPS
    for read in f.reads:
        assert read.load.requests > 0 and read.load.errors == 0, read
    assert f.verdict == "VERIFIED"
    # The record posted to the standby after the kill is confirmed only once a standby
    # holds the lease (the killed holder's runs out LEASE_SECONDS after its last renewal).
    assert 0 < f.lease_seconds <= f.queue_seconds < 60

    page = tmp_path / "benchmarks.md"
    page.write_text("# Benchmarks\n\nA paragraph of the page's own.\n")
    write_section(page, "multi", render_multi(f, "ledger bench multi --batch-records 60"))
    text = page.read_text()
    assert text.startswith("# Benchmarks\n\nA paragraph of the page's own.\n\n<!-- multi:begin")
    assert text.rstrip().endswith("<!-- multi:end -->")
    assert "`ledger bench multi --batch-records 60`" in text


def _figures() -> MultiFigures:
    def load(rate: float, p99: float) -> LoadRun:
        return LoadRun(8, int(rate * 10), rate, p99 / 2, p99, 0)

    return MultiFigures(
        batch_records=4_000,
        batch_size=500,
        stream_records=1_000,
        stream_clients=4,
        records=20,
        verdict="VERIFIED",
        connections=8,
        reader_workers=1,
        seconds=10,
        tool="wrk",
        ingest=[
            IngestRun(SQLITE, 1, batch_seconds=4.0, stream_accepted_seconds=9.0, stream_confirmed_seconds=10.0),
            IngestRun(POSTGRESQL, 1, batch_seconds=5.0, stream_accepted_seconds=19.0, stream_confirmed_seconds=20.0),
            IngestRun(POSTGRESQL, 2, batch_seconds=2.5, stream_accepted_seconds=12.0, stream_confirmed_seconds=12.5),
        ],
        reads=[
            ReadRun(SQLITE, 1, load(400, 30.0)),
            ReadRun(POSTGRESQL, 1, load(300, 40.0)),
            ReadRun(POSTGRESQL, 2, load(600, 45.5)),
        ],
        lease_seconds=4.6,
        queue_seconds=5.2,
        load_average=3.0,
    )


def _row(page: str, start: str) -> list[str]:
    line = next(line for line in page.splitlines() if line.startswith(f"| {start}"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_each_postgresql_figure_stands_beside_sqlites_of_the_same_run_as_a_share_of_it():
    page = render_multi(_figures(), "ledger bench multi")
    assert _row(page, "batched ingest")[1:] == [
        "**1,000/s**",
        "**800/s** (80% of SQLite)",
        "**1,600/s** (160% of SQLite)",
    ]
    assert _row(page, "single records from 4 clients")[1:] == [
        "**100/s**",
        "**50/s** (50% of SQLite)",
        "**80/s** (80% of SQLite)",
    ]
    readers = _row(page, "verification of one 20-record consignment")
    assert readers[1] == "**400/s**, p50 15.0 / p99 30.0 ms, 0 errors"
    assert readers[3] == "**600/s** (150% of SQLite), p50 22.8 / p99 45.5 ms, 0 errors"
    assert _row(page, "until the standby holds the relayer's lease")[1] == "**4.6**"
    assert _row(page, "until a record posted to the standby")[1] == "**5.2**"
