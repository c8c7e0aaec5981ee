"""What the console says when there is no database yet, instead of failing."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Label, Static

if TYPE_CHECKING:
    from tui.app import ConsoleOptions


SQLITE_MAGIC = b"SQLite format 3\x00"  # the first 16 bytes of every SQLite database file


def not_a_database(path: Path) -> str | None:
    """Why the file at `path` cannot be an MRT database, from its first bytes only (SQLite
    never sees it, so nothing is written); None for an SQLite file, or an empty one (which
    the worker makes the database on its first start)."""
    try:
        with path.open("rb") as fh:
            head = fh.read(len(SQLITE_MAGIC))
    except OSError as exc:
        return f"it cannot be read ({exc.strerror})"
    if head and head != SQLITE_MAGIC:
        return f"it is not an SQLite database (it starts with {head[:12]!r})"
    return None


def sqlite_schema_version(path: Path, timeout_seconds: float) -> int:
    """The MRT schema version of an SQLite file, read through a read-only connection
    (mode=ro): a file that is not (yet) an MRT database is never switched to WAL or touched."""
    import sqlite3

    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True, timeout=timeout_seconds)
    try:
        found = con.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
        ).fetchone()
        if not found:
            return 0
        return int(con.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] or 0)
    finally:
        con.close()


def advice(state: str, detail: str, options: ConsoleOptions) -> str:
    config = f" --config {options.config_path}" if options.config_path else " --config FILE"
    where = detail or "(none configured)"
    if state == "missing":
        head = f"There is no MRT database at {where} yet."
    elif state == "unmigrated":
        head = (
            f"The database at {where} has no MRT schema yet: it is not an MRT database, and "
            "the console leaves it as it is."
        )
    elif state == "outdated":
        head = (
            f"The database at {where} is older than this console: `mrt db migrate` (it backs "
            "up first) or starting mrt-worker brings it up to date."
        )
    elif state == "newer":
        head = f"The database at {where} is newer than this MRT: upgrade MRT."
    elif state == "not_mrt":
        return (
            f"{detail}: it is not an MRT database, and the console left it as it was.\n\n"
            "Point the console at the database mrt-worker writes: mrt-tui --db PATH, or\n"
            f"    mrt-tui{config}\n\n"
            "Press r to look again, q to quit."
        )
    else:
        head = f"The database could not be opened: {detail}"
    return (
        f"{head}\n\n"
        "The worker creates and migrates it on its first start:\n\n"
        f"    mrt-worker{config}\n"
        "    (or: systemctl --user start mrt-worker)\n\n"
        "To check the config, secrets and database first:\n\n"
        f"    mrt check{config}\n\n"
        "Or point the console at an existing database: mrt-tui --db PATH\n\n"
        "Press r to look again, q to quit."
    )


class NoDatabaseScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r,g", "recheck", "Look again", key_display="r"),
        Binding("q", "app.quit", "Quit"),
    ]

    def __init__(self, state: str, detail: str, options: ConsoleOptions) -> None:
        super().__init__()
        self.state, self.detail, self.options = state, detail, options

    def compose(self) -> ComposeResult:
        with Vertical(id="no-db-box", classes="dialog"):
            yield Label("MRT console: nothing to show yet", classes="dialog-title")
            # the detail may quote a database error or a path with brackets: never markup
            yield Static(Text(advice(self.state, self.detail, self.options)), id="no-db-advice")
        yield Footer()

    def show_state(self, state: str, detail: str) -> None:
        self.state, self.detail = state, detail
        self.query_one("#no-db-advice", Static).update(Text(advice(state, detail, self.options)))

    def action_recheck(self) -> None:
        from tui.app import MrtConsole

        app = self.app
        if isinstance(app, MrtConsole):
            app.check_database()
