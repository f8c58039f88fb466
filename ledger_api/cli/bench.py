"""`ledger bench ingest | verify | consortium | worklist | multi`: the benchmarks (ledger_bench, a package of their own
beside the service's), their figures printed as a table and, with --write-docs, written
into docs/benchmarks.md. ledger_bench is imported inside each command: it starts services
and opens their stores, which a party's `ledger` never loads."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from ledger_api.cli._common import out

app = typer.Typer(help="Benchmarks: figures printed, for docs/benchmarks.md.", no_args_is_help=True)

WriteDocs = Annotated[bool, typer.Option("--write-docs", help="Write the figures into docs/benchmarks.md.")]


@app.command("ingest")
def bench_ingest(
    records: Annotated[int, typer.Option(min=1, help="Records posted through /v1/records/batch.")] = 10_000,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Records per batch request.")] = 1_000,
    raw_records: Annotated[int, typer.Option(min=1, help="Pre-signed write transactions sent to the node.")] = 2_000,
    samples: Annotated[
        int,
        typer.Option(
            min=1,
            help="Single records timed one at a time; as many of the node's own writes, and of each part of "
            "a record's way timed alone.",
        ),
    ] = 200,
    stream_records: Annotated[
        int, typer.Option(min=4, help="Single records posted by 4 clients at once (one transaction each).")
    ] = 10_000,
    block_period: Annotated[
        int,
        typer.Option(
            min=0, max=15, help="Seconds between blocks for the latencies measured again at a block period (0: not)."
        ),
    ] = 1,
    block_period_samples: Annotated[
        int, typer.Option(min=1, help="Single records, and as many raw writes, timed at that block period.")
    ] = 40,
    write_docs: WriteDocs = False,
) -> None:
    """Ingest throughput and latency of a fresh service, beside the raw limit of its node;
    then the latencies again with the node mining on a block period."""
    from ledger_bench.docs import BENCHMARKS, write_section
    from ledger_bench.ingest import render_ingest, run_ingest

    console = out()
    figures = run_ingest(
        records,
        batch_size,
        raw_records,
        samples,
        stream_records,
        block_period=block_period,
        block_period_samples=block_period_samples,
        progress=lambda m: console.print(f"[dim]{m}[/]"),
    )
    table = Table("figure", "value", title="ledger bench ingest")
    table.add_row("batch ingest", f"{figures.records:,} records in {figures.seconds:.2f} s")
    table.add_row("batch ingest rate", f"{figures.records_per_second:,.0f} records/s")
    table.add_row(
        f"batch request ({figures.batch_size:,} records) p50 / p99",
        f"{figures.request_p50_ms:.0f} / {figures.request_p99_ms:.0f} ms",
    )
    table.add_row(
        "raw limit of the node",
        f"{figures.raw_records_per_second:,.0f} records/s ({figures.raw_records:,} in {figures.raw_seconds:.2f} s)",
    )
    table.add_row("service / raw", f"{figures.records_per_second / figures.raw_records_per_second:.0%}")
    table.add_row(
        "raw sign-send-receipt p50, one write",
        f"{figures.raw_single_p50_ms:.1f} ms (send to receipt {figures.raw_send_p50_ms:.1f} ms)",
    )
    table.add_row("single record confirmed p50 / p99", f"{figures.single_p50_ms:.1f} / {figures.single_p99_ms:.1f} ms")
    if figures.floor is not None and figures.parts is not None:
        table.add_row(
            "  the least that can take here (its I/O alone)",
            f"{figures.parts.floor_ms(figures.floor, figures.raw_single_p50_ms):.1f} ms",
        )
    table.add_row(
        f"single-record stream, {figures.stream_clients} clients (packed)",
        f"{figures.stream_records / figures.stream_confirmed_seconds:,.0f} records/s "
        f"({figures.stream_records:,} confirmed in {figures.stream_confirmed_seconds:.1f} s, "
        f"accepted in {figures.stream_accepted_seconds:.1f} s)",
    )
    if figures.stream_cpu_ms:
        table.add_row(
            "CPU per streamed record",
            ", ".join(f"{what} {ms:.1f} ms" for what, ms in figures.stream_cpu_ms.items())
            + ("" if figures.stream_busy is None else f" (the cores {figures.stream_busy:.0%} busy)"),
        )
    if (floor := figures.floor) is not None:
        table.add_row(
            "the stream's clients, an endpoint that does nothing",
            f"{floor.posts / floor.seconds:,.0f} posts/s (CPU per post: server {floor.server_cpu_ms:.2f} ms, "
            f"load generator {floor.load_cpu_ms:.2f} ms)",
        )
    if (b := figures.block_period) is not None:
        table.add_row(
            f"at a {b.seconds} s block period: raw sign-send-receipt p50 / p99",
            f"{b.raw_p50_ms:.0f} / {b.raw_p99_ms:.0f} ms",
        )
        table.add_row(
            f"at a {b.seconds} s block period: single record confirmed p50 / p99",
            f"{b.single_p50_ms:.0f} / {b.single_p99_ms:.0f} ms",
        )
        table.add_row(
            "  of which after its block was announced, p50 / p99",
            f"{b.single_after_block_p50_ms:.1f} / {b.single_after_block_p99_ms:.1f} ms "
            f"(the node's own client: {b.raw_after_block_p50_ms:.1f} ms)",
        )
    table.add_row("chain length at the end", f"{figures.chain_blocks_at_end:,} blocks")
    console.print(table)
    if write_docs:
        command = f"ledger bench ingest --records {records} --batch-size {batch_size} --raw-records {raw_records}"
        command += f" --samples {samples} --stream-records {stream_records}"
        command += f" --block-period {block_period} --block-period-samples {block_period_samples}"
        write_section(BENCHMARKS, "ingest", render_ingest(figures, command))
        console.print("written to docs/benchmarks.md")


@app.command("verify")
def bench_verify(
    records: Annotated[int, typer.Option(min=3, max=200, help="Records in the verified consignment.")] = 20,
    workers: Annotated[int, typer.Option(min=1, max=16, help="uvicorn worker processes reading the store.")] = 2,
    seconds: Annotated[float, typer.Option(min=1, max=120, help="Length of each load run.")] = 10,
    connections: Annotated[
        list[int] | None,
        typer.Option(min=1, max=256, help="Concurrent connections of a load run; repeat for several runs."),
    ] = None,
    consignments: Annotated[
        int,
        typer.Option(
            min=1,
            max=100_000,
            help="Distinct consignments the requests are spread over (1: one consignment, its verdict cached).",
        ),
    ] = 1,
    write_docs: WriteDocs = False,
) -> None:
    """Verification throughput and latency (receipt included) with N reader workers, at
    each concurrency given (default 4, 8 and 16 connections), beside a static answer of
    the same server. With --consignments N, over N distinct consignments whose caches are
    cold at the start. Uses wrk when installed (`make bench-tools`, or apt-get install wrk)."""
    from ledger_bench.docs import BENCHMARKS, write_section
    from ledger_bench.verify import render_verify, run_verify

    levels = connections or [4, 8, 16]
    console = out()
    f = run_verify(records, workers, seconds, levels, lambda m: console.print(f"[dim]{m}[/]"), consignments)
    table = Table(
        "connections",
        "verifications/s",
        "p50 / p99 ms",
        "errors",
        "static answers/s",
        "target met",
        title=f"ledger bench verify: {f.consignments:,} consignment(s) of {f.records} records ({f.verdict}), "
        f"{f.workers} workers",
    )
    for run, static in zip(f.runs, f.static, strict=True):
        table.add_row(
            str(run.connections),
            f"{run.requests_per_second:,.0f}",
            f"{run.p50_ms:.1f} / {run.p99_ms:.1f}",
            str(run.errors),
            f"{static.requests_per_second:,.0f}",
            "yes" if run.meets_target else "no",
        )
    console.print(table)
    if write_docs:
        command = f"ledger bench verify --records {records} --workers {workers} --seconds {seconds:.0f}"
        command += "".join(f" --connections {c}" for c in levels)
        if consignments > 1:
            command += f" --consignments {consignments}"
        section = "verify" if consignments == 1 else "verify-distinct"
        write_section(BENCHMARKS, section, render_verify(f, command))
        console.print("written to docs/benchmarks.md")


@app.command("consortium")
def bench_consortium(
    records: Annotated[int, typer.Option(min=1, max=5000, help="Records posted at the first instance.")] = 200,
    rate: Annotated[float, typer.Option(min=0.1, max=200, help="Records posted per second.")] = 10.0,
    seconds: Annotated[float, typer.Option(min=1, max=120, help="Length of the verification load run.")] = 10,
    connections: Annotated[int, typer.Option(min=1, max=256, help="Concurrent verification clients.")] = 8,
    write_docs: WriteDocs = False,
) -> None:
    """Two instances (JP and NL customs) on one anvil mining every 2 s: the time from a
    record's POST at JP's instance until NL's holds it with its payload (p50/p99), and
    verification throughput at NL's instance beside JP's, in one run."""
    from ledger_bench.consortium import render_consortium, run_consortium
    from ledger_bench.docs import BENCHMARKS, write_section

    console = out()
    f = run_consortium(records, rate, seconds, connections, progress=lambda m: console.print(f"[dim]{m}[/]"))
    table = Table("figure", "value", title=f"ledger bench consortium: {f.records} records at {f.rate:g}/s")
    table.add_row("POST at JP until held at NL, p50 / p99 / max", f"{f.p50_s:.2f} / {f.p99_s:.2f} / {f.max_s:.2f} s")
    table.add_row(
        f"verification at NL ({f.verdict}), {f.load.connections} connections",
        f"{f.load.requests_per_second:,.0f}/s, p99 {f.load.p99_ms:.1f} ms",
    )
    table.add_row(
        "the same at JP (comparison)", f"{f.load_jp.requests_per_second:,.0f}/s, p99 {f.load_jp.p99_ms:.1f} ms"
    )
    console.print(table)
    if write_docs:
        command = f"ledger bench consortium --records {records} --rate {rate:g} --seconds {seconds:.0f}"
        command += f" --connections {connections}"
        write_section(BENCHMARKS, "consortium", render_consortium(f, command))
        console.print("written to docs/benchmarks.md")


@app.command("worklist")
def bench_worklist(
    consignments: Annotated[int, typer.Option(min=10, help="Open consignments on the worklist.")] = 5_000,
    requests: Annotated[int, typer.Option(min=10, help="Requests timed of each kind of page.")] = 300,
    write_docs: WriteDocs = False,
) -> None:
    """Latency of a customs officer's worklist page over thousands of open consignments:
    the first page, pages by cursor, filtered pages, and the page after a new record."""
    from ledger_bench.docs import BENCHMARKS, write_section
    from ledger_bench.worklist import render_worklist, run_worklist

    console = out()
    f = run_worklist(consignments, requests, progress=lambda m: console.print(f"[dim]{m}[/]"))
    table = Table("worklist page", "p50 / p99 ms", title=f"ledger bench worklist: {f.consignments:,} consignments")
    table.add_row("first page, lines being computed", f"{f.backlog_p50_ms:.1f} / {f.backlog_p99_ms:.1f}")
    table.add_row("first page, lines current", f"{f.first_p50_ms:.1f} / {f.first_p99_ms:.1f}")
    table.add_row("a page further on, by cursor", f"{f.cursor_p50_ms:.1f} / {f.cursor_p99_ms:.1f}")
    table.add_row("a filtered page", f"{f.filtered_p50_ms:.1f} / {f.filtered_p99_ms:.1f}")
    table.add_row("first page of all", f"{f.all_p50_ms:.1f} / {f.all_p99_ms:.1f}")
    table.add_row("after one more consignment", f"{f.after_new_p50_ms:.1f} / {f.after_new_p99_ms:.1f}")
    table.add_row("the first request", f"{f.first_request_ms:.1f} ms")
    table.add_row("every line computed (refresher)", f"{f.refresh_seconds:.1f} s")
    table.add_row("lanes", ", ".join(f"{n:,} {lane}" for lane, n in f.lanes.items()))
    console.print(table)
    if write_docs:
        command = f"ledger bench worklist --consignments {consignments} --requests {requests}"
        write_section(BENCHMARKS, "worklist", render_worklist(f, command))
        console.print("written to docs/benchmarks.md")


@app.command("multi")
def bench_multi(
    batch_records: Annotated[int, typer.Option(min=1, help="Records posted in batches, in each set-up.")] = 4_000,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Records per batch request.")] = 500,
    stream_records: Annotated[int, typer.Option(min=1, help="Single records posted by the stream's clients.")] = 1_000,
    stream_clients: Annotated[int, typer.Option(min=1, max=32, help="Clients posting single records at once.")] = 4,
    records: Annotated[int, typer.Option(min=3, max=200, help="Records in the verified consignment.")] = 20,
    seconds: Annotated[float, typer.Option(min=1, max=120, help="Length of each verification load run.")] = 10,
    connections: Annotated[
        int, typer.Option(min=2, max=256, help="Concurrent verification clients, split between the readers.")
    ] = 8,
    reader_workers: Annotated[int, typer.Option(min=1, max=16, help="uvicorn workers of each reader instance.")] = 1,
    write_docs: WriteDocs = False,
) -> None:
    """One authority's instances on one PostgreSQL (started for the run) beside a lone
    instance on SQLite: ingest through 1 and 2 writers, verification through 1 and 2
    readers, and the seconds a standby takes to carry on after the writer holding the
    relayer is SIGKILLed. Needs PostgreSQL's server (apt-get install postgresql)."""
    from ledger_bench.docs import BENCHMARKS, write_section
    from ledger_bench.multi import render_multi, run_multi

    console = out()
    f = run_multi(
        batch_records,
        batch_size,
        stream_records,
        stream_clients,
        records,
        seconds,
        connections,
        reader_workers,
        progress=lambda m: console.print(f"[dim]{m}[/]"),
    )
    table = Table("set-up", "batched ingest", "single-record stream", title="ledger bench multi: ingest")
    for run in f.ingest:
        table.add_row(
            f"{run.store}, {run.instances} writer(s)",
            f"{f.batch_records / run.batch_seconds:,.0f} records/s",
            f"{f.stream_records / run.stream_confirmed_seconds:,.0f} records/s",
        )
    console.print(table)
    reads = Table("set-up", "verifications/s", "p50 / p99 ms", "errors", title="ledger bench multi: verification")
    for read in f.reads:
        reads.add_row(
            f"{read.store}, {read.instances} reader(s)",
            f"{read.load.requests_per_second:,.0f}",
            f"{read.load.p50_ms:.1f} / {read.load.p99_ms:.1f}",
            str(read.load.errors),
        )
    console.print(reads)
    console.print(
        f"takeover after SIGKILL: lease held by the standby after {f.lease_seconds:.1f} s, "
        f"the queue moving again after {f.queue_seconds:.1f} s"
    )
    if write_docs:
        command = f"ledger bench multi --batch-records {batch_records} --batch-size {batch_size}"
        command += f" --stream-records {stream_records} --stream-clients {stream_clients} --records {records}"
        command += f" --seconds {seconds:.0f} --connections {connections} --reader-workers {reader_workers}"
        write_section(BENCHMARKS, "multi", render_multi(f, command))
        console.print("written to docs/benchmarks.md")
