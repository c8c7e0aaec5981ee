"""Each source's health on one line, keyed by source key."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from rich.text import Text
from textual.widgets import DataTable

from mrt.store.views import SourceRow
from tui.formatting import age, plain

HEALTH_STYLE = {
    "ok": "green",
    "degraded": "yellow",
    "failing": "bold red",
    "deferred": "cyan",
    "new": "dim",
}


class SourceTable(DataTable[str | Text]):
    def __init__(self) -> None:
        super().__init__(id="source-table", cursor_type="row", zebra_stripes=True)
        self.rows_by_key: dict[str, SourceRow] = {}
        self.keys: list[str] = []

    def on_mount(self) -> None:
        # The last error comes third: at 80 columns it is what an operator looks for, and it
        # must not be past the edge (the times, failures and rate limit follow, and the
        # detail pane below repeats them).
        self.add_column("health", key="health", width=8)
        self.add_column("source", key="source", width=26)
        self.add_column("last error", key="error", width=36)
        self.add_column("last poll", key="last", width=10)
        self.add_column("next poll", key="next", width=10)
        self.add_column("fails", key="fails", width=5)
        self.add_column("rate left", key="rate", width=9)

    def show_rows(self, rows: Sequence[SourceRow], now: datetime) -> None:
        keep = self.highlighted_key()
        self.clear()
        self.rows_by_key = {r.key: r for r in rows}
        self.keys = [r.key for r in rows]
        for r in rows:
            self.add_row(
                Text(r.health, style=HEALTH_STYLE.get(r.health, "")),
                plain(r.key),
                plain(r.last_error or "", style="red"),  # an upstream error body: inert
                age(r.last_poll_at, now),
                "asked" if r.poll_requested_at else age(r.next_poll_at, now),
                str(r.consecutive_failures),
                "-" if r.ratelimit_remaining is None else str(r.ratelimit_remaining),
                key=r.key,
            )
        if keep in self.rows_by_key:
            self.move_cursor(row=self.keys.index(keep), animate=False)

    def highlighted_key(self) -> str | None:
        if not self.keys or not 0 <= self.cursor_row < len(self.keys):
            return None
        return self.keys[self.cursor_row]

    def highlighted(self) -> SourceRow | None:
        key = self.highlighted_key()
        return self.rows_by_key.get(key) if key else None
