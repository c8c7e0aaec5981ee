"""Deliveries: the outbox by status, dead letters first; retry or discard one, a marked
selection, or everything matching the filter under a frozen id ceiling."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import Static
from textual.worker import get_current_worker

from mrt.store import views
from tui import operations
from tui.filters import FilterSyntaxError, describe, parse_outbox_filter
from tui.formatting import full_stamp, inert, plain_error
from tui.messages import ActionFinished, AttemptsLoaded, OutboxLoaded
from tui.paging import PageAhead
from tui.screens.confirm import Confirmed, ConfirmScreen, Risk
from tui.screens.filter import FilterScreen
from tui.screens.notify_test import ChannelTestActions
from tui.widgets.outbox_table import OutboxTable

BULK_HIGH_RISK = 10  # retrying this many or more at once asks for the count to be typed
ATTEMPTS_SHOWN = 5  # the detail lists the newest this many attempts (mrt trace has them all)
ATTEMPT_STYLE = {"sent": "green", "retry": "yellow", "dead": "red"}


class DeliveriesScreen(ChannelTestActions):
    MODE = "deliveries"
    WRITE_ACTIONS = frozenset(
        {"retry", "discard", "retry_matching", "discard_matching", "notify_test"}
    )
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter"),
        Binding("space", "mark", "Mark"),
        Binding("t", "retry", "Retry"),
        Binding("x", "discard", "Discard"),
        Binding("T", "retry_matching", "Retry all"),
        Binding("X", "discard_matching", "Discard all"),
        Binding("r,g", "reload", "Reload", key_display="r"),  # r on every screen; g as before
        Binding("enter", "show_alert", "Its alert"),
        Binding("n", "notify_test", "Test a channel", show=False),  # tui/screens/notify_test.py
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter = views.OutboxFilter()
        self.generation = 0
        self.next_position: views.OutboxPosition | None = None
        self.loading_more = False
        self.counts: dict[str, int] = {}
        # Every attempt of the rows whose detail was shown, and the row's attempt count then.
        self.attempts: dict[int, tuple[int, list[views.AttemptView]]] = {}
        self.page_ahead = PageAhead(self, lambda: self.table, self.can_read_more, self.read_more)

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        yield Static("", id="outbox-counts")
        yield OutboxTable()
        yield Static("", id="outbox-detail")
        yield from self.compose_footer()

    @property
    def table(self) -> OutboxTable:
        return self.query_one(OutboxTable)

    def on_mount(self) -> None:
        self.load_page(None, self.generation, with_counts=True)
        self.arm_live(self.poll_live)
        self.table.focus()

    # --------------------------------------------------------------------------- reads

    @work(thread=True, exclusive=True, group="outbox-page")
    def load_page(
        self, start: views.OutboxPosition | None, generation: int, with_counts: bool = False
    ) -> None:
        flt, size = self.filter, self.console.options.page_size

        def read() -> tuple[list[views.OutboxRow], views.OutboxPosition | None, dict[str, int]]:
            rows, nxt = views.outbox_page(flt, start=start, limit=size)
            return rows, nxt, views.outbox_status_counts() if with_counts else {}

        got = self.console.run_query("deliveries page", read)
        if got is None or get_current_worker().is_cancelled:
            self.loading_more = False
            return
        rows, nxt, counts = got
        self.post_message(OutboxLoaded(rows, nxt, start is None, counts, generation))

    def on_outbox_loaded(self, message: OutboxLoaded) -> None:
        self.loading_more = False
        if message.counts or message.generation == -1 or message.in_place:
            self.counts = message.counts
            self.show_counts()
        if message.generation != self.generation:
            return
        if message.in_place:
            self.table.update_rows(message.rows)
            self.show_detail()
            return
        if message.replace:
            self.table.show_rows(message.rows, keep=self.highlighted_id())
        else:
            self.table.append_rows(message.rows)
        self.next_position = message.next_position
        self.show_detail()

    def poll_live(self) -> None:
        """Timer callback: only starts a worker. Reloads the first page when the operator is
        at the top with nothing marked; otherwise reads again the rows on screen, so no row
        shown contradicts the counts line whatever the selection."""
        if self.console.paused:
            self.arm_live(self.poll_live)
            return
        at_top = self.table.cursor_row <= 0 and not self.table.marked
        shown = [] if at_top else self.table.on_screen_ids()
        self.refresh_live(at_top, shown, self.generation)

    @work(thread=True, exclusive=True, group="outbox-live")
    def refresh_live(self, reload_rows: bool, shown: list[int], generation: int) -> None:
        flt, size = self.filter, self.console.options.page_size

        def read() -> tuple[list[views.OutboxRow], views.OutboxPosition | None, dict[str, int]]:
            counts = views.outbox_status_counts()
            if not reload_rows:
                return views.outbox_by_id(shown), None, counts
            rows, nxt = views.outbox_page(flt, limit=size)
            return rows, nxt, counts

        got = self.console.run_query("deliveries refresh", read)
        if got is not None:
            rows, nxt, counts = got
            message = OutboxLoaded(rows, nxt, reload_rows, counts, generation)
            message.in_place = not reload_rows
            self.post_message(message)
        self.app.call_from_thread(self.arm_live, self.poll_live)

    def can_read_more(self) -> bool:
        return self.next_position is not None and not self.loading_more

    def read_more(self) -> None:
        self.loading_more = True
        self.load_page(self.next_position, self.generation)

    @on(OutboxTable.RowHighlighted, "#outbox-table")
    def row_highlighted(self, _event: OutboxTable.RowHighlighted) -> None:
        self.show_detail()
        self.page_ahead.cursor_moved()

    def highlighted_id(self) -> int | None:
        row = self.table.highlighted()
        return row.id if row else None

    @work(thread=True, exclusive=True, group="outbox-attempts")
    def load_attempts(self, outbox_id: int, seen_attempts: int) -> None:
        got = self.console.run_query(
            "delivery attempts", lambda: views.delivery_attempts(outbox_id)
        )
        if got is not None and not get_current_worker().is_cancelled:
            self.post_message(AttemptsLoaded(outbox_id, got, seen_attempts))

    def on_attempts_loaded(self, message: AttemptsLoaded) -> None:
        self.attempts[message.outbox_id] = (message.seen_attempts, message.attempts)
        if self.highlighted_id() == message.outbox_id:
            self.show_detail()

    # --------------------------------------------------------------------------- actions

    def action_filter(self) -> None:
        def apply(text: str | None) -> None:
            if text is None:
                return
            try:
                self.set_filter(parse_outbox_filter(text))
            except FilterSyntaxError as exc:
                self.say(str(exc), ok=False)

        self.app.push_screen(
            FilterScreen(
                describe(self.filter), "text  status:dead  source:KEY  channel:NAME  alert:ID"
            ),
            apply,
        )

    def action_clear_filter(self) -> None:
        if not self.filter.is_empty():
            self.set_filter(views.OutboxFilter())

    async def action_show_alert(self) -> None:
        """Enter: the highlighted delivery's alert, on Alerts (Enter there comes back)."""
        row = self.table.highlighted()
        if row is None:
            return
        from tui.screens.alerts import AlertsScreen

        await self.app.switch_mode("alerts")
        screen = self.app.screen
        if isinstance(screen, AlertsScreen):
            screen.jump_to(row.alert_id)

    def show_alert_deliveries(self, alert_id: int) -> None:
        """Only this alert's deliveries (Alerts' Enter); esc clears the filter."""
        self.set_filter(views.OutboxFilter(alert=str(alert_id)))
        self.table.focus()

    def set_filter(self, flt: views.OutboxFilter) -> None:
        self.filter = flt
        self.table.marked.clear()
        self.action_reload()

    def action_reload(self) -> None:
        self.generation += 1
        self.load_page(None, self.generation, with_counts=True)

    def action_mark(self) -> None:
        row = self.table.highlighted()
        if row is not None:
            self.table.toggle_mark(row.id)
            self.table.action_cursor_down()
            self.show_counts()

    def chosen_ids(self) -> list[int]:
        if self.table.marked:
            return sorted(self.table.marked)
        row = self.table.highlighted()
        return [row.id] if row else []

    def action_retry(self) -> None:
        ids = self.chosen_ids()
        if not ids:
            return
        risk: Risk = "low" if len(ids) == 1 else "high" if len(ids) >= BULK_HIGH_RISK else "medium"
        self.ask_then_run("retry", ids, None, None, risk)

    def action_discard(self) -> None:
        ids = self.chosen_ids()
        if not ids:
            return
        self.ask_then_run("discard", ids, None, None, "medium" if len(ids) == 1 else "high")

    def action_retry_matching(self) -> None:
        self.preview("retry")

    def action_discard_matching(self) -> None:
        self.preview("discard")

    @work(thread=True, exclusive=True, group="outbox-preview")
    def preview(self, verb: str) -> None:
        """Count what the bulk action would touch and freeze the id ceiling it will run with."""
        flt = self.filter
        from mrt.ops.outbox import BulkFilterError, bulk_filter

        try:
            bulk_filter(flt)
        except BulkFilterError as exc:
            self.app.call_from_thread(self.say, str(exc), ok=False)
            return
        got = self.console.run_query("bulk preview", lambda: operations.preview_bulk(verb, flt))
        if got is not None:
            count, ceiling = got
            self.app.call_from_thread(self.confirm_bulk, verb, flt, ceiling, count)

    def confirm_bulk(
        self, verb: str, flt: views.OutboxFilter, ceiling: int | None, count: int
    ) -> None:
        if count == 0 or ceiling is None:
            self.say(f"Nothing to {verb}: no {operations.describe_bulk(verb, flt)}")
            return
        risk: Risk = "high" if verb == "discard" or count >= BULK_HIGH_RISK else "medium"
        self.ask_then_run(verb, None, flt, ceiling, risk, count=count)

    def ask_then_run(
        self,
        verb: str,
        ids: list[int] | None,
        flt: views.OutboxFilter | None,
        ceiling: int | None,
        risk: Risk,
        *,
        count: int | None = None,
    ) -> None:
        n = len(ids) if ids is not None else int(count or 0)
        if ids is not None:
            what = f"{n} delivery row(s): " + ", ".join(f"#{i}" for i in ids[:8])
            what += " …" if n > 8 else ""
        else:
            assert flt is not None
            what = (
                f"{n} {operations.describe_bulk(verb, flt)}, ids up to #{ceiling} "
                "(rows that fail after this preview are left alone)"
            )
        effect = (
            "They become due now; the worker sends them at its next tick."
            if verb == "retry"
            else "They will never be sent. This cannot be undone."
        )
        title = f"{verb.capitalize()} {n} deliver{'y' if n == 1 else 'ies'}?"

        def run(answer: Confirmed | None) -> None:
            if answer is None:
                return
            now = self.console.now()
            self.perform(
                verb,
                lambda: operations.change_deliveries(
                    verb, ids=ids, flt=flt, max_id=ceiling, now=now, reason=answer.reason
                ),
            )

        self.app.push_screen(ConfirmScreen(title, f"{what}\n\n{effect}", risk=risk, count=n), run)

    def on_action_finished(self, message: ActionFinished) -> None:
        self.say(message.text, ok=message.ok)
        if message.ok or message.action == "notify_test":  # a refused test is a new dead row
            self.table.marked.clear()
            self.action_reload()

    # --------------------------------------------------------------------------- display

    def show_counts(self) -> None:
        line = Text()
        for status in views.OUTBOX_STATUS_ORDER:
            n = self.counts.get(status, 0)
            style = "bold red" if status == "dead" and n else "dim" if not n else ""
            line.append(f"{status} {n}  ", style=style)
        if self.table.marked:
            line.append(f"· {len(self.table.marked)} marked  ", style="bold cyan")
        text = describe(self.filter)
        if text:
            line.append(f"· filter: {text}", style="italic")
        self.query_one("#outbox-counts", Static).update(line)

    def show_detail(self) -> None:
        row = self.table.highlighted()
        detail = self.query_one("#outbox-detail", Static)
        if row is None:
            detail.update(
                "No deliveries match this filter."
                if not self.filter.is_empty()
                else "No deliveries yet: alerts enqueue one row per channel target."
            )
            return
        text = Text()
        text.append(f"#{row.id} {row.status}", style="bold")
        text.append(
            f" · {inert(row.channel)} {inert(row.target)} · alert #{row.alert_id} "
            f"{inert(row.source_key)}"
        )
        if row.status in ("pending", "retrying") and row.next_attempt_at:
            text.append(f" · next try {full_stamp(row.next_attempt_at)}")
        seen, attempts = self.attempts.get(row.id, (-1, []))
        if seen != row.attempts:  # never read, or the row was tried since: read them again
            self.load_attempts(row.id, row.attempts)
        if attempts:
            text.append(f"\n{len(attempts)} attempt(s), oldest first (UTC):", style="dim")
            for attempt in attempts[-ATTEMPTS_SHOWN:]:
                style = ATTEMPT_STYLE.get(attempt.outcome, "")
                text.append("\n" + attempt_line(attempt), style=style)
            if len(attempts) > ATTEMPTS_SHOWN:
                text.append(f"\n({len(attempts) - ATTEMPTS_SHOWN} earlier: mrt trace)", style="dim")
        elif row.last_error:  # until the attempts are read (the last one carries this error)
            text.append(f"\n{inert(plain_error(row.last_error), 1000)}", style="red")
        detail.update(text)


def attempt_line(attempt: views.AttemptView) -> str:
    """One attempt: when, outcome, HTTP status, how long, and why (secrets already removed)."""
    parts = [attempt.started_at.strftime("%m-%d %H:%M:%S"), attempt.outcome]
    if attempt.http_status is not None:
        parts.append(f"HTTP {attempt.http_status}")
    parts.append(f"{attempt.duration_ms} ms")
    why = attempt.message or attempt.error_class
    if why and attempt.outcome != "sent":
        parts.append(inert(plain_error(why), 300))
    return "  ".join(parts)
