"""The console shell: read-only, no database, help, palette, banners, a worker writing alongside."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import peewee
import pytest
from textual.command import CommandPalette
from textual.widgets import Static
from tui_pilot import console, settle
from tui_seed import NOW, add_alert, beat, console_scene

from mrt.store.models import Alert
from tui.main import build_parser, database_target
from tui.screens.alerts import AlertsScreen
from tui.screens.help import HelpScreen
from tui.screens.no_database import NoDatabaseScreen
from tui.widgets.alert_table import AlertTable
from tui.widgets.new_badge import NewBadge

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def text(widget: Static) -> str:
    return str(widget.render())


async def test_read_only_refuses_writes_at_the_connection_and_dims_actions(
    db: peewee.Database, db_path: Path
) -> None:
    console_scene()
    db.close()
    app = console(db_path, read_only=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AlertsScreen)
        # Dimmed, not hidden: the binding is listed but disabled.
        ack = [b for b in screen.active_bindings.values() if b.binding.action == "acknowledge"]
        assert ack and not ack[0].enabled
        await pilot.press("a")
        await settle(pilot)
        # The connection itself refuses, even if the UI were bypassed.
        assert app.db is not None
        with app.db.connection_context(), pytest.raises(peewee.OperationalError, match="readonly"):
            Alert.update(acknowledged_by="x").execute()
        screen.perform("acknowledge", lambda: str(Alert.update(acknowledged_by="x").execute()))
        await settle(pilot)
        assert any("acknowledge failed" in str(n.message) for n in app._notifications)
        assert "READ-ONLY" in text(screen.query_one("#status-bar", Static))
    assert Alert.select().where(Alert.acknowledged_by.is_null(False)).count() == 0


async def test_missing_database_says_what_to_do_and_creates_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "mrt.sqlite3"
    app = console(missing)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, NoDatabaseScreen)
        advice = text(screen.query_one("#no-db-advice", Static))
        assert "no MRT database" in advice and "mrt-worker" in advice and "mrt check" in advice
        await pilot.press("1")  # screens need a database: the key does nothing
        await settle(pilot)
        assert isinstance(app.screen, NoDatabaseScreen)
    assert not missing.exists() and not missing.parent.exists()


async def test_unmigrated_database_then_look_again(db_path: Path) -> None:
    db_path.write_bytes(b"")  # an empty file: not an MRT database yet
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "no MRT schema" in text(app.screen.query_one("#no-db-advice", Static))
        from mrt.store.db import open_database
        from mrt.store.migrations import migrate

        migrate(open_database(db_path))  # the worker starts meanwhile
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, AlertsScreen)


async def test_help_lists_the_keys_of_the_screen(db: peewee.Database, db_path: Path) -> None:
    console_scene()
    app = console(db_path, read_only=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await settle(pilot)
        assert isinstance(app.screen, HelpScreen)
        keys = {(key, enabled) for key, _, enabled in app.screen.rows}
        assert ("/", True) in keys and ("a", False) in keys and ("p", True) in keys
        await pilot.press("escape")
        assert isinstance(app.screen, AlertsScreen)


@pytest.mark.parametrize("key", ["colon", "ctrl+p"])
async def test_palette_lists_and_runs_actions(db: peewee.Database, db_path: Path, key: str) -> None:
    console_scene()
    app = console(db_path)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press(key)
        await settle(pilot)
        assert isinstance(app.screen, CommandPalette)
        await pilot.press(*"Sources", "enter")
        await settle(pilot)
        assert app.current_mode == "sources"


async def test_worker_down_banner_and_heartbeat(db: peewee.Database, db_path: Path) -> None:
    console_scene()
    beat(NOW - timedelta(minutes=10))
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        banner = text(app.screen.query_one("#banner", Static))
        assert "Worker down: last heartbeat 10m ago" in banner
        assert "worker 10m ago" in text(app.screen.query_one("#status-bar", Static))


async def test_live_worker_has_no_banner(db: peewee.Database, db_path: Path) -> None:
    console_scene()
    app = console(db_path)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert not app.screen.query_one("#banner", Static).display


async def test_slow_query_banner(db: peewee.Database, db_path: Path) -> None:
    console_scene()
    app = console(db_path, slow_seconds=0.0)  # every query counts as slow
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "the database is slow" in text(app.screen.query_one("#banner", Static))
        assert app.screen.query_one(AlertTable).row_count == 12  # and it keeps working


WRITER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, sys.argv[2])
    from mrt.store.db import open_database, write_transaction
    from tui_seed import add_alert
    db = open_database(sys.argv[1])
    for i in range(int(sys.argv[3])):
        with write_transaction(db):  # the worker's way: BEGIN IMMEDIATE, one cycle a transaction
            for j in range(5):
                add_alert(f"From the worker {i}-{j}")
        print(i, flush=True)
    """
)


