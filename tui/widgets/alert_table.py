"""The alert list: rows keyed by alert id, so the highlight follows its alert, never an index."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.text import Text
from textual.widgets import DataTable

from mrt.store.views import AlertRow
from tui.formatting import stamp

PRIORITY_STYLE = {"critical": "bold white on red", "high": "bold red", "low": "dim"}


def delivery_summary(counts: dict[str, int]) -> Text:
    text = Text()
    for status, symbol, style in (
        ("sent", "✓", "green"),
        ("dead", "✗", "bold red"),
        ("retrying", "↻", "yellow"),
        ("pending", "…", "yellow"),
        ("sending", "→", "cyan"),
        ("discarded", "⊘", "dim"),
    ):
        if counts.get(status):
            text.append(f"{counts[status]}{symbol} ", style=style)
    return text


class AlertTable(DataTable[str | Text]):
    """Holds only the pages loaded so far; the screen appends older pages as the cursor nears
    the end and rebuilds from the newest page when asked."""

    def __init__(self) -> None:
        super().__init__(id="alert-table", cursor_type="row", zebra_stripes=False)
        self.marked: set[int] = set()
        self.ids: list[int] = []

    def on_mount(self) -> None:
        self.add_column("", key="mark", width=1)
        self.add_column("time", key="time", width=11)
        self.add_column("prio", key="prio", width=4)
        self.add_column("title", key="title", width=44)
        self.add_column("deliveries", key="deliveries", width=10)
        self.add_column("source", key="source", width=26)

    def cells(self, row: AlertRow) -> tuple[str | Text, ...]:
        prio = Text(row.priority[:4], style=PRIORITY_STYLE.get(row.priority, ""))
        title = Text(row.title, style="dim" if row.acknowledged else "bold")
        return (
            self.mark_cell(row.id),
            stamp(row.created_at),
            prio,
            title,
            delivery_summary(row.deliveries),
            row.source_key,
        )

    def mark_cell(self, alert_id: int) -> Text:
        return Text("●", style="bold cyan") if alert_id in self.marked else Text(" ")

    def highlighted_id(self) -> int | None:
        if not self.ids or self.cursor_row < 0 or self.cursor_row >= len(self.ids):
            return None
        return self.ids[self.cursor_row]

    def show_rows(self, rows: Sequence[AlertRow], *, keep: int | None) -> None:
        """Replace the rows; the highlight stays on alert `keep` if it is still listed."""
        self.clear()
        self.ids = []
        self.append_rows(rows)
        if keep is not None and keep in self.ids:
            self.move_cursor(row=self.ids.index(keep), animate=False)
        elif self.ids:
            self.move_cursor(row=0, animate=False)

    def append_rows(self, rows: Iterable[AlertRow]) -> None:
        for row in rows:
            self.add_row(*self.cells(row), key=str(row.id))
            self.ids.append(row.id)

    def toggle_mark(self, alert_id: int) -> None:
        self.marked.symmetric_difference_update({alert_id})
        if alert_id in self.ids:
            self.update_cell(str(alert_id), "mark", self.mark_cell(alert_id))

    def mark_acknowledged(self, alert_ids: Iterable[int]) -> None:
        for alert_id in alert_ids:
            if alert_id in self.ids:
                title = self.get_cell(str(alert_id), "title")
                plain = title.plain if isinstance(title, Text) else str(title)
                self.update_cell(str(alert_id), "title", Text(plain, style="dim"))
