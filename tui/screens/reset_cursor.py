"""The "reset cursor" modal: the date (or baseline), what will happen, and the backup path."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from mrt.errors import StoreError
from mrt.ops.cursor import ResetTarget, cursor_at, parse_reset_target
from mrt.store.views import SourceRow
from tui.formatting import inert, plain


@dataclass(frozen=True, slots=True)
class ResetRequest:
    to: ResetTarget
    reason: str | None


def explain(row: SourceRow, text: str, backup_path: Path | None) -> str:
    """What the reset will do, in words, before the operator confirms it."""
    try:
        to = parse_reset_target(text)
    except StoreError as exc:
        return str(exc)
    new = cursor_at(row.plugin, to)
    if new is None:
        effect = (
            "The cursor is cleared: the next poll records a silent baseline of what is there "
            "now and alerts nothing (as for a new source)."
        )
    else:
        effect = (
            f"The next poll reads everything changed since {new['reset_to']} and alerts what "
            "the rules match (events already stored are not alerted twice)."
        )
    backup = (
        f"The database is first backed up to:\n  {backup_path}"
        if backup_path
        else "PostgreSQL: back it up with pg_dump first; the old cursor goes to the audit log."
    )
    return (
        f"{backup}\n\n"
        f"cursor now: {json.dumps(row.cursor)}\n"
        f"cursor after: {json.dumps(new)}\n\n"
        f"{effect} Its conditional-request validators are cleared (the next poll is not a 304) "
        "and a poll is requested now."
    )


class ResetCursorScreen(ModalScreen[ResetRequest | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, row: SourceRow, backup_path: Path | None, today: datetime) -> None:
        super().__init__()
        self.row = row
        self.backup_path = backup_path
        self.default = today.strftime("%Y-%m-%d")

    def compose(self) -> ComposeResult:
        with Vertical(id="reset-box", classes="dialog risk-high"):
            yield Label(plain(f"Reset the cursor of {self.row.key}"), classes="dialog-title")
            yield Label("To: a date (2026-11-01), a datetime, or baseline")
            yield Input(value=self.default, id="reset-to")
            yield Static(
                plain(explain(self.row, self.default, self.backup_path), 2000, multiline=True),
                id="reset-explain",
            )
            yield Input(placeholder="reason (optional, goes to the audit log)", id="reset-reason")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Reset", variant="error", id="reset-yes")
                yield Button("Cancel", id="reset-no")

    def on_mount(self) -> None:
        self.query_one("#reset-to", Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "reset-to":
            # what the operator types is quoted by the explanation: never markup
            self.query_one("#reset-explain", Static).update(
                plain(explain(self.row, event.value, self.backup_path), 2000, multiline=True)
            )

    def submit(self) -> None:
        text = self.query_one("#reset-to", Input).value
        try:
            to = parse_reset_target(text)
        except StoreError as exc:
            self.notify(inert(exc, 1000), severity="error", markup=False)
            return
        reason = self.query_one("#reset-reason", Input).value.strip() or None
        self.dismiss(ResetRequest(to, reason))

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "reset-to":
            self.query_one("#reset-reason", Input).focus()
        else:
            self.submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "reset-yes":
            self.submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
