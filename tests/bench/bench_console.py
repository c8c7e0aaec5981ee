"""Console benchmark: a year of history; first paint of each screen and page-down latency as an
operator sees them, in a terminal.

    .venv/bin/python tests/bench/bench_console.py [--rebuild] [--quick] [--pages 40]
    python -m tests.bench --only console       # the same through the suite's runner

Builds (console_db.py; once, cached under $TMPDIR/mrt-bench-console/) a SQLite database with 1,000,000 events,
200,000 alerts and 50,000 outbox rows, then measures at 120x40:

  * first paint (process start): the real `mrt-tui --db DB --screen X` started on a
    pseudo-terminal (terminal.py), until the frame that shows the first row of the screen's
    table has been written. What that row shows is read beforehand with the views functions
    the screen calls for its first page, so the wait is for the row, not a header or a
    placeholder. Includes the interpreter's start and the imports, as the operator waits them.
  * first paint (in process): the app under Textual's headless driver (`App.run_test()`), from
    starting it until its table holds rows: the app's own work, without start-up and imports.
  * page-down, first frame (pty): PageDown typed into the alerts list of the running console,
    each press timed alone after the terminal has been quiet for 300 ms, from writing the key
    to the end of the first synchronized-output frame after it: when the operator's terminal
    draws the new page. The issue's "pages in under 50 ms" is this figure. (A frame from a
    timer, such as the status line's heartbeat age redrawn every 5 s, could come first; with
    presses a few milliseconds long that is rare and would only lower one sample.)
  * page-down, until quiet (pty): the same presses, to the last byte of everything the press
    sets off before the output pauses for 40 ms: the page frame, and on the presses that near
    the end of the loaded rows the next keyset page read in a worker and appended (its frame
    redraws the scrollbar). The detail pane (debounced 120 ms) comes after the pause.

Page-down was timed with Textual's Pilot (`pilot.press("pagedown")`) before. Pilot waits for the
app to be idle twice per key (`wait_for_idle(0)`, each sleeping at least 20 ms and looping while
any thread uses CPU), so that figure had a floor of 40 ms of harness sleeping and said nothing
about the app; it is no longer measured.

The baseline is the naive console: every alert (or outbox row, state row, cycle row) read with
one query and handed to one plain DataTable (plain_table.py), measured the same ways in the same
run (first paint once, not the best of --repeat: the alerts one reads 200,000 rows). Numbers
drift between runs on a shared machine, so the ratio against the baseline measured in the same
run is the figure to compare; the absolute ones are for reference. Not collected by pytest
(no test_ prefix).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, cast

from textual.widgets import DataTable

ROOT = Path(__file__).resolve().parents[2]
if __package__ in (None, ""):  # run as a script: make `tests.bench` importable
    sys.path.insert(0, str(ROOT))

from mrt.store import views  # noqa: E402
from mrt.store.db import open_database  # noqa: E402
from tests.bench.console_db import FULL, NOW, QUICK, Scale, database  # noqa: E402
from tests.bench.plain_table import PlainTableApp, first_row  # noqa: E402
from tests.bench.terminal import PAGE_DOWN, Response, Terminal  # noqa: E402
from tui.app import ConsoleOptions, make_app  # noqa: E402
from tui.screens.no_database import NoDatabaseScreen  # noqa: E402

SCREENS = ("alerts", "deliveries", "sources", "metrics")
COLUMNS, LINES = 120, 40
SETTLE = 0.3  # quiet before each press: what the previous one set off has landed
RESPONSE_GAP = 0.04  # a press's response ends at a pause this long (the detail pane waits 120 ms)
FIRST_PAINT_LIMIT = 900.0  # seconds; the plain DataTable reads 200,000 alerts before it paints


# ------------------------------------------------------------------------------ in a terminal


def console_command(path: Path, mode: str) -> list[str]:
    """`mrt-tui` as an operator starts it: the installed script next to this interpreter."""
    script = Path(sys.executable).with_name("mrt-tui")
    start = (
        [str(script)]
        if script.exists()
        else [sys.executable, "-c", "from tui.main import main; main()"]
    )
    return [*start, "--db", str(path), "--screen", mode]


def plain_command(path: Path, mode: str) -> list[str]:
    return [sys.executable, "-m", "tests.bench.plain_table", str(path), BASELINES[mode]]


def console_first_row(path: Path, mode: str) -> str:
    """Text that the first row of the screen's table shows, and nothing on that screen shows
    before it: read with the views functions and arguments of the screen's first page."""
    size = ConsoleOptions(db_target=None).page_size
    db = open_database(path, read_only=True)
    try:
        with db.connection_context():
            if mode == "alerts":  # AlertsScreen.load_page; the detail pane is read after it
                return views.alerts_page(views.AlertFilter(), limit=size)[0].title[:20]
            if mode == "deliveries":  # DeliveriesScreen.load_page: dead letters first
                rows, _ = views.outbox_page(views.OutboxFilter(), limit=size)
                return rows[0].alert_title[:16]  # the last column: 22 characters fit at 120
            if mode == "sources":  # SourcesScreen.load_sources
                return views.source_rows()[0].key
            if mode == "metrics":  # MetricsScreen: the overall row first, under this name
                return "all sources"
    finally:
        db.close()
    raise ValueError(f"no first row known for the {mode} screen")


