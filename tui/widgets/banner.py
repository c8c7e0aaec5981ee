"""A one-line warning under the status bar: worker down, database slow or failing, paused."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.widgets import Static

from tui.formatting import plain
from tui.worker_words import worker_down_text

if TYPE_CHECKING:
    from tui.app import MrtConsole


class Banner(Static):
    """Hidden while there is nothing to say; the console keeps working whatever it says."""

    def __init__(self) -> None:
        super().__init__(id="banner")

    def on_mount(self) -> None:
        self.watch(self.app, "status_read_at", self.refresh_text)
        self.watch(self.app, "paused", self.refresh_text)
        self.watch(self.app, "slow_note", self.refresh_text)
        self.watch(self.app, "reload_failures", self.refresh_text)

    def refresh_text(self, _value: object = None) -> None:
        notes = self.notes()
        self.update(plain(" · ".join(notes), 1000))  # a note may quote a database error
        self.display = bool(notes)

    def notes(self) -> list[str]:
        app = cast("MrtConsole", self.app)
        notes: list[str] = []
        if app.worker_down():
            notes.append(worker_down_text(app))
        if app.slow_note:
            notes.append(app.slow_note)
        if app.paused:
            notes.append("Live updates paused: press p to resume")
        notes.extend(reload_notes(app))
        return notes


def reload_notes(app: MrtConsole) -> list[str]:
    """A worker that failed to reload its config runs the previous one: say so until it
    reloads successfully (fix the file, then `systemctl --user reload mrt-worker`)."""
    return [
        f"Config reload failed: {failure.sentence()} (fix it, then reload the worker again)"
        for failure in app.reload_failures
    ]
