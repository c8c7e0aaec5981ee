"""A keyed row list for the console's big, paged tables (alerts and outbox rows).

Textual's DataTable renders every visible cell through Rich (padding, cropping, styles) and keys
its line cache on the cursor position, so one page-down re-renders a screen of cells: about
47 ms for 21 rows on the benchmark machine, most of a 50 ms budget. This list renders a row
once into a Strip, cached by row id, and paints the cursor by restyling that strip: a page
costs composing ~20 ready strips. It keeps DataTable's vocabulary where the screens use it
(`cursor_row`, `row_count`, `move_cursor`, `RowHighlighted`), and nothing else.

The highlight belongs to a row id, not an index: callers replace rows with `show_rows(...,
keep=id)` and the cursor follows that id wherever it lands.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

CELL_PADDING = 1  # blank cells either side of a column's text, as DataTable draws them
STRIP_CACHE_ROWS = 2_000  # rendered rows kept; a screen shows ~40, a page-down needs ~20 more

# C0 controls, DEL and C1 controls from upstream text would move the terminal's cursor or
# start an escape sequence: each becomes one visible, inert character of the same width.
_INERT = {code: " " if code in (9, 10, 13) else "\N{REPLACEMENT CHARACTER}" for code in range(32)}
_INERT.update({code: "\N{REPLACEMENT CHARACTER}" for code in range(0x7F, 0xA0)})


def one_line(text: Text) -> Text:
    """`text` made safe for one terminal line: newlines become spaces, controls inert."""
    plain = text.plain
    clean = plain.translate(_INERT)
    if clean == plain:
        return text
    # One character for one character: the spans' offsets stay right.
    return Text(clean, style=text.style, spans=list(text.spans), end="")


@dataclass(frozen=True, slots=True)
class Column:
    """A column: `width` cells, or at least `width` and a `flex` share of what is left."""

    key: str
    label: str
    width: int
    flex: int = 0


def column_widths(columns: Sequence[Column], available: int) -> list[int]:
    """Each column's text width for a list `available` cells wide: fixed columns keep their
    width; flexible ones share the rest by weight, never below their own width."""
    fixed = sum(c.width + 2 * CELL_PADDING for c in columns)
    spare = max(0, available - fixed)
    weights = sum(c.flex for c in columns)
    if not weights:
        return [c.width for c in columns]
    widths, given = [], 0
    flexible = [i for i, c in enumerate(columns) if c.flex]
    for i, column in enumerate(columns):
        extra = 0
        if column.flex:
            # The last flexible column takes the remainder, so the row fills the width exactly.
            extra = spare - given if i == flexible[-1] else spare * column.flex // weights
            given += extra
        widths.append(column.width + extra)
    return widths


class RowList(ScrollView, can_focus=True):
    """Rows keyed by int ids under a fixed header line. Subclasses say what a row shows
    (`row_cells`); the list renders, caches, scrolls and moves the cursor."""

    COLUMNS: ClassVar[Sequence[Column]] = ()

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "row-list--header",
        "row-list--cursor",
        "row-list--stripe",
    }

    DEFAULT_CSS = """
    RowList {
        background: $surface;
        color: $foreground;
        &:focus {
            background-tint: $foreground 5%;
            & > .row-list--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
        & > .row-list--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        & > .row-list--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
        & > .row-list--stripe {
            background: $surface-lighten-1 50%;
        }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor_up", "Up", show=False),
        Binding("down", "cursor_down", "Down", show=False),
        Binding("pageup", "page_up", "Page up", show=False),
        Binding("pagedown", "page_down", "Page down", show=False),
        Binding("home,ctrl+home", "scroll_top", "First row", show=False),
        Binding("end,ctrl+end", "scroll_bottom", "Last row", show=False),
    ]

    class RowHighlighted(Message):
        """The cursor rests on a different row (by index or by id)."""

        def __init__(self, row_list: RowList, cursor_row: int, row_id: int | None) -> None:
            super().__init__()
            self.row_list = row_list
            self.cursor_row = cursor_row
            self.row_id = row_id

        @property
        def control(self) -> RowList:
            return self.row_list

    def __init__(self, *, id: str, stripes: bool = False) -> None:
        super().__init__(id=id)
        self.ids: list[int] = []
        self.cursor_row = 0
        self.stripes = stripes
        self._positions: dict[int, int] = {}
        self._strips: LRUCache[tuple[int, bool], Strip] = LRUCache(STRIP_CACHE_ROWS)
        # What the cached strips were drawn for: column widths, list width and base style.
        self._rendered_widths: list[int] = []
        self._rendered_for: tuple[int, Style | None] = (-1, None)
        self._announced: tuple[int, int | None] = (-1, None)
        self._warm_pending = False

    # ----------------------------------------------------------------------- what subclasses give

    def row_cells(self, row_id: int) -> Sequence[Text]:
        """The cells of row `row_id`, one Text per column."""
        raise NotImplementedError

    # ----------------------------------------------------------------------------- rows

    @property
    def row_count(self) -> int:
        return len(self.ids)

    def highlighted_id(self) -> int | None:
        return self.ids[self.cursor_row] if 0 <= self.cursor_row < len(self.ids) else None

    def set_ids(self, ids: Sequence[int], *, keep: int | None) -> None:
        """Show `ids` in this order; the highlight stays on `keep` if it is listed."""
        self.ids = list(ids)
        self._positions = {row_id: i for i, row_id in enumerate(self.ids)}
        self._strips.clear()  # a replaced row may show new values under the same id
        self._resize_virtual()
        row = self._positions.get(keep, 0) if keep is not None else 0
        self.cursor_row = -1  # so that move_cursor announces the row even at the same index
        self.move_cursor(row=row)
        self.refresh()

    def extend_ids(self, ids: Iterable[int]) -> None:
        """Append rows below the last one; ids already listed are skipped."""
        for row_id in ids:
            if row_id not in self._positions:
                self._positions[row_id] = len(self.ids)
                self.ids.append(row_id)
        self._resize_virtual()
        if len(self.ids) == 1 or self._announced[1] is None:
            self._announce()
        self.warm_soon()

    def prepend_ids(self, ids: Sequence[int]) -> None:
        """Insert newer rows above the first one; the highlight stays on its row id."""
        keep = self.highlighted_id()
        fresh = [row_id for row_id in ids if row_id not in self._positions]
        self.ids = fresh + self.ids
        self._positions = {row_id: i for i, row_id in enumerate(self.ids)}
        self._resize_virtual()
        self.cursor_row = self._positions.get(keep, 0) if keep is not None else 0
        self.scroll_to_cursor()
        self._announce()
        self.refresh()

    def on_screen_ids(self) -> list[int]:
        """The ids of the rows on screen now (the ones a live pane keeps true)."""
        top = max(0, round(self.scroll_y))
        return self.ids[top : top + self.visible_rows() + 1]

    def refresh_row(self, row_id: int) -> None:
        """Row `row_id` shows new values: render it again."""
        self._strips.discard((row_id, False))
        self._strips.discard((row_id, True))
        index = self._positions.get(row_id)
        if index is not None:
            self.refresh_line(index + 1)

    # ----------------------------------------------------------------------------- cursor

    def move_cursor(self, *, row: int) -> None:
        previous = self.cursor_row
        self.cursor_row = max(0, min(row, len(self.ids) - 1)) if self.ids else 0
        if previous != self.cursor_row:
            for index in (previous, self.cursor_row):
                if index >= 0:
                    self.refresh_line(index + 1)
        self.scroll_to_cursor()
        self._announce()
        self.warm_soon()

    def scroll_to_cursor(self) -> None:
        visible = self.visible_rows()
        top = round(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False, force=True, immediate=True)
        elif self.cursor_row >= top + visible:
            target = self.cursor_row - visible + 1
            self.scroll_to(y=target, animate=False, force=True, immediate=True)

    def visible_rows(self) -> int:
        """Rows on screen below the header (at least one, before the first layout too)."""
        return max(1, self.scrollable_content_region.height - 1)

    def _announce(self) -> None:
        now = (self.cursor_row, self.highlighted_id())
        if now != self._announced:
            self._announced = now
            self.post_message(self.RowHighlighted(self, self.cursor_row, now[1]))

    def action_cursor_up(self) -> None:
        self.move_cursor(row=self.cursor_row - 1)

    def action_cursor_down(self) -> None:
        self.move_cursor(row=self.cursor_row + 1)

    def action_page_down(self) -> None:
        # As DataTable does: the view moves a page and the cursor keeps its place on screen.
        page = self.visible_rows()
        self.scroll_to(y=round(self.scroll_y) + page, animate=False, force=True, immediate=True)
        self.move_cursor(row=self.cursor_row + page)

    def action_page_up(self) -> None:
        page = self.visible_rows()
        self.scroll_to(y=round(self.scroll_y) - page, animate=False, force=True, immediate=True)
        self.move_cursor(row=self.cursor_row - page)

    def action_scroll_top(self) -> None:
        self.move_cursor(row=0)

    def action_scroll_bottom(self) -> None:
        self.move_cursor(row=len(self.ids) - 1)

    def on_click(self, event: events.Click) -> None:
        line = event.y - self.gutter.top
        if line >= 1:  # line 0 is the header
            self.move_cursor(row=round(self.scroll_y) + line - 1)

    def on_resize(self, _event: events.Resize) -> None:
        self._resize_virtual()
        self.call_after_refresh(self.scroll_to_cursor)

    def on_focus(self, _event: events.Focus) -> None:
        self.refresh()  # the cursor's colour says whether keys reach the list

    def on_blur(self, _event: events.Blur) -> None:
        self.refresh()

    # ----------------------------------------------------------------------------- drawing

    def _resize_virtual(self) -> None:
        size = Size(sum(w + 2 * CELL_PADDING for w in self._widths()), len(self.ids) + 1)
        if size == self.virtual_size:
            return
        if (
            self.is_mounted
            and self.show_vertical_scrollbar
            and size.width == self.virtual_size.width
            and size.height > self.virtual_size.height
        ):
            # Rows appended below a list that already scrolls: nothing on screen moves but
            # the scrollbar's thumb. Setting `virtual_size` would lay the whole screen out
            # again, a frame of its own each time a page of older rows arrives.
            self.set_reactive(RowList.virtual_size, size)
            self._scroll_update(size)
            return
        self.virtual_size = size

    def _widths(self) -> list[int]:
        # Room for the vertical scrollbar is kept even before it shows: otherwise its arrival
        # would make the row two cells too wide, and a horizontal scrollbar would follow.
        available = self.content_region.width - self.styles.scrollbar_size_vertical
        return column_widths(self.COLUMNS, available)

    def _line_text(self, cells: Sequence[Text], widths: Sequence[int]) -> Text:
        line = Text(no_wrap=True, end="")
        pad = " " * CELL_PADDING
        for cell, width in zip(cells, widths, strict=True):
            fitted = one_line(cell).copy()
            fitted.truncate(width, overflow="ellipsis", pad=True)
            line.append(pad)
            line.append_text(fitted)
            line.append(pad)
        return line

    def _row_text(self, row_id: int, widths: Sequence[int]) -> Strip:
        text = self._line_text(self.row_cells(row_id), widths)
        return Strip(text.render(self.app.console, end=""), text.cell_len)

    def _row_strip(self, index: int, width: int, base: Style) -> Strip:
        """Row `index` as drawn when not scrolled sideways: cached until its row changes."""
        striped = self.stripes and index % 2 == 1
        key = (self.ids[index], striped)
        strip = self._strips.get(key)
        if strip is None:
            strip = self._row_text(self.ids[index], self._rendered_widths)
            strip = strip.crop_extend(0, width, base).apply_style(base)
            if striped:
                strip = overlay(strip, self.get_component_rich_style("row-list--stripe"))
            self._strips[key] = strip
        return strip

    def _check_cache(self, width: int, base: Style) -> None:
        """Forget every rendered row when the widths or the base style (focus) changed."""
        widths = self._widths()
        if widths != self._rendered_widths or (width, base) != self._rendered_for:
            self._strips.clear()
            self._rendered_widths, self._rendered_for = widths, (width, base)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        self.warm_soon()

    def warm_soon(self) -> None:
        if not self._warm_pending:
            self._warm_pending = True
            self.call_after_refresh(self.warm)

    def warm(self) -> None:
        """Render the rows a page above and below the view once a frame is on screen, while
        the operator reads, so the next page-down or page-up only draws ready rows."""
        self._warm_pending = False
        if round(self.scroll_x) or not self.ids:
            return
        width, base = self.scrollable_content_region.width, self.rich_style
        self._check_cache(width, base)
        top, page = round(self.scroll_y), self.visible_rows()
        for index in range(max(0, top - page), min(len(self.ids), top + 2 * page)):
            self._row_strip(index, width, base)

    def _header_strip(self, widths: Sequence[int]) -> Strip:
        text = self._line_text([Text(c.label) for c in self.COLUMNS], widths)
        text.stylize(self.get_component_rich_style("row-list--header"))
        return Strip(text.render(self.app.console, end=""), text.cell_len)

    def render_line(self, y: int) -> Strip:
        width, base = self.scrollable_content_region.width, self.rich_style
        self._check_cache(width, base)
        scroll_x = round(self.scroll_x)
        if y == 0:
            strip = self._header_strip(self._rendered_widths)
            return strip.crop_extend(scroll_x, scroll_x + width, base).apply_style(base)
        index = round(self.scroll_y) + y - 1
        if not 0 <= index < len(self.ids):
            return Strip.blank(width, base)
        if scroll_x:  # sideways on a narrow terminal: rare, drawn without the cache
            strip = self._row_text(self.ids[index], self._rendered_widths)
            strip = strip.crop_extend(scroll_x, scroll_x + width, base).apply_style(base)
        else:
            strip = self._row_strip(index, width, base)
        if index == self.cursor_row:
            strip = overlay(strip, self.get_component_rich_style("row-list--cursor"))
        return strip


def overlay(strip: Strip, style: Style) -> Strip:
    """`style` drawn over every segment of `strip` (the cursor's or a stripe's colours)."""
    return Strip(Segment.apply_style(strip, post_style=style), strip.cell_length)
