"""Rule evaluation: an ordered list of named rules, first match decides unless it continues.

The semantics are written down in docs/RULES.md; in short:

* Rules are tried in order. A matching rule adds its tags and priority.
* A matching `suppress` rule ends evaluation: the event is suppressed, whatever matched before.
* A matching rule that delivers (notify, aggregate, digest) adds its channels and, unless it
  has `continue: true`, ends evaluation. Tag-only rules always continue.
* Of the delivering rules that matched, the most urgent mode wins (notify > aggregate > digest);
  channels are the union of theirs (no `channels` = every configured channel).
* v0's `watch_keywords` is one more rule, "watch_keywords", after the explicit ones (the
  config loader appends it to `config.rules`; here it is a rule like the others).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mrt.config import WATCH_KEYWORDS, Config
from mrt.events import TrackerEvent
from mrt.rules.combinators import AllCondition
from mrt.rules.conditions import Leaf
from mrt.rules.fields import MAX_FIELD_CHARS, EventView
from mrt.rules.model import CompiledRule
from mrt.rules.parse import ParseContext, parse_rule

ENGINE_VERSION = 1  # bump when the same rules would decide differently
_MODE_URGENCY = ("notify", "aggregate", "digest")


@dataclass(frozen=True, slots=True)
class RuleMatch:
    rule: str
    reasons: tuple[str, ...]  # "title contained 'DeepSeek'"


@dataclass(frozen=True, slots=True)
class Decision:
    action: str  # notify | suppress | aggregate | digest | none
    channels: tuple[str, ...] = ()
    priority: str = "normal"
    tags: tuple[str, ...] = ()
    matched: tuple[RuleMatch, ...] = ()
    template: str | None = None
    group_key: str | None = None
    window_minutes: int | None = None
    digest: str | None = None
    nearest: str | None = None  # when nothing matched: the closest rule and why it missed
    decided_by: str | None = None  # the rule whose action won (or that suppressed)
    # AI4: the winning rule's triage policy (instant_at, digest_below, min_confidence); the
    # worker routes the held alert by the score after the commit (mrt.ai_triage)
    triage: dict[str, float] | None = None

    @property
    def delivers(self) -> bool:
        """The decision leads to a message (now, in an aggregate, or in a digest)."""
        return self.action in _MODE_URGENCY

    def as_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "action": self.action,
            "channels": list(self.channels),
            "priority": self.priority,
            "tags": list(self.tags),
            "matched": [{"rule": m.rule, "reasons": list(m.reasons)} for m in self.matched],
            "template": self.template,
            "group_key": self.group_key,
            "window_minutes": self.window_minutes,
            "digest": self.digest,
            "nearest": self.nearest,
            "decided_by": self.decided_by,
        }
        if self.triage is not None:
            data["triage"] = self.triage
        return data


@dataclass(frozen=True)
class RuleSet:
    """The compiled rules of one config; `canonical`/`digest` identify the rule version."""

    rules: tuple[CompiledRule, ...]
    all_channels: tuple[str, ...]
    digest_channels: dict[str, tuple[str, ...]] = field(default_factory=dict)
    canonical: dict[str, Any] = field(default_factory=dict)
    # the rules that lead to a message, in order: the candidates for the nearest miss
    delivering: tuple[CompiledRule, ...] = field(init=False, repr=False, compare=False)
    # of those, the ones the nearest-miss pass must score (see _nearest)
    scored: tuple[CompiledRule, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        delivering = tuple(r for r in self.rules if r.delivers)
        object.__setattr__(self, "delivering", delivering)
        object.__setattr__(self, "scored", tuple(
            r for i, r in enumerate(delivering) if i == 0 or not _settled_leaf(r.condition)
        ))

    @property
    def canonical_json(self) -> str:
        return json.dumps(self.canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.canonical_json.encode()).hexdigest()

    def evaluate(self, event: TrackerEvent, *, now: datetime | None = None) -> Decision:
        """What the rules decide for one event. `now` is for time-aware matchers (silences)."""
        view = EventView(event)
        matched: list[RuleMatch] = []
        delivering: list[CompiledRule] = []
        for rule in self.rules:
            if not rule.condition.test(view):
                continue
            matched.append(RuleMatch(rule.name, rule.condition.explain(view).reasons))
            view.tags.update(dict.fromkeys(rule.tags))
            if rule.priority is not None:
                view.priority = rule.priority
            if rule.suppress:
                return Decision(
                    action="suppress",
                    priority=view.priority,
                    tags=tuple(view.tags),
                    matched=tuple(matched),
                    decided_by=rule.name,
                )
            if rule.delivers:
                delivering.append(rule)
                if not rule.continue_:
                    break
        if not delivering:
            return Decision(
                action="none",
                priority=view.priority,
                tags=tuple(view.tags),
                matched=tuple(matched),
                nearest=self._nearest(view),
            )
        return self._deliver(view, delivering, tuple(matched))

    def _deliver(
        self, view: EventView, delivering: list[CompiledRule], matched: tuple[RuleMatch, ...]
    ) -> Decision:
        action = min((r.mode for r in delivering), key=_MODE_URGENCY.index)
        winner = next(r for r in delivering if r.mode == action)
        channels: dict[str, None] = {}
        for rule in delivering:
            names = rule.channels()
            if names is None and rule.digest is not None and rule.triage is None:
                names = self.digest_channels.get(rule.digest) or None
            channels.update(dict.fromkeys(self.all_channels if names is None else names))
        template = next(
            (r.notify.template for r in delivering if r.notify and r.notify.template), None
        )
        group_key = None
        window = None
        if winner.aggregate is not None:
            window = winner.aggregate.window_minutes
            group_key = "|".join(
                f"{name}={group_value(view, name)}" for name in winner.aggregate.group_by
            )
        return Decision(
            action=action,
            channels=tuple(channels),
            priority=view.priority,
            tags=tuple(view.tags),
            matched=matched,
            template=template,
            group_key=group_key,
            window_minutes=window,
            digest=winner.digest,
            decided_by=winner.name,
            triage=None if winner.triage is None else winner.triage.as_json(),
        )

    def _nearest(self, view: EventView) -> str | None:
        """The delivering rule with the highest share of satisfied conditions, and its misses.

        Tags and priority are those after every rule ran, which is what a later rule saw.
        Only `scored` is scored: every delivering rule failed its test in the main pass (or
        one would deliver), so a rule that is one memoised leaf scores 0 and, after the first
        rule, can never be strictly best (the first of equal scores wins).
        """
        best: CompiledRule | None = None
        best_score = -1.0
        for rule in self.scored:
            score = rule.condition.score(view)
            if score > best_score:
                best, best_score = rule, score
        if best is None:
            return None
        outcome = best.condition.explain(view)
        # No misses now: it needed tags or a priority that only later rules set.
        why = "; ".join(outcome.misses) or "held only with tags or priority set by later rules"
        return f"{best.name}: {why}"


def _settled_leaf(condition: object) -> bool:
    """A leaf whose result the main pass memoised (Leaf.test): not one on tags or priority,
    which later rules change and which the nearest-miss pass reads afresh."""
    return isinstance(condition, Leaf) and type(condition).test is Leaf.test


def group_value(view: EventView, name: str) -> str:
    """One part of a group key: a field's text, every tag, or (`tag:project`) the tags
    `project` and `project:...`, so one project's items on several sources fold together
    whatever other tags they carry."""
    if name == "tags":
        return ",".join(sorted(view.tags))
    if name.startswith("tag:"):
        wanted = name[4:]
        return ",".join(sorted(t for t in view.tags if t == wanted or t.startswith(wanted + ":")))
    return view.text(name)


def channel_names(config: Config) -> tuple[str, ...]:
    """Every channel a rule may name (v0's welink/email sections are channels once loaded)."""
    return config.channel_names()


def compile_rules(config: Config) -> RuleSet:
    """Every rule compiled once (patterns included); ConfigError names the rule and the key."""
    ctx = ParseContext(
        file=str(config.source_path) if config.source_path else None,
        aggregation=config.aggregation,
    )
    rules: list[CompiledRule] = []
    seen: dict[str, int] = {}
    for index, rule_config in enumerate(config.rules):
        rule = parse_rule(rule_config, index, ctx)
        if rule.name in seen and rule.origin == WATCH_KEYWORDS:
            raise ctx.error(
                f"the name {WATCH_KEYWORDS!r} is taken by the top-level watch_keywords list; "
                "rename the rule or move the keywords into it",
                f"rules[{seen[rule.name]}] ({rule.name})",
            )
        if rule.name in seen:
            raise ctx.error(
                f"duplicate rule name {rule.name!r} (also rules[{seen[rule.name]}]); "
                "names identify rules in alerts and traces, so they must be unique",
                rule.path,
            )
        seen[rule.name] = index
        rules.append(rule)
    all_channels = channel_names(config)
    digest_channels = {name: tuple(d.channels) for name, d in config.digests.items()}
    canonical = {
        "engine": ENGINE_VERSION,
        "max_field_chars": MAX_FIELD_CHARS,
        "all_channels": list(all_channels),
        "digest_channels": {k: list(v) for k, v in sorted(digest_channels.items())},
        "rules": [r.canonical() for r in rules],
    }
    return RuleSet(tuple(rules), all_channels, digest_channels, canonical)


def matches_everything(rule: CompiledRule) -> bool:
    condition = rule.condition
    return isinstance(condition, AllCondition) and not condition.children


__all__ = [
    "WATCH_KEYWORDS",
    "Decision",
    "RuleMatch",
    "RuleSet",
    "channel_names",
    "compile_rules",
]
