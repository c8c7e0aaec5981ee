"""Replay: a form (time range, source, rule, channel, resend) that previews how many and which
events the current rules would send, then asks before enqueueing them (mrt.replay, the same code
as `mrt replay`)."""

from __future__ import annotations

import os
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Checkbox, DataTable, Input, Label, Static

from mrt.delivery.channels import resolve_targets
from mrt.errors import MrtError
from mrt.ops import replay as replay_ops
from mrt.replay import ReplayPlan, plan_replay
from mrt.timeparse import parse_since
from tui.formatting import plain, stamp
from tui.messages import ActionFinished, ReplayPlanned
from tui.screens.base import ConsoleScreen
from tui.screens.confirm import Confirmed, ConfirmScreen, Risk

SHOWN_ITEMS = 500  # the preview lists this many events; the count covers them all
BULK_HIGH_RISK = 20  # enqueueing this many deliveries or more asks for the count to be typed


class ReplayScreen(ConsoleScreen):
    MODE = "replay"
    WRITE_ACTIONS = frozenset({"send"})
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "preview", "Preview", priority=True),
        Binding("ctrl+s", "send", "Send", priority=True),
        # Enter previews wherever the focus is (a field or the list); Escape leaves a field
        # for the list, where the screen keys (1-6, ?, q) work again.
        Binding("enter", "preview", "Preview", show=False, priority=True),
        Binding("escape", "focus_list", "Back to the list", show=False),
        Binding("r,g", "preview", "Preview", show=False),  # reload is r on every screen
    ]

    def __init__(self) -> None:
        super().__init__()
        self.plan: ReplayPlan | None = None

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with Horizontal(classes="replay-row"):
            yield Label("since", classes="replay-label")
            yield Input("7d", id="replay-since", compact=True)
            yield Label("until", classes="replay-label")
            yield Input(placeholder="now", id="replay-until", compact=True)
            yield Label("source", classes="replay-label")
            yield Input(placeholder="any (glob)", id="replay-source", compact=True)
        with Horizontal(classes="replay-row"):
            yield Label("rule", classes="replay-label")
            yield Input(placeholder="any", id="replay-rule", compact=True)
            yield Label("channel", classes="replay-label")
            yield Input(placeholder="any", id="replay-channel", compact=True)
            yield Checkbox("resend", id="replay-resend", compact=True)
        yield Static(
            "tab edits the form, esc returns to the list; enter (or ctrl+r) previews what the "
            "current rules would send; ctrl+s sends it.",
            id="replay-summary",
        )
        yield DataTable(id="replay-table", cursor_type="row", zebra_stripes=False)
        yield from self.compose_footer()

    def on_mount(self) -> None:
        table = self.query_one("#replay-table", DataTable)
        for key, label, width in (
            ("at", "observed", 11),
            ("source", "source", 24),
            ("title", "title", 44),
            ("to", "to", 14),
            ("rules", "rules", 20),
        ):
            table.add_column(label, key=key, width=width)
        # The list has the focus first, so the screen keys work at once; one tab (the focus
        # wraps) reaches the first field of the form.
        table.focus()

    def action_focus_list(self) -> None:
        self.query_one("#replay-table", DataTable).focus()

    def value(self, name: str) -> str | None:
        text = self.query_one(f"#replay-{name}", Input).value.strip()
        return text or None

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self.action_preview()

    def action_preview(self) -> None:
        self.plan = None
        self.query_one("#replay-summary", Static).update("Reading the stored events…")
        self.make_plan(
            self.value("since") or "7d",
            self.value("until"),
            self.value("source"),
            self.value("rule"),
            self.value("channel"),
            self.query_one("#replay-resend", Checkbox).value,
        )

    @work(thread=True, exclusive=True, group="replay-plan")
    def make_plan(
        self,
        since_text: str,
        until_text: str | None,
        source: str | None,
        rule: str | None,
        channel: str | None,
        resend: bool,
    ) -> None:
        console = self.console
        settings = console.settings()  # may read the config first (mrt-tui --db): a worker
        config = settings.config
        if config is None:
            self.post_message(ReplayPlanned(None, settings.config_error or "no config"))
            return
        now = console.now()
        db = console.db
        assert db is not None
        try:
            since = parse_since(since_text, now=now)
            until = parse_since(until_text, now=now) if until_text else None
            targets = resolve_targets(config, os.environ)
            with db.connection_context():
                plan = plan_replay(
                    config,
                    targets,
                    since=since,
                    until=until,
                    source=source,
                    rule=rule,
                    channel=channel,
                    resend=resend,
                    now=now,
                )
        except MrtError as exc:
            self.post_message(ReplayPlanned(None, str(exc)))
            return
        self.post_message(ReplayPlanned(plan, ""))

    def on_replay_planned(self, message: ReplayPlanned) -> None:
        summary = self.query_one("#replay-summary", Static)
        table = self.query_one("#replay-table", DataTable)
        table.clear()
        self.plan = message.plan
        plan = message.plan
        if plan is None:
            summary.update(plain(message.error, 1000, multiline=True, style="bold red"))
            return
        text = Text()
        text.append(f"{len(plan.items)} events", style="bold")
        text.append(f" would be sent ({plan.deliveries} deliveries) of {plan.considered} stored")
        text.append(f", rules {plan.rule_digest[:12]}", style="dim")
        if plan.skipped:
            left_out = ", ".join(f"{why} {n}" for why, n in sorted(plan.skipped.items()))
            text.append(f"\nleft out: {left_out}", style="dim")
        if plan.items:
            text.append("\nctrl+s sends them (after a confirmation).", style="italic")
        else:
            text.append("\nNothing to replay.", style="italic")
        summary.update(text)
        for item in plan.items[:SHOWN_ITEMS]:
            table.add_row(
                stamp(item.observed_at),
                plain(item.source_key),
                plain(item.title),
                plain(", ".join(item.channels)),
                plain(", ".join(item.rules)),
            )

    def action_send(self) -> None:
        plan = self.plan
        if plan is None or not plan.items:
            self.say("Preview first (enter): there is nothing planned to send", ok=False)
            return
        n = plan.deliveries
        risk: Risk = "high" if n >= BULK_HIGH_RISK else "medium"
        body = (
            f"{len(plan.items)} events, {n} deliveries, as previewed. Events told meanwhile "
            "(by the worker or another replay) are left out when it runs."
        )

        def run(answer: Confirmed | None) -> None:
            if answer is None:
                return
            now = self.console.now()
            db = self.console.db

            def write() -> str:
                result = replay_ops.apply(plan, now=now, actor="tui", reason=answer.reason, db=db)
                text = f"Enqueued {result.deliveries} deliveries in {len(result.alert_ids)} alerts"
                if result.dropped:
                    text += f"; {result.dropped} were told meanwhile and left out"
                return text

            self.perform("replay", write)

        self.app.push_screen(ConfirmScreen(f"Send {n} deliveries?", body, risk=risk, count=n), run)

    def on_action_finished(self, message: ActionFinished) -> None:
        self.say(message.text, ok=message.ok)
        if message.ok:
            self.plan = None
            self.query_one("#replay-summary", Static).update(plain(message.text, 1000))
            self.query_one("#replay-table", DataTable).clear()
