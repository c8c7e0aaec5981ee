"""What a new operator fought at 80x24 (issue 17): the footer keeps `? Help` and `q Quit` on every
screen, Sources shows the last error, the deliveries' alert column is readable, one name for
the Deliveries tab, `r` reloads on every screen (`g` still does), Metrics says attempts or
deliveries, and Help has a legend for every glyph (a pending delivery no longer reads `1…`)."""

from __future__ import annotations

import html
import io
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import peewee
import pytest
from rich.console import Console
from textual.pilot import Pilot
from textual.widgets import Static
from textual.widgets._footer import FooterKey
from tui_pilot import console, settle
from tui_seed import NOW, add_alert, add_source, console_scene

from mrt.store.models import Outbox
from tui.screens.help import GLYPHS, HelpScreen
from tui.widgets.alert_table import DELIVERY_GLYPHS, REPLAY_GLYPH, AlertTable
from tui.widgets.outbox_table import OutboxTable

pytestmark = pytest.mark.anyio
WIDTH = 80


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def screen_text(app: Any) -> list[str]:
    """The terminal's lines as the operator sees them (from the screenshot's text)."""
    svg = app.export_screenshot()
    rows: dict[float, list[tuple[float, str]]] = defaultdict(list)
    for m in re.finditer(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)"[^>]*>(.*?)</text>', svg):
        rows[float(m.group(2))].append((float(m.group(1)), html.unescape(m.group(3))))
    lines = []
    for y in sorted(rows):
        line = ""
        for x, part in sorted(rows[y]):
            line = line.ljust(round(x / 12.2)) + part
        lines.append(line.replace("\xa0", " "))
    return lines


async def visit(pilot: Pilot[None], key: str) -> None:
    await pilot.press(key)
    await settle(pilot)


async def test_every_screen_keeps_help_and_quit_in_the_footer(
    db: peewee.Database, db_path: Path
) -> None:
    console_scene()
    app = console(db_path)
    async with app.run_test(size=(WIDTH, 24)) as pilot:
        await settle(pilot)
        for key in "123456":
            await visit(pilot, key)
            if key in "56":  # the form screens: their list has the focus
                await visit(pilot, "escape")
            shown = {
                k.key: k.region for k in app.screen.query(FooterKey) if k.region.width > 0
            }
            for needed in ("question_mark", "q"):
                assert needed in shown, (app.current_mode, sorted(shown))
                assert shown[needed].right <= WIDTH, (app.current_mode, needed)
            footer = screen_text(app)[-1]
            assert "? Help" in footer and "q Quit" in footer, footer


async def test_sources_deliveries_and_the_tabs_at_80_columns(
    db: peewee.Database, db_path: Path
) -> None:
    console_scene()
    app = console(db_path)
    async with app.run_test(size=(WIDTH, 24)) as pilot:
        await settle(pilot)
        await visit(pilot, "3")
        lines = screen_text(app)
        failing = next(line for line in lines if "huggingface:deepseek-ai" in line)
        assert "HTTP 503 from huggingface.co" in failing, lines  # the last error, in the list
        await visit(pilot, "2")
        lines = screen_text(app)
        assert " 2 Deliveries " in lines[0] and "Outbox" not in lines[0]
        table = app.screen.query_one(OutboxTable)
        row = table.rows_by_id[table.ids[0]]
        listed = next(line for line in lines if f" {row.id} " in line and "dead" in line)
        assert row.alert_title[:10] in listed, listed  # the alert's title is readable
        assert len(listed.rstrip()) <= WIDTH


async def test_r_reloads_on_every_list_and_g_still_does(db: peewee.Database, db_path: Path) -> None:
    console_scene()
    app = console(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await visit(pilot, "2")
        before = set(app.screen.query_one(OutboxTable).ids)
        add_alert("DeepSeek-V5 preview", at=NOW)
        await visit(pilot, "r")
        after = set(app.screen.query_one(OutboxTable).ids)
        new_ids = {o.id for o in Outbox.select()} - before
        assert new_ids and new_ids <= after
        add_alert("DeepSeek-V5 again", at=NOW)
        await visit(pilot, "g")  # the old key stays
        assert len(app.screen.query_one(OutboxTable).ids) == Outbox.select().count()

        await visit(pilot, "3")
        add_source("github:sgl-project/sglang")
        await visit(pilot, "r")
        shown = str(app.screen.query_one("#source-table").get_row("github:sgl-project/sglang")[1])
        assert shown == "github:sgl-project/sglang"

        await visit(pilot, "4")
        figures = str(app.screen.query_one(".metrics-figures", Static).render())
        assert "attempts: ok" in figures and "deliveries: queued" in figures and "dead" in figures


async def test_help_has_a_legend_for_every_glyph(db: peewee.Database, db_path: Path) -> None:
    add_alert(
        "DeepSeek-V4 waiting",
        deliveries=(("welink", "welink://***@example.invalid", "pending", None),),
    )
    app = console(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        table = app.screen.query_one(AlertTable)
        where = table.row_cells(table.ids[0])[2].plain
        assert where.startswith("1◷ ") and "…" not in where
        await visit(pilot, "question_mark")
        assert isinstance(app.screen, HelpScreen)
        out = io.StringIO()
        Console(file=out, width=120, color_system=None).print(app.screen.table)
        legend = out.getvalue()
    explained = {glyph for glyph, _ in GLYPHS}
    for _, glyph, _ in DELIVERY_GLYPHS:
        assert glyph in explained and glyph in legend
    assert f"{REPLAY_GLYPH} replay" in explained and "●" in explained
    assert "pending: waiting for its first try" in legend
