"""The combinators of compiled conditions: all, any and not, over the leaves of conditions.py.

Children run cheapest first (their `cost`), so all/any short-circuit on the inexpensive checks
before a keyword search or a regex runs.
"""

from __future__ import annotations

from typing import Any

from mrt.rules.conditions import Condition, Outcome
from mrt.rules.fields import EventView


class AllCondition:
    """Every child matches. No children: matches every event."""

    def __init__(self, children: tuple[Condition, ...]) -> None:
        self.children = children
        # Same answer in any order (conditions are pure); cheap ones first saves the rest.
        self.by_cost = tuple(sorted(children, key=lambda child: child.cost))
        self.cost = max((child.cost for child in children), default=0) + 1

    def test(self, view: EventView) -> bool:
        for child in self.by_cost:  # noqa: SIM110 (a loop, not all(genexpr): the hot path)
            if not child.test(view):
                return False
        return True

    def score(self, view: EventView) -> float:
        if not self.children:
            return 1.0
        total = 0.0
        for child in self.children:
            total += child.score(view)
        return total / len(self.children)

    def explain(self, view: EventView) -> Outcome:
        if not self.children:
            return Outcome(True, ("no conditions (matches every event)",))
        reasons: list[str] = []
        misses: list[str] = []
        for child in self.children:
            outcome = child.explain(view)
            (reasons if outcome.matched else misses).extend(
                outcome.reasons if outcome.matched else outcome.misses
            )
        return Outcome(not misses, tuple(reasons), tuple(misses))

    def canonical(self) -> Any:
        return {"all": [child.canonical() for child in self.children]}


class AnyCondition:
    """At least one child matches."""

    def __init__(self, children: tuple[Condition, ...]) -> None:
        self.children = children
        # Same answer in any order (conditions are pure); cheap ones first saves the rest.
        self.by_cost = tuple(sorted(children, key=lambda child: child.cost))
        self.cost = max((child.cost for child in children), default=0) + 1

    def test(self, view: EventView) -> bool:
        for child in self.by_cost:  # noqa: SIM110 (a loop, not any(genexpr): the hot path)
            if child.test(view):
                return True
        return False

    def score(self, view: EventView) -> float:
        return max((child.score(view) for child in self.children), default=0.0)

    def explain(self, view: EventView) -> Outcome:
        misses: list[str] = []
        for child in self.children:
            outcome = child.explain(view)
            if outcome.matched:
                return Outcome(True, outcome.reasons)
            misses.append("; ".join(outcome.misses))
        return Outcome(False, misses=("none of: " + " | ".join(misses),))

    def canonical(self) -> Any:
        return {"any": [child.canonical() for child in self.children]}


class NotCondition:
    """The child does not match."""

    def __init__(self, child: Condition) -> None:
        self.child = child
        self.cost = child.cost

    def test(self, view: EventView) -> bool:
        return not self.child.test(view)

    def score(self, view: EventView) -> float:
        return 0.0 if self.child.test(view) else 1.0

    def explain(self, view: EventView) -> Outcome:
        outcome = self.child.explain(view)
        if outcome.matched:
            return Outcome(False, misses=("not(" + "; ".join(outcome.reasons) + ")",))
        return Outcome(True, ("not(" + "; ".join(outcome.misses) + ")",))

    def canonical(self) -> Any:
        return {"not": self.child.canonical()}
