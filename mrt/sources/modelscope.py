"""ModelScope organisation models through the OpenAPI, with a degraded fallback.

`GET {base}/openapi/v1/models?owner=ORG&sort=last_modified&page_number=N&page_size=50`
answers `{success, data: {models, total_count}}` newest first. `success: false` is an error
with its code and message, never "no models". On a 404 or an envelope we do not understand,
and when `fallback` is on, the legacy list endpoint (`PUT /api/v1/dolphin/models`) is used and
the poll reports itself degraded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import Field

from mrt.api import (
    BadItem,
    HostBudget,
    HttpClient,
    PollContext,
    PollResult,
    Quarantined,
    RootConfig,
    SourceError,
    SourceSection,
    SourceSpec,
    TrackerEvent,
    UpstreamChanged,
    content_key,
    fingerprint_of,
    format_time,
    parse_backfill,
    parse_time,
    quarantine,
    require_optional_time,
    require_text,
    require_time,
    text_of,
    usable_time,
    valid_text,
)

DEFAULT_BASE = "https://modelscope.cn"
DISPLAY_NAME = "ModelScope"
# The details messages and the console show, per event type ("*": the rest): (key, label).
EVENT_DETAILS = {"*": (("display_name", "Name"), ("tasks", "Tasks"), ("license", "License"),
                         ("downloads", "Downloads"))}
EVENT_WORDS = {"model_added": "New model", "model_updated": "Model updated"}
MISSING_TOKEN_COST = "only public models are seen"
BUDGETS = {"modelscope.cn": HostBudget(concurrency=2, requests=60, window_seconds=60)}
DEFAULT_SECTION = {"orgs": ["deepseek-ai"]}
MAX_WINDOW = 3000  # the OpenAPI refuses page_number * page_size > 3000


class Config(SourceSection):
    """`sources.modelscope` (v0 key: orgs)."""

    orgs: list[str] = Field(min_length=1)
    page_size: int = Field(50, ge=1, le=50)
    fallback: bool = True  # on a 404 or a changed shape, try the legacy list endpoint


def instances(name: str, section: Config, config: RootConfig) -> list[SourceSpec]:
    return [
        SourceSpec(key=f"modelscope:{org}", plugin="modelscope", section=name,
                   params={"org": org}, config=section)
        for org in section.orgs
    ]


def cursor_since(when: datetime) -> dict[str, Any]:
    """The cursor under which the next poll reports what changed after `when`
    (`mrt cursor reset --to`): models modified after then."""
    return {"last_modified_after": format_time(when)}


@dataclass(frozen=True, slots=True)
class Model:
    """One model as either endpoint describes it."""

    id: str
    display_name: str
    last_modified: datetime | None
    created_at: datetime | None
    details: dict[str, Any]


@dataclass(slots=True)
class _Walk:
    models: list[Model]
    not_modified: bool = False
    quarantined: dict[str, Quarantined] = field(default_factory=dict)

    def keep_aside(self, source_key: str, item: Any, bad: BadItem) -> None:
        found = _quarantined(source_key, item, bad)
        self.quarantined[found.item_key] = found


async def poll(spec: SourceSpec, ctx: PollContext) -> PollResult:
    config = spec.config
    assert isinstance(config, Config)
    org = str(spec.params["org"])
    site = (config.base_url or DEFAULT_BASE).rstrip("/")
    cursor = ctx.cursor or {}
    after = parse_time(cursor.get("last_modified_after"))
    backfill = parse_backfill(config.backfill) if ctx.cursor is None else None
    watermark = after or backfill
    baseline = ctx.cursor is None and backfill is None
    v0_known = {str(i) for i in cursor.get("known_model_ids") or () if isinstance(i, str)}

    degraded = None
    try:
        walk = await _openapi_models(ctx.http, site, org, config.page_size, watermark, baseline,
                                     ctx.now, spec.key)
    except SourceError as exc:
        changed = isinstance(exc, UpstreamChanged) or exc.http_status == 404
        if not (config.fallback and changed):
            raise
        degraded = (f"the ModelScope OpenAPI failed ({exc.message}); fell back to the legacy "
                    "list endpoint PUT /api/v1/dolphin/models")
        walk = await _dolphin_models(ctx.http, site, org, config.page_size, watermark, baseline,
                                     ctx.now, spec.key)
    if walk.not_modified:
        return PollResult(cursor=dict(cursor), degraded=degraded)

    newest = after
    for model in walk.models:
        if model.last_modified:
            newest = max(newest, model.last_modified) if newest else model.last_modified
    snapshots = {m.id: snapshot_of(m) for m in walk.models}
    left_over = sorted(v0_known - set(snapshots))  # v0's knowledge we have not replaced yet
    new_cursor: dict[str, Any] = {}
    if newest:
        new_cursor["last_modified_after"] = format_time(newest)
    if left_over:
        new_cursor["known_model_ids"] = left_over
    kept_aside = list(walk.quarantined.values())
    if baseline:
        return PollResult(snapshots=snapshots, cursor=new_cursor, fetched=len(walk.models),
                          degraded=degraded, quarantined=kept_aside)
    known = ctx.snapshots(list(snapshots))
    events = []
    for model in reversed(walk.models):  # oldest change first
        event = change(spec, site, org, model, known.get(model.id), model.id in v0_known,
                       watermark, ctx.now)
        if event is not None:
            events.append(event)
    return PollResult(events=events, snapshots=snapshots, cursor=new_cursor,
                      fetched=len(walk.models), degraded=degraded, quarantined=kept_aside)


async def _openapi_models(
    http: HttpClient, site: str, org: str, size: int, watermark: datetime | None, baseline: bool,
    now: datetime, source_key: str,
) -> _Walk:
    url = f"{site}/openapi/v1/models"
    walk = _Walk([])
    models = walk.models
    number = 1
    while number * size <= MAX_WINDOW:
        page = await http.get_json(
            url, params={"owner": org, "sort": "last_modified", "page_number": number,
                         "page_size": size},
            conditional=number == 1)
        if page.not_modified:
            return _Walk([], not_modified=True)
        body = valid_text(page.json)  # its message may reach last_error: make it storable
        if isinstance(body, dict) and body.get("success") is False:
            raise SourceError(
                f"{page.url}: ModelScope said success=false: {body.get('code')}: "
                f"{body.get('message')}", url=page.url, status=page.status,
                code=body.get("code"), request_id=body.get("request_id"))
        data = body.get("data") if isinstance(body, dict) else None
        items = data.get("models") if isinstance(data, dict) else None
        if (not isinstance(body, dict) or body.get("success") is not True
                or not isinstance(items, list)):
            raise UpstreamChanged(f"{page.url}: not the {{success, data: {{models}}}} envelope: "
                                  f"{str(body)[:200]}", url=page.url)
        batch = []
        for item in items:
            try:
                batch.append(_openapi_model(item, now))
            except BadItem as error:
                if not _older_item(item, "last_modified", watermark, now):
                    walk.keep_aside(source_key, item, error)
        models.extend(m for m in batch if not _older(m, watermark))
        total = data.get("total_count") if isinstance(data, dict) else None
        if (baseline or len(items) < size or any(_older(m, watermark) for m in batch)
                or (isinstance(total, int) and number * size >= total)):
            break
        number += 1
    return walk


def _older(model: Model, watermark: datetime | None) -> bool:
    return bool(watermark and model.last_modified and model.last_modified < watermark)


def _older_item(item: Any, field: str, watermark: datetime | None, now: datetime) -> bool:
    """A bad item older than the cursor was seen (and kept aside) before: not news again."""
    modified = usable_time(item, field, now)
    return bool(watermark and modified and modified < watermark)


def _openapi_model(item: Any, now: datetime) -> Model:
    """Required: `id` and `last_modified` (the cursor); other fields are read leniently."""
    if not isinstance(item, dict):
        raise BadItem("item", "a JSON object", item)
    model_id = require_text(item, "id")
    modified = require_time(item, "last_modified", now)
    return Model(
        id=model_id,
        display_name=text_of(item.get("display_name")) or model_id,
        last_modified=modified,
        created_at=parse_time(item.get("created_at")),
        details={k: item.get(k) for k in ("display_name", "tasks", "license", "downloads",
                                          "likes", "tags", "private", "gated", "created_at",
                                          "last_modified")},
    )


async def _dolphin_models(
    http: HttpClient, site: str, org: str, size: int, watermark: datetime | None, baseline: bool,
    now: datetime, source_key: str,
) -> _Walk:
    """The legacy list the web site uses; its records may lack times (then: additions only)."""
    url = f"{site}/api/v1/dolphin/models"
    walk = _Walk([])
    models = walk.models
    number = 1
    while number * size <= MAX_WINDOW:
        page = await http.request_json("PUT", url, json_body={
            "PageSize": size, "PageNumber": number, "SortBy": "GmtModified", "Target": "",
            "SingleCriterion": [],
            "Criterion": [{"category": "organizations", "predicate": "contains",
                           "values": [org]}],
        }, conditional=False)
        body = valid_text(page.json)  # its message may reach last_error: make it storable
        if isinstance(body, dict) and body.get("Success") is False:
            raise SourceError(f"{page.url}: ModelScope said Success=false: {body.get('Code')}: "
                              f"{body.get('Message')}", url=page.url, status=page.status)
        listing = ((body.get("Data") or {}).get("Model") or {}) if isinstance(body, dict) else {}
        items = listing.get("Models") if isinstance(listing, dict) else None
        if not isinstance(items, list):
            raise UpstreamChanged(f"{page.url}: the legacy list has no Data.Model.Models either: "
                                  f"{str(body)[:200]}", url=page.url)
        # the "contains" criterion also matches other owners' names: keep this org's own
        batch = []
        for item in items:
            try:
                model = _dolphin_model(item, now)
            except BadItem as error:
                if not _older_item(item, "GmtModified", watermark, now):
                    walk.keep_aside(source_key, item, error)
                continue
            if model.id.startswith(f"{org}/"):
                batch.append(model)
        models.extend(m for m in batch if not _older(m, watermark))
        total = listing.get("TotalCount")
        if (baseline or len(items) < size or any(_older(m, watermark) for m in batch)
                or (isinstance(total, int) and number * size >= total)):
            break
        number += 1
    return walk


def _dolphin_model(item: Any, now: datetime) -> Model:
    """Required: a name (Path/Name, or BackendSupport.model_id); its times are optional, but
    present they must be usable (one far in the future would pin the cursor there)."""
    if not isinstance(item, dict):
        raise BadItem("item", "a JSON object", item)
    backend = item.get("BackendSupport") if isinstance(item.get("BackendSupport"), dict) else {}
    name, path = item.get("Name"), item.get("Path")
    model_id = (f"{path}/{name}" if isinstance(name, str) and isinstance(path, str)
                and name.strip() and path.strip() else (backend or {}).get("model_id"))
    if not isinstance(model_id, str) or not model_id.strip():
        raise BadItem("Name", "a model name (Path/Name)", item.get("Name"))
    times = {}
    for field_name in ("LastUpdatedTime", "GmtModified", "CreatedTime", "GmtCreated"):
        require_optional_time(item, field_name, now)
        times[field_name] = parse_time(item.get(field_name))
    modified = times["LastUpdatedTime"] or times["GmtModified"]
    created = times["CreatedTime"] or times["GmtCreated"]
    return Model(
        id=model_id,
        display_name=text_of(item.get("ChineseName")) or model_id,
        last_modified=modified,
        created_at=created,
        details={"display_name": item.get("ChineseName"), "downloads": item.get("Downloads"),
                 "license": item.get("License"),
                 "created_at": format_time(created) if created else None,
                 "last_modified": format_time(modified) if modified else None},
    )


def snapshot_of(model: Model) -> dict[str, Any]:
    return {"last_modified": format_time(model.last_modified) if model.last_modified else None}


def change(
    spec: SourceSpec,
    site: str,
    org: str,
    model: Model,
    before: Mapping[str, Any] | None,
    known_to_v0: bool,
    watermark: datetime | None,
    now: datetime,
) -> TrackerEvent | None:
    modified = format_time(model.last_modified) if model.last_modified else None
    if before is None:
        if known_to_v0:
            return None  # v0 already announced it; this poll only records its snapshot
        if watermark is None or model.created_at is None or model.created_at >= watermark:
            return _event(spec, site, org, model, "model_added", model.id, model.created_at, now)
        before = {}  # existed before the window, never recorded: its change is an update
    if modified and modified != before.get("last_modified"):
        return _event(spec, site, org, model, "model_updated", modified, model.last_modified,
                      now)
    return None


def _event(
    spec: SourceSpec,
    site: str,
    org: str,
    model: Model,
    kind: str,
    event_id: str,
    occurred_at: datetime | None,
    now: datetime,
) -> TrackerEvent:
    listed = model.details.get("tasks")
    tasks = [t for t in listed if isinstance(t, str)] if isinstance(listed, list) else []
    return TrackerEvent(
        source="modelscope",
        source_key=spec.key,
        resource_type="model",
        resource_id=model.id,
        event_type=kind,
        event_id=event_id,
        title=model.display_name,
        summary=" ".join(tasks),
        url=f"{site}/models/{model.id}",
        author=org,
        labels=tuple(tasks),
        occurred_at=occurred_at,
        observed_at=now,
        details=dict(model.details),
        raw={"id": model.id, **model.details},
        legacy_fingerprint=fingerprint_of("modelscope", "org_model", org, "model_added",
                                          model.id),
    )


def _quarantined(source_key: str, item: Any, bad: BadItem) -> Quarantined:
    fields = item if isinstance(item, dict) else {}
    model_id = fields.get("id") if isinstance(fields.get("id"), str) else None
    if model_id is None and isinstance(fields.get("Name"), str):
        path = fields.get("Path")
        model_id = f"{path}/{fields['Name']}" if isinstance(path, str) else fields["Name"]
    if model_id and model_id.strip():
        return quarantine(source_key, f"model {model_id}", item, bad, item_key=f"id:{model_id}",
                          upstream_id=model_id)
    return quarantine(source_key, "model ?", item, bad, item_key=content_key(item))


def v0_state(
    rows: list[tuple[str, str, dict[str, Any], datetime | None]],
) -> dict[str, tuple[dict[str, Any], datetime | None]]:
    """v0's `modelscope:{org}:models` {"known_model_ids": [...]} -> `modelscope:{org}`, same."""
    return {
        f"modelscope:{org}": ({"known_model_ids": list(cursor["known_model_ids"])}, when)
        for org, kind, cursor, when in rows
        if kind == "models" and isinstance(cursor.get("known_model_ids"), list)
    }
