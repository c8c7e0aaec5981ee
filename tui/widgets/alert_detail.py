"""The detail pane: the event, what AI made of it, why it matched, and every delivery target
with its attempts.

It changes only when the operator moves to another alert (or asks with `r`): live updates never
rewrite what is being read. Every stored string is upstream or error text: it goes in inert
(tui.formatting.inert), as Text, never as markup.
"""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from mrt.inert import terminal_json
from mrt.store.views import AlertDetail
from tui.formatting import full_stamp, inert, plain_error
from tui.widgets.alert_table import REPLAY_GLYPH


def detail_text(detail: AlertDetail, as_of: datetime) -> Text:
    text = Text()
    text.append(f"#{detail.id} ", style="dim")
    text.append(inert(detail.event_title, 1000), style="bold")
    text.append(f"\n{inert(detail.event_type)} · {inert(detail.source_key)} · {detail.priority}")
    if detail.kind == "replay":  # a re-sent old event: never to be taken for news
        observed = full_stamp(detail.event_observed_at)
        text.append(f" · {observed}", style="dim")
        text.append(
            f"\n{REPLAY_GLYPH} REPLAY of an event observed {observed}, "
            f"re-sent {full_stamp(detail.created_at)}",
            style="bold magenta",
        )
    else:
        text.append(f" · {full_stamp(detail.created_at)}", style="dim")
    if detail.acknowledged_at:
        text.append(
            f"\nacknowledged {full_stamp(detail.acknowledged_at)} by "
            f"{inert(detail.acknowledged_by)}",
            style="green",
        )
    if detail.url:
        text.append("\n")
        text.append(inert(detail.url, 1000), style="underline cyan")
    for label, value in detail.facts:
        text.append(f"\n{inert(label, 40)}: ", style="dim")
        text.append(inert(value, 200))
    if detail.summary:
        text.append(f"\n{inert(detail.summary, 600, multiline=True)}")
    if detail.ai:  # what a model made of it, and which model (a reader must know)
        text.append("\n\nAI\n", style="bold")
        for label, value in detail.ai:
            text.append(f"  {inert(label, 80)}: ", style="dim")
            text.append(f"{inert(value, 600, multiline=True)}\n")
    text.append("\n\nWhy it matched\n", style="bold")
    if not detail.matched:
        text.append("  (no rule recorded)\n", style="dim")
    for rule, reasons in detail.matched:
        text.append(f"  {inert(rule)}", style="cyan")
        text.append(f": {inert('; '.join(reasons) or '-', 1000)}\n")
    if detail.tags:
        text.append(f"  tags: {inert(', '.join(detail.tags))}\n")
    text.append("\nDeliveries\n", style="bold")
    if not detail.deliveries:
        text.append(f"  NO DELIVERY: {inert(detail.undelivered or 'none', 500)}\n", style="bold red")
    elif detail.missing_channels:
        missing = inert(", ".join(detail.missing_channels))
        text.append(f"  not sent to {missing}: not configured\n", style="bold red")
    for d in detail.deliveries:
        style = {"sent": "green", "dead": "bold red", "discarded": "dim"}.get(d.status, "yellow")
        text.append(f"  {inert(d.channel)} ", style="bold")
        text.append(inert(d.target), style="dim")
        text.append(f"  {d.status}", style=style)
        text.append(f" · {d.attempts} attempt(s)")
        if d.status in ("pending", "retrying") and d.next_attempt_at:
            text.append(f" · next {full_stamp(d.next_attempt_at)}")
        text.append("\n")
        if d.last_error:
            text.append(f"    last error: {inert(plain_error(d.last_error), 600)}\n", style="red")
        for t in d.tries:
            status = f"HTTP {t.http_status}" if t.http_status else inert(t.error_class or "")
            text.append(f"    {full_stamp(t.started_at)} {t.outcome} {status} {t.duration_ms} ms")
            if t.message and t.outcome != "sent":
                text.append(f": {inert(t.message, 600)}", style="dim")
            text.append("\n")
    if detail.details:
        text.append("\nDetails\n", style="bold")
        text.append(terminal_json(detail.details, indent=1, default=str)[:1200])
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
            body.update(Text(f"Alert #{alert_id} is gone (pruned by retention?)."))
        else:
            body.update(detail_text(detail, as_of))
        self.scroll_home(animate=False)
