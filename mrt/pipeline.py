"""One cycle of one source: poll, decide, render, then commit everything in one transaction.

    poll (no database) -> plan each new event (rules, renders) -> commit_cycle (one transaction)

A failed cycle never moves the cursor: whichever stage failed (the poll, planning, the commit), it
is recorded in the source state and the cycle metrics, and reported (cycle_outcome.py, which also
tells the operators). A rate limit defers the source until its reset. With
`cursor_policy = "strict"` (default) an event that cannot be processed (a template error) fails the
whole cycle, cursor unmoved; with "best-effort" the event is stored as `failed`, visible and
replayable, and the cycle goes on.

One malformed upstream item is not a failed poll: the source quarantines it and goes on, and
the cycle stores it with the rest (mrt/store/quarantine.py), telling the operators once.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import ModuleType
from typing import TYPE_CHECKING

import peewee

from mrt.ai.usage import AiSettings, AiUsage
from mrt.alerting import Renderer, ops_notice, plan_event_alert
from mrt.config import Config
from mrt.cycle_outcome import (
    COMMIT,
    PLANNING,
    POLL,
    Progress,
    notify_or_record,
    record_failure,
)
from mrt.cycle_outcome import (
    CycleReport as CycleReport,  # re-exported: the worker reads reports from here
)
from mrt.delivery.base import Message, Target
from mrt.delivery.sanitize import clean_line
from mrt.errors import LeaseLost, MrtError, PluginError, RateLimited
from mrt.events import TrackerEvent
from mrt.noise.collect import collect_cycle
from mrt.noise.dedupe import fold_repeats
from mrt.plugins import source_plugins
from mrt.rules import RuleSet
from mrt.rules.silences import ActiveSilences, compile_active
from mrt.schedule import next_poll_time
from mrt.source_kit.contract import PollContext, PollResult, Quarantined, SourceSpec
from mrt.store import cycle, leases, legacy_v0, quarantine, silences, sources
from mrt.store.cycle import PlannedEvent
from mrt.store.db import write_transaction

if TYPE_CHECKING:
    from mrt.http import HttpPool

log = logging.getLogger(__name__)

@dataclass
class Engine:
    """Everything a cycle needs, passed explicitly (no module-global state)."""

    config: Config
    db: peewee.Database
    pool: HttpPool
    targets: dict[str, list[Target]]
    ruleset: RuleSet
    env: Mapping[str, str]
    rng: random.Random = field(default_factory=random.Random)
    plugins: Mapping[str, ModuleType] = field(default_factory=source_plugins)
    # per source key: the shortest interval its host's request budget allows (schedule.py)
    interval_floors: Mapping[str, float] = field(default_factory=dict)
    # the message text of this config's alerts (mrt/alerting.py); a reload builds a new engine
    renderer: Renderer = field(init=False)
    # this worker's AI counters (calls, tokens, cache hits, fallbacks): the cycle's embeddings
    # and the AI step's summaries and triage; a reload's engine keeps them (worker/metrics.py)
    ai_usage: AiUsage = field(default_factory=AiUsage)

    def __post_init__(self) -> None:
        self.renderer = Renderer(self.config)


def build_specs(
    config: Config, plugins: Mapping[str, ModuleType] | None = None
) -> list[SourceSpec]:
    """Every configured source instance, in config order."""
    plugins = source_plugins() if plugins is None else plugins
    specs: list[SourceSpec] = []
    for name, section in config.sources.items():
        if not section.enabled:
            continue
        plugin_name = section.type or name
        plugin = plugins.get(plugin_name)
        if plugin is None:
            raise PluginError(
                f"sources.{name}: no source plugin named {plugin_name!r} is installed"
            )
        specs.extend(plugin.instances(name, section, config))
    return specs


def _policy(engine: Engine, spec: SourceSpec) -> str:
    return spec.config.cursor_policy or engine.config.delivery.cursor_policy


def plan_event(
    engine: Engine, event: TrackerEvent, now: datetime, muted: ActiveSilences | None = None
) -> PlannedEvent:
    """Evaluate the rules and plan the alert (mrt/alerting.py; may raise for a bad template)."""
    decision = engine.ruleset.evaluate(event, now=now)
    detail = decision.as_json()
    # A silence mutes only what would have been told; the event stays visible and replayable.
    hit = None
    if muted is not None and decision.delivers:
        hit = muted.match(event, tags=decision.tags, priority=decision.priority)
    if hit is not None:
        detail["silence"] = {"id": int(hit.id), "reason": hit.reason}
        return PlannedEvent(event=event, decision="silenced", detail=detail, silence=int(hit.id))
    if decision.action != "notify":
        return PlannedEvent(event=event, decision=decision.action, detail=detail)
    alert = plan_event_alert(engine.renderer, engine.targets, event, decision, detail=detail)
    return PlannedEvent(event=event, decision="notify", detail=detail, alert=alert)


def seen_by_v0(spec: SourceSpec, events: list[TrackerEvent]) -> set[str]:
    """Fingerprints of events v0 already saw, on resources v1 has no snapshot of yet.

    After a v0 database is upgraded, the first v1 sighting of what v0 alerted (or marked seen)
    must not alert again; once v1 holds a snapshot of the resource, later changes are news.
    """
    legacy = {e.legacy_fingerprint: e for e in events if e.legacy_fingerprint}
    seen = legacy_v0.legacy_seen(legacy)
    if not seen:
        return set()
    candidates = [legacy[fp] for fp in seen]
    known = sources.snapshots_for(spec.key, (e.resource_id for e in candidates))
    return {e.fingerprint for e in candidates if e.resource_id not in known}


def plan_events(
    engine: Engine, spec: SourceSpec, result: PollResult, *, baseline: bool, now: datetime
) -> list[PlannedEvent]:
    planned: list[PlannedEvent] = []
    v0_saw = set() if baseline else seen_by_v0(spec, result.events)
    muted = None if baseline else compile_active(silences.active_silences(now))
    if not baseline and engine.config.aggregation.cluster_window_minutes > 0:
        # AI3 (lexical), imported when aggregation.cluster_window_minutes asks for it
        from mrt.noise.clusters import assign_clusters

        assign_clusters(engine.config, result.events, now)
    for event in result.events:
        if baseline:
            planned.append(PlannedEvent(event=event, decision="baseline"))
            continue
        if event.fingerprint in v0_saw:
            planned.append(PlannedEvent(event=event, decision="seen_by_v0"))
            continue
        try:
            planned.append(plan_event(engine, event, now, muted))
        except MrtError as exc:
            if _policy(engine, spec) == "strict":
                raise
            log.warning(
                "event %s failed: %s", event.fingerprint, exc, extra={"source_key": spec.key}
            )
            planned.append(PlannedEvent(event=event, decision="failed", error=str(exc)))
    # time-window dedupe: a resource that alerted less than the window ago alerts once
    return fold_repeats(planned, engine.config.aggregation.dedupe_window_minutes, now)


def _status_of(statuses: Mapping[int, int]) -> int | None:
    return max(statuses, key=lambda s: statuses[s]) if statuses else None


async def run_source_cycle(
    engine: Engine, spec: SourceSpec, now: datetime, lease: leases.Lease | None = None
) -> CycleReport:
    """Poll one source and commit what it saw. Never raises for an Exception: whichever stage
    fails (poll, planning, commit, the operators' notice), the cycle's outcome is recorded in
    the source state and the cycle metrics, and reported. With the scheduler's `lease`, the
    commit is fenced: a cycle whose lease another worker took over commits nothing."""
    progress = Progress()
    try:
        return await _run_cycle(engine, spec, now, progress, lease)
    except LeaseLost as exc:  # the other worker's cycle is the one that counts: not a failure
        log.warning("%s", exc, extra={"source_key": spec.key})
        return CycleReport(spec.key, "lease_lost", error=str(exc))
    except Exception as exc:  # any failure of one source is that source's failed cycle
        if leases.taken_over(lease):  # ... unless another worker polls it now: its cycle counts
            return CycleReport(spec.key, "lease_lost", error=f"{exc} (lease taken over)")
        return record_failure(engine, spec, exc, now, progress)


async def _run_cycle(
    engine: Engine,
    spec: SourceSpec,
    now: datetime,
    progress: Progress,
    lease: leases.Lease | None = None,
) -> CycleReport:
    state = sources.get_state(spec.key)
    client = progress.client = engine.pool.client(
        spec.http_settings(engine.env),
        validators=dict(state.validators or {}),
        contact=engine.config.http.contact,
    )
    ctx = PollContext(
        http=client,
        now=now,
        cursor=state.cursor,
        snapshots=lambda keys: sources.snapshots_for(spec.key, keys),
        env=engine.env,
    )
    floor = engine.interval_floors.get(spec.key, 0.0)
    next_at = progress.next_at = next_poll_time(
        spec.config, engine.config, now, engine.rng, floor_seconds=floor
    )
    try:
        progress.stage = POLL
        plugin = engine.plugins[spec.plugin]
        result: PollResult = await plugin.poll(spec, ctx)
        progress.stage = PLANNING
        if state.cursor is not None and AiSettings.from_config(engine.config.ai, engine.env):
            # AI2 embeddings for `about:`, imported when AI is on (lexical otherwise)
            from mrt.ai_about import embed_about

            await embed_about(engine.config, engine.ruleset, result.events, engine.env, engine.db,
                              usage=engine.ai_usage)
        planned = plan_events(engine, spec, result, baseline=state.cursor is None, now=now)
    except RateLimited as exc:
        progress.stage = COMMIT
        with write_transaction(engine.db):
            leases.fence(lease)  # a late worker defers nothing either
            sources.record_deferral(
                spec.key, until=exc.until, message=str(exc), http_status=exc.http_status, now=now
            )
            cycle.record_metric(
                spec.key, now, outcome="deferred", error=str(exc), **progress.metric()
            )
        log.warning("%s deferred until %s: %s", spec.key, exc.until.isoformat(), exc)
        return CycleReport(spec.key, "deferred", requests=client.requests, error=str(exc))

    progress.stage = COMMIT
    success = cycle.CycleSuccess(
        cursor=result.cursor,
        validators=client.validators,
        snapshots=result.snapshots,
        degraded=result.degraded,
        http_status=_status_of(client.statuses),
        ratelimit_remaining=client.ratelimit_remaining,
        ratelimit_reset_at=client.ratelimit_reset_at,
        next_poll_at=next_at,
    )
    # one transaction: aggregate members and digest items are committed with their events
    with write_transaction(engine.db):
        leases.fence(lease)  # first: a late worker whose lease was taken commits nothing
        counts = cycle.commit_cycle(
            engine.db,
            spec.key,
            planned,
            success,
            rule_digest=engine.ruleset.digest,
            rule_canonical=engine.ruleset.canonical,
            metric=progress.metric(fetched=result.fetched, outcome="ok"),
            now=now,
        )
        collect_cycle(planned, now)
        kept_aside = _record_quarantined(engine, spec.key, result.quarantined, now)
    for item in kept_aside:  # once each, after the commit that stored it
        log.warning("quarantined: %s", item.reason, extra={"source_key": spec.key})
    log.info(
        "%s: %d new events, %d alerts, %d requests",
        spec.key,
        counts.new_events,
        counts.alerts,
        client.requests,
        extra={"source_key": spec.key},
    )
    report = CycleReport(
        spec.key,
        "ok",
        new_events=counts.new_events,
        alerts=counts.alerts,
        deliveries=counts.deliveries,
        requests=client.requests,
        alert_ids=counts.alert_ids,
        quarantined=len(kept_aside),
    )
    if state.failure_notified:
        recovered = f"MRT source {spec.key} has recovered."
        # what was polled stays committed; the notice is tried again after the next success
        if error := notify_or_record(engine, spec.key, recovered, now, notified=False):
            report.outcome, report.error = "failed", error
    return report


# at most this many reasons in one notice; the rest are counted, and all are in `mrt sources`
_NOTICE_ITEMS = 10


def _record_quarantined(
    engine: Engine, source_key: str, items: list[Quarantined], now: datetime
) -> list[Quarantined]:
    """Store the items a poll kept aside; tell the operators once about the ones never seen.

    Runs inside the cycle's transaction, so the record and its notice commit with the cursor
    that moved past the items: a crash loses both or neither, and a re-read is not news. The
    notice goes where "source is failing" goes (observability.ops_channels, else everywhere).
    """
    fresh = quarantine.record(source_key, items, now)
    if not fresh:
        return fresh
    shown = [f"- {clean_line(item.reason, max_chars=300)}" for item in fresh[:_NOTICE_ITEMS]]
    if len(fresh) > _NOTICE_ITEMS:
        shown.append(f"- and {len(fresh) - _NOTICE_ITEMS} more")
    count = f"{len(fresh)} upstream item{'s' if len(fresh) > 1 else ''}"
    subject = f"MRT source {source_key} quarantined {count}"
    title = f"{subject}: the rest of the page was processed and the cursor moved on"
    message = Message(subject=subject, body=f"{title}. See `mrt sources`.\n" + "\n".join(shown))
    ops_notice(
        engine.config,
        engine.targets,
        message,
        title=title,
        kind="source_health",
        tags=("source-health", "quarantine"),
        priority="normal",
        source_key=source_key,
        now=now,
    )
    return fresh
