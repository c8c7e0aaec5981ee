"""The one place a decision becomes an alert with its deliveries.

    renderer = Renderer(config)                                  message text, from the config
    plan_alert(title, decision, targets, write, ...)             the core the others share
    plan_event_alert(renderer, targets, event, decision)         one event (cycle, replay)
    plan_aggregate(renderer, targets, events, decision, ...)     an ended aggregation window
    plan_digest(renderer, targets, name, digest, per_channel, decision, ...)   a digest firing
    plan_notice(config, targets, message, ...)                   an operators' notice
    ops_notice(config, targets, message, ...)                    ... planned and stored

Each returns a PlannedAlert (mrt/store/cycle.py): title, priority, tags, the rules that matched,
one PlannedDelivery per target of each channel, and `payload`, what planning recorded about the
alert. The caller stores it in its own write transaction (commit_cycle, enqueue_replay,
create_alert), so an alert commits with its deliveries or not at all.

A missing channel, one behaviour everywhere: a channel the decision names that has no target
now (the config loader refuses a rule naming an unknown channel, but a replay to a channel
removed since, a reload, or `observability.ops_channels` can still name one) never holds the
alert back and is not an error. The alert is made with the deliveries of the channels that do
exist, possibly none (then it went to no one: mrt/store/views/alerts.went_to_no_one), the
channel is listed as `missing_channels` in the alert's payload, and in the event's decision
detail when the alert tells one event's decision (`detail`), and a warning is logged; the
console and `mrt trace` show the alert went to no one and why. An aggregate or a digest also
keeps `channel_problems` ({channel: why}): a missing channel ("channel not configured") or a
template that failed for that channel, so one bad channel never holds a whole flush back. A
single event's template error raises TemplateError (the cycle's `cursor_policy` decides).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mrt.config import Config, DigestConfig
from mrt.delivery.base import Message, Target
from mrt.errors import TemplateError
from mrt.events import TrackerEvent
from mrt.rules import Decision
from mrt.store.cycle import PlannedAlert, PlannedDelivery, create_alert

if TYPE_CHECKING:
    from mrt.delivery.digest_render import DigestEntry

log = logging.getLogger(__name__)

Targets = Mapping[str, Sequence[Target]]
NOT_CONFIGURED = "channel not configured"


class Renderer:
    """The text of every message, from the config's channels and templates (delivery/render.py
    for events, delivery/digest_render.py for digests). Built once per config: a reload builds
    a new one with the engine."""

    def __init__(self, config: Config) -> None:
        self.config = config

    def message(
        self, channel: str, events: Sequence[TrackerEvent], decision: Decision
    ) -> Message:
        """One event, or an aggregate of several, for `channel` (TemplateError on a bad one)."""
        # the renderer (and Jinja2) is imported by the first alert, not by every worker start
        from mrt.delivery.render import render_message

        return render_message(self.config, channel, events, decision)

    def writer(
        self, events: Sequence[TrackerEvent], decision: Decision
    ) -> Callable[[str], Message]:
        """`write(channel)` for one alert: the same messages as `message`, with the events'
        text cleaned once for all of the alert's channels."""
        from mrt.delivery.render import AlertText

        return AlertText(self.config, events, decision).message

    def digest(
        self, channel: str, name: str, entries: Sequence[DigestEntry], max_items: int
    ) -> Message:
        """The digest `name` for `channel` (TemplateError on a bad one)."""
        from mrt.delivery.digest_render import render_digest

        return render_digest(self.config, channel, name, entries, max_items)


def _route(
    channels: Sequence[str],
    targets: Targets,
    write: Callable[[str], Message],
    *,
    problems: dict[str, str] | None = None,
) -> tuple[tuple[PlannedDelivery, ...], list[str]]:
    """One delivery per target of each channel, and the channels without a target.

    With `problems`, a channel whose template fails is recorded there ({channel: why}) and the
    others go on; without it the TemplateError propagates.
    """
    deliveries: list[PlannedDelivery] = []
    missing: list[str] = []
    for channel in channels:
        channel_targets = targets.get(channel)
        if not channel_targets:
            missing.append(channel)
            if problems is not None:
                problems[channel] = NOT_CONFIGURED
            continue
        try:
            message = write(channel)
        except TemplateError as exc:
            if problems is None:
                raise
            problems[channel] = str(exc)
            log.error("alert for channel %s not rendered: %s", channel, exc)
            continue
        deliveries.extend(PlannedDelivery(channel, t.key, message) for t in channel_targets)
    if missing:
        log.warning("channels named for an alert are not configured: %s", ", ".join(missing))
    return tuple(deliveries), missing


