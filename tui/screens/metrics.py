"""Metrics: per source and overall, last 24 hours and last 7 days, with sparklines."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Label, Sparkline, Static

from mrt.store import views
from tui.formatting import age
from tui.messages import MetricsLoaded
from tui.screens.base import ConsoleScreen

METRICS_FACTOR = 5.0  # aggregates are dearer than "rows newer than": ask less often

SERIES = (
    ("events", "events"),
    ("alerts", "alerts"),
    ("deliveries_ok", "try ok"),  # attempts, not deliveries: a retried one counts each time
    ("deliveries_failed", "try bad"),
)


def figures_text(label: str, report: views.MetricsReport, now_text: str) -> Text:
    f, q = report.overall, report.queue
    text = Text()
    text.append(f"{label}\n", style="bold")
    text.append(f"events {f.events}  matches {f.matches}  alerts {f.alerts}\n")
    # Attempts (each try of each delivery) and deliveries (outbox rows) are different counts:
    # the labels say which, so "failed 6" next to "dead 3" never reads as a contradiction.
    text.append(f"attempts: ok {f.deliveries_ok}  ", style="green")
    text.append(f"failed {f.deliveries_failed}\n", style="red" if f.deliveries_failed else "")
    if f.quarantined:  # upstream items kept aside: rare, so shown only when there are some
        text.append(f"quarantined {f.quarantined}\n", style="yellow")
    text.append(f"deliveries: queued {q.depth}  ")
    text.append(f"dead {q.dead}", style="bold red" if q.dead else "")
    text.append(f"  oldest {now_text}")
    if f.undelivered:
        text.append(f"\nwent to no one {f.undelivered}", style="bold white on red")
    return text


COLUMNS = (
    ("source", "source"),
    ("ev24", "events 24h"),
    ("ev7", "7d"),
    ("ma24", "matches 24h"),
    ("al24", "alerts 24h"),
    ("al7", "7d"),
    ("ok24", "tries ok 24h"),
    ("bad24", "tries failed"),
    ("queue", "queued"),
    ("oldest", "oldest"),
    ("dead", "dead"),
)


def add_columns(table: DataTable[str | Text]) -> None:
    for key, label in COLUMNS:
        table.add_column(label, key=key)


class MetricsScreen(ConsoleScreen):
    MODE = "metrics"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r,g", "reload", "Reload", key_display="r"),  # r on every screen; g as before
    ]

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with Horizontal(id="metrics-windows"):
            for window in ("day", "week"):
                with Vertical(classes="metrics-window", id=f"metrics-{window}"):
                    yield Static("loading…", classes="metrics-figures")
                    for key, label in SERIES:
                        with Horizontal(classes="spark-row"):
                            yield Label(f"{label:>6}", classes="spark-label")
                            yield Sparkline([0], classes=f"spark-{key}", id=f"spark-{window}-{key}")
        yield DataTable(id="metrics-table", cursor_type="row", zebra_stripes=True)
        yield from self.compose_footer()

    def on_mount(self) -> None:
        add_columns(self.query_one("#metrics-table", DataTable))
        self.load_metrics()

    @work(thread=True, exclusive=True, group="metrics")
    def load_metrics(self) -> None:
        """The day first, alone: the week is summed only once the day is on screen, so the
        two never compete for the interpreter while the first figures are drawn."""
        now = self.console.now()
        day = self.console.run_query(
            "metrics (24 h)", lambda: views.metrics_report(now, timedelta(hours=24), buckets=24)
        )
        if day is None:
            self.app.call_from_thread(self.arm_live, self.poll_live, factor=METRICS_FACTOR)
            return
        self.post_message(MetricsLoaded(day, None))

    @work(thread=True, exclusive=True, group="metrics")
    def load_week(self, day: views.MetricsReport) -> None:
        now = self.console.now()
        queue = (day.queue, day.queue_per_source)
        week = self.console.run_query(
            "metrics (7 d)",
            lambda: views.metrics_report(now, timedelta(days=7), buckets=28, queue=queue),
        )
        if week is None:
            self.app.call_from_thread(self.arm_live, self.poll_live, factor=METRICS_FACTOR)
            return
        self.post_message(MetricsLoaded(day, week))

    def on_metrics_loaded(self, message: MetricsLoaded) -> None:
        now = self.console.now()
        week = message.week
        for window, report, label in (
            ("day", message.day, "last 24 hours"),
            ("week", week, "last 7 days"),
        ):
            if report is None:
                continue
            oldest = age(report.queue.oldest_pending_at, now) if report.queue.depth else "-"
            box = self.query_one(f"#metrics-{window}")
            box.query_one(".metrics-figures", Static).update(figures_text(label, report, oldest))
            for key, _label in SERIES:
                self.query_one(f"#spark-{window}-{key}", Sparkline).data = report.series[key]
        table = self.query_one("#metrics-table", DataTable)
        keep = table.cursor_row
        # Columns too: a column keeps the width of its first content, and the week's "…"
        # placeholder would cut the figures that replace it ("23" for 234).
        table.clear(columns=True)
        add_columns(table)
        keys = sorted(
            set(message.day.per_source)
            | set(week.per_source if week else ())
            | set(message.day.queue_per_source)
        )
        empty = views.Figures()
        for key in ["*", *keys]:
            if key == "*":
                d, q = message.day.overall, message.day.queue
                w = week.overall if week else None
            else:
                d = message.day.per_source.get(key, empty)
                w = week.per_source.get(key, empty) if week else None
                q = message.day.queue_per_source.get(key, views.QueueFigures())
            table.add_row(
                Text("all sources", style="bold") if key == "*" else Text(key or "(none)"),
                str(d.events),
                str(w.events) if w else "…",
                str(d.matches),
                str(d.alerts),
                str(w.alerts) if w else "…",
                str(d.deliveries_ok),
                str(d.deliveries_failed),
                str(q.depth),
                age(q.oldest_pending_at, now) if q.depth else "-",
                Text(str(q.dead), style="bold red" if q.dead else ""),
                key=key or "(none)",
            )
        table.move_cursor(row=min(keep, table.row_count - 1), animate=False)
        if week is None:
            self.call_after_refresh(self.load_week, message.day)
        else:
            self.arm_live(self.poll_live, factor=METRICS_FACTOR)

    def poll_live(self) -> None:
        if self.console.paused:
            self.arm_live(self.poll_live, factor=METRICS_FACTOR)
        else:
            self.load_metrics()

    def action_reload(self) -> None:
        self.load_metrics()
