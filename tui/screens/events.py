"""Events: every observed event, matched or not, newest first, with why it did or did not alert
(mrt.ops.explain, the words of `mrt trace`). Keyset pages on any table size; live on top."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType

from mrt.commands.events import why  # the words `mrt events` and `mrt trace` use
from mrt.store.views.events import EventFilter, EventRow, events_newer, events_page
from tui.formatting import full_stamp, inert, plain, stamp
from tui.screens.feed import FeedScreen
from tui.screens.filter import FilterScreen
from tui.widgets.row_list import Column

FILTER_HELP = "source:KEY (exact)  matched | unmatched"
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
        return text

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
