"""SVG snapshots of every console screen at 80x24 and 120x40, time frozen, data fixed.

Regenerate after a deliberate change of the look:
    .venv/bin/python -m pytest tests/test_tui_snapshots.py --snapshot-update
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import peewee
import pytest
from textual.pilot import Pilot
from textual.widgets import Input
from tui_pilot import console, settle
from tui_seed import console_scene

from mrt.config import Config

SIZES = [(80, 24), (120, 40)]
REPLAY_CONFIG = Config.model_validate(
    {
        "channels": {"hook": {"urls": ["json://127.0.0.1:9/hook"]}},
        "rules": [
            {"name": "deepseek", "when": {"keywords": ["deepseek"]}, "notify": ["hook"]},
            {"name": "qwen", "when": {"keywords": ["qwen"]}, "notify": ["hook"]},
        ],
    }
)
Snap = Callable[..., bool]


@pytest.fixture
def scene(db: peewee.Database, db_path: Path) -> Path:
    console_scene()
    db.close()
    return db_path


def steady(*keys: str) -> Callable[[Pilot[Any]], Any]:
    """Press `keys`, let every worker answer, and stop input cursors from blinking."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        await pilot.pause(0.2)  # the detail pane's debounce
        await settle(pilot)
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        await pilot.pause()

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
@pytest.mark.parametrize(
    ("screen", "keys"),
    [
        ("alerts", ()),
        ("deliveries", ("2",)),
        ("sources", ("3",)),
        ("metrics", ("4",)),
        ("replay", ("5", "enter")),
        ("rules", ("6",)),
    ],
)
def test_screen(
    snap_compare: Snap, scene: Path, screen: str, keys: tuple[str, ...], size: tuple[int, int]
) -> None:
    app = console(scene, config=REPLAY_CONFIG)
    assert snap_compare(app, terminal_size=size, run_before=steady(*keys))


def test_alert_detail_of_a_dead_letter(snap_compare: Snap, scene: Path) -> None:
    assert snap_compare(console(scene), terminal_size=(120, 40), run_before=steady("down", "down"))


def test_read_only_dims_actions(snap_compare: Snap, scene: Path) -> None:
    assert snap_compare(
        console(scene, read_only=True), terminal_size=(120, 40), run_before=steady()
    )


def test_help(snap_compare: Snap, scene: Path) -> None:
    assert snap_compare(console(scene), terminal_size=(80, 24), run_before=steady("question_mark"))


def test_help_on_deliveries(snap_compare: Snap, scene: Path) -> None:
    """Deliveries' keys, `n Test a channel` (issue 16) among them."""
    app = console(scene)
    assert snap_compare(app, terminal_size=(120, 40), run_before=steady("2", "question_mark"))


def test_reset_cursor_modal(snap_compare: Snap, scene: Path) -> None:
    app = console(scene, backup_dir=Path("/var/backups/mrt"))
    assert snap_compare(app, terminal_size=(120, 40), run_before=steady("3", "c"))


def test_no_database(snap_compare: Snap) -> None:
    app = console("/nonexistent/mrt.sqlite3")
    assert snap_compare(app, terminal_size=(80, 24), run_before=steady())


def test_bulk_discard_confirmation(snap_compare: Snap, scene: Path) -> None:
    assert snap_compare(console(scene), terminal_size=(80, 24), run_before=steady("2", "X"))


def test_filter_line(snap_compare: Snap, scene: Path) -> None:
    assert snap_compare(console(scene), terminal_size=(80, 24), run_before=steady("slash"))
