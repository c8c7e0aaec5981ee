"""What the console says when there is no database yet, instead of failing."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Label, Static

if TYPE_CHECKING:
    from tui.app import ConsoleOptions


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
        Binding("r", "recheck", "Look again"),
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
