"""Sources: each source's health; "poll now"; "reset cursor" through mrt.ops.cursor."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from mrt.inert import terminal_json
from mrt.ops.cursor import backup_destination
from mrt.store import views
from mrt.store.db import is_sqlite
from tui import operations
from tui.formatting import age, full_stamp, inert
from tui.messages import ActionFinished, SourcesLoaded
from tui.screens.base import ConsoleScreen
from tui.screens.reset_cursor import ResetCursorScreen, ResetRequest
from tui.widgets.source_table import SourceTable


class SourcesScreen(ConsoleScreen):
    MODE = "sources"
    WRITE_ACTIONS = frozenset({"poll_now", "reset_cursor"})
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("n", "poll_now", "Poll now"),
        Binding("c", "reset_cursor", "Reset cursor"),
        Binding("r,g", "reload", "Reload", key_display="r"),  # r on every screen; g as before
    ]

    def __init__(self) -> None:
        super().__init__()
        self.settings_asked = False  # the config is read once, after the first rows

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        yield SourceTable()
        yield Static("", id="source-detail")
        yield from self.compose_footer()

    @property
    def table(self) -> SourceTable:
        return self.query_one(SourceTable)

    def on_mount(self) -> None:
        self.load_sources()
        self.table.focus()

    @work(thread=True, exclusive=True, group="sources")
    def load_sources(self) -> None:
        rows = self.console.run_query("sources", views.source_rows)
        if rows is not None:
            self.post_message(SourcesLoaded(rows))
        else:
            self.app.call_from_thread(self.arm_live, self.poll_live)

    def on_sources_loaded(self, message: SourcesLoaded) -> None:
        self.table.show_rows(message.rows, self.console.now())
        self.show_detail()
        self.arm_live(self.poll_live)
        if not self.settings_asked:
            self.settings_asked = True
            # A cursor reset shows the backup_dir the config names: read the config once the
            # rows are on screen, so its imports do not hold up the first frame.
            self.call_after_refresh(self.console.preload_settings)

    def poll_live(self) -> None:
        if self.console.paused:
            self.arm_live(self.poll_live)
        else:
            self.load_sources()

    @on(DataTable.RowHighlighted, "#source-table")
    def row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self.show_detail()

    def action_reload(self) -> None:
        self.load_sources()

    def action_poll_now(self) -> None:
        row = self.table.highlighted()
        if row is None:
            return
        now = self.console.now()
        self.perform("poll now", lambda: operations.poll_source_now(row.key, now=now))

    def action_reset_cursor(self) -> None:
        row = self.table.highlighted()
        db = self.console.db
        if row is None or db is None:
            return
        now = self.console.now()
        backup_dir = self.console.settings().backup_dir
        path = backup_destination(db, row.key, now, backup_dir) if is_sqlite(db) else None

        def run(request: ResetRequest | None) -> None:
            if request is None:
                return

            def write() -> str:
                report = operations.reset_source_cursor(
                    db,
                    row.key,
                    request.to,
                    now=now,
                    backup_dir=backup_dir,
                    reason=request.reason,
                )
                where = f"; backup at {report.backup_path}" if report.backup_path else ""
                return f"Cursor of {row.key} reset{where}"

            self.perform("reset cursor", write)

        self.app.push_screen(ResetCursorScreen(row, path, now), run)

    def on_action_finished(self, message: ActionFinished) -> None:
        self.say(message.text, ok=message.ok)
        self.load_sources()

    def show_detail(self) -> None:
        row = self.table.highlighted()
        pane = self.query_one("#source-detail", Static)
        if row is None:
            pane.update(
                "No sources yet: they appear after the worker's first cycle "
                "(start mrt-worker; `mrt check` tests the config)."
            )
            return
        now = self.console.now()
        text = Text()  # stored strings may be upstream error text: each goes in inert
        text.append(inert(row.key), style="bold")
        text.append(f" ({inert(row.plugin)}) · {row.health}")
        if row.health_detail:
            text.append(f": {inert(row.health_detail, 500)}")
        text.append(
            f"\nlast poll {age(row.last_poll_at, now)} · last success "
            f"{age(row.last_success_at, now)} · next {age(row.next_poll_at, now)}"
        )
        if row.poll_requested_at:
            text.append(f" · poll requested {age(row.poll_requested_at, now)}", style="cyan")
        if row.deferred_until:
            text.append(f"\ndeferred until {full_stamp(row.deferred_until)} (rate limit)")
        rate = "-" if row.ratelimit_remaining is None else str(row.ratelimit_remaining)
        text.append(f"\nrate limit left {rate}, resets {full_stamp(row.ratelimit_reset_at)}")
        text.append(f"\ncursor {inert(terminal_json(row.cursor), 500)}")
        if row.last_error:
            text.append(
                f"\n{row.consecutive_failures} failure(s) in a row: {inert(row.last_error, 1000)}",
                style="red",
            )
        if row.quarantined:
            text.append(
                f"\n{row.quarantined} upstream item(s) quarantined; latest: "
                f"{row.quarantine_reason or ''}",
                style="yellow",
            )
        pane.update(text)
