"""Releases of projects on an example package registry: a third-party MRT source.

`GET {base_url}/api/projects/{project}/releases` answers a JSON list, newest first, of
`{"version": "1.2.0", "published_at": ISO 8601, "summary": "...", "url": "..."}`. Each release
published after the cursor is one `version_published` event. Like every source it imports only
`mrt.api`, and says about itself what MRT's other layers ask.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from mrt.api import (
    BadItem,
    HostBudget,
    PollContext,
    PollResult,
    Quarantined,
    RootConfig,
    SourceSection,
    SourceSpec,
    TrackerEvent,
    UpstreamChanged,
    content_key,
    format_time,
    quarantine,
    require_text,
    require_time,
    text_of,
    valid_text,
)

DEFAULT_BASE = "https://registry.example.org"
DISPLAY_NAME = "Example Registry"
EVENT_WORDS = {"version_published": "New registry release"}
MISSING_TOKEN_COST = "only public projects are seen"
BUDGETS = {"registry.example.org": HostBudget(concurrency=1, requests=30, window_seconds=60)}


class Config(SourceSection):
    """`sources.example`: which projects to watch."""

    projects: list[str] = Field(min_length=1)


def instances(name: str, section: Config, config: RootConfig) -> list[SourceSpec]:
    return [
        SourceSpec(key=f"example:{project}", plugin="example", section=name,
                   params={"project": project}, config=section)
        for project in section.projects
    ]


def cursor_since(when: datetime) -> dict[str, Any]:
    """`mrt cursor reset --to`: releases published after `when` are news."""
    return {"published_after": format_time(when)}


async def poll(spec: SourceSpec, ctx: PollContext) -> PollResult:
    config = spec.config
    assert isinstance(config, Config)
    project = str(spec.params["project"])
    url = f"{(config.base_url or DEFAULT_BASE).rstrip('/')}/api/projects/{project}/releases"
    page = await ctx.http.get_json(url)
    if page.not_modified:
        return PollResult(cursor=dict(ctx.cursor or {}))
    if not isinstance(page.json, list):
        raise UpstreamChanged(f"{page.url}: expected a JSON list of releases", url=page.url)
    after = _time((ctx.cursor or {}).get("published_after"), ctx.now)
    newest, events, kept_aside = after, [], []
    for raw in page.json:
        item = valid_text(raw)
        try:
            version, published = _checked(item, ctx.now)
        except BadItem as bad:
            kept_aside.append(_quarantined(spec, item, bad))
            continue
        newest = max(newest, published) if newest else published
        if ctx.cursor is not None and (after is None or published > after):
            events.append(_event(spec, project, item, version, published, ctx.now))
    cursor = {"published_after": format_time(newest)} if newest else {}
    return PollResult(events=events[::-1], cursor=cursor, fetched=len(page.json),
                      quarantined=kept_aside)


def _time(value: Any, now: datetime) -> datetime | None:
    try:
        return require_time({"t": value}, "t", now)
    except BadItem:
        return None


def _checked(item: Any, now: datetime) -> tuple[str, datetime]:
    if not isinstance(item, dict):
        raise BadItem("item", "a JSON object", item)
    return require_text(item, "version"), require_time(item, "published_at", now)


def _quarantined(spec: SourceSpec, item: Any, bad: BadItem) -> Quarantined:
    version = item.get("version") if isinstance(item, dict) else None
    label = f"release {text_of(version) or '?'}"
    return quarantine(spec.key, label, item, bad, item_key=content_key(item))


def _event(spec: SourceSpec, project: str, item: dict[str, Any], version: str,
           published: datetime, now: datetime) -> TrackerEvent:
    return TrackerEvent(
        source="example",
        source_key=spec.key,
        resource_type="project",
        resource_id=project,
        event_type="version_published",
        event_id=version,
        title=f"{project} {version}",
        summary=text_of(item.get("summary")),
        url=text_of(item.get("url")),
        occurred_at=published,
        observed_at=now,
        raw={k: item.get(k) for k in ("version", "published_at")},
    )
