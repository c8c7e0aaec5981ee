"""Outbox rows, dead letters first, keyed by outbox id; marks survive reloads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.text import Text

from mrt.store.views import OutboxRow
from tui.formatting import inert, plain_error, stamp
from tui.widgets.row_list import Column, RowList

STATUS_STYLE = {
    "dead": "bold red",
    "retrying": "yellow",
    "pending": "yellow",
    "sending": "cyan",
    "sent": "green",
    "discarded": "dim",
}


class OutboxTable(RowList):
    """Outbox rows as pages are loaded; the error and alert columns share the spare width.
    The fixed columns are as narrow as their values, so that at 80 columns the row fits without
    sideways scrolling and the alert's title keeps 12 characters."""

    COLUMNS = (
        Column("mark", "", 1),
        Column("status", "status", 9),
        Column("id", "id", 7),
        Column("channel", "channel", 8),
        Column("tries", "tries", 5),
        Column("updated", "updated", 11),
        Column("error", "last error", 9, flex=3),
        Column("alert", "alert", 12, flex=2),
    )

    def __init__(self) -> None:
        super().__init__(id="outbox-table", stripes=True)
        self.marked: set[int] = set()
        self.rows_by_id: dict[int, OutboxRow] = {}

    def row_cells(self, row_id: int) -> tuple[Text, ...]:
        row = self.rows_by_id[row_id]
        return (
            self.mark_cell(row.id),
            Text(row.status, style=STATUS_STYLE.get(row.status, "")),
            Text(str(row.id)),
            Text(inert(row.channel)),
            Text(str(row.attempts)),
            Text(stamp(row.updated_at)),
            Text(inert(plain_error(row.last_error))),
            Text(inert(row.alert_title)),
        )

    def mark_cell(self, outbox_id: int) -> Text:
        return Text("●", style="bold cyan") if outbox_id in self.marked else Text(" ")

    def highlighted(self) -> OutboxRow | None:
        row_id = self.highlighted_id()
        return None if row_id is None else self.rows_by_id[row_id]

    def show_rows(self, rows: Sequence[OutboxRow], *, keep: int | None) -> None:
        self.rows_by_id = {row.id: row for row in rows}
        self.set_ids([row.id for row in rows], keep=keep)

    def update_rows(self, rows: Iterable[OutboxRow]) -> list[int]:
        """Rows read again: each listed one shows its new values where it is; the ids that
        changed."""
        changed = []
        for row in rows:
            if row.id in self.rows_by_id and self.rows_by_id[row.id] != row:
                self.rows_by_id[row.id] = row
                self.refresh_row(row.id)
                changed.append(row.id)
        return changed

    def append_rows(self, rows: Iterable[OutboxRow]) -> None:
        fresh = [row for row in rows if row.id not in self.rows_by_id]
        self.rows_by_id.update((row.id, row) for row in fresh)
        self.extend_ids(row.id for row in fresh)

    def toggle_mark(self, outbox_id: int) -> None:
        self.marked.symmetric_difference_update({outbox_id})
        self.refresh_row(outbox_id)
