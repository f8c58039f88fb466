"""How `ledger bench worklist` reports its figures: each kind of page with its p50 and p99,
the lanes the consignments fell into, the first request and the time the refresher took to
compute every line, under the command that measured them."""

from __future__ import annotations

from ledger_bench.worklist import WorklistFigures, render_worklist


def test_the_report_gives_each_kind_of_page_its_p50_and_p99_and_names_the_command():
    figures = WorklistFigures(
        consignments=5_000,
        lanes={"RED": 715, "AMBER": 1_190, "GREEN": 3_095},
        first_request_ms=310.5,
        refresh_seconds=190.2,
        backlog_p50_ms=30.0,
        backlog_p99_ms=70.5,
        requests=300,
        first_p50_ms=21.0,
        first_p99_ms=48.4,
        cursor_p50_ms=22.0,
        cursor_p99_ms=51.5,
        filtered_p50_ms=19.0,
        filtered_p99_ms=45.0,
        all_p50_ms=23.0,
        all_p99_ms=60.0,
        after_new_p50_ms=40.0,
        after_new_p99_ms=90.0,
    )
    page = render_worklist(figures, "ledger bench worklist --consignments 5000 --requests 300")
    assert page.startswith("`ledger bench worklist --consignments 5000 --requests 300`")
    assert "| first page, lines current | 21.0 | **48.4** |" in page
    assert "| a page further on, by cursor | 22.0 | **51.5** |" in page
    assert "| first page after one more consignment landed | 40.0 | **90.0** |" in page
    assert "5,000 consignments" in page and "715 RED, 1,190 AMBER, 3,095 GREEN" in page
    assert "| first page while the refresher computes the lines | 30.0 | **70.5** |" in page
    assert "190.2 s" in page and "310.5 ms" in page
