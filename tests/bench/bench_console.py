"""Console benchmark: a year of history, first paint of each screen, page-down latency.

    .venv/bin/python tests/bench/bench_console.py [--rebuild] [--quick] [--pages 40]
    python -m tests.bench --only console       # the same through the suite's runner

Builds (once, cached under $TMPDIR/mrt-bench-console/) a SQLite database with 1,000,000 events,
200,000 alerts and 50,000 outbox rows, then measures with Textual's headless driver:

  * first paint: from starting `mrt-tui --screen X` to its first page of rows on screen;
  * page-down: one pagedown key press in the alerts list until the cursor has moved (and, when
    it crosses into rows not loaded yet, until the next keyset page is shown);

against the baseline of the naive console: every alert (or outbox row) read and handed to a
plain DataTable. Numbers drift between runs on a shared machine, so the ratio against the
baseline measured in the same run is the figure to compare; the absolute ones are for reference.
Not collected by pytest (no test_ prefix).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from textual.app import App, ComposeResult
from textual.widgets import DataTable

from mrt.store.db import open_database
from mrt.store.migrations import LATEST, migrate
from tui.app import MrtConsole, make_app
from tui.screens.no_database import NoDatabaseScreen


@dataclass(frozen=True, slots=True)
class Scale:
    """How big the database is and how much is timed (`--quick` shrinks everything)."""

    name: str
    events: int
    alerts: int
    outbox: int
    pages: int
    repeat: int
    cycles: int = 7 * 24 * 12  # cycle metrics per source: a week of 5-minute cycles


FULL = Scale("1m", 1_000_000, 200_000, 50_000, pages=40, repeat=3)
QUICK = Scale("quick", 20_000, 4_000, 1_000, pages=6, repeat=1, cycles=24 * 12)
SOURCES = [f"github:org{i}/repo{i}" for i in range(15)] + [f"huggingface:org{i}" for i in range(5)]
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SPAN = timedelta(days=365)
BUILD_VERSION = f"2-schema{LATEST}"  # changes with the generated data or the schema
WORDS = [
    "Support",
    "DeepSeek-V3",
    "FP8",
    "weights",
    "in",
    "the",
    "fused",
    "MoE",
    "kernel;",
    "CUDA",
    "graph",
    "capture",
    "fails",
    "with",
    "tensor",
    "parallel",
    "8;",
    "Qwen3-Coder",
    "release;",
    "speculative",
    "decoding",
    "for",
    "Llama",
    "4;",
    "bump",
    "transformers;",
    "fix",
    "tokenizer",
    "regression",
    "on",
    "long",
    "prompts;",
    "add",
    "ROCm",
    "wheels;",
    "vLLM",
    "scheduler",
    "starvation",
]


def ts(at: datetime) -> str:
    """UtcDateTimeField's storage form: naive UTC text."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


def title(i: int) -> str:
    n = 6 + i % 7
    return " ".join(WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(n)) + f" #{i}"


