"""The command palette's provider: every action of the current screen and the app, by name."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider


class ActionsProvider(Provider):
    """Lists the bindings that are active where the palette was opened (read-only ones dimmed
    and refused, exactly as their keys are)."""

    def actions(self) -> list[tuple[str, str, object, bool]]:
        found: list[tuple[str, str, object, bool]] = []
        seen: set[str] = set()
        for active in self.screen.active_bindings.values():
            binding = active.binding
            if not binding.description or binding.action in seen:
                continue
            seen.add(binding.action)
            key = binding.key_display or self.app.get_key_display(binding)
            found.append(
                (f"{binding.description}  [{key}]", binding.action, active.node, active.enabled)
            )
        return found

    def run(self, action: str, node: object, enabled: bool) -> None:
        if not enabled:
            self.app.notify("Disabled: the console is read-only", severity="warning")
            return
        self.app.call_later(self.app.run_action, action, node)

    async def discover(self) -> Hits:
        for title, action, node, enabled in self.actions():
            text = title if enabled else f"{title} (read-only)"
            yield DiscoveryHit(text, partial(self.run, action, node, enabled))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, action, node, enabled in self.actions():
            text = title if enabled else f"{title} (read-only)"
            score = matcher.match(text)
            if score > 0:
                yield Hit(score, matcher.highlight(text), partial(self.run, action, node, enabled))
