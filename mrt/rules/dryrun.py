"""`mrt rules test`: run a rule set over stored events without sending anything.

The report says, per rule, how many events it matched (with a few samples), what the rules
decide overall, and which events would now be told about that were not, or no longer would be.
"What was told" is: the event became an alert (alone or in an aggregate/digest), or its stored
decision was notify/aggregate/digest (an aggregate or digest that has not been sent yet).
Events stored as a baseline, as seen by v0, or silenced are left out of that comparison: the
rules never decided them.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mrt.events import TrackerEvent
from mrt.inert import inert_text
from mrt.rules.engine import RuleSet

DELIVERING = frozenset({"notify", "aggregate", "digest"})
NOT_DECIDED_BY_RULES = frozenset({"baseline", "seen_by_v0", "silenced"})
NO_RULE = "(no rule)"
SAMPLE_TITLE_CHARS = 200  # a sample is an example: a 1 MB title prints as its first line


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One stored event as the dry run needs it."""

    event: TrackerEvent
    decision: str  # what was stored (notify | none | baseline | ...)
    alerted: bool  # it became an alert


def stored_events(rows: Iterable[tuple[TrackerEvent, str, bool]]) -> Iterator[StoredEvent]:
    """Rows of (event, stored decision, alerted), as the store's view reads them
    (mrt.store.views.rules.decided_events_since), as the dry run reads them."""
    for event, decision, alerted in rows:
        yield StoredEvent(event, decision, alerted)


@dataclass(frozen=True, slots=True)
class Sample:
    fingerprint: str
    observed_at: str
    source_key: str
    event_type: str
    title: str
    url: str
    reasons: tuple[str, ...] = ()

    @classmethod
    def of(cls, event: TrackerEvent, reasons: tuple[str, ...] = ()) -> Sample:
        """Upstream text made inert and bounded here: every report (text, --json, the
        console's Rules screen) shows samples on a terminal."""
        return cls(
            fingerprint=event.fingerprint,
            observed_at=event.observed_at.isoformat(),
            source_key=inert_text(event.source_key),
            event_type=inert_text(event.event_type),
            title=inert_text(event.title, max_chars=SAMPLE_TITLE_CHARS),
            url=inert_text(event.url),
            reasons=tuple(inert_text(r) for r in reasons),
        )


@dataclass
class RuleHits:
    rule: str
    hits: int = 0
    samples: list[Sample] = field(default_factory=list)


@dataclass
class RulesTestReport:
    rule_version: str
    since: datetime
    events: int = 0
    hits: dict[str, RuleHits] = field(default_factory=dict)  # rule order, plus NO_RULE
    actions: Counter[str] = field(default_factory=Counter)
    newly_notified: list[Sample] = field(default_factory=list)
    no_longer_notified: list[Sample] = field(default_factory=list)
    not_compared: Counter[str] = field(default_factory=Counter)

    def as_json(self) -> dict[str, Any]:
        return {
            "rule_version": self.rule_version,
            "since": self.since.isoformat(),
            "events": self.events,
            "rules": [
                {"rule": h.rule, "hits": h.hits, "samples": [_sample_json(s) for s in h.samples]}
                for h in self.hits.values()
            ],
            "actions": dict(self.actions),
            "newly_notified": [_sample_json(s) for s in self.newly_notified],
            "no_longer_notified": [_sample_json(s) for s in self.no_longer_notified],
            "not_compared": dict(self.not_compared),
        }


def _sample_json(sample: Sample) -> dict[str, Any]:
    return {
        "fingerprint": sample.fingerprint,
        "observed_at": sample.observed_at,
        "source_key": sample.source_key,
        "event_type": sample.event_type,
        "title": sample.title,
        "url": sample.url,
        "reasons": list(sample.reasons),
    }


def run_rules_test(
    ruleset: RuleSet,
    stored: Iterable[StoredEvent],
    *,
    since: datetime,
    now: datetime,
    samples: int = 5,
) -> RulesTestReport:
    report = RulesTestReport(rule_version=ruleset.digest, since=since)
    for rule in ruleset.rules:
        report.hits[rule.name] = RuleHits(rule.name)
    report.hits[NO_RULE] = RuleHits(NO_RULE)
    for item in stored:
        report.events += 1
        decision = ruleset.evaluate(item.event, now=now)
        report.actions[decision.action] += 1
        for match in decision.matched:
            _count(report.hits[match.rule], Sample.of(item.event, match.reasons), samples)
        if not decision.matched:  # a near miss says which rule came closest, and why it missed
            nearest = (decision.nearest,) if decision.nearest else ()
            _count(report.hits[NO_RULE], Sample.of(item.event, nearest), samples)
        if item.decision in NOT_DECIDED_BY_RULES:
            report.not_compared[item.decision] += 1
            continue
        was_told = item.alerted or item.decision in DELIVERING
        if decision.delivers and not was_told:
            reasons = tuple(r for m in decision.matched for r in m.reasons)
            report.newly_notified.append(Sample.of(item.event, reasons))
        elif was_told and not decision.delivers:
            if decision.nearest:
                why: tuple[str, ...] = (decision.nearest,)
            else:
                by = f" by {decision.decided_by}" if decision.decided_by else ""
                why = (f"now: {decision.action}{by}",)
            report.no_longer_notified.append(Sample.of(item.event, why))
    return report


def _count(hits: RuleHits, sample: Sample, limit: int) -> None:
    hits.hits += 1
    if len(hits.samples) < limit:
        hits.samples.append(sample)


def format_report(report: RulesTestReport) -> str:
    lines = [
        f"{report.events} stored events since {report.since:%Y-%m-%d %H:%M} UTC, "
        f"rule version {report.rule_version[:12]}",
        "",
        "hits per rule:",
    ]
    width = max((len(name) for name in report.hits), default=10)
    for hits in report.hits.values():
        lines.append(f"  {hits.rule:<{width}}  {hits.hits:>7}")
        for sample in hits.samples:
            why = f"  ({'; '.join(sample.reasons)})" if sample.reasons else ""
            lines.append(
                f"      {sample.observed_at[:16]}  {sample.source_key}  {sample.title}{why}"
            )
    lines += [
        "",
        "decisions: "
        + (", ".join(f"{a} {n}" for a, n in sorted(report.actions.items())) or "(no events)"),
    ]
    lines += ["", f"would now be told, and were not: {len(report.newly_notified)}"]
    lines += _listed(
        [
            f"  + {s.observed_at[:16]}  {s.source_key}  {s.title}  {s.url}"
            for s in report.newly_notified
        ]
    )
    lines += [f"were told, and would no longer be: {len(report.no_longer_notified)}"]
    lines += _listed(
        [
            f"  - {s.observed_at[:16]}  {s.source_key}  {s.title}  ({'; '.join(s.reasons)})"
            for s in report.no_longer_notified
        ]
    )
    if report.not_compared:
        left_out = ", ".join(f"{n} {d}" for d, n in sorted(report.not_compared.items()))
        lines += [f"not compared (never decided by rules): {left_out}"]
    return "\n".join(lines)


def _listed(lines: list[str], limit: int = 50) -> list[str]:
    """At most `limit` lines in the text report (--json has them all)."""
    if len(lines) <= limit:
        return lines
    return [*lines[:limit], f"  ... and {len(lines) - limit} more (--json lists them all)"]
