"""The keyed row list under the alerts and deliveries tables: what it draws, where the cursor
goes, and that the highlight belongs to a row id, not an index."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

import pytest
from rich.text import Text
from textual.app import App, ComposeResult

from tui.paging import PageAhead
from tui.widgets.row_list import Column, RowList, column_widths, one_line

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class Names(RowList):
    COLUMNS: ClassVar[Sequence[Column]] = (
        Column("id", "id", 5),
        Column("name", "name", 10, flex=1),
    )

    def __init__(self) -> None:
        super().__init__(id="names")
        self.names: dict[int, str] = {}

    def row_cells(self, row_id: int) -> tuple[Text, ...]:
        return Text(str(row_id)), Text(self.names[row_id])

    def show(self, names: dict[int, str], keep: int | None = None) -> None:
        self.names = dict(names)
        self.set_ids(list(names), keep=keep)


class Host(App[None]):
    def __init__(self) -> None:
        super().__init__()
        self.highlights: list[tuple[int, int | None]] = []

    def compose(self) -> ComposeResult:
        yield Names()

    def on_row_list_row_highlighted(self, event: RowList.RowHighlighted) -> None:
        self.highlights.append((event.cursor_row, event.row_id))


def shown(table: RowList) -> list[str]:
    """The list's lines as text, header first."""
    return [
        "".join(s.text for s in table.render_line(y)).rstrip() for y in range(table.size.height)
    ]


def rows(count: int) -> dict[int, str]:
    return {1000 - i: f"row {i}" for i in range(count)}  # newest (largest id) first


async def test_page_down_moves_a_page_and_keeps_the_cursor_on_screen() -> None:
    app = Host()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(Names)
        table.show(rows(100))
        table.focus()
        await pilot.pause()
        page = table.visible_rows()
        assert page == 11  # 12 lines, one of them the header
        await pilot.press("pagedown")
        assert table.cursor_row == page and round(table.scroll_y) == page
        assert shown(table)[1].split()[:3] == ["989", "row", "11"]  # the page's first row
        await pilot.press("pageup")
        assert table.cursor_row == 0 and round(table.scroll_y) == 0
        await pilot.press("end")
        assert table.cursor_row == 99 and table.highlighted_id() == 901
        assert shown(table)[-1].split()[:3] == ["901", "row", "99"]  # the last row is visible
        await pilot.press("home", "down", "down")
        assert table.cursor_row == 2
        await pilot.pause()
        assert app.highlights[-1] == (2, 998)


async def test_the_highlight_follows_its_row_id_when_rows_arrive_above() -> None:
    app = Host()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(Names)
        table.show(rows(30))
        table.focus()
        await pilot.press("down", "down", "down")
        reading = table.highlighted_id()
        assert reading == 997
        table.names.update({1001: "newer", 1002: "newest"})
        table.prepend_ids([1002, 1001])
        assert table.highlighted_id() == reading and table.cursor_row == 5
        table.show({**rows(30), 1003: "replaced"}, keep=reading)
        assert table.highlighted_id() == reading
        table.show(rows(2), keep=reading)  # gone: back to the first row
        assert table.cursor_row == 0 and table.highlighted_id() == 1000


async def test_a_click_selects_the_row_under_it_and_the_header_is_not_a_row() -> None:
    app = Host()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(Names)
        table.show(rows(20))
        await pilot.click(Names, offset=(3, 4))
        assert table.cursor_row == 3
        await pilot.click(Names, offset=(3, 0))
        assert table.cursor_row == 3


async def test_a_changed_row_is_drawn_again_and_upstream_controls_stay_inert() -> None:
    app = Host()
    async with app.run_test(size=(40, 6)) as pilot:
        table = app.query_one(Names)
        table.show({7: "evil\x1b[2Jtitle\nsecond line\x07"})
        await pilot.pause()
        line = shown(table)[1]
        assert "\x1b" not in line and "\x07" not in line and "\n" not in line
        assert "evil\N{REPLACEMENT CHARACTER}[2Jtitle second line" in line
        table.names[7] = "renamed"
        assert "renamed" not in shown(table)[1]  # still the cached drawing
        table.refresh_row(7)
        assert "renamed" in shown(table)[1]


