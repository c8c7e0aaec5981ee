"""toolong's "+N new": arrivals wait here while the operator reads, instead of moving rows."""

from __future__ import annotations

from textual.reactive import reactive
from textual.widgets import Static


class NewBadge(Static):
    count: reactive[int] = reactive(0)

    def __init__(self) -> None:
        super().__init__(id="new-badge")

    def watch_count(self, count: int) -> None:
        self.update(f"+{count} new: press n to show them" if count else "")
        self.display = count > 0
