"""Figures into their section of a docs page, from the run that measured them, never by
hand: the benchmarks here, and scripts/bench_gas.py and scripts/reliability_doc.py."""

from __future__ import annotations

import re
from pathlib import Path

from ledger_api.settings import PROJECT_ROOT

BENCHMARKS = PROJECT_ROOT / "docs" / "benchmarks.md"


def write_section(path: Path, name: str, body: str) -> None:
    """Replaces the block between `<!-- name:begin -->` and `<!-- name:end -->` in the
    page (appending it the first time)."""
    begin, end = f"<!-- {name}:begin (written by the benchmark) -->", f"<!-- {name}:end -->"
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    block = f"{begin}\n{body}\n{end}"
    if begin in text:
        text = re.sub(re.escape(begin) + r".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text += f"\n{block}\n"
    path.write_text(text)