async def test_a_narrow_terminal_scrolls_sideways_instead_of_squeezing_columns() -> None:
    app = Host()
    async with app.run_test(size=(12, 6)) as pilot:
        table = app.query_one(Names)
        table.show({1: "abcdefghij"})
        await pilot.pause()
        assert table.virtual_size.width == 5 + 2 + 10 + 2  # the columns' own widths
        table.scroll_to(x=7, animate=False, immediate=True)
        await pilot.pause()
        assert shown(table)[1].startswith(" abcdefghij"[:8])


def test_flexible_columns_share_the_spare_width_by_weight() -> None:
    columns = [Column("a", "a", 4), Column("b", "b", 5, flex=3), Column("c", "c", 5, flex=1)]
    assert column_widths(columns, 40) == [4, 5 + 15, 5 + 5]  # 20 spare: 15 and the rest
    assert column_widths(columns, 10) == [4, 5, 5]  # too narrow: never below their own width
    assert column_widths(columns[:1], 40) == [4]


def test_one_line_keeps_styles_and_leaves_clean_text_alone() -> None:
    clean = Text("plain", style="bold")
    assert one_line(clean) is clean
    dirty = Text("a\tb")
    dirty.stylize("red", 2, 3)
    fixed = one_line(dirty)
    assert fixed.plain == "a b" and fixed.spans == dirty.spans


async def test_rows_appended_below_move_the_scrollbar_and_a_short_list_grows_one() -> None:
    app = Host()
    async with app.run_test(size=(40, 12)) as pilot:
        table = app.query_one(Names)
        table.show(rows(5))
        await pilot.pause()
        assert not table.show_vertical_scrollbar  # 5 rows fit
        older = {500 - i: f"older {i}" for i in range(40)}
        table.names.update(older)
        table.extend_ids(list(older))  # now it overflows: the scrollbar appears
        await pilot.pause()
        assert table.show_vertical_scrollbar
        assert table.vertical_scrollbar.window_virtual_size == 5 + 40 + 1
        more = {400 - i: f"oldest {i}" for i in range(100)}
        table.names.update(more)
        table.extend_ids(list(more))  # appended below a list that already scrolls
        await pilot.pause()
        assert table.virtual_size.height == 145 + 1
        assert table.vertical_scrollbar.window_virtual_size == 146
        await pilot.press("end")
        assert table.highlighted_id() == 301 and shown(table)[-1].split()[:2] == ["301", "oldest"]


class Paged(Host):
    """A list of 100 loaded rows whose next page is read through PageAhead."""

    def __init__(self, rest: float) -> None:
        super().__init__()
        self.reads: list[int] = []  # the cursor row at each read
        self.rest = rest

    def on_mount(self) -> None:
        table = self.query_one(Names)
        table.show(rows(100))
        table.focus()
        self.ahead = PageAhead(
            self,
            lambda: table,
            lambda: True,
            lambda: self.reads.append(table.cursor_row),
            rest=self.rest,
        )

    def on_row_list_row_highlighted(self, event: RowList.RowHighlighted) -> None:
        super().on_row_list_row_highlighted(event)
        self.ahead.cursor_moved()


async def test_the_next_page_is_read_when_the_cursor_rests_or_at_once_near_the_end() -> None:
    six = ["pagedown"] * 6  # pages of 11 rows: row 66, 33 rows below, under 4 pages
    app = Paged(rest=3600)  # a rest that never comes: only the urgent reads happen
    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.press("pagedown")  # row 11: 88 below, nothing to read yet
        assert not app.ahead.waiting
        await pilot.press(*six[1:])
        await pilot.pause()
        assert app.reads == [] and app.ahead.waiting
        await pilot.press("pagedown", "pagedown")  # row 88: 11 below, under 2 pages
        await pilot.pause()
        assert app.reads == [88] and not app.ahead.waiting  # read at once
    app = Paged(rest=0.001)
    async with app.run_test(size=(40, 12)) as pilot:
        await pilot.press(*six)
        await pilot.pause()
        await pilot.pause()
        assert app.reads == [66]  # read once the cursor rested
