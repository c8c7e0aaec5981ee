"""Outbox rows, dead letters first, keyed by outbox id; marks survive reloads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.text import Text
from textual.widgets import DataTable

from mrt.store.views import OutboxRow
from tui.formatting import plain_error, stamp

STATUS_STYLE = {
    "dead": "bold red",
    "retrying": "yellow",
    "pending": "yellow",
    "sending": "cyan",
    "sent": "green",
    "discarded": "dim",
}


class OutboxTable(DataTable[str | Text]):
    def __init__(self) -> None:
        super().__init__(id="outbox-table", cursor_type="row", zebra_stripes=True)
        self.marked: set[int] = set()
        self.ids: list[int] = []
        self.rows_by_id: dict[int, OutboxRow] = {}

    def on_mount(self) -> None:
        self.add_column("", key="mark", width=1)
        self.add_column("status", key="status", width=9)
        self.add_column("id", key="id", width=7)
        self.add_column("channel", key="channel", width=10)
        self.add_column("tries", key="tries", width=5)
        self.add_column("updated", key="updated", width=11)
        self.add_column("last error", key="error", width=40)
        self.add_column("alert", key="alert", width=40)

    def cells(self, row: OutboxRow) -> tuple[str | Text, ...]:
        return (
            self.mark_cell(row.id),
            Text(row.status, style=STATUS_STYLE.get(row.status, "")),
            str(row.id),
            row.channel,
            str(row.attempts),
            stamp(row.updated_at),
            plain_error(row.last_error),
            row.alert_title,
        )

    def mark_cell(self, outbox_id: int) -> Text:
        return Text("●", style="bold cyan") if outbox_id in self.marked else Text(" ")

    def highlighted(self) -> OutboxRow | None:
        if not self.ids or not 0 <= self.cursor_row < len(self.ids):
            return None
        return self.rows_by_id[self.ids[self.cursor_row]]

    def show_rows(self, rows: Sequence[OutboxRow], *, keep: int | None) -> None:
        self.clear()
        self.ids, self.rows_by_id = [], {}
        self.append_rows(rows)
        if keep is not None and keep in self.rows_by_id:
            self.move_cursor(row=self.ids.index(keep), animate=False)
        elif self.ids:
            self.move_cursor(row=0, animate=False)

    def append_rows(self, rows: Iterable[OutboxRow]) -> None:
        for row in rows:
            if row.id in self.rows_by_id:
                continue
            self.add_row(*self.cells(row), key=str(row.id))
            self.ids.append(row.id)
            self.rows_by_id[row.id] = row

    def toggle_mark(self, outbox_id: int) -> None:
        self.marked.symmetric_difference_update({outbox_id})
        if outbox_id in self.rows_by_id:
            self.update_cell(str(outbox_id), "mark", self.mark_cell(outbox_id))
