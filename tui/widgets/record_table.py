"""A RowList of frozen view rows keyed by their `id` (audit entries, events, silences).

The screen gives the columns and a function from a row to its cells; the table keeps the rows
it shows, so the detail pane and the live refresh read them without another query.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Generic, Protocol, TypeVar

from rich.text import Text

from tui.widgets.row_list import Column, RowList


class Keyed(Protocol):
    @property
    def id(self) -> int: ...


R = TypeVar("R", bound=Keyed)


class RecordTable(RowList, Generic[R]):
    """Rows newest first; `prepend_rows` for live arrivals, `append_rows` for older pages."""

    def __init__(
        self, *, id: str, columns: Sequence[Column], cells: Callable[[R], Sequence[Text]]
    ) -> None:
        super().__init__(id=id, stripes=True)
        # Per instance: each screen names its own columns (RowList reads self.COLUMNS).
        self.COLUMNS = tuple(columns)  # type: ignore[misc]
        self.cells = cells
        self.rows_by_id: dict[int, R] = {}

    def row_cells(self, row_id: int) -> Sequence[Text]:
        return self.cells(self.rows_by_id[row_id])

    def highlighted(self) -> R | None:
        row_id = self.highlighted_id()
        return None if row_id is None else self.rows_by_id.get(row_id)

    def newest_id(self) -> int:
        return max(self.rows_by_id, default=0)

    def oldest_id(self) -> int | None:
        return self.ids[-1] if self.ids else None

    def show_rows(self, rows: Sequence[R], *, keep: int | None) -> None:
        self.rows_by_id = {row.id: row for row in rows}
        self.set_ids([row.id for row in rows], keep=keep)

    def append_rows(self, rows: Iterable[R]) -> None:
        fresh = [row for row in rows if row.id not in self.rows_by_id]
        self.rows_by_id.update((row.id, row) for row in fresh)
        self.extend_ids(row.id for row in fresh)

    def prepend_rows(self, rows: Sequence[R]) -> None:
        fresh = [row for row in rows if row.id not in self.rows_by_id]
        if fresh:
            self.rows_by_id.update((row.id, row) for row in fresh)
            self.prepend_ids([row.id for row in fresh])

    def update_rows(self, rows: Iterable[R]) -> list[int]:
        """Rows read again: each shows its new values where it is; the ids that changed."""
        changed = []
        for row in rows:
            old: Any = self.rows_by_id.get(row.id)
            if old is not None and old != row:
                self.rows_by_id[row.id] = row
                self.refresh_row(row.id)
                changed.append(row.id)
        return changed
