"""Writes the fault suite's last figures (build/reliability.json, written by the tests in
tests/faults through their `figure` fixture) into docs/reliability.md.

    .venv/bin/pytest tests/faults && .venv/bin/python -m scripts.reliability_doc
"""

from __future__ import annotations

import json
import sys

from ledger_api.settings import PROJECT_ROOT
from ledger_bench.docs import write_section

FIGURES = PROJECT_ROOT / "build" / "reliability.json"
PAGE = PROJECT_ROOT / "docs" / "reliability.md"


def main() -> int:
    if not FIGURES.exists():
        print(f"{FIGURES} does not exist: run the fault suite first (.venv/bin/pytest tests/faults)", file=sys.stderr)
        return 1
    data = json.loads(FIGURES.read_text())
    lines = ["| test | measured in the last run | when | reproduce with |", "|---|---|---|---|"]
    for row, entry in data.items():
        lines.append(f"| {row} | {entry['measured']} | {entry['at']}, {entry['cpus']} CPUs | `{entry['command']}` |")
    write_section(PAGE, "reliability", "\n".join(lines))
    print(f"wrote {len(data)} rows into {PAGE}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
