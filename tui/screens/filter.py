"""The `/` filter line: one input, `key:value` words and free text; enter applies, esc cancels."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class FilterScreen(ModalScreen[str | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, current: str, help_text: str) -> None:
        super().__init__()
        self.current = current
        self.help_text = help_text

    def compose(self) -> ComposeResult:
        with Vertical(id="filter-box", classes="dialog"):
            yield Label("Filter (runs in the database)", classes="dialog-title")
            yield Input(
                value=self.current, placeholder="e.g. deepseek source:github", id="filter-input"
            )
            yield Label(self.help_text, classes="dim")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
