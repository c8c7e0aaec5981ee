"""Docker Hub images: tag_published and tag_digest_changed, from Docker Hub's own API.

`GET {base}/v2/repositories/{namespace}/{repo}/tags?page_size=100` answers one page of tags,
newest `last_updated` first, each with its platform `images[]` (and their digests) and, for
recent pushes, the tag's own `digest`; `next` is the following page. One request per page, no
manifest HEAD: the page carries the digests. The first page is conditional (ETag /
Last-Modified). After the baseline, paging stops at the first page whose oldest tag is older
than the cursor. A single name (`rust`) is `library/rust`; `docker.io/` may be written.
The snapshot of an image is its tags and their digests: a tag it lacks is `tag_published`; a
tag named in `watch_digests` whose digest changed (`latest` re-pushed) is `tag_digest_changed`.
Docker Hub's rate limits are a budget: a 429 defers the source.

Registries other than Docker Hub (GHCR, the distribution API's token flow) are not supported
yet: such an image is refused when the config is loaded.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field

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
    format_time,
    parse_backfill,
    parse_time,
    quarantine,
    require_time,
    text_of,
    valid_text,
)

DEFAULT_BASE = "https://hub.docker.com"
DISPLAY_NAME = "Docker Hub"
EVENT_WORDS = {"tag_published": "New image tag", "tag_digest_changed": "Image tag re-pushed"}
MISSING_TOKEN_COST = "only public images are seen (Docker Hub's tag API needs no token for them)"
# Docker Hub's pull limits do not apply to its tag API, but it is rate-limited: stay polite
BUDGETS = {"hub.docker.com": HostBudget(concurrency=2, requests=60, window_seconds=60)}
PAGE_SIZE = 100
MAX_PAGES = 10  # 1000 tags, newest first: enough for a baseline without spending the budget
_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"


def _image(value: str) -> str:
    """`rust` -> `library/rust`; `docker.io/x/y` -> `x/y`; another registry is refused."""
    name = value.strip()
    for prefix in ("docker.io/", "index.docker.io/", "registry-1.docker.io/"):
        if name.startswith(prefix):
            name = name[len(prefix):]
    head = name.split("/", 1)[0]
    if "/" in name and ("." in head or ":" in head or head == "localhost"):
        raise ValueError(f"{value!r}: only Docker Hub images are supported so far "
                         f"(registry {head!r} is not); write namespace/repository")
    if "/" not in name:
        name = f"library/{name}"
    if not re.fullmatch(rf"{_PART}/{_PART}", name):
        raise ValueError(f"{value!r}: expected a Docker Hub image such as `vllm/vllm-openai` "
                         "or `rust` (lower case, no tag)")
    return name


ImageName = Annotated[str, AfterValidator(_image)]


class Config(SourceSection):
    """`sources.oci`: which images to watch, and which tags to watch for re-pushes."""

    images: list[ImageName] = Field(min_length=1)
    watch_digests: list[str] = Field(default_factory=lambda: ["latest"])


def instances(name: str, section: Config, config: RootConfig) -> list[SourceSpec]:
    return [
        SourceSpec(key=f"oci:{image}", plugin="oci", section=name, params={"image": image},
                   config=section)
        for image in dict.fromkeys(section.images)
    ]


def cursor_since(when: datetime) -> dict[str, Any]:
    """`mrt cursor reset --to`: tags updated after `when` are news again."""
    return {"updated_after": format_time(when)}


class Tag:
    """One tag as a page says: its name, when last pushed, and its digest (fingerprint)."""

    def __init__(self, item: Any, now: datetime) -> None:
        if not isinstance(item, dict):
            raise BadItem("results[]", "a JSON object", item)
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            raise BadItem("name", "a tag name", name)
        self.name = name
        self.updated = require_time(item, "last_updated", now)
        raw_images = item.get("images")
        images: list[Any] = raw_images if isinstance(raw_images, list) else []
        self.platforms = {
            "/".join(p for p in (text_of(i.get("os")), text_of(i.get("architecture")),
                                 text_of(i.get("variant"))) if p): text_of(i.get("digest"))
            for i in images if isinstance(i, dict) and i.get("digest")}
        digest = item.get("digest")
        if isinstance(digest, str) and digest:
            self.digest = digest
        elif self.platforms:  # older tags carry only their platforms' digests
            self.digest = "platforms:" + ",".join(sorted(self.platforms.values()))
        else:
            raise BadItem("digest", "a digest or images[] with digests", digest)
        self.item = item


async def poll(spec: SourceSpec, ctx: PollContext) -> PollResult:
    config = spec.config
    assert isinstance(config, Config)
    image = str(spec.params["image"])
    site = (config.base_url or DEFAULT_BASE).rstrip("/")
    cursor_in = ctx.cursor or {}
    after = parse_time(cursor_in.get("updated_after"))
    backfill = parse_backfill(config.backfill) if ctx.cursor is None else None
    watermark = after or backfill
    tags: list[Tag] = []
    kept_aside: list[Quarantined] = []
    url: str | None = f"{site}/v2/repositories/{image}/tags?page_size={PAGE_SIZE}"
    pages = 0
    while url and pages < MAX_PAGES:
        page = await ctx.http.get_json(url, conditional=pages == 0)
        pages += 1
        if page.not_modified:
            return PollResult(cursor=dict(cursor_in))
        doc = valid_text(page.json)
        if not (isinstance(doc, dict) and isinstance(doc.get("results"), list)):
            raise UpstreamChanged(f"{page.url}: expected a JSON object with `results`",
                                  url=page.url)
        seen: list[Tag] = []
        for item in doc["results"]:
            try:
                seen.append(Tag(item, ctx.now))
            except BadItem as bad:
                label = text_of(item.get("name")) if isinstance(item, dict) else ""
                kept_aside.append(quarantine(spec.key, f"tag {label or '?'}", item, bad,
                                             item_key=f"tag:{label or '?'}",
                                             upstream_id=label or None))
        tags.extend(seen)
        following = doc.get("next")
        url = following if isinstance(following, str) and following else None
        if after and seen and min(t.updated for t in seen) <= after:
            break  # newest first: the rest is older than the cursor

    before = ctx.snapshots([image]).get(image)
    known: dict[str, str] = dict((before or {}).get("tags") or {})
    times = [t.updated for t in tags] + ([after] if after else [])
    newest = max(times, default=None)
    cursor = {"updated_after": format_time(newest) if newest else None}
    snapshot = {"tags": {**known, **{t.name: t.digest for t in tags}}}
    result = PollResult(snapshots={image: snapshot}, cursor=cursor, fetched=len(tags),
                        quarantined=kept_aside)
    if ctx.cursor is None and backfill is None:
        return result  # the silent baseline
    by_date = before is None or "reset_to" in cursor_in
    watched = set(config.watch_digests)
    for tag in sorted(tags, key=lambda t: (t.updated, t.name)):
        fresh = watermark is None or tag.updated > watermark
        if (tag.name not in known and fresh) or (by_date and fresh and watermark):
            result.events.append(_event(spec, image, tag, "tag_published", None, ctx.now))
        elif tag.name in known and tag.name in watched and known[tag.name] != tag.digest:
            result.events.append(_event(spec, image, tag, "tag_digest_changed", known[tag.name],
                                        ctx.now))
    return result


def _event(spec: SourceSpec, image: str, tag: Tag, kind: str, previous: str | None,
           now: datetime) -> TrackerEvent:
    shown = image.removeprefix("library/")
    page = (f"https://hub.docker.com/_/{shown}" if image.startswith("library/")
            else f"https://hub.docker.com/r/{image}")
    moved = kind == "tag_digest_changed"
    return TrackerEvent(
        source="oci",
        source_key=spec.key,
        resource_type="image",
        resource_id=image,
        event_type=kind,
        event_id=f"{tag.name}@{tag.digest}" if moved else tag.name,
        title=f"{shown}:{tag.name}" + (" re-pushed" if moved else ""),
        summary=f"digest {previous} → {tag.digest}" if moved else "",
        url=f"{page}/tags?name={tag.name}",
        author=text_of(tag.item.get("last_updater_username")),
        occurred_at=tag.updated,
        observed_at=now,
        details={"image": image, "tag": tag.name, "digest": tag.digest,
                 "previous_digest": previous, "platforms": tag.platforms,
                 "media_type": text_of(tag.item.get("media_type"))},
        raw={"name": tag.name, "digest": tag.digest, "last_updated": format_time(tag.updated)},
    )