async def test_console_keeps_working_while_a_worker_process_writes(
    db: peewee.Database, db_path: Path
) -> None:
    console_scene()
    app = console(db_path, poll_seconds=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        writer = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db_path), str(Path(__file__).parent), "60"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        screen = app.screen
        assert isinstance(screen, AlertsScreen)
        while writer.poll() is None:
            await pilot.press("down", "up")
            await pilot.pause(0.05)
        _out, err = writer.communicate()
        assert writer.returncode == 0, err
        await pilot.pause(0.3)
        await settle(pilot)
        await pilot.press("n")
        await settle(pilot)
        assert app.slow_note == ""  # no "database is locked" (or any failure) surfaced
        assert screen.query_one(AlertTable).row_count == 12 + 300 or (
            screen.query_one(AlertTable).row_count == app.options.page_size
        )
        assert not [n for n in app._notifications if n.severity == "error"]
    assert Alert.select().count() == 12 + 300


def test_command_line(tmp_path: Path) -> None:
    args = build_parser().parse_args(["--db", "/x/mrt.sqlite3", "--read-only"])
    assert args.read_only and database_target(args).database == "/x/mrt.sqlite3"
    config = tmp_path / "mrt.toml"
    config.write_text(
        f'[state]\nsqlite_path = "{tmp_path / "s.sqlite3"}"\nbackup_dir = "{tmp_path / "bk"}"\n'
    )
    target = database_target(build_parser().parse_args(["--config", str(config)]))
    assert target.database == str(tmp_path / "s.sqlite3") and target.backup_dir == tmp_path / "bk"


def test_bad_config_is_a_message_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tui.main import main

    config = tmp_path / "mrt.toml"
    config.write_text("[state]\nsqlite_pth = 'x'\n")
    with pytest.raises(SystemExit) as exit_info:
        main(["--config", str(config)])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("mrt-tui: ") and "sqlite_pth" in err and "Traceback" not in err


async def test_unreachable_postgresql_is_explained_without_its_password() -> None:
    app = console("postgresql://mrt:s3cret@127.0.0.1:1/mrt")  # nothing listens on port 1
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, NoDatabaseScreen)
        advice = text(app.screen.query_one("#no-db-advice", Static))
        assert "could not be opened" in advice and "127.0.0.1" in advice
        assert "s3cret" not in advice


async def test_a_failing_query_is_a_banner_and_the_console_recovers(
    db: peewee.Database, db_path: Path
) -> None:
    console_scene()
    app = console(db_path, poll_seconds=0.05)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, AlertsScreen)
        with sqlite3.connect(db_path) as other:  # a maintenance job takes the table away
            other.execute("ALTER TABLE alert RENAME TO alert_away")
        await pilot.pause(0.3)
        await settle(pilot)
        assert "failed" in text(screen.query_one("#banner", Static))
        assert screen.query_one(AlertTable).row_count == 12  # what was shown stays
        with sqlite3.connect(db_path) as other:
            other.execute("ALTER TABLE alert_away RENAME TO alert")
        add_alert("After the repair")
        await pilot.pause(0.3)
        await settle(pilot)
        assert not screen.query_one("#banner", Static).display
        assert screen.query_one(NewBadge).count == 1 or screen.query_one(AlertTable).row_count == 13
