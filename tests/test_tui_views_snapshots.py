"""SVG snapshots of issue 17's console views (Audit, Silences, Events) at 80x24 and 120x40,
time frozen, data fixed. Regenerate after a deliberate change of the look:
    .venv/bin/python -m pytest tests/test_tui_views_snapshots.py --snapshot-update
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import peewee
import pytest
from test_tui_snapshots import steady
from textual.pilot import Pilot
from tui_pilot import console
from tui_seed import console_scene
from tui_views_seed import events_scene, views_scene

SIZES = [(80, 24), (120, 40)]
Snap = Callable[..., bool]


@pytest.fixture
def scene(db: peewee.Database, db_path: Path) -> Path:
    console_scene()
    views_scene()
    events_scene()
    db.close()
    return db_path


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
@pytest.mark.parametrize(
    ("screen", "keys"),
    [("audit", ("down",)), ("silences", ()), ("events", ("down",))],
)
def test_view(
    snap_compare: Snap, scene: Path, screen: str, keys: tuple[str, ...], size: tuple[int, int]
) -> None:
    # Opened on the screen itself: the alerts screen's own detail loads are not part of this.
    app = console(scene, initial_mode=screen)
    assert snap_compare(app, terminal_size=size, run_before=steady(*keys))


@pytest.mark.parametrize("size", SIZES, ids=["80x24", "120x40"])
def test_add_silence_dialog_naming_a_wrong_field(
    snap_compare: Snap, scene: Path, size: tuple[int, int]
) -> None:
    async def fill(pilot: Pilot[Any]) -> None:
        await steady("a")(pilot)
        await pilot.press(*"colour=red", "tab", "2", "h", "enter")
        await steady()(pilot)

    assert snap_compare(console(scene, initial_mode="silences"), terminal_size=size,
                        run_before=fill)
