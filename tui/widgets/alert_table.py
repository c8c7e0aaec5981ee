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


class AlertTable(DataTable[Text]):
    """Holds only the pages loaded so far; the screen appends older pages as the cursor nears
    the end and rebuilds from the newest page when asked."""

    def __init__(self) -> None:
        super().__init__(id="alert-table", cursor_type="row", zebra_stripes=False)
        self.marked: set[int] = set()
        self.ids: list[int] = []
        self.alert_rows: dict[int, AlertRow] = {}

    def on_mount(self) -> None:
        # Three cells a row: a DataTable renders cell by cell, so fewer, wider cells page faster.
        self.add_column("when", key="when", width=18)
        self.add_column("title", key="title", width=46)
        self.add_column("deliveries · source", key="where", width=44)

    def cells(self, row: AlertRow) -> tuple[Text, ...]:
        return (
            self.when_cell(row),
            Text(row.title, style="dim" if row.acknowledged else "bold", no_wrap=True),
            delivery_summary(row.deliveries).append(row.source_key, style="dim"),
        )

    def when_cell(self, row: AlertRow) -> Text:
        text = Text("●" if row.id in self.marked else " ", style="bold cyan", no_wrap=True)
        text.append(f" {stamp(row.created_at)} ")
        text.append(row.priority[:4], style=PRIORITY_STYLE.get(row.priority, ""))
        return text

    def highlighted_id(self) -> int | None:
        if not self.ids or self.cursor_row < 0 or self.cursor_row >= len(self.ids):
            return None
        return self.ids[self.cursor_row]

    def show_rows(self, rows: Sequence[AlertRow], *, keep: int | None) -> None:
        """Replace the rows; the highlight stays on alert `keep` if it is still listed."""
        self.clear()
        self.ids, self.alert_rows = [], {}
        self.append_rows(rows)
        if keep is not None and keep in self.ids:
            self.move_cursor(row=self.ids.index(keep), animate=False)
        elif self.ids:
            self.move_cursor(row=0, animate=False)

    def append_rows(self, rows: Iterable[AlertRow]) -> None:
        for row in rows:
            self.add_row(*self.cells(row), key=str(row.id))
            self.ids.append(row.id)
            self.alert_rows[row.id] = row

    def toggle_mark(self, alert_id: int) -> None:
        self.marked.symmetric_difference_update({alert_id})
        self.refresh_when(alert_id)

    def refresh_when(self, alert_id: int) -> None:
        if alert_id in self.alert_rows:
            self.update_cell(str(alert_id), "when", self.when_cell(self.alert_rows[alert_id]))

    def mark_acknowledged(self, alert_ids: Iterable[int]) -> None:
        for alert_id in alert_ids:
            if alert_id in self.alert_rows:
                title = Text(self.alert_rows[alert_id].title, style="dim", no_wrap=True)
                self.update_cell(str(alert_id), "title", title)
