"""`mrt rules lint`: what is wrong or pointless in a rule set, each finding naming its rule.

Checks (codes):
    invalid          the rule does not compile (bad pattern, unknown key, wrong type, ...)
    unreachable      an earlier rule that stops evaluation matches every event, or has the very
                     same conditions (an earlier suppress, or a delivering rule without continue)
    unknown-channel  notify.channels names a channel the config does not define
    unknown-digest   digest names a digest the config does not define
    contradictory    suppress together with notify/aggregate/digest (suppress wins), or
                     `continue` on a suppress rule (it stops anyway)
    dead-tags        a tag-only rule with no delivering rule after it: its tags reach no message
    unset-tag        a `tags:` condition asks for a tag no earlier rule sets (order matters)
    blank-keyword    an empty entry in watch_keywords (ignored)
    triage-off       a `triage:` rule while AI is off: no score is asked, the rule notifies
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mrt.config import Config
from mrt.errors import ConfigError
from mrt.rules.combinators import AllCondition, AnyCondition, NotCondition
from mrt.rules.conditions import TagSetCondition
from mrt.rules.engine import (
    WATCH_KEYWORDS,
    channel_names,
    matches_everything,
)
from mrt.rules.fields import did_you_mean
from mrt.rules.model import CompiledRule
from mrt.rules.parse import ParseContext, parse_rule

_VERBS = {"notify": "notifies", "aggregate": "aggregates", "digest": "digests"}


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str  # "rules[2] (deepseek-prs)", "watch_keywords", "digests.daily"
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.message} [{self.code}]"


def lint_rules(config: Config) -> list[Finding]:
    ctx = ParseContext(
        file=str(config.source_path) if config.source_path else None,
        aggregation=config.aggregation,
    )
    findings: list[Finding] = []
    rules: list[CompiledRule] = []
    for index, rule_config in enumerate(config.rules):
        try:
            rules.append(parse_rule(rule_config, index, ctx))
        except ConfigError as exc:
            findings.append(Finding(exc.path or f"rules[{index}]", "invalid", exc.detail))
    if any(r.blank_keywords for r in config.rules if r.origin == WATCH_KEYWORDS):
        findings.append(
            Finding(WATCH_KEYWORDS, "blank-keyword", "an empty keyword is ignored; remove it")
        )

    channels = channel_names(config)
    shadowed = {rule.name: _shadowed(rule, rules[:i]) for i, rule in enumerate(rules)}
    for position, rule in enumerate(rules):
        findings += shadowed[rule.name]
        findings += _channels(rule, channels)
        if rule.digest is not None and rule.digest not in config.digests:
            findings.append(
                Finding(
                    rule.path,
                    "unknown-digest",
                    f"digest {rule.digest!r} is not defined"
                    f"{did_you_mean(rule.digest, list(config.digests))}; "
                    f"defined: {', '.join(config.digests) or '(none)'}",
                )
            )
        findings += _contradictions(rule)
        if rule.triage is not None and not config.ai.active():
            findings.append(
                Finding(
                    rule.path,
                    "triage-off",
                    "triage: AI is off (ai.enabled, ai.base_url and ai.model), so no score is "
                    "asked and every match is notified at once (docs/AI.md)",
                )
            )
        set_before = {tag.lower() for r in rules[:position] for tag in r.tags}
        for tag in _wanted_tags(rule.condition):
            if tag.lower() not in set_before:
                set_later = any(
                    tag.lower() in {t.lower() for t in r.tags} for r in rules[position:]
                )
                findings.append(
                    Finding(
                        rule.path,
                        "unset-tag",
                        f"tags: {tag!r} is set by no earlier rule"
                        + (" (only by a later one: rules run in order)" if set_later else ""),
                    )
                )
        later = [r for r in rules[position + 1 :] if r.delivers and not shadowed[r.name]]
        if rule.tag_only and not later:
            findings.append(
                Finding(
                    rule.path,
                    "dead-tags",
                    "only tags, and no rule after it notifies, aggregates or digests: "
                    "its tags never reach a message",
                )
            )
    for name, digest in config.digests.items():
        for channel in digest.channels:
            if channel not in channels:
                findings.append(
                    Finding(
                        f"digests.{name}",
                        "unknown-channel",
                        f"channel {channel!r} is not configured{did_you_mean(channel, channels)}",
                    )
                )
    return findings


def _wanted_tags(condition: Any) -> list[str]:
    """Tags a condition needs present (`tags: {any, all}`), anywhere in its tree."""
    if isinstance(condition, TagSetCondition):
        return [*condition.any_of, *condition.all_of]
    if isinstance(condition, AllCondition | AnyCondition):
        return [tag for child in condition.children for tag in _wanted_tags(child)]
    if isinstance(condition, NotCondition):
        return _wanted_tags(condition.child)
    return []


def _shadowed(rule: CompiledRule, earlier: list[CompiledRule]) -> list[Finding]:
    for before in earlier:
        if not before.stops:
            continue
        how = "suppresses" if before.suppress else "stops evaluation (no `continue`)"
        if matches_everything(before):
            why = f"{before.path} matches every event and {how}"
        elif before.condition.canonical() == rule.condition.canonical():
            why = f"{before.path} has the same conditions and {how}"
        else:
            continue
        return [Finding(rule.path, "unreachable", f"never reached: {why}")]
    return []


def _channels(rule: CompiledRule, channels: tuple[str, ...]) -> list[Finding]:
    if rule.delivers and rule.channels() is None and not channels and rule.digest is None:
        return [
            Finding(
                rule.path,
                "unknown-channel",
                "goes to every configured channel, but no channel is configured",
            )
        ]
    return [
        Finding(
            rule.path,
            "unknown-channel",
            f"notify.channels: {name!r} is not a configured channel"
            f"{did_you_mean(name, channels)}; configured: {', '.join(channels) or '(none)'}",
        )
        for name in rule.channels() or ()
        if name not in channels
    ]


def _contradictions(rule: CompiledRule) -> list[Finding]:
    found = []
    if rule.suppress and rule.delivers:
        found.append(
            Finding(
                rule.path,
                "contradictory",
                f"both suppresses and {_VERBS[rule.mode]} the same match: suppress wins, "
                f"so the {rule.mode} part never happens",
            )
        )
    if rule.suppress and rule.continue_:
        found.append(
            Finding(rule.path, "contradictory", "`continue` has no effect: suppress always stops")
        )
    return found
