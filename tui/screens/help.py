"""`?`: every key that works where the focus is, dimmed when read-only disables it."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Label, Static

# Every glyph the lists show, and what it means (tui/widgets/alert_table.py draws them).
GLYPHS = (
    ("✓", "sent: the delivery got through (2✓: two targets)"),
    ("✗", "dead: the delivery gave up (mrt outbox retry, or t on Deliveries)"),
    ("↻", "retrying: failed, tried again at its next try"),
    ("◷", "pending: waiting for its first try"),
    ("→", "sending: a worker is sending it now"),
    ("⊘", "discarded: an operator chose never to send it"),
    ("✗ no delivery", "the alert went to no one (/ status:none lists them)"),
    ("↺ replay", "an old event re-sent by a replay, listed at the event's time"),
    ("●", "marked (space): actions apply to the marked rows"),
)

GENERAL = (
    ("/", "filter (text and source:, rule:, priority:, status:, channel:)"),
    ("space", "mark a row; actions then apply to the marked rows"),
    (": or ctrl+p", "command palette: every action by name"),
    ("tab", "move between the list and the detail pane (or a form's fields)"),
    ("esc", "leave a form field for the list; clear a filter"),
    ("p", "pause live updates (the header says PAUSED)"),
)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close"),
        Binding("q", "close", "Close"),
    ]

    def __init__(self, rows: list[tuple[str, str, bool]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column("key", style="bold cyan", no_wrap=True)
        table.add_column("what")
        seen: set[str] = set()
        for key, description, enabled in self.rows:
            if key in seen:
                continue
            seen.add(key)
            suffix = "" if enabled else "  (disabled: read-only)"
            table.add_row(key, description + suffix, style="" if enabled else "dim")
        for key, description in GENERAL:
            table.add_row(key, description, style="dim italic")
        table.add_row("", "")
        table.add_row("glyphs", "in the lists", style="bold")
        for glyph, meaning in GLYPHS:
            table.add_row(glyph, meaning)
        self.table = table  # what the dialog shows (tests read it)
        with VerticalScroll(id="help-box", classes="dialog"):
            yield Label("Keys (esc closes)", classes="dialog-title")
            yield Static(table)

    def action_close(self) -> None:
        self.dismiss(None)
