"""When a keyset-paged list reads its next page: before the operator reaches the last loaded
row, and, when there is time, while the operator rests rather than while keys arrive."""

from __future__ import annotations

from collections.abc import Callable

from textual.timer import Timer
from textual.widget import Widget

from tui.widgets.row_list import RowList

URGENT_PAGES = 2  # fewer screens of loaded rows left below the cursor: read at once
AHEAD_PAGES = 4  # fewer than this: read once the cursor has rested REST seconds
REST = 0.15


class PageAhead:
    """Calls `read()` (which starts the worker that appends the next page) when `table`'s
    cursor nears its last loaded row. `can_read()` says whether a read may start (none is
    running, more rows exist). A read that can wait waits for a pause in the keys: a page read
    and its frame then never compete with drawing the pages being flipped through."""

    def __init__(
        self,
        owner: Widget,
        table: Callable[[], RowList],
        can_read: Callable[[], bool],
        read: Callable[[], None],
        *,
        rest: float = REST,
    ) -> None:
        self.owner, self.table, self.can_read, self.read = owner, table, can_read, read
        self.rest = rest
        self._timer: Timer | None = None

    @property
    def waiting(self) -> bool:
        """A read is planned for when the cursor rests."""
        return self._timer is not None

    def cursor_moved(self) -> None:
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        table = self.table()
        below, page = table.row_count - 1 - table.cursor_row, table.visible_rows()
        if below < URGENT_PAGES * page:
            # After the frame that shows the cursor's move: the read's thread would otherwise
            # compete with drawing it for the interpreter.
            self.owner.call_after_refresh(self._read)
        elif below < AHEAD_PAGES * page:
            self._timer = self.owner.set_timer(self.rest, self._read)

    def _read(self) -> None:
        self._timer = None
        if self.can_read():
            self.read()
