"""The console over the hostile corpus, with Pilot: Alerts (table and detail pane), the `/`
filter, Sources (table and detail), and the alert that went to no one.

One database is seeded once for the module (tests/hostile.py). What a screen shows is read as
the compositor's strips, the characters the driver writes to the terminal: none may be an
escape, control, bidi or zero-width character, and markup in the data shows as typed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static
from tui_pilot import console, settle

from mrt.ops.explain import alert_detail
from mrt.store.db import open_database
from mrt.store.models import database_proxy
from tests.hostile import STORABLE, active_characters, assert_inert, seed_hostile_database
from tui.screens.alerts import AlertsScreen
from tui.widgets.alert_detail import AlertDetailPane, detail_text
from tui.widgets.alert_table import AlertTable
from tui.widgets.source_table import SourceTable
from tui.widgets.status_bar import StatusBar

pytestmark = pytest.mark.anyio
# The strings a terminal would act on or markup would eat: walked one by one on screen (every
# string's detail text is checked without a screen by the parametrized test below).
ACTIVE = [n for n, t in STORABLE.items() if active_characters(t) or "[" in t or "\n" in t]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    path = tmp_path_factory.mktemp("hostile-tui") / "mrt.sqlite3"
    return path, seed_hostile_database(path)


def screen_lines(pilot: Pilot[Any]) -> list[str]:
    """What the terminal receives for the whole screen, line by line (styles aside)."""
    strips = pilot.app.screen._compositor.render_strips()
    return ["".join(segment.text for segment in strip) for strip in strips]


def assert_screen_inert(pilot: Pilot[Any]) -> None:
    for line in screen_lines(pilot):
        assert_inert(line, newlines=False)


def text_of(widget: Static) -> str:
    return str(widget.render())


@pytest.mark.parametrize("name", list(STORABLE))
def test_the_detail_pane_text_is_inert_for_every_corpus_string(
    scene: tuple[Path, dict[str, int]], name: str
) -> None:
    path, ids = scene
    db = open_database(str(path), read_only=True)
    database_proxy.initialize(db)
    try:
        detail = alert_detail(ids[name])
    finally:
        db.close()
    assert detail is not None
    text = detail_text(detail, detail.created_at)
    assert_inert(text.plain)
    assert "outbox" not in text.plain and "dead" in text.plain


@pytest.mark.parametrize("typed", ["[/INST]", "[Bug]", "[bold red]loud[/]", "[@click=app.quit]x"])
async def test_the_filter_takes_markup_as_text(
    scene: tuple[Path, dict[str, int]], typed: str
) -> None:
    path, _ids = scene
    app = console(path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        await settle(pilot)
        app.screen.query_one(Input).value = typed
        await pilot.press("enter")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AlertsScreen)
        assert typed in text_of(screen.query_one("#filter-line", Static))
        assert any(typed in line for line in screen_lines(pilot))
        if typed in ("[/INST]", "[Bug]"):  # the corpus titles that carry them are found
            assert screen.query_one(AlertTable).row_count == 1
        assert_screen_inert(pilot)
    assert app.return_code in (None, 0)


async def test_a_bad_filter_quoting_markup_is_said_as_typed(
    scene: tuple[Path, dict[str, int]],
) -> None:
    app = console(scene[0])
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        await settle(pilot)
        app.screen.query_one(Input).value = '"[/INST]'  # unbalanced quote: an error quoting it
        await pilot.press("enter")
        await settle(pilot)
        assert any("[/INST]" in str(n.message) for n in app._notifications)
    assert app.return_code in (None, 0)


async def test_every_alert_row_and_its_detail_reach_the_terminal_inert(
    scene: tuple[Path, dict[str, int]],
) -> None:
    path, ids = scene
    app = console(path)
    async with app.run_test(size=(120, 100)) as pilot:  # tall: every row on one screen
        await settle(pilot)
        table = app.screen.query_one(AlertTable)
        pane = app.screen.query_one(AlertDetailPane)
        assert table.row_count == len(ids)
        assert_screen_inert(pilot)
        for name in [*ACTIVE, "mb_title"]:
            table.move_cursor(row=table.ids.index(ids[name]))
            await pilot.press("r")  # read the highlighted alert's detail now
            await settle(pilot, rounds=1)
            assert pane.shown_id == ids[name]
            assert_inert(text_of(app.screen.query_one("#alert-detail-body", Static)))
        assert_screen_inert(pilot)


async def test_an_alert_that_went_to_no_one_is_marked_and_counted(
    scene: tuple[Path, dict[str, int]],
) -> None:
    path, ids = scene
    app = console(path)
    async with app.run_test(size=(160, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(AlertTable)
        assert table.highlighted_id() == ids["nowhere"]  # the newest
        assert "✗ no delivery" in " ".join(screen_lines(pilot))
        body = text_of(app.screen.query_one("#alert-detail-body", Static))
        assert "NO DELIVERY" in body and "not configured: gone" in body
        assert "✗ 1 to no one" in str(app.screen.query_one(StatusBar).render())
        await pilot.press("slash")
        await settle(pilot)
        app.screen.query_one(Input).value = "status:none"
        await pilot.press("enter")
        await settle(pilot)
        assert table.ids == [ids["nowhere"]]


async def test_the_sources_screen_shows_every_error_inert(
    scene: tuple[Path, dict[str, int]],
) -> None:
    app = console(scene[0])
    async with app.run_test(size=(160, 100)) as pilot:  # tall: every row on one screen
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        table = app.screen.query_one(SourceTable)
        assert table.row_count == len(STORABLE)
        assert_screen_inert(pilot)
        for name in ACTIVE:
            table.move_cursor(row=table.keys.index(f"github:hostile/{name}"))
            await pilot.pause()
            detail = text_of(app.screen.query_one("#source-detail", Static))
            assert f"github:hostile/{name}" in detail
            assert_inert(detail)
        assert_screen_inert(pilot)
        keys = " ".join(screen_lines(pilot))
        assert "[Bug] crash on load" in keys or "[Bug]" in text_of(
            app.screen.query_one("#source-detail", Static)
        )
