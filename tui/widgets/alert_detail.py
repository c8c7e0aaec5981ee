"""The detail pane: the event, why it matched, and every delivery target with its attempts.

It changes only when the operator moves to another alert (or asks with `r`): live updates never
rewrite what is being read.
"""

from __future__ import annotations

import json
from datetime import datetime

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from mrt.store.views import AlertDetail
from tui.formatting import full_stamp, plain_error


def detail_text(detail: AlertDetail, as_of: datetime) -> Text:
    text = Text()
    text.append(f"#{detail.id} ", style="dim")
    text.append(detail.event_title, style="bold")
    text.append(f"\n{detail.event_type} · {detail.source_key} · {detail.priority}")
    text.append(f" · {full_stamp(detail.created_at)}", style="dim")
    if detail.acknowledged_at:
        text.append(
            f"\nacknowledged {full_stamp(detail.acknowledged_at)} by {detail.acknowledged_by}",
            style="green",
        )
    if detail.url:
        text.append("\n")
        text.append(detail.url, style="underline cyan")
    if detail.summary:
        text.append(f"\n{detail.summary[:600]}")
    text.append("\n\nWhy it matched\n", style="bold")
    if not detail.matched:
        text.append("  (no rule recorded)\n", style="dim")
    for rule, reasons in detail.matched:
        text.append(f"  {rule}", style="cyan")
        text.append(f": {'; '.join(reasons) or '-'}\n")
    if detail.tags:
        text.append(f"  tags: {', '.join(detail.tags)}\n")
    text.append("\nDeliveries\n", style="bold")
    if not detail.deliveries:
        text.append("  (none: no channel was configured for it)\n", style="dim")
    for d in detail.deliveries:
        style = {"sent": "green", "dead": "bold red", "discarded": "dim"}.get(d.status, "yellow")
        text.append(f"  {d.channel} ", style="bold")
        text.append(d.target, style="dim")
        text.append(f"  {d.status}", style=style)
        text.append(f" · {d.attempts} attempt(s)")
        if d.status in ("pending", "retrying") and d.next_attempt_at:
            text.append(f" · next {full_stamp(d.next_attempt_at)}")
        text.append("\n")
        if d.last_error:
            text.append(f"    last error: {plain_error(d.last_error)}\n", style="red")
        for t in d.tries:
            status = f"HTTP {t.http_status}" if t.http_status else (t.error_class or "")
            text.append(f"    {full_stamp(t.started_at)} {t.outcome} {status} {t.duration_ms} ms")
            if t.message and t.outcome != "sent":
                text.append(f": {t.message}", style="dim")
            text.append("\n")
    if detail.details:
        text.append("\nDetails\n", style="bold")
        text.append(json.dumps(detail.details, indent=1, ensure_ascii=False, default=str)[:1200])
    text.append(f"\n\nas of {full_stamp(as_of)} · r reloads", style="dim")
    return text


class AlertDetailPane(VerticalScroll):
    """Focusable, so the operator can scroll it; `shown_id` is what it shows."""

    can_focus = True

    def __init__(self) -> None:
        super().__init__(id="alert-detail")
        self.shown_id: int | None = None

    def compose(self):  # type: ignore[no-untyped-def]
        yield Static("Select an alert to read it here.", id="alert-detail-body")

    def show(self, alert_id: int, detail: AlertDetail | None, as_of: datetime) -> None:
        self.shown_id = alert_id
        body = self.query_one("#alert-detail-body", Static)
        if detail is None:
            body.update(f"Alert #{alert_id} is gone (pruned by retention?).")
        else:
            body.update(detail_text(detail, as_of))
        self.scroll_home(animate=False)
