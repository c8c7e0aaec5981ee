"""The command palette's provider: every action of the current screen and the app, by name."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from rich.text import Text
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.dom import DOMNode


@dataclass(frozen=True, slots=True)
class PaletteAction:
    title: str
    action: str
    node: DOMNode
    key: str
    enabled: bool

    @property
    def help(self) -> str:
        return f"key {self.key}" + ("" if self.enabled else " · disabled: read-only")


class ActionsProvider(Provider):
    """Lists the bindings active where the palette was opened; read-only ones are listed as
    disabled and refused, exactly as their keys are."""

    def actions(self) -> list[PaletteAction]:
        found: list[PaletteAction] = []
        seen: set[str] = set()
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.description or binding.action in seen:
                continue
            seen.add(binding.action)
            key = binding.key_display or self.app.get_key_display(binding)
            found.append(
                PaletteAction(binding.description, binding.action, active.node, key, active.enabled)
            )
        return found

    def run(self, item: PaletteAction) -> None:
        if not item.enabled:
            self.app.notify(f"{item.title}: disabled, the console is read-only", severity="warning")
            return
        self.app.call_later(self.app.run_action, item.action, item.node)

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
