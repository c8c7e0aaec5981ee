"""GitLab projects (gitlab.com or self-hosted by `base_url`): issues, merge requests, releases
and tags, each kind under its own source key so their cursors and snapshots never meet.

`gitlab-issues:{path}` and `gitlab-mrs:{path}` read
`GET {base}/api/v4/projects/{id}/issues` (or `/merge_requests`) with
`updated_after={cursor}&order_by=updated_at&sort=asc&per_page=100`, every page (Link `next`,
else `x-next-page`), and compare each item with its snapshot: issue_opened / issue_closed /
issue_reopened / issue_updated, mr_opened / mr_merged / mr_closed / mr_updated. The first poll
(no cursor) reads the newest page and records it silently. `gitlab-releases:{path}` reads
`/releases` (release_published) and `gitlab-tags:{path}` `/repository/tags` (tag_created), one
conditional page each. The project path is URL-encoded as one segment (`group%2Fsub%2Fproject`).
The token (`token_env`) goes in the `PRIVATE-TOKEN` header.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar
from urllib.parse import quote

from pydantic import Field, StringConstraints

from mrt.api import (
    BadItem,
    HostBudget,
    JsonResponse,
    PollContext,
    PollResult,
    Quarantined,
    RootConfig,
    SourceSection,
    SourceSpec,
    Strict,
    TrackerEvent,
    UpstreamChanged,
    format_time,
    parse_time,
    quarantine,
    require_choice,
    require_int,
    require_text,
    text_of,
    valid_text,
)

DEFAULT_BASE = "https://gitlab.com"
DISPLAY_NAME = "GitLab"
# The details messages and the console show, per event type ("*": the rest): (key, label).
_CHANGE = (("author", "Author"), ("labels", "Labels"), ("state", "State"),
           ("target_branch", "Target"), ("merged_at", "Merged at"))
EVENT_DETAILS = {"*": _CHANGE, "release_published": (("tag", "Tag"), ("released_at", "Released")),
                 "tag_created": (("tag", "Tag"),)}
EVENT_WORDS = {
    "issue_opened": "Issue opened", "issue_closed": "Issue closed",
    "issue_reopened": "Issue reopened", "issue_updated": "Issue updated",
    "mr_opened": "MR opened", "mr_merged": "MR merged", "mr_closed": "MR closed",
    "mr_updated": "MR updated", "release_published": "New release", "tag_created": "New tag",
}
MISSING_TOKEN_COST = ("only public projects are seen and gitlab.com allows far fewer "
                      "unauthenticated requests (set token_env to a token with read_api)")
# gitlab.com documents 2000 requests/minute per authenticated user and far fewer without a
# token; one worker stays well under both: 300 a minute, 4 at a time
BUDGETS = {"gitlab.com": HostBudget(concurrency=4, requests=300, window_seconds=60)}
PER_PAGE = 100
MAX_PAGES = 20
ITEM_STATES = {"issues": ("opened", "closed"), "mrs": ("opened", "closed", "merged", "locked")}

ProjectPath = Annotated[str, StringConstraints(
    strip_whitespace=True, max_length=255,
    pattern=r"^[A-Za-z0-9_.][A-Za-z0-9_.-]*(/[A-Za-z0-9_.][A-Za-z0-9_.-]*)+$")]


class Monitor(Strict):
    """Which kinds of change to watch in each project."""

    issues: bool = True
    merge_requests: bool = True
    releases: bool = False
    tags: bool = False


class Config(SourceSection):
    """`sources.gitlab`: which projects (`group/subgroup/project`) and what of them to watch."""

    TOKEN_HEADER: ClassVar[str] = "PRIVATE-TOKEN"
    TOKEN_PREFIX: ClassVar[str] = ""

    projects: list[ProjectPath] = Field(min_length=1)
    monitor: Monitor = Field(default_factory=Monitor)


KINDS = (("issues", "issues"), ("mrs", "merge_requests"), ("releases", "releases"),
         ("tags", "tags"))


def instances(name: str, section: Config, config: RootConfig) -> list[SourceSpec]:
    return [
        SourceSpec(key=f"gitlab-{kind}:{project}", plugin="gitlab", section=name,
                   params={"project": project, "kind": kind}, config=section)
        for project in section.projects
        for kind, flag in KINDS if getattr(section.monitor, flag)
    ]


def cursor_since(when: datetime) -> dict[str, Any]:
    """`mrt cursor reset --to`: issues and MRs updated after `when` are read again."""
    return {"since": format_time(when)}


def project_url(base: str, project: str) -> str:
    return f"{base}/api/v4/projects/{quote(project, safe='')}"


async def poll(spec: SourceSpec, ctx: PollContext) -> PollResult:
    config = spec.config
    assert isinstance(config, Config)
    base = (config.base_url or DEFAULT_BASE).rstrip("/")
    kind = str(spec.params["kind"])
    api = project_url(base, str(spec.params["project"]))
    if kind in ITEM_STATES:
        return await _poll_items(spec, ctx, api, kind)
    return await _poll_named(spec, ctx, api, kind)


async def _pages(ctx: PollContext, url: str, params: dict[str, Any],
                 max_pages: int) -> list[JsonResponse]:
    """The first page (conditional) and each next one: Link `next`, else `x-next-page`."""
    pages = [await ctx.http.get_json(url, params=params)]
    while len(pages) < max_pages and not pages[-1].not_modified:
        last = pages[-1]
        if not isinstance(last.json, list):
            raise UpstreamChanged(f"{last.url}: expected a JSON list, got "
                                  f"{type(last.json).__name__}", url=last.url)
        following = last.headers.get("x-next-page", "").strip()
        if "next" not in last.links and not following.isdigit():
            break
        if "next" in last.links and last.links["next"].startswith(url):
            pages.append(await ctx.http.get_json(last.links["next"], conditional=False))
        elif following.isdigit():
            pages.append(await ctx.http.get_json(url, params={**params, "page": following},
                                                 conditional=False))
        else:
            raise UpstreamChanged(f"{last.url}: the next page points elsewhere; not following "
                                  "it with this source's token", url=last.url)
    if not pages[-1].not_modified and not isinstance(pages[-1].json, list):
        raise UpstreamChanged(f"{pages[-1].url}: expected a JSON list, got "
                              f"{type(pages[-1].json).__name__}", url=pages[-1].url)
    return pages


def _checked_item(item: Any, kind: str) -> tuple[int, str, datetime]:
    if not isinstance(item, dict):
        raise BadItem("item", "a JSON object", item)
    iid = require_int(item, "iid")
    state = require_choice(item, "state", ITEM_STATES[kind])
    updated = parse_time(item.get("updated_at"))
    if updated is None:
        raise BadItem("updated_at", "an ISO 8601 time", item.get("updated_at"))
    return iid, state, updated


async def _poll_items(spec: SourceSpec, ctx: PollContext, api: str, kind: str) -> PollResult:
    since = parse_time((ctx.cursor or {}).get("since"))
    params: dict[str, Any] = {"order_by": "updated_at", "per_page": PER_PAGE}
    if ctx.cursor is None:
        params["sort"] = "desc"  # the baseline: the newest page, recorded silently
    else:
        params["sort"] = "asc"
        if since:
            params["updated_after"] = format_time(since)
    path = "issues" if kind == "issues" else "merge_requests"
    pages = await _pages(ctx, f"{api}/{path}", params, 1 if ctx.cursor is None else MAX_PAGES)
    if pages[0].not_modified:
        return PollResult(cursor=dict(ctx.cursor or {}))
    mark = "#" if kind == "issues" else "!"
    items: dict[str, tuple[dict[str, Any], str, datetime]] = {}
    kept_aside: list[Quarantined] = []
    fetched = 0
    for page in pages:
        for raw in page.json:
            fetched += 1
            item = valid_text(raw)
            try:
                iid, state, updated = _checked_item(item, kind)
            except BadItem as bad:
                iid_text = text_of(item.get("iid")) if isinstance(item, dict) else ""
                kept_aside.append(quarantine(
                    spec.key, f"{path[:-1].replace('_', ' ')} {mark}{iid_text or '?'}",
                    item, bad, item_key=f"{mark}{iid_text}" if iid_text else f"{mark}?{fetched}",
                    upstream_id=item.get("id") if isinstance(item, dict) else None,
                    url=item.get("web_url") if isinstance(item, dict) else None))
                continue
            items[f"{mark}{iid}"] = (item, state, updated)
    newest = max((u for _, _, u in items.values()), default=None)
    moved = max(filter(None, (newest, since)), default=None)
    result = PollResult(cursor={"since": format_time(moved) if moved else None},
                        fetched=fetched, quarantined=kept_aside)
    for key, (_, state, updated) in items.items():
        result.snapshots[key] = {"state": state, "updated_at": format_time(updated)}
    if ctx.cursor is None:
        return result
    before = ctx.snapshots(list(items))
    word = "issue" if kind == "issues" else "mr"
    for key, (item, state, updated) in sorted(items.items(), key=lambda kv: kv[1][2]):
        known = before.get(key)
        if known and known.get("updated_at") == format_time(updated):
            continue  # seen at this very update (updated_after includes its boundary)
        event_type = _change(word, known, state, item, since)
        result.events.append(_item_event(spec, ctx, kind, key, item, event_type, updated))
    return result


def _change(word: str, known: dict[str, Any] | None, state: str, item: dict[str, Any],
            since: datetime | None) -> str:
    was = (known or {}).get("state")
    if known is None:
        created = parse_time(item.get("created_at"))
        if state == "opened" and (since is None or created is None or created >= since):
            return f"{word}_opened"
        was = "opened"
    if state == "merged" and was != "merged":
        return "mr_merged"
    if state == "closed" and was != "closed":
        return f"{word}_closed"
    if state == "opened" and was in ("closed", "merged"):
        return f"{word}_reopened" if word == "issue" else "mr_opened"
    return f"{word}_updated"


def _item_event(spec: SourceSpec, ctx: PollContext, kind: str, key: str, item: dict[str, Any],
                event_type: str, updated: datetime) -> TrackerEvent:
    project = str(spec.params["project"])
    author = item.get("author") if isinstance(item.get("author"), dict) else {}
    labels = [text_of(label) for label in item.get("labels") or [] if text_of(label)]
    return TrackerEvent(
        source="gitlab",
        source_key=spec.key,
        resource_type="issue" if kind == "issues" else "merge_request",
        resource_id=f"{project}{key}",
        event_type=event_type,
        event_id=f"{key}:{format_time(updated)}",
        title=f"{project}{key} {text_of(item.get('title'))}".strip(),
        summary=text_of(item.get("description"))[:500],
        url=text_of(item.get("web_url")),
        observed_at=ctx.now,
        details={"state": item.get("state"), "labels": labels,
                 "author": text_of((author or {}).get("username")) or None,
                 "target_branch": item.get("target_branch"),
                 "merged_at": item.get("merged_at"), "closed_at": item.get("closed_at"),
                 "updated_at": format_time(updated)},
        raw={"id": item.get("id"), "iid": item.get("iid"), "updated_at": item.get("updated_at")},
    )


def _checked_named(item: Any, kind: str) -> str:
    if not isinstance(item, dict):
        raise BadItem("item", "a JSON object", item)
    return require_text(item, "tag_name" if kind == "releases" else "name")


async def _poll_named(spec: SourceSpec, ctx: PollContext, api: str, kind: str) -> PollResult:
    url = f"{api}/releases" if kind == "releases" else f"{api}/repository/tags"
    (page,) = await _pages(ctx, url, {"per_page": PER_PAGE}, 1)
    if page.not_modified:
        return PollResult(cursor=dict(ctx.cursor or {}))
    found: dict[str, dict[str, Any]] = {}
    kept_aside: list[Quarantined] = []
    for raw in page.json:
        item = valid_text(raw)
        try:
            name = _checked_named(item, kind)
        except BadItem as bad:
            kept_aside.append(quarantine(spec.key, f"{kind[:-1]} ?", item, bad,
                                         item_key=f"{kind[:-1]}:?{len(kept_aside)}"))
            continue
        found[f"{kind[:-1]}:{name}"] = item
    result = PollResult(fetched=len(page.json), quarantined=kept_aside,
                        cursor={"seen": format_time(ctx.now)})
    for key, item in found.items():
        result.snapshots[key] = {"at": text_of(item.get("released_at") or item.get("created_at")
                                              or (item.get("commit") or {}).get("created_at"))}
    if ctx.cursor is None:
        return result
    before = ctx.snapshots(list(found))
    if not before and found:
        return result  # no snapshot to compare with (state lost): a baseline again, silent
    # after `mrt cursor reset --to DATE` what was released/created after the date is news again
    reset = parse_time(ctx.cursor.get("since")) if "reset_to" in ctx.cursor else None
    for key in reversed(list(found)):  # the newest first upstream: report oldest first
        at = parse_time(result.snapshots[key]["at"] or None) if reset else None
        if key not in before or (reset and at and at > reset):
            result.events.append(_named_event(spec, ctx, kind, key, found[key]))
    return result


def _named_event(spec: SourceSpec, ctx: PollContext, kind: str, key: str,
                 item: dict[str, Any]) -> TrackerEvent:
    project = str(spec.params["project"])
    name = key.partition(":")[2]
    base = (spec.config.base_url or DEFAULT_BASE).rstrip("/")
    if kind == "releases":
        links = item.get("_links") if isinstance(item.get("_links"), dict) else {}
        title = f"{project} {text_of(item.get('name')) or name}"
        summary = text_of(item.get("description"))[:500]
        url = text_of((links or {}).get("self")) or f"{base}/{project}/-/releases/{quote(name)}"
        event_type, resource = "release_published", "release"
    else:
        commit = item.get("commit") if isinstance(item.get("commit"), dict) else {}
        title, summary = f"{project} tag {name}", text_of(item.get("message")
                                                          or (commit or {}).get("title"))
        url = f"{base}/{project}/-/tags/{quote(name)}"
        event_type, resource = "tag_created", "tag"
    return TrackerEvent(
        source="gitlab",
        source_key=spec.key,
        resource_type=resource,
        resource_id=f"{project}@{name}",
        event_type=event_type,
        event_id=key,
        title=title,
        summary=summary,
        url=url,
        observed_at=ctx.now,
        details={"tag": name, "released_at": item.get("released_at"),
                 "upcoming_release": item.get("upcoming_release")},
        raw={"name": name},
    )