def plan_alert(
    title: str,
    decision: Decision,
    targets: Targets,
    write: Callable[[str], Message],
    *,
    payload: Mapping[str, Any] | None = None,
    keep_going: bool = False,
) -> PlannedAlert:
    """The alert for `decision`: one delivery per target of each of its channels, each with
    the message `write(channel)`; what planning found is added to `payload`.

    `keep_going` (aggregates, digests): a channel whose template fails is recorded in
    `channel_problems` with the missing ones, and the others go on; otherwise it raises.
    """
    problems: dict[str, str] | None = {} if keep_going else None
    deliveries, missing = _route(decision.channels, targets, write, problems=problems)
    recorded = dict(payload or {})
    if problems:
        recorded["channel_problems"] = problems
    if missing:
        recorded["missing_channels"] = missing
    return PlannedAlert(
        title=title,
        priority=decision.priority,
        tags=decision.tags,
        matched=[{"rule": m.rule, "reasons": list(m.reasons)} for m in decision.matched],
        deliveries=deliveries,
        group_key=decision.group_key,
        payload=recorded,
    )


def plan_event_alert(
    renderer: Renderer,
    targets: Targets,
    event: TrackerEvent,
    decision: Decision,
    *,
    channels: Sequence[str] | None = None,
    detail: dict[str, Any] | None = None,
) -> PlannedAlert:
    """The alert for one event and its decision, to `channels` (default: the decision's).

    A missing channel is recorded in the payload and, when given, in `detail` (the event's
    decision detail). Raises TemplateError when a channel's template fails.
    """
    routed = decision if channels is None else replace(decision, channels=tuple(channels))
    plan = plan_alert(event.title, routed, targets, renderer.writer([event], decision))
    if detail is not None and "missing_channels" in plan.payload:
        detail["missing_channels"] = list(plan.payload["missing_channels"])
    return plan


def plan_aggregate(
    renderer: Renderer,
    targets: Targets,
    events: Sequence[TrackerEvent],
    decision: Decision,
    payload: Mapping[str, Any],
) -> PlannedAlert:
    """One alert listing every member of an ended aggregation window (`events`, oldest first).

    A channel missing or whose template fails is recorded (`channel_problems`), never raised.
    """
    first = events[0].title
    title = f"{len(events)} updates: {first}" if len(events) > 1 else first
    return plan_alert(
        title,
        decision,
        targets,
        lambda channel: renderer.message(channel, events, decision),
        payload=payload,
        keep_going=True,
    )


def plan_digest(
    renderer: Renderer,
    targets: Targets,
    name: str,
    digest: DigestConfig,
    per_channel: Mapping[str, Sequence[DigestEntry]],
    decision: Decision,
    payload: Mapping[str, Any],
    *,
    items: int,
) -> PlannedAlert:
    """One digest firing: each channel gets the entries meant for it (`per_channel`); `items`
    counts them all. Problems are recorded as for an aggregate."""
    return plan_alert(
        f"Digest {name}: {items} update{'s' if items != 1 else ''}",
        decision,
        targets,
        lambda channel: renderer.digest(channel, name, per_channel[channel], digest.max_items),
        payload=payload,
        keep_going=True,
    )


def plan_notice(
    config: Config,
    targets: Targets,
    message: Message,
    *,
    title: str,
    tags: tuple[str, ...],
    priority: str = "high",
) -> PlannedAlert:
    """A notice to `observability.ops_channels` (default: every configured channel)."""
    channels = tuple(config.observability.ops_channels or targets)
    notice = Decision(action="notify", channels=channels, priority=priority, tags=tags)
    return plan_alert(title, notice, targets, lambda _channel: message)


def ops_notice(
    config: Config,
    targets: Targets,
    message: Message,
    *,
    title: str,
    kind: str,
    tags: tuple[str, ...],
    priority: str = "high",
    source_key: str | None = None,
    now: datetime,
) -> None:
    """Store one operators' notice with its deliveries (call inside a write transaction).

    Alerts that MRT raises about itself: a source failing or recovering, upstream items kept
    aside, the database unavailable. The notice commits with what it tells of or not at all.
    """
    plan = plan_notice(config, targets, message, title=title, tags=tags, priority=priority)
    create_alert(
        plan,
        event_id=None,
        fingerprint=None,
        source_key=source_key,
        version_id=None,
        kind=kind,
        now=now,
    )
