"""GitHub releases and tags of a repository, each kind under its own source key.

`github-releases:{o}/{r}` reads `GET {base}/repos/{o}/{r}/releases?per_page=N` (newest first;
one conditional page is the window) and reports release_published, release_edited (name or
notes changed), release_promoted (a pre-release became a release) and release_deleted (a
release seen in the previous window is gone while it would still be inside this one).
`github-tags:{o}/{r}` reads `GET {base}/repos/{o}/{r}/tags` (every page, up to max_pages) and
reports tag_created. The issues/PRs key `github:{o}/{r}` is untouched, so cursors and snapshots
stored before these kinds existed keep their meaning.

Part of the GitHub source plugin (mrt/sources/github/); it imports MRT only through mrt.api.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from mrt.api import (
    BadItem,
    PollContext,
    PollResult,
    Quarantined,
    SourceSpec,
    TrackerEvent,
    UpstreamChanged,
    content_key,
    format_time,
    link_pages,
    parse_backfill,
    parse_time,
    quarantine,
    require_int,
    require_text,
    text_of,
    valid_text,
)

NOTES_CHARS = 500
WINDOW_LIMIT = 100  # GitHub's largest page


def _digest(text: Any) -> str:
    return hashlib.sha256(str(text or "").encode("utf-8")).hexdigest()[:16]


def _watermark(cursor: Mapping[str, Any] | None, backfill: str | None) -> datetime | None:
    if cursor is None:
        return parse_backfill(backfill) if backfill else None
    return parse_time(cursor.get("since"))


# --- releases -------------------------------------------------------------------------------

def _checked_release(item: Any) -> tuple[int, str]:
    """Required: `id` (the identity), `tag_name` (what a release is called) and a boolean
    `prerelease` (a wrong one would read as a promotion). Other fields are read leniently."""
    if not isinstance(item, dict):
        raise BadItem("item", "a JSON object", item)
    release_id = require_int(item, "id")
    tag = require_text(item, "tag_name")
    if not isinstance(item.get("prerelease"), bool):
        raise BadItem("prerelease", "true or false", item.get("prerelease"))
    return release_id, tag


def release_snapshot(item: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "tag_name": item.get("tag_name"),
        "name_hash": _digest(item.get("name")),
        "body_hash": _digest(item.get("body")),
        "prerelease": bool(item.get("prerelease")),
        "published_at": item.get("published_at"),
        "html_url": item.get("html_url"),
        "name": text_of(item.get("name")),
    }


async def poll_releases(spec: SourceSpec, ctx: PollContext, base: str, headers: Mapping[str, str],
                        per_page: int, backfill: str | None) -> PollResult:
    repo = str(spec.params["repo"])
    url = f"{base}/repos/{repo}/releases"
    watermark = _watermark(ctx.cursor, backfill)
    baseline = (ctx.cursor is None and watermark is None) or switched(ctx.cursor, "api")
    page_items: list[Any] = []
    fetched_page = None
    async for page in link_pages(ctx.http, url, params={"per_page": per_page}, headers=headers,
                                 max_pages=1):
        if page.not_modified:
            return PollResult(cursor=dict(ctx.cursor or {}), fetched=0)
        if not isinstance(page.json, list):
            raise UpstreamChanged(f"{page.url}: expected a JSON list of releases, got "
                                  f"{type(page.json).__name__}", url=page.url)
        page_items, fetched_page = page.json, page
    complete = fetched_page is not None and "next" not in fetched_page.links
    releases: dict[str, dict[str, Any]] = {}
    quarantined: dict[str, Quarantined] = {}
    listed: list[str] = []  # every release on the page with an id, in order: the window
    for raw in page_items:
        item = valid_text(raw)
        raw_id = item.get("id") if isinstance(item, dict) else None
        if isinstance(raw_id, int) and not isinstance(raw_id, bool):
            listed.append(f"release:{raw_id}")  # a malformed or draft release is still there
        try:
            release_id, _ = _checked_release(item)
        except BadItem as error:
            found = _quarantined_release(spec, item, error)
            quarantined[found.item_key] = found
            continue
        if item.get("draft"):  # only a token with push access sees drafts: not news yet
            continue
        releases[f"release:{release_id}"] = item
    return release_result(spec, ctx, releases, list(quarantined.values()), listed=listed,
                          complete=complete, fetched=len(page_items), watermark=watermark,
                          baseline=baseline, via="api")


def release_result(spec: SourceSpec, ctx: PollContext, releases: dict[str, dict[str, Any]],
                   kept_aside: list[Quarantined], *, listed: list[str], complete: bool,
                   fetched: int, watermark: datetime | None, baseline: bool,
                   via: str) -> PollResult:
    """The events between the releases listed now (newest first, one window: `listed`) and
    what was recorded: new, edited, promoted; and deleted, for a release of the last window
    that is missing from this one while it would still be inside it."""
    repo = str(spec.params["repo"])
    times = [t for t in (parse_time(r.get("published_at")) for r in releases.values()) if t]
    newest = max([*times, *([watermark] if watermark else [])], default=None)
    cursor: dict[str, Any] = {"via": via, "window": listed}
    if newest:
        cursor["since"] = format_time(newest)
    snapshots = {key: release_snapshot(item) for key, item in releases.items()}
    if baseline:
        return PollResult(snapshots=snapshots, cursor=cursor, fetched=fetched,
                          quarantined=kept_aside)
    known = ctx.snapshots(list(releases))
    events: list[TrackerEvent] = []
    ordered = sorted(releases.items(), key=lambda kv: str(kv[1].get("published_at") or ""))
    for key, item in ordered:
        events.extend(_release_changes(spec, repo, key, item, known.get(key), watermark, ctx.now))
    for key in _deleted_keys((ctx.cursor or {}).get("window"), listed, complete):
        events.append(_deleted(spec, repo, key, ctx.snapshots([key]).get(key) or {}, ctx.now))
    return PollResult(events=events, snapshots=snapshots, cursor=cursor, fetched=fetched,
                      quarantined=kept_aside)


def _deleted_keys(previous: Any, listed: list[str], complete: bool) -> list[str]:
    """The releases of the previous window that were deleted, not merely pushed out of it.

    Without deletions, the window now is the `new` releases on top, then the first
    `len(listed) - new` of the previous window: one of those missing was deleted. A release
    further down may only have slid past the end (onto the next page, out of the feed), unless
    the list is complete. Positions, not times: an edit can change a feed entry's time.
    """
    if not isinstance(previous, list):
        return []  # no window recorded (a cursor reset, an older cursor): nothing to compare
    present = set(listed)
    new = sum(1 for key in listed if key not in set(previous))
    survivors = len(listed) - new
    return [key for n, key in enumerate(previous)
            if isinstance(key, str) and key not in present and (complete or n < survivors)]


def switched(cursor: Mapping[str, Any] | None, via: str) -> bool:
    """The cursor was kept by the other way of reading (API or feed): its keys differ, so
    this poll takes a new silent baseline instead of calling everything new or deleted."""
    return cursor is not None and cursor.get("via", via) != via


def _release_changes(spec: SourceSpec, repo: str, key: str, item: Mapping[str, Any],
                     before: Mapping[str, Any] | None, watermark: datetime | None,
                     now: datetime) -> list[TrackerEvent]:
    release_id = item["id"]
    if before is None:
        published = parse_time(item.get("published_at"))
        # published before the window: it existed already, we just never recorded it
        if watermark is None or published is None or published >= watermark:
            return [_release_event(spec, repo, key, item, "release_published",
                                   f"{release_id}:published", published, now)]
        return []
    found: list[TrackerEvent] = []
    if before.get("prerelease") and not item.get("prerelease"):
        found.append(_release_event(spec, repo, key, item, "release_promoted",
                                    f"{release_id}:promoted", now, now))
    if (before.get("name_hash") != _digest(item.get("name"))
            or before.get("body_hash") != _digest(item.get("body"))):
        version = f"{_digest(item.get('name'))}{_digest(item.get('body'))}"
        found.append(_release_event(spec, repo, key, item, "release_edited",
                                    f"{release_id}:edited:{version}", now, now))
    return found


def _notes(item: Mapping[str, Any]) -> str:
    body = " ".join(text_of(item.get("body")).split())
    return body[:NOTES_CHARS] + ("…" if len(body) > NOTES_CHARS else "")


def _release_event(spec: SourceSpec, repo: str, key: str, item: Mapping[str, Any], kind: str,
                   event_id: str, occurred_at: datetime | None, now: datetime) -> TrackerEvent:
    user = item.get("author")
    author = text_of(user.get("login")) if isinstance(user, dict) else ""
    tag = text_of(item.get("tag_name"))
    name = text_of(item.get("name")) or tag
    notes = _notes(item)
    return TrackerEvent(
        source="github",
        source_key=spec.key,
        resource_type="release",
        resource_id=key,
        event_type=kind,
        event_id=event_id,
        title=f"{repo} {name}" if name == tag else f"{repo} {name} ({tag})",
        summary=notes,
        url=text_of(item.get("html_url")),
        author=author,
        labels=("prerelease",) if item.get("prerelease") else (),
        occurred_at=occurred_at,
        observed_at=now,
        details={
            "repo": repo,
            "tag_name": tag,
            "name": text_of(item.get("name")),
            "author": author,
            # the feed does not say: None rather than a guess
            "prerelease": item.get("prerelease") if isinstance(item.get("prerelease"), bool)
            else None,
            "notes_excerpt": notes,
            "html_url": item.get("html_url"),
            "created_at": item.get("created_at"),
            "published_at": item.get("published_at"),
        },
        raw={k: item.get(k) for k in ("id", "tag_name", "name", "prerelease", "published_at")},
    )


def _deleted(spec: SourceSpec, repo: str, key: str, before: Mapping[str, Any],
             now: datetime) -> TrackerEvent:
    tag = text_of(before.get("tag_name"))
    return TrackerEvent(
        source="github",
        source_key=spec.key,
        resource_type="release",
        resource_id=key,
        event_type="release_deleted",
        event_id=f"{key.partition(':')[2]}:deleted",
        title=f"{repo} {tag or key}",
        summary="",
        url=text_of(before.get("html_url")),
        author="",
        labels=(),
        occurred_at=now,
        observed_at=now,
        details={"repo": repo, "tag_name": tag, "name": before.get("name"),
                 "prerelease": before.get("prerelease"), "html_url": before.get("html_url"),
                 "published_at": before.get("published_at")},
        raw={"id": key.partition(":")[2], "tag_name": tag},
    )


def _quarantined_release(spec: SourceSpec, item: Any, bad: BadItem) -> Quarantined:
    fields = item if isinstance(item, dict) else {}
    release_id = fields.get("id") if isinstance(fields.get("id"), int | str) else None
    tag = text_of(fields.get("tag_name"))
    link = text_of(fields.get("html_url")) or None
    label = f"release {tag}" if tag else f"release ? (id {release_id})" if release_id else "release ?"
    key = f"id:{release_id}" if release_id else f"url:{link}" if link else content_key(item)
    return quarantine(spec.key, label, item, bad, item_key=key, upstream_id=release_id, url=link)


# --- tags -----------------------------------------------------------------------------------

async def poll_tags(spec: SourceSpec, ctx: PollContext, base: str, headers: Mapping[str, str],
                    max_pages: int) -> PollResult:
    """Tags carry no date: a tag never seen is news, except on the baseline."""
    repo = str(spec.params["repo"])
    url = f"{base}/repos/{repo}/tags"
    baseline = ctx.cursor is None or switched(ctx.cursor, "api")
    tags: dict[str, dict[str, Any]] = {}
    quarantined: dict[str, Quarantined] = {}
    fetched = 0
    first_full = None
    # tags are listed by name, so a new one may land on any page: a 304 on a full first page
    # would hide it, so a repo with more than one page asks unconditionally
    conditional = not (ctx.cursor or {}).get("first_page_full", False)
    async for page in link_pages(ctx.http, url, params={"per_page": WINDOW_LIMIT},
                                 headers=headers, max_pages=max_pages, conditional=conditional):
        if page.not_modified:
            return PollResult(cursor=dict(ctx.cursor or {}), fetched=0)
        if not isinstance(page.json, list):
            raise UpstreamChanged(f"{page.url}: expected a JSON list of tags, got "
                                  f"{type(page.json).__name__}", url=page.url)
        if first_full is None:
            first_full = "next" in page.links
        for raw in page.json:
            item = valid_text(raw)
            fetched += 1
            try:
                name, _ = _checked_tag(item)
            except BadItem as error:
                fields = item if isinstance(item, dict) else {}
                label = f"tag {text_of(fields.get('name'))}" if fields.get("name") else "tag ?"
                quarantined[label] = quarantine(spec.key, label, item, error,
                                                item_key=label if fields.get("name")
                                                else content_key(item))
                continue
            tags[f"tag:{name}"] = item
    cursor: dict[str, Any] = {"via": "api", "since": format_time(ctx.now)}
    if first_full:
        cursor["first_page_full"] = True
    snapshots = {key: {"sha": item["commit"]["sha"]} for key, item in tags.items()}
    kept_aside = list(quarantined.values())
    if baseline:
        return PollResult(snapshots=snapshots, cursor=cursor, fetched=fetched,
                          quarantined=kept_aside)
    known = ctx.snapshots(list(tags))
    events = [tag_event(spec, repo, key, str(item["name"]), str(item["commit"]["sha"]),
                        ctx.now, item)
              for key, item in tags.items() if key not in known]
    return PollResult(events=events, snapshots=snapshots, cursor=cursor, fetched=fetched,
                      quarantined=kept_aside)


def _checked_tag(item: Any) -> tuple[str, str]:
    if not isinstance(item, dict):
        raise BadItem("item", "a JSON object", item)
    name = require_text(item, "name")
    commit = item.get("commit")
    if not isinstance(commit, dict):
        raise BadItem("commit", 'an object {"sha": ...}', commit)
    return name, require_text(commit, "sha")


def tag_event(spec: SourceSpec, repo: str, key: str, name: str, sha: str | None,
              now: datetime, item: Mapping[str, Any], url: str = "") -> TrackerEvent:
    site = url or f"https://github.com/{repo}/tree/{name}"
    return TrackerEvent(
        source="github",
        source_key=spec.key,
        resource_type="tag",
        resource_id=key,
        event_type="tag_created",
        event_id=f"{name}:{sha}" if sha else name,
        title=f"{repo} {name}",
        summary=f"{name} at {sha[:12]}" if sha else name,
        url=site,
        author="",
        labels=(),
        occurred_at=now,
        observed_at=now,
        details={"repo": repo, "tag_name": name, "sha": sha, "html_url": site,
                 "tarball_url": item.get("tarball_url"), "zipball_url": item.get("zipball_url")},
        raw={"name": name, "sha": sha},
    )
