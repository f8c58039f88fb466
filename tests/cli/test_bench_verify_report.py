"""How `ledger bench verify` judges its runs: the target (issue #4) is one concurrency that
reaches both the rate and the p99, and the page says which did and which did not."""

from __future__ import annotations

from ledger_bench.verify import LoadRun, VerifyFigures, render_verify


def _run(connections: int, rate: float, p99: float) -> LoadRun:
    return LoadRun(connections, int(rate * 10), rate, p99 / 2, p99, 0)


def test_a_run_meets_the_target_only_with_both_the_rate_and_the_p99():
    assert _run(8, 500, 50.0).meets_target
    assert not _run(8, 499.9, 20.0).meets_target
    assert not _run(8, 900, 50.1).meets_target


def test_the_report_names_the_concurrencies_that_met_the_target_and_each_runs_figures():
    figures = VerifyFigures(
        records=20,
        verdict="VERIFIED",
        workers=2,
        seconds=10,
        tool="wrk",
        runs=[_run(4, 497, 17.6), _run(8, 724, 34.3), _run(16, 684, 58.0)],
        static=[_run(4, 2254, 5.4), _run(8, 5299, 7.1), _run(16, 2816, 91.0)],
    )
    page = render_verify(figures, "ledger bench verify")
    rows = [line for line in page.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [row.rsplit("|", 2)[-2].strip() for row in rows] == ["no", "yes", "no"]
    assert "| 8 | **724** | 17.1 / **34.3** |" in rows[1]
    assert "14%" in rows[1]  # verification / static, side by side
    assert "is met at 8 connections" in page


def test_the_report_says_so_when_no_concurrency_met_the_target():
    figures = VerifyFigures(20, "VERIFIED", 2, 10, "wrk", [_run(16, 625, 67.2)], [_run(16, 2105, 96.7)])
    assert "not met at any concurrency" in render_verify(figures, "ledger bench verify")


def test_each_concurrency_of_the_distinct_mode_loads_readers_started_afresh(monkeypatch):
    """Over distinct consignments, a run on the readers of the run before would find most
    verdicts cached by it: each concurrency gets readers no load has touched (cold caches),
    while the one-consignment mode keeps its readers. The service, the writing and the load
    are stood in for here: what is checked is the benchmark's order of things."""
    import ledger_bench.verify as bench

    starts: list[int] = []
    loaded: list[tuple[int, str]] = []  # (readers' start number, path or "/healthz")

    class FakeReaders:
        def __init__(self, *_args: object) -> None:
            self.running: int | None = None

        def start(self) -> str:
            if self.running is None:
                starts.append(len(starts))
                self.running = starts[-1]
            return f"http://readers-{self.running}"

        def stop(self) -> None:
            self.running = None

    class FakeService:
        def __init__(self, _data: object) -> None:
            self.credentials = type("C", (), {"issue": staticmethod(lambda *_a: "token")})()

        def stop(self) -> None:
            pass

    def load(base, paths, _token, _seconds, connections, rate_target):
        loaded.append((int(base.rsplit("-", 1)[1]), paths[0]))
        return LoadRun(connections, 10, 1.0, 1.0, 1.0, 0, rate_target), "test"

    nl = type("A", (), {"address": "0x" + "11" * 20})()
    monkeypatch.setattr(bench, "Service", FakeService)
    monkeypatch.setattr(bench, "_Readers", FakeReaders)
    monkeypatch.setattr(bench, "_parties", lambda _s: {"customs NL": nl})
    monkeypatch.setattr(bench, "_write_many", lambda _s, _a, _r, n: [f"UCR{i}" for i in range(n)])
    monkeypatch.setattr(bench, "_write_one", lambda _s, _a, _r: ["UCR0"])
    monkeypatch.setattr(bench, "_run_load", load)
    monkeypatch.setattr(bench, "_verdict", lambda _url, _token: "VERIFIED")

    figures = bench.run_verify(connections=(4, 8, 16), consignments=50)
    verifications = [readers for readers, path in loaded if path != "/healthz"]
    assert verifications == [0, 1, 2]  # three concurrencies, three fresh starts
    assert figures.verdicts == {"VERIFIED": 50}

    starts.clear()
    loaded.clear()
    bench.run_verify(connections=(4, 8, 16), consignments=1)
    assert [readers for readers, path in loaded if path != "/healthz"] == [0, 0, 0]
