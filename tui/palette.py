"""The command palette's provider: every action of every screen, by name.

The current screen's and the app's actions come first and run where the palette was opened;
another screen's actions are listed with that screen's name ("Retry · Deliveries") and switch
there, saying which key does it (most act on the row the operator then picks). A row list's
own movement keys (up, page down ...) are not actions and are left out. Read-only ones are
listed as disabled and refused, exactly as their keys are.
"""

from __future__ import annotations

import asyncio
import importlib
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode

if TYPE_CHECKING:
    from tui.app import MrtConsole
    from tui.screens.base import ConsoleScreen

READ_ONLY_REFUSAL = "disabled: the console is read-only (mrt-tui --read-only)"


@dataclass(frozen=True, slots=True)
class PaletteAction:
    title: str
    action: str
    node: DOMNode | None  # None: on another screen (`mode`), reached by switching there
    key: str
    enabled: bool
    mode: str = ""
    screen_label: str = ""

    @property
    def help(self) -> str:
        where = f" on {self.screen_label} (switches there)" if self.node is None else ""
        return f"key {self.key}{where}" + ("" if self.enabled else f" · {READ_ONLY_REFUSAL}")


def screen_classes(modes: dict[str, str]) -> dict[str, type[ConsoleScreen]]:
    """Every mode's screen class (imports the modules the console has not needed yet)."""
    return {
        mode: getattr(importlib.import_module(f"tui.screens.{mode}"), name)
        for mode, name in modes.items()
    }


class ActionsProvider(Provider):
    """Lists the actions of the screen it was opened on, then those of every other screen."""

    others: list[PaletteAction]

    @property
    def console(self) -> MrtConsole:
        return cast("MrtConsole", self.app)

    async def startup(self) -> None:
        from tui.app import SCREENS
        from tui.widgets.status_bar import TABS

        # Off the UI thread: replay's and rules' modules pull in the rule engine (~0.4 s).
        classes = await asyncio.to_thread(screen_classes, SCREENS)
        labels = {mode: label for _, mode, label, _ in TABS}
        labels.update({mode: mode.capitalize() for mode in classes if mode not in labels})
        here = getattr(self.screen, "MODE", "")
        self.others = []
        for mode, screen_class in classes.items():
            if mode == here:
                continue
            listed: set[str] = set()
            for binding in screen_class.BINDINGS:
                if not isinstance(binding, Binding) or not binding.description:
                    continue
                if binding.action in listed:  # one action, several keys: listed once
                    continue
                listed.add(binding.action)
                enabled = not (
                    self.console.read_only and binding.action in screen_class.WRITE_ACTIONS
                )
                self.others.append(
                    PaletteAction(
                        f"{binding.description} · {labels.get(mode, mode)}",
                        binding.action,
                        None,
                        binding.key_display or self.app.get_key_display(binding),
                        enabled,
                        mode,
                        labels.get(mode, mode),
                    )
                )

    def actions(self) -> list[PaletteAction]:
        found: list[PaletteAction] = []
        seen: set[str] = set()
        # Only MRT's own: not a widget's movement keys, nor Textual's focus and quit defaults.
        own = {
            node: {b.action for b in type(node).BINDINGS if isinstance(b, Binding)}
            for node in (self.screen, self.app)
        }
        # This screen's own actions first, then the app's (switching screens, help, quit).
        here = sorted(self.screen.active_bindings.values(), key=lambda a: a.node is not self.screen)
        for active in here:
            binding = active.binding
            if binding.action not in own.get(active.node, set()):
                continue
            if not binding.description or binding.action in seen:
                continue
            seen.add(binding.action)
            key = binding.key_display or self.app.get_key_display(binding)
            found.append(
                PaletteAction(binding.description, binding.action, active.node, key, active.enabled)
            )
        return found + getattr(self, "others", [])

    def run(self, item: PaletteAction) -> None:
        if not item.enabled:
            self.app.notify(f"{item.title}: {READ_ONLY_REFUSAL}", severity="warning")
            return
        if item.node is not None:
            self.app.call_later(self.app.run_action, item.action, item.node)
            return
        self.app.switch_mode(item.mode)
        name = item.title.split(" · ")[0]
        self.app.notify(f"{item.screen_label}: press {item.key} for {name}", timeout=6)

    async def discover(self) -> Hits:
        for item in self.actions():
            yield DiscoveryHit(Text(item.title), partial(self.run, item), help=item.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for item in self.actions():
            score = matcher.match(item.title)
            if score > 0:
                yield Hit(
                    score, matcher.highlight(item.title), partial(self.run, item), help=item.help
                )
