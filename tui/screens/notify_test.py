"""Deliveries' `n`: send a test message to one configured channel (as `mrt notify test CHANNEL`).

The operator picks the channel (ChannelPickScreen), confirms, and the test goes through the
real path on a worker thread (mrt.ops.notify, actor "tui"): a "test" alert, an outbox row per
target, an attempt each. The answer is the far side's own words, secrets removed and made inert.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

import peewee
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, OptionList

from mrt.errors import MrtError
from mrt.ops.notify import TestResult, send_test
from tui.formatting import inert, plain
from tui.messages import ActionFinished
from tui.screens.base import ConsoleScreen
from tui.screens.confirm import Confirmed, ConfirmScreen

if TYPE_CHECKING:
    from mrt.config import Config

ACTOR = "tui"


class ChannelPickScreen(ModalScreen[str | None]):
    """The configured channels; Enter (or a click) picks one, escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, channels: Sequence[str]) -> None:
        super().__init__()
        self.channels = list(channels)

    def compose(self) -> ComposeResult:
        with Vertical(id="notify-test-box", classes="dialog"):
            yield Label("Send a test message to which channel?", classes="dialog-title")
            yield OptionList(*(plain(name) for name in self.channels), id="notify-test-channels")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Cancel", id="notify-test-no")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(self.channels[event.option_index])

    def on_button_pressed(self, _event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)


def testable_channels(config: Config) -> list[str]:
    """The channels the console can test: not a `console` channel, which writes to the very
    terminal the console draws on (`mrt notify test NAME` tests it)."""
    return [name for name, channel in config.channels.items() if channel.type != "console"]


def no_channels_reason(config: Config | None, config_error: str | None) -> str | None:
    """Why there is nothing to test, or None when the config names a channel to test."""
    if config is None:
        return (f"Test a channel: {config_error or 'no config was given'}; "
                "start mrt-tui with --config FILE to test its channels")
    if not testable_channels(config):
        terminal = [name for name in config.channel_names() if name not in testable_channels(config)]
        return (
            "Test a channel: the config names no chat or mail channel"
            + (f" ({', '.join(terminal)} writes to the terminal: mrt notify test "
               f"{terminal[0]})" if terminal else "")
            + "; without a config file MRT runs with its built-in one: start mrt-tui with "
            "--config FILE"
        )
    return None


def confirm_text(channel: str, config: Config) -> str:
    chosen = config.channels[channel]
    n = len(chosen.urls) + len(chosen.url_env)
    where = f" ({n} target(s))" if n else ""
    return (
        f"A message marked [MRT TEST] goes now to every target of channel {channel}{where}.\n\n"
        "It is recorded like any delivery (a \"test\" alert, an outbox row per target, an "
        "attempt; mrt trace shows it) and is not retried if refused."
    )


def answer(result: TestResult) -> str:
    """One target's answer: HTTP status, vendor code, and the far side's words (scrubbed)."""
    mark = "sent" if result.ok else "FAILED"
    return inert(f"{mark} {result.target}: {result.answer()} (outbox #{result.outbox_id})", 400)


def send_channel_test(config: Config, channel: str, now: datetime) -> tuple[str, bool]:
    """Run on a worker thread inside a connection: the summary to show, and whether every
    target took the message. A missing secret is a ConfigError (the caller reports it)."""
    from mrt.delivery.channels import resolve_targets

    subset = config.model_copy(update={"channels": {channel: config.channels[channel]}})
    targets = resolve_targets(subset, dict(os.environ))
    results = asyncio.run(send_test(config, targets, [channel], actor=ACTOR, now=now))
    if not results:
        return f"Test of {channel}: it has no targets", False
    failed = sum(not r.ok for r in results)
    head = (f"Test of {channel}: {len(results) - failed} sent, {failed} failed "
            f"(alert #{results[0].alert_id})")
    return "\n".join([head, *map(answer, results)]), failed == 0


class ChannelTestActions(ConsoleScreen):
    """The `notify_test` action, for the Deliveries screen (which lists the rows it makes)."""

    def action_notify_test(self) -> None:
        self.pick_test_channel()

    @work(thread=True, exclusive=True, group="notify-test")
    def pick_test_channel(self) -> None:
        """`n`: the channels come from the config (mrt-tui --db reads it now, off the UI)."""
        settings = self.console.settings()
        why = no_channels_reason(settings.config, settings.config_error)
        if why is not None or settings.config is None:
            self.app.call_from_thread(self.say, why or "no config", ok=False)
            return
        config = settings.config

        def confirm(channel: str | None) -> None:
            if channel is None:
                return

            def run(confirmed: Confirmed | None) -> None:
                if confirmed is not None:
                    self.run_channel_test(config, channel)

            title = f"Send a test message to {channel}?"
            self.app.push_screen(ConfirmScreen(title, confirm_text(channel, config)), run)

        channels = testable_channels(config)
        self.app.call_from_thread(self.app.push_screen, ChannelPickScreen(channels), confirm)

    @work(thread=True, group="write")
    def run_channel_test(self, config: Config, channel: str) -> None:
        """The test through mrt.ops.notify (actor "tui"); the answer comes as ActionFinished."""
        db, now = self.console.db, self.console.now()
        assert db is not None
        try:
            with db.connection_context():
                text, ok = send_channel_test(config, channel, now)
        except (MrtError, peewee.PeeweeException, OSError) as exc:
            text, ok = f"Test of {channel} failed: {exc}", False
        self.post_message(ActionFinished("notify_test", text, ok=ok))
