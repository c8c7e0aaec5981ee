"""Container images: tag_published and tag_digest_changed, from Docker Hub's own API or, for
another registry (GHCR, ...), the OCI distribution API.

`GET {base}/v2/repositories/{namespace}/{repo}/tags?page_size=100` answers one page of tags,
newest `last_updated` first, each with its platform `images[]` (and their digests) and, for
recent pushes, the tag's own `digest`; `next` is the following page. One request per page, no
manifest HEAD: the page carries the digests. The first page is conditional (ETag /
Last-Modified). After the baseline, paging stops at the first page whose oldest tag is older
than the cursor. A single name (`rust`) is `library/rust`; `docker.io/` may be written.
The snapshot of an image is its tags and their digests: a tag it lacks is `tag_published`; a
tag named in `watch_digests` whose digest changed (`latest` re-pushed) is `tag_digest_changed`.
Docker Hub's rate limits are a budget: a 429 defers the source.

An image on another registry (`ghcr.io/o/r`) is read with `GET /v2/<name>/tags/list` (paged by
Link) and `HEAD /v2/<name>/manifests/<tag>` (its Docker-Content-Digest) only for tags that are new
or watched. A 401 with a Bearer challenge is answered once per poll with a token from its realm:
anonymous, or with `username_env` / `password_env` (Basic). The distribution API has no push
times: such events carry none and `mrt cursor reset --to` cannot select by date for them.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StringConstraints

from mrt.api import (
    BadItem,
    HostBudget,
    PollContext,
    PollResult,
    Quarantined,
    RootConfig,
    SourceError,
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
# The details messages and the console show, per event type ("*": the rest): (key, label).
EVENT_DETAILS = {
    "tag_published": (("tag", "Tag"), ("digest", "Digest"), ("platforms", "Platforms")),
    "tag_digest_changed": (("tag", "Tag"), ("digest", "Digest"), ("previous_digest", "Was")),
}
EVENT_WORDS = {"tag_published": "New image tag", "tag_digest_changed": "Image tag re-pushed"}
MISSING_TOKEN_COST = "only public images are seen (Docker Hub's tag API needs no token for them)"
# Docker Hub's pull limits do not apply to its tag API, but it is rate-limited: stay polite
BUDGETS = {"hub.docker.com": HostBudget(concurrency=2, requests=60, window_seconds=60)}
PAGE_SIZE = 100
MAX_PAGES = 10  # 1000 tags, newest first: enough for a baseline without spending the budget
_PART = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"


def _image(value: str) -> str:
    """`rust` -> `library/rust`; `docker.io/x/y` -> `x/y`; `ghcr.io/o/r` stays as written."""
    name = value.strip()
    for prefix in ("docker.io/", "index.docker.io/", "registry-1.docker.io/"):
        if name.startswith(prefix):
            name = name[len(prefix):]
    head, _, rest = name.partition("/")
    if rest and ("." in head or ":" in head or head == "localhost"):
        if not re.fullmatch(rf"{_PART}(?:/{_PART})*", rest):
            raise ValueError(f"{value!r}: expected registry/name such as "
                             "`ghcr.io/sgl-project/sglang` (lower case, no tag)")
        return name
    if "/" not in name:
        name = f"library/{name}"
    if not re.fullmatch(rf"{_PART}/{_PART}", name):
        raise ValueError(f"{value!r}: expected a Docker Hub image such as `vllm/vllm-openai` "
                         "or `rust` (lower case, no tag)")
    return name


def registry_of(image: str) -> tuple[str | None, str]:
    """(registry host, repository name); None for Docker Hub."""
    head, _, rest = image.partition("/")
    if rest and ("." in head or ":" in head or head == "localhost"):
        return head, rest
    return None, image


ImageName = Annotated[str, AfterValidator(_image)]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
RegistryUrl = Annotated[str, StringConstraints(pattern=r"^https?://[^\s/]+(/\S*)?$")]


class Config(SourceSection):
    """`sources.oci`: which images to watch, and which tags to watch for re-pushes."""

    images: list[ImageName] = Field(min_length=1)
    watch_digests: list[str] = Field(default_factory=lambda: ["latest"])
    # a registry's URL when it is not https://<host> (a mirror, a test)
    registry_urls: dict[str, RegistryUrl] = Field(default_factory=dict)
    username_env: EnvName | None = None  # credentials for the registry's token endpoint
    password_env: EnvName | None = None


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
    if registry_of(image)[0] is not None:
        return await poll_registry(spec, ctx, config, image)
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
           now: datetime, *, timed: bool = True) -> TrackerEvent:
    shown = image.removeprefix("library/")
    host, name = registry_of(image)
    if host is None:
        page = (f"https://hub.docker.com/_/{shown}" if image.startswith("library/")
                else f"https://hub.docker.com/r/{image}")
        where = f"{page}/tags?name={tag.name}"
    else:
        where = f"https://{host}/{name}"
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
        url=where,
        author=text_of(tag.item.get("last_updater_username")),
        occurred_at=tag.updated if timed else None,  # the distribution API has no times
        observed_at=now,
        details={"image": image, "tag": tag.name, "digest": tag.digest,
                 "previous_digest": previous, "platforms": tag.platforms,
                 "media_type": text_of(tag.item.get("media_type"))},
        raw={"name": tag.name, "digest": tag.digest, "last_updated": format_time(tag.updated)},
    )


# --- registries speaking the OCI distribution API (GHCR, ...) ---------------------------------

MANIFEST_ACCEPT = ", ".join((
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.docker.distribution.manifest.v2+json",
))
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


class _Registry:
    """One poll's calls to a registry: a 401's Bearer challenge is answered once with a token
    from its realm (anonymous, or with the credentials the env holds) and the call retried."""

    def __init__(self, ctx: PollContext, config: Config) -> None:
        self.ctx = ctx
        self.config = config
        self.token: str | None = None

    async def call(self, method: str, url: str, headers: dict[str, str],
                   conditional: bool = False) -> Any:
        for attempt in (1, 2):
            send = dict(headers)
            if self.token:
                send["Authorization"] = f"Bearer {self.token}"
            try:
                return await self.ctx.http.request_json(
                    method, url, headers=send, conditional=conditional, decode=method == "GET")
            except SourceError as error:
                challenge = error.context.get("challenge")
                if error.http_status != 401 or attempt == 2 or not challenge:
                    raise
                await self._fetch_token(str(challenge))
        raise AssertionError("unreachable")

    async def _fetch_token(self, challenge: str) -> None:
        scheme, _, rest = challenge.partition(" ")
        fields = dict(_CHALLENGE.findall(rest))
        if scheme.lower() != "bearer" or "realm" not in fields:
            raise SourceError(f"the registry's challenge is not a Bearer realm: {challenge[:120]}")
        params = {k: fields[k] for k in ("service", "scope") if k in fields}
        headers: dict[str, str] = {}
        user = self.ctx.env.get(self.config.username_env or "") if self.config.username_env else None
        password = (self.ctx.env.get(self.config.password_env or "")
                    if self.config.password_env else None)
        if user and password:
            import base64

            pair = base64.b64encode(f"{user}:{password}".encode()).decode()
            headers["Authorization"] = f"Basic {pair}"
        page = await self.ctx.http.request_json("GET", fields["realm"], params=params,
                                                headers=headers, conditional=False)
        doc = page.json
        token = (doc.get("token") or doc.get("access_token")) if isinstance(doc, dict) else None
        if not isinstance(token, str) or not token:
            raise UpstreamChanged(f"{page.url}: expected a JSON object with `token`", url=page.url)
        self.token = token


async def poll_registry(spec: SourceSpec, ctx: PollContext, config: Config,
                        image: str) -> PollResult:
    """`GET /v2/<name>/tags/list` (paged by Link), then `HEAD /v2/<name>/manifests/<tag>` for
    the tags that are new or watched: the digest is the Docker-Content-Digest header."""
    host, name = registry_of(image)
    assert host is not None
    site = (config.registry_urls.get(host) or f"https://{host}").rstrip("/")
    registry = _Registry(ctx, config)
    names: list[str] = []
    kept_aside: list[Quarantined] = []
    url: str | None = f"{site}/v2/{name}/tags/list?n={PAGE_SIZE}"
    pages = 0
    while url and pages < MAX_PAGES:
        page = await registry.call("GET", url, {}, conditional=pages == 0)
        pages += 1
        if page.not_modified:
            return PollResult(cursor=dict(ctx.cursor or {"tags": 0}))
        doc = valid_text(page.json)
        if not (isinstance(doc, dict) and isinstance(doc.get("tags"), list | None)):
            raise UpstreamChanged(f"{page.url}: expected a JSON object with `tags`", url=page.url)
        for tag in doc.get("tags") or []:
            if isinstance(tag, str) and re.fullmatch(r"[\w][\w.-]{0,127}", tag):
                names.append(tag)
            else:  # the spec's tag grammar; anything else is kept aside, the page goes on
                shown = text_of(tag)[:128] or "?"
                kept_aside.append(quarantine(spec.key, f"tag {shown}", {"tag": tag}, BadItem(
                    "tags[]", "a tag name ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})", tag),
                    item_key=f"tag:{shown}"))
        url = page.links.get("next")
    before = ctx.snapshots([image]).get(image)
    known: dict[str, str] = dict((before or {}).get("tags") or {})
    baseline = ctx.cursor is None
    watched = set(config.watch_digests)
    result = PollResult(fetched=len(names), quarantined=kept_aside)
    tags = dict(known)
    for tag in names:
        new = tag not in known
        if not (new or tag in watched):
            continue
        if baseline and tag not in watched:
            tags[tag] = ""  # its digest is asked only if it is ever watched
            continue
        head = await registry.call("HEAD", f"{site}/v2/{name}/manifests/{tag}",
                                   {"Accept": MANIFEST_ACCEPT})
        digest = head.headers.get("docker-content-digest") or ""
        tags[tag] = digest
        if baseline:
            continue
        item = Tag({"name": tag, "last_updated": format_time(ctx.now), "digest": digest
                    or "unknown"}, ctx.now)
        if new:
            result.events.append(_event(spec, image, item, "tag_published", None, ctx.now,
                                        timed=False))
        elif known[tag] and digest and known[tag] != digest:
            result.events.append(_event(spec, image, item, "tag_digest_changed", known[tag],
                                        ctx.now, timed=False))
    result.snapshots = {image: {"tags": tags}}
    result.cursor = {"tags": len(tags)}
    return result

