"""Hugging Face organisation models: model_added and model_updated (sha changed).

`GET {base}/api/models?author=ORG&sort=lastModified&direction=-1&limit=100&full=true`, newest
first, following `Link: rel="next"` until the first model older than the cursor. Any change
moves a model to the top, so a 304 on the first page means nothing changed.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    fingerprint_of,
    format_time,
    link_pages,
    parse_backfill,
    parse_time,
    quarantine,
    require_text,
    require_time,
    usable_time,
    valid_text,
)

DEFAULT_BASE = "https://huggingface.co"
DISPLAY_NAME = "Hugging Face"
# The details messages and the console show, per event type ("*": the rest): (key, label).
EVENT_DETAILS = {"*": (("pipeline_tag", "Task"), ("library_name", "Library"),
                         ("downloads", "Downloads"), ("likes", "Likes"))}
EVENT_WORDS = {"model_added": "New model", "model_updated": "Model updated"}
MISSING_TOKEN_COST = (
    "only public models are seen, under Hugging Face's lower anonymous rate limit"
)
# the Hub's policy header says 500 per 5 minutes
BUDGETS = {"huggingface.co": HostBudget(concurrency=4, requests=100, window_seconds=60)}
DEFAULT_SECTION = {"orgs": ["deepseek-ai"], "token_env": "HF_TOKEN"}
DETAIL_FIELDS = ("pipeline_tag", "library_name", "tags", "downloads", "likes", "gated",
                 "private", "createdAt", "lastModified", "sha")


class Config(SourceSection):
    """`sources.huggingface` (v0 keys: orgs, token_env). base_url falls back to $HF_ENDPOINT."""

    orgs: list[str] = Field(min_length=1)
    page_size: int = Field(100, ge=1, le=1000)
    max_pages: int = Field(20, ge=1)


def instances(name: str, section: Config, config: RootConfig) -> list[SourceSpec]:
    return [
        SourceSpec(key=f"huggingface:{org}", plugin="huggingface", section=name,
                   params={"org": org}, config=section)
        for org in section.orgs
    ]


def cursor_since(when: datetime) -> dict[str, Any]:
    """The cursor under which the next poll reports what changed after `when`
    (`mrt cursor reset --to`): models modified after then."""
    return {"last_modified_after": format_time(when)}


def base_url(config: SourceSection, env: Mapping[str, str]) -> str:
    """base_url, else $HF_ENDPOINT (as huggingface_hub reads it), else huggingface.co."""
    return (config.base_url or env.get("HF_ENDPOINT") or DEFAULT_BASE).rstrip("/")


async def poll(spec: SourceSpec, ctx: PollContext) -> PollResult:
    config = spec.config
    assert isinstance(config, Config)
    org = str(spec.params["org"])
    site = base_url(config, ctx.env)
    url = f"{site}/api/models"
    params = {"author": org, "sort": "lastModified", "direction": -1,
              "limit": config.page_size, "full": "true"}
    # v0 kept the same shape: {"last_modified_after": ISO}
    after = parse_time((ctx.cursor or {}).get("last_modified_after"))
    backfill = parse_backfill(config.backfill) if ctx.cursor is None else None
    watermark = after or backfill
    baseline = ctx.cursor is None and backfill is None

    by_id: dict[str, tuple[datetime, dict[str, Any]]] = {}  # seen twice while paging: once
    quarantined: dict[str, Quarantined] = {}
    newest = after
    async for page in link_pages(ctx.http, url, params=params,
                                 max_pages=1 if baseline else config.max_pages):
        if page.not_modified:
            return PollResult(cursor=dict(ctx.cursor or {}))
        if not isinstance(page.json, list):
            raise UpstreamChanged(f"{page.url}: expected a JSON list of models, got "
                                  f"{type(page.json).__name__}", url=page.url)
        older_seen = False
        for raw_item in page.json:
            item = valid_text(raw_item)
            modified = usable_time(item, "lastModified", ctx.now)
            if modified is not None:
                newest = max(newest, modified) if newest else modified
                if watermark and modified < watermark:
                    older_seen = True  # sorted newest first: the rest is older still
                    break
            try:
                model_id, modified = _checked(item, ctx.now)
            except BadItem as error:
                found = _quarantined(spec, item, error)
                quarantined[found.item_key] = found
                continue
            seen = by_id.get(model_id)
            if seen is None or seen[0] < modified:
                by_id[model_id] = (modified, item)
        if older_seen:
            break

    models = [item for _, item in sorted(by_id.values(), key=lambda m: m[0], reverse=True)]
    kept_aside = list(quarantined.values())

    cursor = {"last_modified_after": format_time(newest)} if newest else {}
    snapshots = {str(m["id"]): snapshot_of(m) for m in models}
    if baseline:
        return PollResult(snapshots=snapshots, cursor=cursor, fetched=len(models),
                          quarantined=kept_aside)
    known = ctx.snapshots(list(snapshots))
    events: list[TrackerEvent] = []
    for item in reversed(models):  # upstream order of change: oldest first
        event = change(spec, site, org, item, known.get(str(item["id"])), watermark, ctx.now)
        if event is not None:
            events.append(event)
    return PollResult(events=events, snapshots=snapshots, cursor=cursor, fetched=len(models),
                      quarantined=kept_aside)


def _checked(item: Any, now: datetime) -> tuple[str, datetime]:
    """The model's id and time, once its identity and required fields are usable.

    Required: `id`, `lastModified` (the cursor; present only with full=true) and `sha` (string
    or null: a model_updated is a change of it). Other fields are read leniently.
    """
    if not isinstance(item, dict):
        raise BadItem("item", "a JSON object", item)
    model_id = require_text(item, "id")
    modified = require_time(item, "lastModified", now)
    sha = item.get("sha")
    if sha is not None and not isinstance(sha, str):
        raise BadItem("sha", "a string", sha)
    return model_id, modified


def _quarantined(spec: SourceSpec, item: Any, bad: BadItem) -> Quarantined:
    fields = item if isinstance(item, dict) else {}
    model_id = fields.get("id")
    if isinstance(model_id, str) and model_id.strip():
        label, key = f"model {model_id}", f"id:{model_id}"
    else:
        # the Hub's other names for a model: modelId (the same id), _id (its database id)
        alias = fields.get("modelId") if isinstance(fields.get("modelId"), str) else None
        oid = fields.get("_id") if isinstance(fields.get("_id"), str) else None
        label = f"model ? ({alias})" if alias else f"model ? (_id {oid})" if oid else "model ?"
        key = f"id:{alias}" if alias else f"_id:{oid}" if oid else content_key(item)
        model_id = alias or oid
    return quarantine(spec.key, label, item, bad, item_key=key, upstream_id=model_id)


def snapshot_of(item: Mapping[str, Any]) -> dict[str, Any]:
    return {"sha": item.get("sha"), "lastModified": item.get("lastModified"),
            "createdAt": item.get("createdAt")}


def change(
    spec: SourceSpec,
    site: str,
    org: str,
    item: Mapping[str, Any],
    before: Mapping[str, Any] | None,
    watermark: datetime | None,
    now: datetime,
) -> TrackerEvent | None:
    """model_added for an id never seen, model_updated when the sha moved; else None."""
    model_id = str(item["id"])
    sha = item.get("sha")
    if before is None:
        created = parse_time(item.get("createdAt"))
        # a model created before the window existed already: we just never recorded it
        if watermark is None or created is None or created >= watermark:
            return _event(spec, site, org, item, "model_added", model_id, created, now)
        return _event(spec, site, org, item, "model_updated", str(sha or model_id),
                      parse_time(item.get("lastModified")), now)
    if sha and sha != before.get("sha"):
        return _event(spec, site, org, item, "model_updated", str(sha),
                      parse_time(item.get("lastModified")), now)
    return None


def _event(
    spec: SourceSpec,
    site: str,
    org: str,
    item: Mapping[str, Any],
    kind: str,
    event_id: str,
    occurred_at: datetime | None,
    now: datetime,
) -> TrackerEvent:
    model_id = str(item["id"])
    details = {name: item.get(name) for name in DETAIL_FIELDS}
    tags = item.get("tags") if isinstance(item.get("tags"), list) else []
    card = item.get("cardData") if isinstance(item.get("cardData"), dict) else {}
    return TrackerEvent(
        source="huggingface",
        source_key=spec.key,
        resource_type="model",
        resource_id=model_id,
        event_type=kind,
        event_id=event_id,
        title=model_id,
        summary=" ".join(p for p in (item.get("pipeline_tag"), item.get("library_name"),
                                     (card or {}).get("license")) if isinstance(p, str)),
        url=f"{site}/{model_id}",
        author=org,
        labels=tuple(t for t in tags or () if isinstance(t, str)),
        occurred_at=occurred_at,
        observed_at=now,
        details=details,
        raw={k: item.get(k) for k in ("id", "sha", "lastModified", "createdAt")},
        legacy_fingerprint=fingerprint_of("huggingface", "org_model", org, "model_updated",
                                          str(item.get("sha") or model_id)),
    )


def v0_state(
    rows: list[tuple[str, str, dict[str, Any], datetime | None]],
) -> dict[str, tuple[dict[str, Any], datetime | None]]:
    """v0's `huggingface:{org}:models` {"last_modified_after": T} -> `huggingface:{org}`, same."""
    return {
        f"huggingface:{org}": ({"last_modified_after": cursor["last_modified_after"]}, when)
        for org, kind, cursor, when in rows
        if kind == "models" and "last_modified_after" in cursor
    }
