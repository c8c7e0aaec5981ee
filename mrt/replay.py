"""Replay: run the current rules over stored events and deliver what they now want told.

    plan = plan_replay(config, targets, since=..., now=now)    # reads only: the dry run
    result = mrt.ops.replay.apply(plan, actor="cli", reason=..., now=now)  # one transaction

For each stored event observed in [since, until) the current rules decide again. An event goes
into the plan, for each channel its decision names (or only `channel`), when nothing of it was
ever told to that channel (see mrt.store.replay.told_channels), or always with `resend`. Left
out, and counted in `ReplayPlan.skipped`:

* events stored as a baseline or as seen by v0: the rules never decided them, and the first poll
  of a source is history, not news;
* events the rules do not deliver now (none, suppress), or not through `rule`;
* events waiting in an aggregation window or digest (they will be told);
* events a silence active *now* mutes (a silence that has ended no longer holds them back).

Each replayed event becomes one alert of kind "replay" on its own (replay does not open
aggregation windows or digests in the past), planned by mrt.alerting exactly as the cycle plans
one, with one outbox row per target; the rule version is stored and the whole run is audited
(the audit record is written by mrt.ops.replay, in the transaction it opens around
enqueue_plan: this module, below ops, writes no audit record).
A channel without a target now (removed since) is handled as everywhere (mrt/alerting.py): the
alert records it as `missing_channels`, and one whose every channel is missing went to no one,
which the console and `mrt trace` show. Applying a plan checks again, inside its transaction,
what was told meanwhile, so running the same replay twice delivers nothing new.
"""

from __future__ import annotations

import dataclasses
import fnmatch
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mrt.alerting import Renderer, plan_event_alert
from mrt.config import Config
from mrt.delivery.base import Target
from mrt.errors import ConfigError
from mrt.events import TrackerEvent
from mrt.rules import Decision, RuleSet, compile_rules
from mrt.rules.silences import compile_active
from mrt.store import noise as noise_store
from mrt.store import replay as replay_store
from mrt.store import silences
from mrt.store.cycle import PlannedAlert
from mrt.store.history import events_observed_since, tracker_event

NOT_DECIDED_BY_RULES = frozenset({"baseline", "seen_by_v0"})
DELIVERING = frozenset({"notify", "aggregate", "digest"})
# What the rules-change policy treats as "unmatched": stored decisions that told nobody.
UNMATCHED = frozenset({"none", "suppress"})


@dataclass(frozen=True, slots=True)
class ReplayItem:
    event_id: int
    fingerprint: str
    source_key: str
    observed_at: datetime
    title: str
    url: str
    channels: tuple[str, ...]
    rules: tuple[str, ...]  # the rules that matched now
    alert: PlannedAlert
    missing_channels: tuple[str, ...] = ()  # wanted, but without a target now: not sent there


@dataclass
class ReplayPlan:
    params: dict[str, Any]  # what was asked (for the audit log), JSON-safe
    rule_digest: str
    rule_canonical: dict[str, Any]
    resend: bool
    considered: int = 0
    items: list[ReplayItem] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)

    @property
    def deliveries(self) -> int:
        return sum(len(item.alert.deliveries) for item in self.items)


@dataclass(frozen=True, slots=True)
class ReplayResult:
    """What a replay enqueued, and its audit record (returned by mrt.ops.replay)."""

    alert_ids: tuple[int, ...]
    deliveries: int
    rule_version_id: int
    audit_id: int
    dropped: int  # planned items told meanwhile (another replay, the worker)


def _source_matches(source_key: str, wanted: str | None) -> bool:
    if wanted is None:
        return True
    return source_key == wanted or fnmatch.fnmatchcase(source_key, wanted)


def _check_filters(
    ruleset: RuleSet, targets: Mapping[str, list[Target]], rule: str | None, channel: str | None
) -> None:
    names = [r.name for r in ruleset.rules]
    if rule is not None and rule not in names:
        raise ConfigError(
            f"no rule named {rule!r}; the current rules are: {', '.join(names) or '(none)'}",
            path="--rule",
        )
    if channel is not None and channel not in targets:
        raise ConfigError(
            f"no channel named {channel!r}; configured: {', '.join(targets) or '(none)'}",
            path="--channel",
        )


