"""The "add a silence" dialog: a matcher as `mrt silence add --match` takes it, a duration or
an end date, a reason. Everything is checked here, before anything is written: a bad field keeps
the dialog open and says which field, what was found and what is expected."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from mrt.commands.silence import parse_matches
from mrt.errors import ConfigError
from mrt.rules.silences import compile_matcher
from mrt.timeparse import parse_since
from tui.formatting import plain

_SPAN = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


@dataclass(frozen=True, slots=True)
class SilenceRequest:
    matcher: dict[str, Any]
    expires_at: datetime
    reason: str | None


class SilenceInputError(ValueError):
    """One field of the dialog is wrong; the message names it."""


def parse_matcher(text: str) -> dict[str, Any]:
    """`source_key=github:x/* keywords=deepseek keywords="deep seek"`: as `--match` takes each."""
    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise SilenceInputError(f"matcher: {exc} in {text!r}") from None
    if not words:
        raise SilenceInputError(
            "matcher: give at least one KEY=VALUE, such as source_key=github:vllm-project/* "
            "(a silence that matches everything would mute every alert)"
        )
    try:
        matcher = parse_matches(words)
        compile_matcher(matcher)
    except ConfigError as exc:
        raise SilenceInputError(f"matcher: {exc.detail}") from None
    return matcher


def parse_expiry(text: str, now: datetime) -> datetime:
    """`2h`, `3d`, `1w`, `90m` from now, or an end date (UTC when no offset is given)."""
    span = _SPAN.match(text)
    if span is not None:
        return now + timedelta(**{_UNITS[span.group(2)]: int(span.group(1))})
    try:
        expires = parse_since(text, now=now)
    except ConfigError:
        raise SilenceInputError(
            f"expires: expected a duration such as 90m, 2h, 3d, 1w or a date such as "
            f"2026-12-01T18:00, found {text!r}"
        ) from None
    if expires <= now:
        raise SilenceInputError(
            f"expires: {expires.isoformat()} is not after now ({now.isoformat()})"
        )
    return expires


class AddSilenceScreen(ModalScreen[SilenceRequest | None]):
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]

    DEFAULT_CSS = """
    AddSilenceScreen { align: center middle; }
    AddSilenceScreen #silence-error { color: $error; height: auto; }
    """

    def __init__(self, now: datetime) -> None:
        super().__init__()
        self.now = now

    def compose(self) -> ComposeResult:
        # Compact enough for 80x24: enter adds (from any field), esc cancels.
        with Vertical(id="silence-box", classes="dialog"):
            yield Label("Add a silence: enter adds, esc cancels", classes="dialog-title")
            yield Label("matcher: KEY=VALUE words, as `mrt silence add --match` takes each")
            yield Input(placeholder="source_key=github:vllm-project/* keywords=deepseek",
                        id="silence-matcher")
            yield Label("expires: a duration (90m, 2h, 3d, 1w) or a date (2026-12-01T18:00)")
            yield Input(placeholder="2h", id="silence-expires")
            yield Input(placeholder="reason (kept with the silence and in the audit log)",
                        id="silence-reason")
            yield Static("", id="silence-error")

    def on_mount(self) -> None:
        self.query_one("#silence-matcher", Input).focus()

    def value(self, field: str) -> str:
        return self.query_one(f"#silence-{field}", Input).value.strip()

    def request(self) -> SilenceRequest:
        matcher = parse_matcher(self.value("matcher"))
        expires = self.value("expires")
        if not expires:
            raise SilenceInputError("expires: give a duration such as 2h or a date")
        return SilenceRequest(matcher, parse_expiry(expires, self.now),
                              self.value("reason") or None)

    def submit(self) -> None:
        try:
            request = self.request()
        except SilenceInputError as exc:
            self.query_one("#silence-error", Static).update(plain(str(exc), 500))
            field = str(exc).split(":", 1)[0]
            self.query_one(f"#silence-{field}", Input).focus()
            return
        self.dismiss(request)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.submit()

    def action_cancel(self) -> None:
        self.dismiss(None)