def chunks(rows: Iterator[tuple[Any, ...]], size: int = 50_000) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def build(path: Path, scale: Scale) -> None:
    """The schema through the real migration, the rows through raw executemany (fast)."""
    path.unlink(missing_ok=True)
    db = open_database(path)
    migrate(db)
    db.close()
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=wal")
    con.execute("PRAGMA synchronous=off")
    EVENTS, ALERTS, OUTBOX = scale.events, scale.alerts, scale.outbox
    step = SPAN / EVENTS

    def events() -> Iterator[tuple[Any, ...]]:
        for i in range(EVENTS):
            key = SOURCES[i % len(SOURCES)]
            at = ts(NOW - SPAN + step * i)
            yield (
                f"fp{i:08d}",
                key.split(":")[0],
                key,
                "issue",
                str(i),
                "issue_opened",
                str(i),
                title(i),
                "",
                f"https://github.com/x/y/issues/{i}",
                "octocat",
                "[]",
                at,
                at,
                "{}",
                "{}",
                "notify" if i % 5 == 0 else "none",
                "{}",
            )

    for batch in chunks(events()):
        with con:
            con.executemany(
                "INSERT INTO event (fingerprint, source, source_key, resource_type, resource_id, "
                "event_type, event_id, title, summary, url, author, labels, occurred_at, "
                "observed_at, details, raw, decision, decision_detail) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                batch,
            )

    def alerts() -> Iterator[tuple[Any, ...]]:
        for j in range(ALERTS):
            i = j * 5  # every fifth event notified
            key = SOURCES[i % len(SOURCES)]
            matched = json.dumps(
                [{"reasons": ["title contained 'deepseek'"], "rule": f"rule{j % 20}"}]
            )
            prio = ("normal", "normal", "high", "low", "critical")[j % 5]
            yield (
                i + 1,
                f"fp{i:08d}",
                title(i),
                key,
                prio,
                "[]",
                matched,
                "{}",
                ts(NOW - SPAN + step * i),
                "event",
            )

    for batch in chunks(alerts()):
        with con:
            con.executemany(
                "INSERT INTO alert (event_id, fingerprint, title, source_key, priority, tags, "
                "matched, payload, created_at, kind) VALUES (?,?,?,?,?,?,?,?,?,?)",
                batch,
            )

    def outbox() -> Iterator[tuple[Any, ...]]:
        for k in range(OUTBOX):
            alert_id = ALERTS - OUTBOX + k + 1  # the newest alerts have deliveries
            status = "dead" if k % 50 == 0 else "retrying" if k % 97 == 0 else "sent"
            error = "HTTP 404 from the WeLink robot" if status != "sent" else None
            at = ts(NOW - timedelta(minutes=OUTBOX - k))
            yield (
                alert_id,
                "welink",
                "welink://***@example.invalid",
                status,
                "s",
                "b",
                3 if status == "dead" else 1,
                at,
                error,
                at,
                at,
            )

    for batch in chunks(outbox()):
        with con:
            con.executemany(
                "INSERT INTO outbox (alert_id, channel, target, status, subject, body, attempts, "
                "next_attempt_at, last_error, created_at, updated_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                batch,
            )
    with con:
        con.execute(
            "INSERT INTO delivery_attempt (outbox_id, started_at, duration_ms, outcome, "
            "http_status) SELECT id, updated_at, 100, CASE status WHEN 'sent' THEN 'sent' "
            "ELSE 'dead' END, 200 FROM outbox"
        )
        metrics = []
        for m in range(scale.cycles):  # 5-minute cycles per source, back from NOW
            for key in SOURCES:
                metrics.append((key, ts(NOW - timedelta(minutes=5 * m)), 5, 1, 0, 0, 1))
        # peewee's defaults live in Python: a raw insert names every NOT NULL column.
        con.executemany(
            "INSERT INTO cycle_metric (source_key, started_at, new_events, matched, alerts, "
            "duration_ms, requests, outcome, fetched, deliveries_ok, deliveries_failed, retries, "
            "http_statuses) VALUES (?,?,?,?,?,?,?,'ok',5,0,0,0,'{}')",
            metrics,
        )
        con.executemany(
            "INSERT INTO source_state (source_key, source, cursor, validators, health, "
            "consecutive_failures, last_poll_at, next_poll_at, updated_at, failure_notified) "
            "VALUES (?,?,?,?,?,?,?,?,?,0)",
            [
                (
                    k,
                    k.split(":")[0],
                    '{"since": "2026-11-20T11:55:00Z"}',
                    "{}",
                    "ok",
                    0,
                    ts(NOW - timedelta(minutes=1)),
                    ts(NOW + timedelta(minutes=4)),
                    ts(NOW),
                )
                for k in SOURCES
            ],
        )
        con.execute(
            "INSERT INTO worker_heartbeat (worker_id, hostname, pid, version, started_at, "
            "heartbeat_at) VALUES ('w', 'host', 1, '1.0', ?, ?)",
            (ts(NOW - timedelta(days=1)), ts(NOW - timedelta(seconds=3))),
        )
    con.execute("ANALYZE")
    con.close()
    path.with_suffix(".version").write_text(f"{BUILD_VERSION} {scale}")


