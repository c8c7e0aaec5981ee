"""The alert list: rows keyed by alert id, so the highlight follows its alert, never an index."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from rich.text import Text

from mrt.store.views import AlertRow
from tui.formatting import inert, stamp
from tui.widgets.row_list import Column, RowList

PRIORITY_STYLE = {"critical": "bold white on red", "high": "bold red", "low": "dim"}
REPLAY_GLYPH = "↺"  # a replayed alert: an old event re-sent (Help's legend says so)


# Each delivery status's glyph in the list (Help's legend lists them all).
DELIVERY_GLYPHS = (
    ("sent", "✓", "green"),
    ("dead", "✗", "bold red"),
    ("retrying", "↻", "yellow"),
    ("pending", "◷", "yellow"),  # not "…": "1…" read as text cut short
    ("sending", "→", "cyan"),
    ("discarded", "⊘", "dim"),
)


def delivery_summary(counts: dict[str, int]) -> Text:
    text = Text()
    for status, symbol, style in DELIVERY_GLYPHS:
        if counts.get(status):
            text.append(f"{counts[status]}{symbol} ", style=style)
    return text


class AlertTable(RowList):
    """Holds only the pages loaded so far; the screen appends older pages as the cursor nears
    the end and rebuilds from the newest page when asked. The title column takes the width
    the terminal has, so 80 columns need no sideways scrolling."""

    COLUMNS = (
        Column("when", "when", 18),
        Column("title", "title", 24, flex=1),
        Column("where", "deliveries · source", 30),
    )

    def __init__(self) -> None:
        super().__init__(id="alert-table")
        self.marked: set[int] = set()
        self.alert_rows: dict[int, AlertRow] = {}

    def row_cells(self, row_id: int) -> tuple[Text, ...]:
        row = self.alert_rows[row_id]
        title = Text(no_wrap=True)
        if row.kind == "replay":
            title.append(f"{REPLAY_GLYPH} replay ", style="bold magenta")
        title.append(inert(row.title), style="dim" if row.acknowledged else "bold")
        return (self.when_cell(row), title, self.where_cell(row))

    @staticmethod
    def where_cell(row: AlertRow) -> Text:
        """The deliveries by status, or a loud marker when the alert went to no one."""
        if row.undelivered:
            text = Text("✗ no delivery ", style="bold white on red")
        else:
            text = delivery_summary(row.deliveries)
        return text.append(inert(row.source_key), style="dim")

    def when_cell(self, row: AlertRow) -> Text:
        text = Text("●" if row.id in self.marked else " ", style="bold cyan", no_wrap=True)
        text.append(f" {stamp(row.event_at or row.created_at)} ")  # a replay: its event's time
        text.append(row.priority[:4], style=PRIORITY_STYLE.get(row.priority, ""))
        return text

    def show_rows(self, rows: Sequence[AlertRow], *, keep: int | None) -> None:
        """Replace the rows; the highlight stays on alert `keep` if it is still listed."""
        self.alert_rows = {row.id: row for row in rows}
        self.set_ids([row.id for row in rows], keep=keep)

    def append_rows(self, rows: Iterable[AlertRow]) -> None:
        rows = list(rows)
        self.alert_rows.update((row.id, row) for row in rows)
        self.extend_ids(row.id for row in rows)

    def prepend_rows(self, rows: Sequence[AlertRow]) -> None:
        """Newer alerts above the others; the highlight stays on the alert it was on."""
        self.alert_rows.update((row.id, row) for row in rows)
        self.prepend_ids([row.id for row in rows])

    def update_rows(self, rows: Iterable[AlertRow]) -> list[int]:
        """Rows read again: each listed one shows its new values where it is; the ids that
        changed."""
        changed = []
        for row in rows:
            if row.id in self.alert_rows and self.alert_rows[row.id] != row:
                self.alert_rows[row.id] = row
                self.refresh_row(row.id)
                changed.append(row.id)
        return changed

    def toggle_mark(self, alert_id: int) -> None:
        self.marked.symmetric_difference_update({alert_id})
        self.refresh_row(alert_id)

    def mark_acknowledged(self, alert_ids: Iterable[int], acknowledged: bool = True) -> None:
        for alert_id in alert_ids:
            if alert_id in self.alert_rows:
                row = replace(self.alert_rows[alert_id], acknowledged=acknowledged)
                self.alert_rows[alert_id] = row
                self.refresh_row(alert_id)
