"""A newest-first list keyed by id, as the Audit and Events screens show: keyset pages below the
last row, live rows above the first, a detail pane for the highlighted row.

Live truth: the first page is read at mount and on `g`; every `poll_seconds` (re-armed only
after the previous poll answered) the rows newer than the newest shown are read and put on top,
wherever the selection is, and the rows on screen are read again (`reread`) for lists whose rows
can change. The total is never counted: one keyset page per read, on any table size.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Static
from textual.worker import get_current_worker

from tui.paging import PageAhead
from tui.screens.base import ConsoleScreen
from tui.widgets.record_table import Keyed, RecordTable
from tui.widgets.row_list import Column

R = TypeVar("R", bound=Keyed)


@dataclass
class FeedLoaded(Message):
    """Rows for a feed screen: a first page, an older page, newer rows, or shown rows re-read."""

    kind: str  # first | older | newer
    rows: list[Any]
    generation: int
    reread: list[Any] = field(default_factory=list)
    more: bool = False  # (first, older) a full page came: older rows may exist


class FeedScreen(ConsoleScreen, Generic[R]):
    """Subclasses give the columns, the cells, the reads and the detail text."""

    TABLE_ID: ClassVar[str] = ""
    COLUMNS: ClassVar[Sequence[Column]] = ()
    EMPTY: ClassVar[str] = "Nothing yet."
    FEED_BINDINGS: ClassVar[list[BindingType]] = [
        Binding("g", "reload", "Reload"),
    ]

    DEFAULT_CSS = """
    FeedScreen .feed-table { height: 1fr; }
    FeedScreen .feed-detail {
        height: auto;
        max-height: 10;
        border-top: solid $primary 50%;
        padding: 0 1;
    }
    FeedScreen .feed-line { height: 1; padding: 0 1; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.generation = 0
        self.more = False
        self.loading_more = False
        self.page_ahead = PageAhead(self, lambda: self.table, self.can_read_more, self.read_more)

    # ----------------------------------------------------------------- what subclasses give

    def cells(self, row: R) -> Sequence[Text]:
        raise NotImplementedError

    def read_first(self, limit: int) -> list[R]:
        raise NotImplementedError

    def read_older(self, before_id: int, limit: int) -> list[R]:
        raise NotImplementedError

    def read_newer(self, after_id: int, limit: int) -> list[R]:
        raise NotImplementedError

    def reread(self, ids: list[int]) -> list[R]:
        """The rows on screen as they are now; rows that never change need not re-read."""
        return []

    def detail(self, row: R) -> Text:
        raise NotImplementedError

    def heading(self) -> Text:
        """The line above the list (what is shown, the filter)."""
        return Text("")

    # ----------------------------------------------------------------- layout

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        yield Static("", classes="feed-line", id=f"{self.TABLE_ID}-line")
        yield RecordTable[R](id=self.TABLE_ID, columns=self.COLUMNS, cells=self.cells)
        yield Static("", classes="feed-detail", id=f"{self.TABLE_ID}-detail")
        yield from self.compose_footer()

    @property
    def table(self) -> RecordTable[R]:
        table: RecordTable[R] = self.query_one(f"#{self.TABLE_ID}", RecordTable)
        return table

    def on_mount(self) -> None:
        self.table.add_class("feed-table")
        self.show_heading()
        self.load(self.generation)
        self.arm_live(self.poll_live)
        self.table.focus()

    # ----------------------------------------------------------------- reads

    def run(self, label: str, read: Callable[[], Any]) -> Any:
        return self.console.run_query(label, read)

    @work(thread=True, exclusive=True, group="feed-page")
    def load(self, generation: int, before_id: int | None = None) -> None:
        size = self.console.options.page_size
        if before_id is None:
            rows = self.run(f"{self.MODE} page", lambda: self.read_first(size))
        else:
            rows = self.run(f"{self.MODE} page", lambda: self.read_older(before_id, size))
        if rows is None or get_current_worker().is_cancelled:
            self.loading_more = False
            return
        kind = "first" if before_id is None else "older"
        self.post_message(FeedLoaded(kind, rows, generation, more=len(rows) >= size))

    def poll_live(self) -> None:
        """Timer callback: only starts a worker (skipped while paused)."""
        if self.console.paused:
            self.arm_live(self.poll_live)
            return
        self.refresh_live(self.table.newest_id(), self.table.on_screen_ids(), self.generation)

    @work(thread=True, exclusive=True, group="feed-live")
    def refresh_live(self, newest: int, shown: list[int], generation: int) -> None:
        size = self.console.options.page_size

        def read() -> tuple[list[R], list[R]]:
            return self.read_newer(newest, size), self.reread(shown)

        got = self.run(f"{self.MODE} refresh", read)
        if got is not None:
            newer, again = got
            # A full page of newer rows may not reach down to the rows shown: putting it on
            # top would leave a gap, so it replaces the list (the highlight stays if listed).
            kind = "first" if len(newer) >= size else "newer"
            self.post_message(FeedLoaded(kind, newer, generation, reread=again, more=True))
        self.app.call_from_thread(self.arm_live, self.poll_live)

    def on_feed_loaded(self, message: FeedLoaded) -> None:
        message.stop()
        if message.generation != self.generation:
            return
        table = self.table
        if message.kind == "first":
            self.loading_more = False
            self.more = message.more
            table.show_rows(message.rows, keep=table.highlighted_id())
        elif message.kind == "older":
            self.loading_more = False
            self.more = message.more
            table.append_rows(message.rows)
        else:
            table.update_rows(message.reread)
            table.prepend_rows(message.rows)
        self.show_detail()

    def can_read_more(self) -> bool:
        return self.more and not self.loading_more and self.table.oldest_id() is not None

    def read_more(self) -> None:
        self.loading_more = True
        self.load(self.generation, self.table.oldest_id())

    @on(RecordTable.RowHighlighted)
    def row_highlighted(self, _event: RecordTable.RowHighlighted) -> None:
        self.show_detail()
        self.page_ahead.cursor_moved()

    # ----------------------------------------------------------------- actions, display

    def action_reload(self) -> None:
        self.generation += 1
        self.show_heading()
        self.load(self.generation)

    def show_heading(self) -> None:
        self.query_one(f"#{self.TABLE_ID}-line", Static).update(self.heading())

    def show_detail(self) -> None:
        row = self.table.highlighted()
        pane = self.query_one(f"#{self.TABLE_ID}-detail", Static)
        pane.update(Text(self.EMPTY, style="dim") if row is None else self.detail(row))
        if row is not None:
            self.detail_shown(row)

    def detail_shown(self, row: R) -> None:
        """The detail pane shows `row` (again): a screen may read more for it here."""

    def detail_pane(self) -> Static:
        return self.query_one(f"#{self.TABLE_ID}-detail", Static)
