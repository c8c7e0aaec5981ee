"""The benchmark suite runs: `python -m tests.bench --quick` (tiny sizes) prints a table with
every row every benchmark declares, each with a number. Nothing here looks at a timing."""

from __future__ import annotations

import importlib
import json
import math
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def declared_rows() -> set[tuple[str, str]]:
    sys.path.insert(0, str(ROOT))
    try:
        from tests.bench.run import BENCHES, available

        rows = set()
        for name in BENCHES:
            if available(name):
                module = importlib.import_module(f"tests.bench.bench_{name}")
                rows |= {(name, figure) for figure in module.FIGURES}
        return rows
    finally:
        sys.path.remove(str(ROOT))


def test_quick_run_prints_every_row(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, "-m", "tests.bench", "--quick", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    got = {(r["bench"], r["figure"]) for r in rows}
    expected = declared_rows()
    benches = {"ingest", "delivery", "upstream", "footprint", "latency", "webhook"}
    assert benches <= {b for b, _ in expected}
    assert got == expected
    for row in rows:
        assert math.isfinite(row["value"]) and row["command"].startswith("python -m tests.bench")
        assert row["baseline"] and row["baseline_value"] is not None
        # the printed table has the row too, not only the JSON
        assert any(line.startswith(f"| {row['bench']}") and f" {row['figure']} " in line
                   for line in proc.stdout.splitlines()), row