def plain_first_row(path: Path, mode: str) -> str:
    """The first telling cell of the baseline's first row: the id comes first, then a time or
    a source key, well inside 120 columns."""
    row = first_row(path, BASELINES[mode])
    return next(cell for cell in row if isinstance(cell, str) and len(cell) >= 8)[:20]


def in_terminal(command: list[str], needle: str, pages: int = 0) -> tuple[float, list[Response]]:
    """Seconds from starting `command` to the end of the frame that shows `needle`; then
    `pages` PageDown presses, each timed alone."""
    with Terminal.spawn(command, columns=COLUMNS, lines=LINES, cwd=ROOT) as term:
        shown = term.wait_for_frame(needle, FIRST_PAINT_LIMIT) - term.started
        return shown, [page_down(term) for _ in range(pages)]


def page_down(term: Terminal) -> Response:
    term.settle(SETTLE)
    return term.press(PAGE_DOWN, quiet=RESPONSE_GAP)


# ------------------------------------------------------------------------------ in process


class RowWidget(Protocol):
    """What the benchmark reads of a screen's table: a DataTable, or a widget of our own."""

    row_count: int


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
    async with app.run_test(size=(COLUMNS, LINES)) as pilot:

        def shown() -> bool:
            tables = app.screen.query(FIRST_ROWS[mode])
            return bool(tables) and cast(RowWidget, tables.first()).row_count > 0

        await wait_until(pilot, shown)
        return time.perf_counter() - started


async def baseline_first_paint(path: Path, mode: str) -> float:
    app = PlainTableApp(path, BASELINES[mode])
    started = time.perf_counter()
    async with app.run_test(size=(COLUMNS, LINES)) as pilot:
        table = app.query_one(DataTable)
        await wait_until(pilot, lambda: table.row_count > 0)
        await pilot.pause()  # the first render of the filled table
        return time.perf_counter() - started


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


def machine_reference() -> float:
    """Seconds for 10 million Python additions: how slow this machine is right now (a 2023
    laptop does it in about 0.4 s), to read the absolute figures against."""
    started = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - started


# ------------------------------------------------------------------------------ the figures

# (figure, console seconds, baseline seconds or None, baseline description)
Measured = list[tuple[str, float, float | None, str]]
PLAIN = "a plain DataTable holding every row"
FIGURES = (
    *(f"first paint (process start): {mode}" for mode in SCREENS),
    *(f"first paint (in process): {mode}" for mode in SCREENS),
    "page-down, first frame (pty): median",
    "page-down, first frame (pty): p95",
    "page-down, until quiet (pty): median",
    "page-down, until quiet (pty): p95",
)


@dataclass(frozen=True, slots=True)
class Results:
    path: Path
    measured: Measured
    presses: list[Response]  # the console's page-downs
    base_presses: list[Response]  # the plain DataTable's


