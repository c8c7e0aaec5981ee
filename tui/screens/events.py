"""Events: every observed event, matched or not, newest first, with why it did or did not alert
(mrt.ops.explain, the words of `mrt trace`). Keyset pages on any table size; live on top."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.timer import Timer

from mrt.commands.events import why  # the words `mrt events` and `mrt trace` use
from mrt.errors import MrtError
from mrt.ops import explain
from mrt.store.trace import AlertInfo
from mrt.store.views.events import EventFilter, EventRow, events_newer, events_page
from tui.formatting import full_stamp, inert, plain, stamp
from tui.screens.feed import FeedScreen
from tui.screens.filter import FilterScreen
from tui.widgets.row_list import Column

FILTER_HELP = "source:KEY (exact)  matched | unmatched"
TRACE_DELAY = 0.12  # seconds the highlight rests before the event is traced
DECISION_STYLE = {
    "notify": "bold green",
    "aggregate": "green",
    "digest": "green",
    "silenced": "yellow",
    "suppress": "dim yellow",
    "deduped": "dim",
    "failed": "bold red",
    "none": "dim",
    "baseline": "dim",
}


@dataclass
class EventTraced(Message):
    event_id: int
    alerts: list[AlertInfo] | None  # None: not traced (pruned, or the read failed)


def alert_lines(alerts: list[AlertInfo]) -> list[str]:
    """What the event became, one line an alert: where each delivery stands, or why none."""
    lines = []
    for alert in alerts:
        head = f"→ alert #{alert.id} ({alert.kind}, {alert.priority}): "
        if alert.deliveries:
            lines.append(head + ", ".join(
                f"{d.channel} {d.status}" + (f" after {d.attempts} tries" if d.attempts > 1 else "")
                for d in alert.deliveries))
        elif alert.kind != "v0":
            lines.append(head + f"NO DELIVERY: {alert.undelivered or 'no outbox row'}")
    return lines


class EventFilterError(ValueError):
    """A filter word the events list cannot use; the message says which and what is expected."""


def parse_event_filter(text: str) -> EventFilter:
    source, matched = "", None
    for word in text.split():
        if word in ("matched", "unmatched"):
            matched = word == "matched"
        elif word.startswith("source:") and len(word) > len("source:"):
            source = word.removeprefix("source:")
        else:
            raise EventFilterError(f"unknown filter word {word!r}: use {FILTER_HELP}")
    return EventFilter(source=source, matched=matched)


def describe(flt: EventFilter) -> str:
    words = [f"source:{flt.source}" if flt.source else ""]
    if flt.matched is not None:
        words.append("matched" if flt.matched else "unmatched")
    return " ".join(w for w in words if w)


class EventsScreen(FeedScreen[EventRow]):
    MODE = "events"
    TABLE_ID = "event-table"
    EMPTY = "No events stored yet: the worker records every event its sources observe."
    BINDINGS: ClassVar[list[BindingType]] = [
        *FeedScreen.FEED_BINDINGS,
        Binding("slash", "filter", "Filter"),
        Binding("m", "matched", "Matched"),
        Binding("u", "unmatched", "Unmatched"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]
    COLUMNS = (
        Column("at", "observed", 11),
        Column("decision", "decision", 9),
        Column("source", "source", 12, flex=1),
        Column("title", "title", 14, flex=3),
        Column("why", "why", 12, flex=3),
    )

    def __init__(self) -> None:
        super().__init__()
        self.filter = EventFilter()
        self._trace_timer: Timer | None = None
        self._traced: tuple[int, list[str]] = (0, [])  # an event id and its alerts' lines
        self._tracing = False
        self._trace_again = False

    def cells(self, row: EventRow) -> Sequence[Text]:
        return (
            Text(stamp(row.observed_at)),
            Text(inert(row.decision), style=DECISION_STYLE.get(row.decision, "")),
            Text(inert(row.source_key)),
            Text(inert(row.title)),
            Text(inert("; ".join(why(row)))),
        )

    def read_first(self, limit: int) -> list[EventRow]:
        return events_page(self.filter, limit=limit)

    def read_older(self, before_id: int, limit: int) -> list[EventRow]:
        return events_page(self.filter, before_id=before_id, limit=limit)

    def read_newer(self, after_id: int, limit: int) -> list[EventRow]:
        return events_newer(self.filter, after_id, limit=limit)

    def heading(self) -> Text:
        line = Text("Every observed event, newest first", style="bold")
        text = describe(self.filter)
        if text:
            line.append(f" · filter: {text}", style="italic")
        else:
            line.append(" · m matched, u unmatched", style="dim")
        return line

    def detail(self, row: EventRow) -> Text:
        text = Text()
        text.append(f"#{row.id} {inert(row.decision)}", style="bold")
        text.append(f" · {inert(row.source_key)} {inert(row.event_type)} "
                    f"{inert(row.resource_id)} · observed {full_stamp(row.observed_at)}")
        text.append("\n")
        text.append_text(plain(row.title, 500, style="bold"))
        if row.url:
            text.append("\n")
            text.append_text(plain(row.url, 500))
        for line in why(row):
            text.append("\n· ")
            text.append_text(plain(line, 600))
        text.append(f"\nmrt trace {row.fingerprint[:12]}", style="dim")
        traced_id, lines = self._traced
        if traced_id == row.id:  # what it became, as last read (read again after each poll)
            for line in lines:
                text.append("\n")
                text.append_text(plain(line, 600, style="cyan"))
        return text

    # ------------------------------------------------------------- what the event became

    def detail_shown(self, row: EventRow) -> None:
        # Debounced: paging through rows does not trace every event on the way. Read again
        # at each live refresh, so a delivery's state in the pane is never older than a poll.
        if self._trace_timer is not None:
            self._trace_timer.stop()
        self._trace_timer = self.set_timer(TRACE_DELAY, self.start_trace)

    def start_trace(self) -> None:
        """One trace at a time: a request while one runs is served when it answers."""
        row = self.table.highlighted()
        if row is None:
            return
        if self._tracing:
            self._trace_again = True
            return
        self._tracing = True
        self.load_trace(row.id, row.fingerprint)

    @work(thread=True, group="event-trace")
    def load_trace(self, event_id: int, fingerprint: str) -> None:
        def read() -> list[AlertInfo] | None:
            try:
                return explain.trace(fingerprint).alerts
            except MrtError:  # pruned since it was listed: the row's own words stand
                return None

        self.post_message(EventTraced(event_id, self.run("event trace", read)))

    def on_event_traced(self, message: EventTraced) -> None:
        self._tracing = False
        if message.alerts is not None:
            self._traced = (message.event_id, alert_lines(message.alerts))
            row = self.table.highlighted()
            if row is not None and row.id == message.event_id:  # else the operator moved on
                self.detail_pane().update(self.detail(row))
        if self._trace_again:
            self._trace_again = False
            self.start_trace()

    def set_filter(self, flt: EventFilter) -> None:
        self.filter = flt
        self.action_reload()

    def action_filter(self) -> None:
        def apply(text: str | None) -> None:
            if text is None:
                return
            try:
                self.set_filter(parse_event_filter(text))
            except EventFilterError as exc:
                self.say(str(exc), ok=False)

        self.app.push_screen(FilterScreen(describe(self.filter), FILTER_HELP), apply)

    def action_matched(self) -> None:
        self.set_filter(EventFilter(source=self.filter.source, matched=True))

    def action_unmatched(self) -> None:
        self.set_filter(EventFilter(source=self.filter.source, matched=False))

    def action_clear_filter(self) -> None:
        if not self.filter.is_empty():
            self.set_filter(EventFilter())