def database(scale: Scale, rebuild: bool = False) -> Path:
    """The cached database of this scale, built when missing or out of date."""
    folder = Path(
        os.environ.get("MRT_BENCH_DIR", Path(tempfile.gettempdir()) / "mrt-bench-console")
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"console-{scale.name}.sqlite3"
    marker = path.with_suffix(".version")
    if (
        rebuild
        or not path.exists()
        or not marker.exists()
        or marker.read_text() != f"{BUILD_VERSION} {scale}"
    ):
        started = time.perf_counter()
        print(
            f"building {path} ({scale.events:,} events, {scale.alerts:,} alerts, "
            f"{scale.outbox:,} outbox rows) ...",
            flush=True,
        )
        build(path, scale)
        print(f"built in {time.perf_counter() - started:.1f} s", flush=True)
    return path


async def wait_until(pilot: Any, done: Callable[[], bool], limit: float = 600.0) -> None:
    deadline = time.perf_counter() + limit
    while not done():
        if isinstance(pilot.app.screen, NoDatabaseScreen):
            advice = pilot.app.screen.query_one("#no-db-advice").render()
            raise RuntimeError(f"the console cannot open the database: {advice}")
        if time.perf_counter() > deadline:
            raise TimeoutError("the screen never showed its rows")
        await pilot.pause(0.002)


FIRST_ROWS: dict[str, str] = {
    "alerts": "#alert-table",
    "deliveries": "#outbox-table",
    "sources": "#source-table",
    "metrics": "#metrics-table",
}


async def console_first_paint(path: Path, mode: str) -> float:
    app = make_app(
        path, initial_mode=mode, clock=lambda: NOW, poll_seconds=3600, status_seconds=3600
    )
    started = time.perf_counter()
    async with app.run_test(size=(120, 40)) as pilot:

        def shown() -> bool:
            tables = app.screen.query(FIRST_ROWS[mode])
            return bool(tables) and tables.first(DataTable).row_count > 0

        await wait_until(pilot, shown)
        return time.perf_counter() - started


async def console_page_downs(path: Path, pages: int) -> list[float]:
    app: MrtConsole = make_app(path, clock=lambda: NOW, poll_seconds=3600, status_seconds=3600)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_until(
            pilot,
            lambda: (
                bool(app.screen.query("#alert-table"))
                and app.screen.query_one("#alert-table", DataTable).row_count > 0
            ),
        )
        table = app.screen.query_one("#alert-table", DataTable)
        return await page_downs(pilot, table, pages)


async def page_downs(pilot: Any, table: DataTable[Any], pages: int) -> list[float]:
    times: list[float] = []
    for _ in range(pages):
        before = table.cursor_row
        started = time.perf_counter()
        await pilot.press("pagedown")
        # Until the cursor moved; past the loaded rows, until the next page arrived.
        await wait_until(
            pilot,
            lambda b=before: table.cursor_row > b or table.row_count > b + 1 + table.size.height,
        )
        times.append(time.perf_counter() - started)
    return times


class PlainTableApp(App[None]):
    """The naive console: every row of a table read and handed to one DataTable."""

    def __init__(self, path: Path, query: str) -> None:
        super().__init__()
        self.path, self.query_text = path, query

    def compose(self) -> ComposeResult:
        yield DataTable(cursor_type="row")

    def on_mount(self) -> None:
        con = sqlite3.connect(self.path)
        rows = con.execute(self.query_text).fetchall()
        con.close()
        table = self.query_one(DataTable)
        table.add_columns(*(f"c{i}" for i in range(len(rows[0]))))
        table.add_rows(rows)
        table.focus()


BASELINES = {
    # the naive sources and metrics screens: every state row, every cycle's figures
    "sources": "SELECT source_key, health, last_poll_at, next_poll_at, consecutive_failures, "
    "ratelimit_remaining, last_error FROM source_state ORDER BY source_key",
    "metrics": "SELECT source_key, started_at, new_events, matched, alerts, deliveries_ok, "
    "deliveries_failed FROM cycle_metric ORDER BY id DESC",
    "alerts": "SELECT id, created_at, priority, title, source_key FROM alert ORDER BY id DESC",
    "deliveries": "SELECT id, status, channel, attempts, updated_at, last_error FROM outbox "
    "ORDER BY id DESC",
}


async def baseline_first_paint(path: Path, mode: str, pages: int) -> tuple[float, list[float]]:
    app = PlainTableApp(path, BASELINES[mode])
    started = time.perf_counter()
    async with app.run_test(size=(120, 40)) as pilot:
        table = app.query_one(DataTable)
        await wait_until(pilot, lambda: table.row_count > 0)
        await pilot.pause()  # the first render of the filled table
        first = time.perf_counter() - started
        downs = await page_downs(pilot, table, pages) if mode == "alerts" else []
        return first, downs


def machine_reference() -> float:
    """Seconds for 10 million Python additions: how slow this machine is right now (a 2023
    laptop does it in about 0.4 s), to read the absolute figures against."""
    started = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - started


# (figure, console seconds, baseline seconds or None, baseline description)
Measured = list[tuple[str, float, float | None, str]]
PLAIN = "a plain DataTable holding every row"
FIGURES = (
    "first paint: alerts",
    "first paint: deliveries",
    "first paint: sources",
    "first paint: metrics",
    "page-down: median",
    "page-down: p95",
)


async def measure(scale: Scale, rebuild: bool = False) -> tuple[Path, Measured]:
    path = database(scale, rebuild)
    measured: Measured = []
    for mode in ("alerts", "deliveries", "sources", "metrics"):
        first = min([await console_first_paint(path, mode) for _ in range(scale.repeat)])
        base = (await baseline_first_paint(path, mode, 0))[0] if mode in BASELINES else None
        measured.append((f"first paint: {mode}", first, base, PLAIN if base else ""))
    downs = await console_page_downs(path, scale.pages)
    _, base_downs = await baseline_first_paint(path, "alerts", scale.pages)
    measured.append(
        ("page-down: median", statistics.median(downs), statistics.median(base_downs), PLAIN)
    )
    measured.append(("page-down: p95", percentile95(downs), percentile95(base_downs), PLAIN))
    return path, measured


def percentile95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


def run(sizes: Any) -> list[Any]:
    """The suite runner's entry (tests/bench/run.py): rows of figures, baselines and ratios."""
    from tests.bench.common import Row, command_for

    scale = QUICK if sizes.quick else FULL
    _, measured = asyncio.run(measure(scale))
    note = (
        f"{scale.events:,} events, {scale.alerts:,} alerts, {scale.outbox:,} outbox rows, "
        "120x40; targets: first paint < 1 s, page-down < 50 ms"
    )
    return [
        Row(
            "console",
            figure,
            value * 1000,
            "ms",
            baseline,
            base * 1000 if base else None,
            command_for("console", sizes.quick),
            note if figure == FIGURES[0] else "",
        )
        for figure, value, base, baseline in measured
    ]


def ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.1f} ms"


