"""Rules: each rule with its hit count over the last N days, by a dry run of the current rules
over stored events (mrt.rules.dryrun, the same as `mrt rules test`); nothing is sent."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import DataTable, Input, Label, Static

from mrt.errors import MrtError
from mrt.rules import compile_rules
from mrt.rules.dryrun import RulesTestReport, run_rules_test, stored_events
from mrt.store.views.rules import decided_events_since
from mrt.timeparse import parse_since
from tui.formatting import plain
from tui.messages import RulesTested
from tui.screens.base import ConsoleScreen


class RulesScreen(ConsoleScreen):
    MODE = "rules"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+r", "dry_run", "Dry run", priority=True),
        # As on Replay: enter runs wherever the focus is; escape leaves the field for the list.
        Binding("enter", "dry_run", "Dry run", show=False, priority=True),
        Binding("escape", "focus_list", "Back to the list", show=False),
        Binding("r,g", "dry_run", "Dry run", show=False),  # reload is r on every screen
    ]

    def __init__(self) -> None:
        super().__init__()
        self.report: RulesTestReport | None = None

    def compose(self) -> ComposeResult:
        yield from self.compose_header()
        with Horizontal(classes="replay-row"):
            yield Label("last", classes="replay-label")
            yield Input("7d", id="rules-since", compact=True)
            yield Label("(tab edits; enter runs the current rules over stored events; sends nothing)")
        yield Static("", id="rules-summary")
        yield DataTable(id="rules-table", cursor_type="row", zebra_stripes=False)
        yield Static("", id="rules-detail")
        yield from self.compose_footer()

    def on_mount(self) -> None:
        table = self.query_one("#rules-table", DataTable)
        table.add_column("rule", key="rule", width=30)
        table.add_column("hits", key="hits", width=8)
        table.add_column("example", key="example", width=60)
        table.focus()  # the screen keys work at once; one tab (the focus wraps) edits "last"
        self.action_dry_run()

    def action_focus_list(self) -> None:
        self.query_one("#rules-table", DataTable).focus()

    def on_input_submitted(self, _event: Input.Submitted) -> None:
        self.action_dry_run()

    def action_dry_run(self) -> None:
        text = self.query_one("#rules-since", Input).value.strip() or "7d"
        self.query_one("#rules-summary", Static).update("Running the rules over stored events…")
        self.dry_run(text)

    @work(thread=True, exclusive=True, group="rules-dry-run")
    def dry_run(self, since_text: str) -> None:
        console = self.console
        settings = console.settings()  # may read the config first (mrt-tui --db): a worker
        config = settings.config
        if config is None:
            self.post_message(RulesTested(None, settings.config_error or "no config"))
            return
        db = console.db
        assert db is not None
        now = console.now()
        try:
            ruleset = compile_rules(config)
            since = parse_since(since_text, now=now)
            with db.connection_context():
                report = run_rules_test(
                    ruleset, stored_events(decided_events_since(since)), since=since, now=now
                )
        except MrtError as exc:
            self.post_message(RulesTested(None, str(exc)))
            return
        self.post_message(RulesTested(report, ""))

    def on_rules_tested(self, message: RulesTested) -> None:
        summary = self.query_one("#rules-summary", Static)
        table = self.query_one("#rules-table", DataTable)
        table.clear()
        self.report = report = message.report
        if report is None:
            summary.update(plain(message.error, 1000, multiline=True, style="bold red"))
            return
        text = Text()
        text.append(f"{report.events} stored events", style="bold")
        text.append(f" since {report.since:%Y-%m-%d %H:%M} UTC, rules {report.rule_version[:12]}")
        decisions = ", ".join(f"{a} {n}" for a, n in sorted(report.actions.items()))
        text.append(f"\ndecisions now: {decisions or '(no events)'}")
        text.append(f"\nwould now be told, and were not: {len(report.newly_notified)}")
        text.append(f" · were told, and would no longer be: {len(report.no_longer_notified)}")
        summary.update(text)
        for name, hits in report.hits.items():
            example = hits.samples[0].title if hits.samples else ""
            table.add_row(plain(name), str(hits.hits), plain(example), key=name)
        self.show_detail()

    @on(DataTable.RowHighlighted, "#rules-table")
    def row_highlighted(self, _event: DataTable.RowHighlighted) -> None:
        self.show_detail()

    def show_detail(self) -> None:
        detail = self.query_one("#rules-detail", Static)
        table = self.query_one("#rules-table", DataTable)
        report = self.report
        if report is None or table.row_count == 0:
            detail.update("")
            return
        name = list(report.hits)[min(table.cursor_row, len(report.hits) - 1)]
        hits = report.hits[name]
        text = Text()
        text.append(f"{name}: {hits.hits} hit(s)", style="bold")
        for sample in hits.samples:
            text.append(f"\n  {sample.observed_at[:16]}  {sample.source_key}  {sample.title}")
            if sample.reasons:
                text.append(f"  ({'; '.join(sample.reasons)})", style="dim")
        detail.update(text)
