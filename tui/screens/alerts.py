"""Alerts: a live stream, newest first, that never moves the operator's cursor."""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.timer import Timer
from textual.widgets import Static
from textual.worker import get_current_worker

from mrt.ops import explain
from mrt.store import views
from tui import operations
from tui.filters import FilterSyntaxError, describe, parse_alert_filter
from tui.formatting import plain
from tui.messages import ActionFinished, AlertsLoaded, DetailLoaded, NewerAlerts
from tui.paging import PageAhead
from tui.screens.base import ConsoleScreen
from tui.screens.filter import FilterScreen
from tui.widgets.alert_detail import AlertDetailPane
from tui.widgets.alert_table import AlertTable
from tui.widgets.new_badge import NewBadge
from tui.worker_words import worker_down_text

DETAIL_DELAY = 0.12  # seconds the highlight rests before its detail is read


class AlertsScreen(ConsoleScreen):
    MODE = "alerts"
    WRITE_ACTIONS = frozenset({"acknowledge", "unacknowledge"})
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "filter", "Filter"),
        Binding("space", "mark", "Mark"),
        Binding("a", "acknowledge", "Ack"),
        Binding("u", "unacknowledge", "Unack", show=False),
        Binding("enter", "show_deliveries", "Its deliveries", show=False),
        Binding("n", "show_newest", "Newest"),
        Binding("r,g", "reload", "Reload", key_display="r"),  # r on every screen; g too
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter = views.AlertFilter()
        self.generation = 0  # bumped by every new filter / jump: stale answers are dropped
        self.newest_id = 0
        self.oldest_id: int | None = None
        self.exhausted = False
        self.loading_more = False
        self.loaded_once = False
        self.pending_ack: list[int] = []
        self.jump_target: int | None = None  # the alert a jump from Deliveries highlights
        self._detail_timer: Timer | None = None
        self.page_ahead = PageAhead(self, lambda: self.table, self.can_read_older, self.read_older)

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        yield Static("", id="filter-line")
        yield NewBadge()
        yield AlertTable()
        yield Static("", id="empty-hint")
        yield AlertDetailPane()
        yield from self.compose_footer()

    @property
    def table(self) -> AlertTable:
        return self.query_one(AlertTable)

    def on_mount(self) -> None:
        self.query_one("#empty-hint").display = False
        # The hint depends on the worker's heartbeat, which may arrive after the first page.
        self.watch(self.app, "status", self.refresh_empty_hint, init=False)
        self.show_filter_line()
        self.load_page(before_id=None, generation=self.generation)
        self.arm_live(self.poll_newer)
        self.table.focus()

    # --------------------------------------------------------------------------- reads

    @work(thread=True, exclusive=True, group="alerts-page")
    def load_page(self, before_id: int | None, generation: int, replace: bool = False) -> None:
        """A page below `before_id`; the first page (or `replace`) replaces the rows shown."""
        flt, size = self.filter, self.console.options.page_size
        rows = self.console.run_query(
            "alerts page", lambda: views.alerts_page(flt, before_id=before_id, limit=size)
        )
        if get_current_worker().is_cancelled:
            return
        if rows is not None:
            self.post_message(AlertsLoaded(rows, replace or before_id is None, generation))
        else:  # the banner says why; the next highlight near the end asks again
            self.app.call_from_thread(setattr, self, "loading_more", False)

    def on_alerts_loaded(self, message: AlertsLoaded) -> None:
        self.loading_more = False
        if message.generation != self.generation:
            return
        table = self.table
        if message.replace:
            keep = self.jump_target if self.jump_target is not None else table.highlighted_id()
            self.jump_target = None
            table.show_rows(message.rows, keep=keep)
            self.newest_id = message.rows[0].id if message.rows else 0
            self.query_one(NewBadge).count = 0
            self.loaded_once = True
        else:
            table.append_rows(message.rows)
        if message.rows:
            self.oldest_id = message.rows[-1].id
        self.exhausted = len(message.rows) < self.console.options.page_size
        self.show_empty_hint()
        if message.replace:
            self.request_detail()

    def poll_newer(self) -> None:
        """Timer callback: starts a worker, never queries itself."""
        if self.console.paused or not self.loaded_once:
            self.arm_live(self.poll_newer)
            return
        self.fetch_newer(self.newest_id, self.table.on_screen_ids(), self.generation)

    @work(thread=True, exclusive=True, group="alerts-live")
    def fetch_newer(self, after_id: int, shown: list[int], generation: int) -> None:
        """Rows newer than the newest shown, and the rows on screen read again (their
        deliveries and acknowledgement move while the operator looks, wherever the cursor is)."""
        flt, size = self.filter, self.console.options.page_size

        def read() -> tuple[list[views.AlertRow], int, list[views.AlertRow]]:
            rows, total = views.alerts_newer(flt, after_id=after_id, limit=size)
            return rows, total, views.alerts_by_id(shown)

        got = self.console.run_query("new alerts", read)
        rows, total, on_screen = got if got is not None else ([], 0, [])
        self.post_message(NewerAlerts(rows, total, generation, on_screen))

    def on_newer_alerts(self, message: NewerAlerts) -> None:
        self.arm_live(self.poll_newer)
        if message.generation != self.generation:
            return
        changed = self.table.update_rows(message.on_screen)
        highlighted = self.table.highlighted_id()
        if highlighted in changed:
            self.load_detail(highlighted)
        if message.total == 0:
            return
        table = self.table
        following = (
            table.cursor_row <= 0
            and table.scroll_y == 0
            and self.focused is table
            and not self.console.paused
            and message.total <= len(message.rows)
        )
        if following:
            # At the top and not reading: the new rows slide in above; the highlight stays on
            # the alert it was on (by key), so nothing the operator looks at moves away.
            table.prepend_rows(message.rows)
            self.newest_id = message.rows[0].id
            self.show_empty_hint()
        else:
            self.query_one(NewBadge).count = message.total

    def can_read_older(self) -> bool:
        return not self.exhausted and not self.loading_more and self.oldest_id is not None

    def read_older(self) -> None:
        self.loading_more = True
        self.load_page(before_id=self.oldest_id, generation=self.generation)

    @on(AlertTable.RowHighlighted, "#alert-table")
    def row_highlighted(self, _event: AlertTable.RowHighlighted) -> None:
        self.page_ahead.cursor_moved()
        # Debounced: paging through rows does not read every detail on the way.
        if self._detail_timer is not None:
            self._detail_timer.stop()
        self._detail_timer = self.set_timer(DETAIL_DELAY, self.request_detail)

    def request_detail(self) -> None:
        alert_id = self.table.highlighted_id()
        pane = self.query_one(AlertDetailPane)
        if alert_id is None or alert_id == pane.shown_id:
            return
        self.load_detail(alert_id)

    @work(thread=True, exclusive=True, group="alert-detail")
    def load_detail(self, alert_id: int) -> None:
        detail = self.console.run_query("alert detail", lambda: explain.alert_detail(alert_id))
        if not get_current_worker().is_cancelled:
            self.post_message(DetailLoaded(alert_id, detail))

    def on_detail_loaded(self, message: DetailLoaded) -> None:
        if message.alert_id == self.table.highlighted_id():
            self.query_one(AlertDetailPane).show(
                message.alert_id, message.detail, self.console.now()
            )

    # --------------------------------------------------------------------------- actions

    def action_filter(self) -> None:
        def apply(text: str | None) -> None:
            if text is None:
                return
            try:
                flt = parse_alert_filter(text)
            except FilterSyntaxError as exc:
                self.say(str(exc), ok=False)
                return
            self.set_filter(flt)

        self.app.push_screen(
            FilterScreen(
                describe(self.filter),
                "text  source:KEY  rule:NAME  priority:high  status:dead  status:none  ack:no",
            ),
            apply,
        )

    def action_clear_filter(self) -> None:
        if not self.filter.is_empty():
            self.set_filter(views.AlertFilter())

    def set_filter(self, flt: views.AlertFilter) -> None:
        self.filter = flt
        self.show_filter_line()
        self.reload_from_top()

    def reload_from_top(self) -> None:
        self.generation += 1
        self.exhausted = False
        self.oldest_id = None
        self.table.move_cursor(row=0)
        self.load_page(before_id=None, generation=self.generation)

    def jump_to(self, alert_id: int) -> None:
        """Show alert `alert_id` highlighted (Deliveries' Enter), the filter cleared: the list
        starts at it; newer alerts are counted on the badge and `n` shows them."""
        self.filter = views.AlertFilter()
        self.show_filter_line()
        self.generation += 1
        self.exhausted = False
        self.oldest_id = None
        self.jump_target = alert_id
        self.load_page(before_id=alert_id + 1, generation=self.generation, replace=True)
        self.table.focus()

    async def action_show_deliveries(self) -> None:
        """Enter: the highlighted alert's deliveries, on Deliveries (Enter there comes back)."""
        alert_id = self.table.highlighted_id()
        if alert_id is None:
            return
        from tui.screens.deliveries import DeliveriesScreen

        await self.app.switch_mode("deliveries")
        screen = self.app.screen
        if isinstance(screen, DeliveriesScreen):
            screen.show_alert_deliveries(alert_id)

    def action_show_newest(self) -> None:
        self.reload_from_top()
        self.table.focus()

    def action_mark(self) -> None:
        alert_id = self.table.highlighted_id()
        if alert_id is not None:
            self.table.toggle_mark(alert_id)
            self.table.action_cursor_down()

    def action_acknowledge(self) -> None:
        highlighted = self.table.highlighted_id()
        chosen = sorted(self.table.marked) or ([highlighted] if highlighted is not None else [])
        if not chosen:
            return
        now = self.console.now()
        self.pending_ack = chosen
        self.perform("acknowledge", lambda: operations.acknowledge_alerts(chosen, now=now))

    def action_unacknowledge(self) -> None:
        highlighted = self.table.highlighted_id()
        chosen = sorted(self.table.marked) or ([highlighted] if highlighted is not None else [])
        if not chosen:
            return
        now = self.console.now()
        self.pending_ack = chosen
        self.perform("unacknowledge", lambda: operations.unacknowledge_alerts(chosen, now=now))

    def action_reload(self) -> None:
        """Read again the rows on screen, newer ones (the badge counts them) and the detail."""
        self.fetch_newer(self.newest_id, self.table.on_screen_ids(), self.generation)
        self.action_reload_detail()

    def action_reload_detail(self) -> None:
        alert_id = self.table.highlighted_id()
        if alert_id is not None:
            self.load_detail(alert_id)

    def on_action_finished(self, message: ActionFinished) -> None:
        self.say(message.text, ok=message.ok)
        if message.ok and message.action in ("acknowledge", "unacknowledge"):
            self.table.marked.difference_update(self.pending_ack)
            self.table.mark_acknowledged(self.pending_ack, message.action == "acknowledge")
            self.action_reload_detail()

    # --------------------------------------------------------------------------- display

    def show_filter_line(self) -> None:
        line = self.query_one("#filter-line", Static)
        text = describe(self.filter)
        line.update(plain(f"filter: {text}  (esc clears)", 500) if text else "")
        line.display = bool(text)

    def refresh_empty_hint(self, _status: object = None) -> None:
        if self.loaded_once:
            self.show_empty_hint()

    def show_empty_hint(self) -> None:
        hint = self.query_one("#empty-hint", Static)
        empty = self.table.row_count == 0
        hint.display = empty
        if not empty:
            return
        if not self.filter.is_empty():
            hint.update("No alert matches this filter. Press esc to clear it.")
        elif self.console.worker_down():
            hint.update(
                f"No alerts yet. {worker_down_text(self.console)}; `mrt check` tests the setup."
            )
        elif (status := self.console.status) is not None and status.worker_mode == "once":
            hint.update(
                f"No alerts yet: the worker runs with --once (from cron), its last run "
                f"{self.console.heartbeat_age()}; new alerts appear after its next run."
            )
        else:
            hint.update("No alerts yet: the worker is polling; new alerts appear here.")
