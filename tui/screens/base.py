"""What every console screen shares: the header, the footer, read-only dimming, live re-arming."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, cast

import peewee
from textual import events, work
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer

from mrt.errors import MrtError
from tui.formatting import inert
from tui.messages import ActionFinished
from tui.widgets.banner import Banner
from tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:
    from tui.app import MrtConsole


# The footer lists keys in this order first: at 80 columns the others run past the edge, and
# these two must never be the ones lost.
FOOTER_FIRST = ("help", "quit")


class ConsoleScreen(Screen[None]):
    """A mode of the console. Subclasses name their write actions in WRITE_ACTIONS."""

    MODE: ClassVar[str] = ""
    WRITE_ACTIONS: ClassVar[frozenset[str]] = frozenset()

    def __init__(self) -> None:
        super().__init__()
        self._live_timer: Timer | None = None

    @property
    def console(self) -> MrtConsole:
        return cast("MrtConsole", self.app)

    def compose_header(self) -> ComposeResult:
        yield StatusBar(self.MODE)
        yield Banner()

    def compose_footer(self) -> ComposeResult:
        yield Footer()

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """Textual's, with `? Help` and `q Quit` first (the footer shows them in this order)."""
        bindings = super().active_bindings
        first = {k: v for k, v in bindings.items() if v.binding.action in FOOTER_FIRST}
        return first | {k: v for k, v in bindings.items() if k not in first}

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # None: shown dimmed in the footer and the help, not hidden (the connection would
        # refuse the write anyway: SQLite query_only).
        if action in self.WRITE_ACTIONS and self.console.read_only:
            return None
        return True

    def on_key(self, event: events.Key) -> None:
        """A write key on a read-only console says why it does nothing (its binding is
        disabled, so the key reaches here instead of running; silence would look broken)."""
        if not self.console.read_only:
            return
        for binding in type(self).BINDINGS:
            if (
                isinstance(binding, Binding)
                and binding.action in self.WRITE_ACTIONS
                and event.key in binding.key.split(",")
            ):
                event.stop()
                self.notify(
                    f"{binding.description} ({event.key}) is disabled: the console is read-only "
                    "(mrt-tui --read-only)",
                    severity="warning",
                )
                return

    def arm_live(self, poll: Callable[[], object], *, factor: float = 1.0) -> None:
        """Schedule the next live poll; called only after the previous one answered."""
        if self._live_timer is not None:
            self._live_timer.stop()
        self._live_timer = self.set_timer(self.console.options.poll_seconds * factor, poll)

    def say(self, text: str, *, ok: bool = True) -> None:
        """A toast; its text may quote an error or what the operator typed: never markup."""
        self.notify(
            inert(text, 1000, multiline=True),
            severity="information" if ok else "error",
            timeout=4 if ok else 8,
            markup=False,
        )

    @work(thread=True, group="write")
    def perform(self, action: str, write: Callable[[], str]) -> None:
        """Run one write on a worker thread; its outcome comes back as ActionFinished.

        On a read-only console the connection itself refuses (SQLite query_only), and the
        refusal is reported, not raised.
        """
        db = self.console.db
        assert db is not None
        try:
            with db.connection_context():
                text = write()
        except (MrtError, peewee.PeeweeException, OSError) as exc:
            self.post_message(ActionFinished(action, f"{action} failed: {exc}", ok=False))
            return
        self.post_message(ActionFinished(action, text))
