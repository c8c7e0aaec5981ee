"""Confirmation that scales with risk, and the operator's reason for the audit log.

low     enter confirms (a single retry)
medium  enter confirms; the reason field is offered first (a selection, one discard)
high    type the number of rows to confirm (bulk by filter, discarding several)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

Risk = Literal["low", "medium", "high"]


@dataclass(frozen=True, slots=True)
class Confirmed:
    reason: str | None


class ConfirmScreen(ModalScreen[Confirmed | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, title: str, body: str, *, risk: Risk = "low", count: int = 1) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.risk = risk
        self.count = count

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-box", classes=f"dialog risk-{self.risk}"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(Text(self.body), id="confirm-body")  # may quote a typed filter
            if self.risk == "high":
                yield Label(f"Type {self.count} to confirm:")
                yield Input(placeholder=str(self.count), id="confirm-count")
            yield Input(placeholder="reason (optional, goes to the audit log)", id="confirm-reason")
            with Horizontal(classes="dialog-buttons"):
                yield Button(
                    "Confirm",
                    variant="error" if self.risk != "low" else "primary",
                    id="confirm-yes",
                )
                yield Button("Cancel", id="confirm-no")

    def on_mount(self) -> None:
        first = "#confirm-count" if self.risk == "high" else "#confirm-reason"
        self.query_one(first, Input).focus()

    def accepted(self) -> bool:
        if self.risk != "high":
            return True
        typed = self.query_one("#confirm-count", Input).value.strip()
        return typed == str(self.count)

    def confirm(self) -> None:
        if not self.accepted():
            self.notify(f"Type {self.count} to confirm", severity="warning")
            self.query_one("#confirm-count", Input).focus()
            return
        reason = self.query_one("#confirm-reason", Input).value.strip()
        self.dismiss(Confirmed(reason or None))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "confirm-count" and self.accepted():
            self.query_one("#confirm-reason", Input).focus()
            return
        self.confirm()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "confirm-yes":
            self.confirm()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
