"""The top line: which screen, how old the data is, the worker's heartbeat, live or paused."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.widgets import Static

from tui.formatting import age
from tui.worker_words import worker_text

if TYPE_CHECKING:
    from tui.app import MrtConsole

TABS = (  # key, mode, label, label when narrow
    ("1", "alerts", "Alerts", "Alerts"),
    ("2", "deliveries", "Deliveries", "Deliveries"),  # one name everywhere (CLI: mrt outbox)
    ("3", "sources", "Sources", "Sources"),
    ("4", "metrics", "Metrics", "Metrics"),
    ("5", "replay", "Replay", "Replay"),
    ("6", "rules", "Rules", "Rules"),
)
# Issue 17's views: reached by key, the help and the palette; the bar names one only while it
# is shown, so the line of the six first screens keeps its width.
VIEW_TABS = {"audit": ("7", "Audit"), "silences": ("8", "Silences"), "events": ("9", "Events")}
NARROW = 112  # below this width the tabs shrink so the freshness and PAUSED always fit


class StatusBar(Static):
    """Re-rendered whenever the app's status, pause state or slow note changes."""

    def __init__(self, mode: str) -> None:
        super().__init__(id="status-bar")
        self.mode = mode

    @property
    def console(self) -> MrtConsole:
        return cast("MrtConsole", self.app)

    def on_mount(self) -> None:
        self.watch(self.app, "status_read_at", self.refresh_text)
        self.watch(self.app, "paused", self.refresh_text)
        self.watch(self.app, "undelivered", self.refresh_text)
        self.watch(self.app, "reload_failures", self.refresh_text)

    def on_resize(self) -> None:
        self.refresh_text()

    def refresh_text(self, _value: object = None) -> None:
        self.update(self.status_text())

    def status_text(self) -> Text:
        app = self.console
        line = Text()
        narrow = self.size.width < NARROW
        for key, mode, label, short in TABS:
            if mode == self.mode:
                line.append(f" {key} {short if narrow else label} ", style="reverse bold")
            else:  # narrow: the other screens by number only (the footer names them)
                line.append(f" {key} " if narrow else f" {key} {label} ", style="dim")
        if self.mode in VIEW_TABS:
            key, label = VIEW_TABS[self.mode]
            line.append(f" {key} {label} ", style="reverse bold")
        line.append("  ")
        status = app.status
        if status is not None:
            line.append(f"data {age(status.data_at, app.status_now())}")
            line.append(" · ")
            beat_style = "bold red" if app.worker_down() else "green"
            line.append(worker_text(app), style=beat_style)
            line.append(" · ")
        if app.undelivered:  # never silent: an alert that went to no one (`/` status:none)
            line.append(f"✗ {app.undelivered} to no one", style="bold white on red")
            line.append(" · ")
        if app.reload_failures:  # the banner says which file and why
            line.append("✗ reload failed", style="bold white on red")
            line.append(" · ")
        if app.paused:
            line.append("PAUSED", style="bold black on yellow")
        else:
            line.append("LIVE", style="bold green")
        if app.read_only:
            line.append(" · ")
            line.append("READ-ONLY", style="bold magenta")
        return line