async def report(args: argparse.Namespace) -> None:
    scale = QUICK if args.quick else FULL
    scale = Scale(
        scale.name,
        scale.events,
        scale.alerts,
        scale.outbox,
        args.pages or scale.pages,
        args.repeat or scale.repeat,
    )
    reference = machine_reference()
    path, measured = await measure(scale, args.rebuild)
    print()
    print(
        f"database: {path} ({path.stat().st_size / 1e6:.0f} MB; {scale.events:,} events, "
        f"{scale.alerts:,} alerts, {scale.outbox:,} outbox rows)"
    )
    print(f"| {'measure':24} | {'console':>10} | {'plain DataTable':>15} | {'ratio':>6} | target |")
    print(f"|{'-' * 26}|{'-' * 11}:|{'-' * 16}:|{'-' * 7}:|--------|")
    for name, value, base, _ in measured:
        ratio = f"{value / base:.3f}" if base else "-"
        target = "< 1 s" if name.startswith("first") else "< 50 ms"
        print(f"| {name:24} | {ms(value):>10} | {ms(base):>15} | {ratio:>6} | {target:6} |")
    print("ratio = console / plain DataTable (below 1: the console is faster)")
    print(
        f"machine: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; 10M Python additions "
        f"took {reference:.2f} s (about 0.4 s on a 2023 laptop)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached database")
    parser.add_argument("--quick", action="store_true", help="a small database: a smoke run")
    parser.add_argument("--pages", type=int, default=0, help="page-down presses to time")
    parser.add_argument("--repeat", type=int, default=0, help="first-paint runs per screen (best)")
    args = parser.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    asyncio.run(report(args))


if __name__ == "__main__":
    main()