def measure(
    scale: Scale, rebuild: bool = False, *, pages: int | None = None, repeat: int | None = None
) -> Results:
    """Every figure; `pages` and `repeat` override the scale's without touching its database."""
    path = database(scale, rebuild)
    pages = scale.pages if pages is None else pages
    repeat = scale.repeat if repeat is None else repeat
    measured: Measured = []
    base_presses: list[Response] = []
    for mode in SCREENS:
        needle = console_first_row(path, mode)
        first = min(in_terminal(console_command(path, mode), needle)[0] for _ in range(repeat))
        # The plain DataTable reads every alert once: its page-downs are timed in that session.
        base_pages = pages if mode == "alerts" else 0
        base, responses = in_terminal(
            plain_command(path, mode), plain_first_row(path, mode), base_pages
        )
        base_presses += responses
        measured.append((f"first paint (process start): {mode}", first, base, PLAIN))
    for mode in SCREENS:
        first = min(asyncio.run(console_first_paint(path, mode)) for _ in range(repeat))
        base = asyncio.run(baseline_first_paint(path, mode))
        measured.append((f"first paint (in process): {mode}", first, base, PLAIN))
    needle = console_first_row(path, "alerts")
    _, presses = in_terminal(console_command(path, "alerts"), needle, pages)
    for name, pick in (("first frame", first_frames), ("until quiet", latencies)):
        downs, base_downs = pick(presses), pick(base_presses)
        for stat, summary in (("median", statistics.median), ("p95", percentile95)):
            figure = f"page-down, {name} (pty): {stat}"
            measured.append((figure, summary(downs), summary(base_downs), PLAIN))
    return Results(path, measured, presses, base_presses)


def latencies(presses: list[Response]) -> list[float]:
    return [press.latency for press in presses]


def first_frames(presses: list[Response]) -> list[float]:
    """When each press's first frame ended (its last byte where the program drew no frame)."""
    return [press.latency if press.first_frame is None else press.first_frame for press in presses]


def percentile95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


def run(sizes: Any) -> list[Any]:
    """The suite runner's entry (tests/bench/run.py): rows of figures, baselines and ratios."""
    from tests.bench.common import Row, command_for

    scale = QUICK if sizes.quick else FULL
    measured = measure(scale).measured
    note = (
        f"{scale.events:,} events, {scale.alerts:,} alerts, {scale.outbox:,} outbox rows, "
        f"{COLUMNS}x{LINES} pty; targets: first paint < 1 s, page-down < 50 ms"
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


def press_summary(presses: list[Response]) -> str:
    frames = statistics.median(p.frames for p in presses)
    size = statistics.median(p.size for p in presses)
    return f"{frames:g} frame(s), {size / 1000:.1f} kB"


def report(args: argparse.Namespace) -> None:
    # QUICK or FULL as they are: the cached database's marker names the scale, so a scale
    # changed here (--pages, --repeat, or `cycles` lost by a field-by-field copy) rebuilt it.
    scale = QUICK if args.quick else FULL
    reference = machine_reference()
    pages, repeat = args.pages or scale.pages, args.repeat or scale.repeat
    results = measure(scale, args.rebuild, pages=pages, repeat=repeat)
    path = results.path
    print()
    print(
        f"database: {path} ({path.stat().st_size / 1e6:.0f} MB; {scale.events:,} events, "
        f"{scale.alerts:,} alerts, {scale.outbox:,} outbox rows); {COLUMNS}x{LINES}"
    )
    width = max(len(name) for name in FIGURES)
    print(
        f"| {'measure':{width}} | {'console':>10} | {'plain DataTable':>15} | {'ratio':>6} | target |"
    )
    print(f"|{'-' * (width + 2)}|{'-' * 11}:|{'-' * 16}:|{'-' * 7}:|--------|")
    for name, value, base, _ in results.measured:
        ratio = f"{value / base:.3f}" if base else "-"
        target = "< 1 s" if name.startswith("first") else "< 50 ms"
        print(f"| {name:{width}} | {ms(value):>10} | {ms(base):>15} | {ratio:>6} | {target:6} |")
    print("ratio = console / plain DataTable (below 1: the console is faster)")
    print(
        f"a page-down (median): console {press_summary(results.presses)}, plain DataTable "
        f"{press_summary(results.base_presses)}; {len(results.presses)} presses each"
    )
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
    report(args)


if __name__ == "__main__":
    main()
