"""Shared by the benchmarks: the result row, sizes, timing, the loopback sink and upstream server.

Every figure is reported with a baseline measured in the same run (numbers on shared machines
drift; ratios drift much less) and the command that reproduces it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
HERE = Path(__file__).resolve().parent
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))  # the loopback fakes: tests/test_source_support.py


def command_for(bench: str, quick: bool = False) -> str:
    return f"python -m tests.bench --only {bench}" + (" --quick" if quick else "")


@dataclass(frozen=True, slots=True)
class Sizes:
    """How much work each benchmark does; `--quick` shrinks everything."""

    quick: bool
    ingest_events: int
    ingest_batch: int
    idle_cycles: int
    deliveries: int
    concurrency: int
    profile_sends: int
    footprint_ticks: int
    startup_runs: int
    latency_changes: int
    claim_backlogs: tuple[int, int]  # due rows: the claim-cost baseline, then the figure
    claim_samples: int

    @classmethod
    def full(cls) -> Sizes:
        return cls(quick=False, ingest_events=100_000, ingest_batch=100, idle_cycles=300,
                   deliveries=10_000, concurrency=8, profile_sends=300,
                   footprint_ticks=60, startup_runs=5, latency_changes=30,
                   claim_backlogs=(1_000, 100_000), claim_samples=50)

    @classmethod
    def small(cls) -> Sizes:
        return cls(quick=True, ingest_events=500, ingest_batch=100, idle_cycles=10,
                   deliveries=100, concurrency=8, profile_sends=20,
                   footprint_ticks=3, startup_runs=1, latency_changes=2,
                   claim_backlogs=(100, 2_000), claim_samples=10)


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table: a figure, its same-run baseline, and figure / baseline."""

    bench: str
    figure: str
    value: float
    unit: str
    baseline: str = ""
    baseline_value: float | None = None
    command: str = ""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.baseline_value in (None, 0):
            return None
        return self.value / self.baseline_value  # type: ignore[operator]

    def as_json(self) -> dict[str, Any]:
        return {
            "bench": self.bench, "figure": self.figure, "value": self.value, "unit": self.unit,
            "baseline": self.baseline, "baseline_value": self.baseline_value,
            "ratio": self.ratio, "command": self.command, "note": self.note,
        }


def best_of(runs: int, fn: Any) -> float:
    """The fastest of `runs` timings of fn() in seconds (the least disturbed by neighbours)."""
    times = []
    for _ in range(max(1, runs)):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (p99 of 30 samples is the largest: say so, do not interpolate)."""
    ordered = sorted(values)
    rank = max(1, int(-(-pct * len(ordered) // 100)))  # ceil
    return ordered[min(rank, len(ordered)) - 1]


def child_env() -> dict[str, str]:
    """The environment of a subprocess: this checkout importable, no proxies for loopback."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                "all_proxy"):
        env.pop(var, None)
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


class SinkHandle:
    def __init__(self, port: int) -> None:
        self.port = port
        self.base = f"http://127.0.0.1:{port}"

    def _get(self, path: str, method: str = "GET") -> Any:
        request = urllib.request.Request(self.base + path, method=method, data=None)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=10) as answer:
            return json.loads(answer.read())

    def count(self) -> int:
        return int(self._get("/_stats")["count"])

    def arrivals(self) -> list[tuple[float, str, str]]:
        return [tuple(a) for a in self._get("/_arrivals")]  # type: ignore[misc]

    def reset(self) -> None:
        self._get("/_reset", method="POST")

    def wait_for(self, count: int, timeout: float) -> float:
        """Poll until the sink has `count` messages; returns time.perf_counter() at that point."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.count() >= count:
                return time.perf_counter()
            time.sleep(0.005)
        raise TimeoutError(f"the sink got {self.count()} of {count} messages in {timeout} s")


@contextmanager
def running_sink() -> Iterator[SinkHandle]:
    """The webhook sink in its own process, so it never competes with the sender for the GIL."""
    proc = subprocess.Popen([sys.executable, str(HERE / "sink.py"), "--port", "0"],
                            stdout=subprocess.PIPE, text=True, env=child_env())
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().split()
        if len(line) != 2 or line[0] != "PORT":
            raise RuntimeError(f"the sink did not start: {line!r}")
        yield SinkHandle(int(line[1]))
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def upstream_server() -> Iterator[Any]:
    """A loopback HTTP server for the fakes of tests/test_source_support.py (threaded)."""
    from pytest_httpserver import HTTPServer

    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        if server.is_running():
            server.stop()


def rss_kib(status_text: str) -> int:
    """VmRSS from the text of /proc/<pid>/status, in KiB."""
    for line in status_text.splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise ValueError("no VmRSS line")
