"""Audit: every operator action, newest first (who, when, what, to what, why, what came of it),
live; the detail pane shows the action's parameters and result as recorded."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType

from mrt.errors import ConfigError
from mrt.store.views.audit import ACTORS, AuditFilter, AuditRow, audit_newer, audit_page
from mrt.timeparse import parse_since
from tui.formatting import full_stamp, inert, plain, stamp
from tui.screens.feed import FeedScreen
from tui.screens.filter import FilterScreen
from tui.widgets.row_list import Column

FILTER_HELP = "action:NAME (outbox matches outbox.*)  actor:cli|tui|worker  since:12h"


class AuditFilterError(ValueError):
    """A filter word the audit list cannot use; the message says which and what is expected."""


def parse_audit_filter(text: str, now: Any) -> AuditFilter:
    fields: dict[str, Any] = {}
    for word in text.split():
        key, sep, value = word.partition(":")
        if not sep or key not in ("action", "actor", "since") or not value:
            raise AuditFilterError(f"unknown filter word {word!r}: use {FILTER_HELP}")
        if key == "actor" and value not in ACTORS:
            raise AuditFilterError(f"actor:{value} is not one of {', '.join(ACTORS)}")
        if key == "since":
            try:
                fields["since"] = parse_since(value, now=now)
            except ConfigError:
                raise AuditFilterError(
                    f"since:{value} is not a span such as 12h, 7d or a date such as 2026-11-01"
                ) from None
        else:
            fields[key] = value
    return AuditFilter(**fields)


def describe(flt: AuditFilter) -> str:
    words = [f"action:{flt.action}" if flt.action else "", f"actor:{flt.actor}" if flt.actor else ""]
    if flt.since is not None:
        words.append(f"since:{flt.since.strftime('%Y-%m-%dT%H:%M')}")
    return " ".join(w for w in words if w)


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, default=str)


class AuditScreen(FeedScreen[AuditRow]):
    MODE = "audit"
    TABLE_ID = "audit-table"
    EMPTY = "No operator action recorded yet: retries, silences, replays ... appear here."
    BINDINGS: ClassVar[list[BindingType]] = [
        *FeedScreen.FEED_BINDINGS,
        Binding("slash", "filter", "Filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]
    COLUMNS = (
        Column("at", "when", 11),
        Column("actor", "who", 6),
        Column("action", "action", 15),
        Column("target", "target", 12, flex=2),
        Column("reason", "reason", 8, flex=2),
        Column("result", "result", 8, flex=1),
    )

    def __init__(self) -> None:
        super().__init__()
        self.filter = AuditFilter()

    def cells(self, row: AuditRow) -> Sequence[Text]:
        result = " ".join(
            f"{k}={v}" for k, v in row.result.items() if isinstance(v, str | int | float | bool)
        )
        return (
            Text(stamp(row.at)),
            Text(inert(row.actor)),
            Text(inert(row.action), style="bold"),
            Text(inert(row.target)),
            Text(inert(row.reason or "")),
            Text(inert(result)),
        )

    def read_first(self, limit: int) -> list[AuditRow]:
        return audit_page(self.filter, limit=limit)

    def read_older(self, before_id: int, limit: int) -> list[AuditRow]:
        return audit_page(self.filter, before_id=before_id, limit=limit)

    def read_newer(self, after_id: int, limit: int) -> list[AuditRow]:
        return audit_newer(self.filter, after_id, limit=limit)

    def heading(self) -> Text:
        line = Text("Operator actions, newest first", style="bold")
        text = describe(self.filter)
        if text:
            line.append(f" · filter: {text}", style="italic")
        return line

    def detail(self, row: AuditRow) -> Text:
        text = Text()
        text.append(f"#{row.id} {inert(row.action)}", style="bold")
        text.append(f" by {inert(row.actor)} at {full_stamp(row.at)}")
        if row.target:
            text.append(f" · {inert(row.target)}")
        if row.reason:
            text.append("\nreason: ")
            text.append_text(plain(row.reason, 500))
        text.append("\nparams: ")
        text.append_text(plain(_json(row.params), 1500))
        text.append("\nresult: ")
        text.append_text(plain(_json(row.result), 1500))
        return text

    def action_filter(self) -> None:
        def apply(text: str | None) -> None:
            if text is None:
                return
            try:
                self.filter = parse_audit_filter(text, self.console.now())
            except AuditFilterError as exc:
                self.say(str(exc), ok=False)
                return
            self.action_reload()

        self.app.push_screen(FilterScreen(describe(self.filter), FILTER_HELP), apply)

    def action_clear_filter(self) -> None:
        if not self.filter.is_empty():
            self.filter = AuditFilter()
            self.action_reload()
