"""Silences: active ones first, then ended ones; add one (a), expire one (x), as `mrt silence`
does, through mrt.ops.silences (audited, actor "tui"). Live: the list (a few hundred rows at
most) is read again at every poll, so an expiry or another operator's silence shows up."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widgets import Static

from mrt.commands.silence import describe_matcher
from mrt.ops import silences as silence_ops
from mrt.store.views.silences import SilenceRow, silence_rows
from tui.formatting import age, full_stamp, inert, plain, stamp
from tui.messages import ActionFinished
from tui.screens.add_silence import AddSilenceScreen, SilenceRequest
from tui.screens.base import ConsoleScreen
from tui.screens.confirm import Confirmed, ConfirmScreen
from tui.widgets.record_table import RecordTable
from tui.widgets.row_list import Column

READ_ONLY = "read-only console (mrt-tui --read-only): adding and expiring silences is disabled"
WRITE_KEYS = {"a": "add a silence", "x": "expire a silence"}


@dataclass
class SilencesLoaded(Message):
    rows: list[SilenceRow]


class SilencesScreen(ConsoleScreen):
    MODE = "silences"
    WRITE_ACTIONS = frozenset({"add", "expire"})
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("a", "add", "Add"),
        Binding("x", "expire", "Expire"),
        Binding("g", "reload", "Reload"),
    ]
    COLUMNS = (
        Column("state", "state", 7),
        Column("id", "id", 4),
        Column("matcher", "matcher", 16, flex=3),
        Column("by", "by", 6),
        Column("until", "ends", 11),
        Column("muted", "muted", 5),
        Column("reason", "reason", 8, flex=2),
    )

    DEFAULT_CSS = """
    SilencesScreen #silence-table { height: 1fr; }
    SilencesScreen #silence-line { height: auto; padding: 0 1; }
    SilencesScreen #silence-detail {
        height: auto;
        max-height: 8;
        border-top: solid $primary 50%;
        padding: 0 1;
    }
    """

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        yield Static("", id="silence-line")
        yield RecordTable[SilenceRow](id="silence-table", columns=self.COLUMNS, cells=self.cells)
        yield Static("", id="silence-detail")
        yield from self.compose_footer()

    @property
    def table(self) -> RecordTable[SilenceRow]:
        table: RecordTable[SilenceRow] = self.query_one("#silence-table", RecordTable)
        return table

    def on_mount(self) -> None:
        self.show_heading()
        self.load()
        self.table.focus()

    # ------------------------------------------------------------------------- reads

    @work(thread=True, exclusive=True, group="silences")
    def load(self) -> None:
        now = self.console.now()
        rows = self.console.run_query("silences", lambda: silence_rows(now))
        if rows is not None:
            self.post_message(SilencesLoaded(rows))
        self.app.call_from_thread(self.arm_live, self.poll_live)

    def poll_live(self) -> None:
        if self.console.paused:
            self.arm_live(self.poll_live)
            return
        self.load()

    def on_silences_loaded(self, message: SilencesLoaded) -> None:
        self.table.show_rows(message.rows, keep=self.table.highlighted_id())
        self.show_heading()
        self.show_detail()

    @on(RecordTable.RowHighlighted, "#silence-table")
    def row_highlighted(self, _event: RecordTable.RowHighlighted) -> None:
        self.show_detail()

    # ------------------------------------------------------------------------- display

    def cells(self, row: SilenceRow) -> Sequence[Text]:
        return (
            Text("active", style="bold yellow") if row.active else Text("ended", style="dim"),
            Text(str(row.id)),
            Text(inert(describe_matcher(row.matcher))),
            Text(inert(row.created_by)),
            Text(stamp(row.ends_at)),
            Text(str(row.suppressed)),
            Text(inert(row.reason or "")),
        )

    def show_heading(self) -> None:
        rows = self.table.rows_by_id.values()
        active = sum(1 for r in rows if r.active)
        line = Text(f"{active} active, {len(rows) - active} ended", style="bold")
        line.append(" · a silenced event is stored and traceable, never told", style="dim")
        if self.console.read_only:
            line.append(f"\n{READ_ONLY}", style="bold magenta")
        self.query_one("#silence-line", Static).update(line)

    def show_detail(self) -> None:
        row = self.table.highlighted()
        pane = self.query_one("#silence-detail", Static)
        if row is None:
            pane.update(Text("No silences. Press a to add one (as `mrt silence add`).",
                             style="dim"))
            return
        now = self.console.now()
        text = Text()
        text.append(f"#{row.id} {'active' if row.active else 'ended'}", style="bold")
        text.append(f" · by {inert(row.created_by)} at {full_stamp(row.created_at)}")
        verb = "ends" if row.active else "ended"
        text.append(f" · {verb} {full_stamp(row.ends_at)} ({age(row.ends_at, now)})")
        if row.expired_early_at is not None:
            text.append(" · expired early")
        text.append("\nmatcher: ")
        text.append_text(plain(describe_matcher(row.matcher), 1000))
        text.append(f"\nmuted {row.suppressed} event(s) (`mrt trace` shows each)")
        if row.reason:
            text.append("\nreason: ")
            text.append_text(plain(row.reason, 500))
        pane.update(text)

    # ------------------------------------------------------------------------- actions

    def on_key(self, event: events.Key) -> None:
        # A disabled key would do nothing at all: say why instead.
        if self.console.read_only and event.key in WRITE_KEYS:
            event.stop()
            event.prevent_default()  # this says it: a generic handler of a base need not
            self.say(f"Cannot {WRITE_KEYS[event.key]}: {READ_ONLY}", ok=False)

    def action_reload(self) -> None:
        self.load()

    def action_add(self) -> None:
        def run(request: SilenceRequest | None) -> None:
            if request is None:
                return
            now = self.console.now()

            def write() -> str:
                silence_id = silence_ops.create(request.matcher, expires_at=request.expires_at,
                                                now=now, actor="tui", reason=request.reason)
                return (f"Silence #{silence_id} added: {describe_matcher(request.matcher)} "
                        f"until {full_stamp(request.expires_at)}")

            self.perform("add silence", write)

        self.app.push_screen(AddSilenceScreen(self.console.now()), run)

    def action_expire(self) -> None:
        row = self.table.highlighted()
        if row is None:
            return
        if not row.active:
            self.say(f"Silence #{row.id} already ended at {full_stamp(row.ends_at)}", ok=False)
            return
        body = (f"#{row.id}: {inert(describe_matcher(row.matcher), 500)}\n\n"
                "It stops muting now; events it muted stay stored (replay can deliver them).")

        def run(answer: Confirmed | None) -> None:
            if answer is None:
                return
            now = self.console.now()

            def write() -> str:
                silence_ops.expire(row.id, now=now, actor="tui", reason=answer.reason)
                return f"Silence #{row.id} expired"

            self.perform("expire silence", write)

        self.app.push_screen(ConfirmScreen(f"Expire silence #{row.id}?", body, risk="medium"), run)

    def on_action_finished(self, message: ActionFinished) -> None:
        self.say(message.text, ok=message.ok)
        self.load()