def plan_replay(
    config: Config,
    targets: Mapping[str, list[Target]],
    *,
    since: datetime,
    until: datetime | None = None,
    source: str | None = None,
    rule: str | None = None,
    channel: str | None = None,
    resend: bool = False,
    unmatched_only: bool = False,
    now: datetime,
) -> ReplayPlan:
    """What a replay would deliver (reads the database, writes nothing)."""
    if until is not None and until <= since:
        raise ConfigError(
            f"expected a moment after --since ({since.isoformat()}), found {until.isoformat()}",
            path="--until",
        )
    ruleset = compile_rules(config)
    _check_filters(ruleset, targets, rule, channel)
    params: dict[str, Any] = {
        "since": since.isoformat(),
        "until": until.isoformat() if until else None,
        "source": source,
        "rule": rule,
        "channel": channel,
        "resend": resend,
    }
    if unmatched_only:
        params["unmatched_only"] = True
    plan = ReplayPlan(params, ruleset.digest, ruleset.canonical, resend)
    muted = compile_active(silences.active_silences(now))
    renderer = Renderer(config)
    candidates: list[tuple[Any, TrackerEvent, Decision, tuple[str, ...]]] = []
    for row in events_observed_since(since, until=until):
        if not _source_matches(row.source_key, source):
            continue
        plan.considered += 1
        if row.decision in NOT_DECIDED_BY_RULES:
            plan.skipped[f"stored as {row.decision}"] += 1
            continue
        if unmatched_only and row.decision not in UNMATCHED:
            plan.skipped["matched when stored"] += 1
            continue
        event = tracker_event(row)
        decision = ruleset.evaluate(event, now=now)
        if not decision.delivers:
            plan.skipped[f"rules now decide {decision.action}"] += 1
            continue
        matched = tuple(m.rule for m in decision.matched)
        if rule is not None and rule not in matched:
            plan.skipped[f"not matched by {rule}"] += 1
            continue
        wanted = tuple(c for c in decision.channels if channel is None or c == channel)
        if not wanted:
            plan.skipped[f"not for channel {channel}"] += 1
            continue
        if muted.match(event, tags=decision.tags, priority=decision.priority) is not None:
            plan.skipped["silenced now"] += 1
            continue
        candidates.append((row, event, decision, wanted))
    ids = [int(row.id) for row, *_ in candidates]
    told = {} if resend else replay_store.told_channels(ids)
    waiting = set() if resend else noise_store.waiting_event_ids(ids)
    for row, event, decision, wanted in candidates:
        if int(row.id) in waiting:
            plan.skipped["waiting in an aggregation window or digest"] += 1
            continue
        channels = tuple(c for c in wanted if c not in told.get(int(row.id), set()))
        if not channels:
            plan.skipped["already delivered"] += 1
            continue
        plan.items.append(_item(renderer, targets, row, event, decision, channels))
    return plan


def _item(
    renderer: Renderer,
    targets: Mapping[str, list[Target]],
    row: Any,
    event: TrackerEvent,
    decision: Decision,
    channels: tuple[str, ...],
) -> ReplayItem:
    from mrt.delivery.render import mark_replay  # Jinja2 with it: a worker loads it on first use

    alert = plan_event_alert(renderer, targets, event, decision, channels=channels)
    marked = tuple(
        dataclasses.replace(d, message=mark_replay(d.message)) for d in alert.deliveries
    )
    alert = dataclasses.replace(alert, deliveries=marked)
    return ReplayItem(
        event_id=int(row.id),
        fingerprint=event.fingerprint,
        source_key=event.source_key,
        observed_at=event.observed_at,
        title=event.title,
        url=event.url,
        channels=tuple(dict.fromkeys(d.channel for d in alert.deliveries)),
        rules=tuple(m.rule for m in decision.matched),
        alert=alert,
        missing_channels=tuple(alert.payload.get("missing_channels") or ()),
    )


@dataclass(frozen=True, slots=True)
class Enqueued:
    """What enqueue_plan wrote (mrt.ops.replay audits it and returns it as a ReplayResult)."""

    alert_ids: tuple[int, ...]
    deliveries: int
    rule_version_id: int
    dropped: int  # planned items told meanwhile (another replay, the worker)


def enqueue_plan(plan: ReplayPlan, *, now: datetime, actor: str, reason: str | None) -> Enqueued:
    """Enqueue the plan; what was told meanwhile is left out (idempotent).

    Call inside a write transaction: mrt.ops.replay.apply opens it and writes the audit record
    in it, so the alerts and the record of who asked for them commit together or not at all.
    `actor` and `reason` are stored on each alert's payload.
    """
    kept: list[tuple[int, str, str, PlannedAlert]] = []
    told = {} if plan.resend else replay_store.told_channels(i.event_id for i in plan.items)
    for item in plan.items:
        already = told.get(item.event_id, set())
        deliveries = tuple(d for d in item.alert.deliveries if d.channel not in already)
        if item.alert.deliveries and not deliveries:
            continue
        alert = dataclasses.replace(item.alert, deliveries=deliveries)
        kept.append((item.event_id, item.fingerprint, item.source_key, alert))
    payload = {"replay": {"actor": actor, "reason": reason, **plan.params}}
    version_id, alert_ids, enqueued = replay_store.enqueue_replay(
        kept,
        rule_digest=plan.rule_digest,
        rule_canonical=plan.rule_canonical,
        payload=payload,
        now=now,
    )
    return Enqueued(
        alert_ids=tuple(alert_ids),
        deliveries=enqueued,
        rule_version_id=version_id,
        dropped=len(plan.items) - len(kept),
    )


@dataclass(frozen=True, slots=True)
class RulesChangeReplay:
    plan: ReplayPlan
    reason: str  # for the audit record: which rule versions, which setting


def plan_after_rules_change(
    config: Config, targets: Mapping[str, list[Target]], *, now: datetime
) -> RulesChangeReplay | None:
    """The `delivery.rules_change_replay_hours` policy, planned when the worker starts or reloads
    (mrt.ops.replay.replay_after_rules_change applies it, actor "worker").

    When the current rules differ from the newest stored rule version, events of the last N
    hours that no rule delivered when they were stored, and that the new rules deliver, are
    planned. Applying stores the new rule version even when nothing is replayed, so the next
    start with the same rules does nothing. None (off) when N is 0, no version was stored yet, or
    the rules did not change.
    """
    hours = config.delivery.rules_change_replay_hours
    if hours <= 0:
        return None
    ruleset = compile_rules(config)
    newest = replay_store.newest_rule_version()
    if newest is None or newest.digest == ruleset.digest:
        return None
    plan = plan_replay(
        config, targets, since=now - timedelta(hours=hours), unmatched_only=True, now=now
    )
    reason = (
        f"rules changed ({str(newest.digest)[:12]} -> {ruleset.digest[:12]}): "
        f"delivery.rules_change_replay_hours = {hours}"
    )
    return RulesChangeReplay(plan, reason)
