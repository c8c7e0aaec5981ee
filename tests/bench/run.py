"""Run every benchmark and print one table of figures, baselines and ratios.

    python -m tests.bench [--quick] [--only ingest,delivery] [--json results.json]
    python tests/bench/run.py [--quick] ...

Each benchmark is a module `tests/bench/bench_<name>.py` with `FIGURES` (the row names it
reports) and `run(sizes) -> list[Row]`. `bench_console.py` belongs to the console engineer and
is run when it is present. Not collected by pytest (no test_ prefix); never asserts timings.
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `tests.bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.bench.common import HERE, Row, Sizes

BENCHES = ("ingest", "delivery", "upstream", "console", "footprint", "latency", "ai", "webhook")
OPTIONAL = frozenset({"console"})  # written on another branch; run when the file is there


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem_kib = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text()
                           .splitlines() if line.startswith("MemTotal:")))
    except (OSError, StopIteration):
        mem_kib = 0
    return {"nproc": os.cpu_count(), "memory_gib": round(mem_kib / 1024 / 1024, 1),
            "cpu": cpu, "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "loadavg": os.getloadavg()}


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"


def table(rows: list[Row]) -> str:
    head = ("bench", "figure", "value", "unit", "baseline (same run)", "baseline", "ratio")
    cells = [head] + [(r.bench, r.figure, fmt(r.value), r.unit, r.baseline,
                       fmt(r.baseline_value), fmt(r.ratio)) for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(head))]
    right = {2, 5, 6}
    lines = []
    for n, row in enumerate(cells):
        lines.append("| " + " | ".join(c.rjust(w) if i in right else c.ljust(w)
                                       for i, (c, w) in enumerate(zip(row, widths, strict=True)))
                     + " |")
        if n == 0:
            lines.append("|" + "|".join(("-" * (w + 1) + ":") if i in right else "-" * (w + 2)
                                        for i, w in enumerate(widths)) + "|")
    return "\n".join(lines)


def available(name: str) -> bool:
    return (HERE / f"bench_{name}.py").exists()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run (<1 min)")
    parser.add_argument("--only", default="", help="comma-separated: " + ",".join(BENCHES))
    parser.add_argument("--json", metavar="FILE", help="also write the rows and the machine")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # the fakes' access log
    wanted = [b for b in (args.only.split(",") if args.only else BENCHES) if b]
    unknown = [b for b in wanted if b not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    sizes = Sizes.small() if args.quick else Sizes.full()
    info = machine()
    print(f"# MRT benchmarks ({'quick' if args.quick else 'full'}) {info['date']}: "
          f"{info['nproc']} CPUs ({info['cpu']}), {info['memory_gib']} GiB, Python "
          f"{info['python']}, load average {info['loadavg'][0]:.2f}", flush=True)
    rows: list[Row] = []
    failed: list[str] = []
    expected: list[tuple[str, str]] = []
    for name in wanted:
        if name in OPTIONAL and not available(name):
            print(f"# {name}: skipped (tests/bench/bench_{name}.py is not on this branch)")
            continue
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"tests.bench.bench_{name}")
            expected += [(name, figure) for figure in module.FIGURES]
            got = module.run(sizes)
        except Exception:
            failed.append(name)
            print(f"# {name}: FAILED\n{traceback.format_exc()}", file=sys.stderr, flush=True)
            continue
        rows += got
        print(f"# {name}: done in {time.perf_counter() - started:.1f} s", flush=True)
    print()
    print(table(rows))
    print()
    for row in rows:
        if row.note:
            print(f"- {row.bench} / {row.figure}: {row.note}")
    print()
    for command in dict.fromkeys(r.command for r in rows):
        print(f"    {command}")
    missing = [f"{b}/{f}" for b, f in expected if (b, f) not in {(r.bench, r.figure) for r in rows}]
    if missing:
        print(f"# rows missing: {', '.join(missing)}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"machine": info, "quick": args.quick, "rows": [r.as_json() for r in rows]},
            indent=2) + "\n", encoding="utf-8")
    return 1 if failed or missing else 0


if __name__ == "__main__":
    sys.exit(main())
