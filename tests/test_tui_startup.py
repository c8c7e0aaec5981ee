"""What the console loads before its first screen, asserted on sys.modules (never on time).

Start-up was mostly imports: every screen module at the top of tui.app (the replay screen
pulled in mrt.replay, the rule engine and Apprise), and the config loaded before the app
started (pydantic, every source plugin and httpx) even when --db named the database. These
tests keep such an import from silently coming back; docs/PERFORMANCE.md ("Console start-up")
has the figures.
"""

from __future__ import annotations

import json
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import peewee
import pytest
from textual.widgets import Static
from tui_pilot import console, settle
from tui_seed import console_scene

from tui.app import Settings
from tui.main import config_settings
from tui.screens.replay import ReplayScreen

pytestmark = pytest.mark.anyio

# `mrt-tui --db PATH` up to its first frame: main() as the entry point runs it (App.run is
# replaced, so nothing is drawn), then the import that entering the first mode does.
START_UP = """
import importlib, json, sys
import tui.app, tui.main

started = []
tui.app.MrtConsole.run = lambda self, *args, **kwargs: started.append(self)
try:
    tui.main.main(["--db", sys.argv[1], "--screen", "alerts"])
except SystemExit:
    pass
app = started[0]
importlib.import_module("tui.screens." + app.options.initial_mode)
print(json.dumps(sorted(sys.modules)))
"""

# Not needed to show the alerts screen, and each cost start-up time when it was imported.
NOT_AT_START_UP = (
    "apprise",  # channels: replay's target resolution
    "croniter",  # config validation of cron fields
    "pydantic",  # the config models: with --db the config is read on first use
    "httpx",  # the source plugins the config loader validates sections with
    "mrt.config",
    "mrt.replay",
    "mrt.rules",
    "mrt.delivery.channels",
    "mrt.store.outbox",  # bulk outbox writes (tui.operations imports it on use)
    "mrt.ops.outbox",  # the same: imported on the first retry or discard
    "mrt.ops.cursor",  # the cursor reset, with the plugins it asks for cursor semantics
    "tui.screens.deliveries",
    "tui.screens.sources",
    "tui.screens.metrics",
    "tui.screens.replay",
    "tui.screens.rules",
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def loaded_at_start_up(db_path: Path) -> set[str]:
    result = subprocess.run(
        [sys.executable, "-c", START_UP, str(db_path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return set(json.loads(result.stdout.splitlines()[-1]))


def test_the_first_screen_loads_only_what_it_needs(tmp_path: Path) -> None:
    modules = loaded_at_start_up(tmp_path / "mrt.sqlite3")
    assert {"textual.app", "tui.app", "tui.main", "tui.screens.alerts"} <= modules  # the path really ran
    unwanted = sorted(
        m for m in modules for name in NOT_AT_START_UP if m == name or m.startswith(name + ".")
    )
    assert unwanted == []


def test_importing_the_config_models_leaves_croniter_to_cron_fields() -> None:
    code = "import sys, mrt.config\nprint('croniter' in sys.modules)\n"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


async def test_with_db_the_config_is_read_on_first_use_and_its_error_shown(
    db: peewee.Database, db_path: Path
) -> None:
    console_scene()
    reads: list[int] = []

    def read_config() -> Settings:
        reads.append(1)
        return Settings(config_error="the config did not load: bad key")

    app = console(db_path, read_config=read_config)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert reads == []  # the alerts screen never needed it
        await pilot.press("5")
        await settle(pilot)
        assert isinstance(app.screen, ReplayScreen)
        await pilot.press("enter")
        await settle(pilot)
        summary = str(app.screen.query_one("#replay-summary", Static).render())
        assert "the config did not load: bad key" in summary
        await pilot.press("enter")
        await settle(pilot)
    assert reads == [1]  # read once, however many times it is asked for


def test_deferred_settings_are_what_the_config_says(tmp_path: Path) -> None:
    config = tmp_path / "mrt.toml"
    config.write_text(f'[state]\nbackup_dir = "{tmp_path / "bk"}"\n')
    args = Namespace(config=str(config), db=str(tmp_path / "other.sqlite3"))
    settings = config_settings(args)
    assert settings.config is not None and settings.backup_dir == tmp_path / "bk"
    config.write_text("[state]\nsqlite_pth = 'x'\n")
    broken = config_settings(args)  # with --db a bad config disables replay and rules only
    assert broken.config is None and broken.config_error is not None
    assert broken.config_error.startswith("the config did not load:")
    assert "sqlite_pth" in broken.config_error


def test_the_mrt_tui_script_runs_the_entry_point_module() -> None:
    from importlib.metadata import entry_points

    import tui.main

    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "mrt-tui"]
    assert script.value == "tui.main:main" and script.load() is tui.main.main
