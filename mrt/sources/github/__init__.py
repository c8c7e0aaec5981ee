"""GitHub issues and pull requests: one request per repo per cycle covers both.

`GET {base}/repos/{o}/{r}/issues?state=all&sort=updated&direction=asc&since=...&per_page=100`
lists issues and PRs (a PR carries `pull_request.merged_at`). Events are differences against
the snapshot of `{o}/{r}#{number}`; the cursor is the newest `updated_at` seen, re-read with an
overlap so items sharing the boundary timestamp are never lost (v0 lost them with a strict `>`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import Field, field_validator

from mrt.api import (
    MAX_ID,
    BadItem,
    HostBudget,
    PollContext,
    PollResult,
    Quarantined,
    RootConfig,
    SourceSection,
    SourceSpec,
    Strict,
    TrackerEvent,
    UpstreamChanged,
    content_key,
    format_time,
    link_pages,
    parse_backfill,
    parse_time,
    quarantine,
    require_choice,
    require_int,
    require_time,
    text_of,
    usable_time,
    valid_text,
)

from .atom import DEFAULT_SITE, poll_releases_feed, poll_tags_feed
from .changes import changes, labels_of, snapshot_of, updated_at
from .releases import poll_releases, poll_tags
from .webhook import WEBHOOK_EVENTS as WEBHOOK_EVENTS
from .webhook import webhook_result as webhook_result
from .webhook import webhook_source_key as webhook_source_key

DEFAULT_BASE = "https://api.github.com"
DISPLAY_NAME = "GitHub"
# The details a message and the console's detail pane show, per event type ("*": the rest):
# (detail key, label) in order; an empty value is left out (mrt.plugins.detail_facts).
_ISSUE = (("author", "Author"), ("labels", "Labels"), ("state", "State"),
          ("state_reason", "Reason"), ("comments", "Comments"))
_PULL = (("author", "Author"), ("labels", "Labels"), ("state", "State"), ("merged", "Merged"),
         ("merged_at", "Merged at"), ("draft", "Draft"))
_RELEASE = (("tag_name", "Tag"), ("author", "Author"), ("prerelease", "Pre-release"),
            ("notes_excerpt", "Notes"))
EVENT_DETAILS = {
    **dict.fromkeys(("issue_opened", "issue_closed", "issue_reopened", "issue_updated"), _ISSUE),
    **dict.fromkeys(("pr_opened", "pr_merged", "pr_closed", "pr_updated"), _PULL),
    **dict.fromkeys(("release_published", "release_edited", "release_promoted"), _RELEASE),
    "release_deleted": (("tag_name", "Tag"), ("prerelease", "Pre-release")),
    "tag_created": (("tag_name", "Tag"), ("sha", "Commit")),
}
EVENT_WORDS = {
    "issue_opened": "New issue",
    "issue_closed": "Issue closed",
    "issue_reopened": "Issue reopened",
    "issue_updated": "Issue updated",
    "pr_opened": "New pull request",
    "pr_merged": "Pull request merged",
    "pr_closed": "Pull request closed",
    "pr_updated": "Pull request updated",
    "release_published": "New release",
    "release_edited": "Release edited",
    "release_promoted": "Pre-release promoted to release",
    "release_deleted": "Release deleted",
    "tag_created": "New tag",
}
MISSING_TOKEN_COST = "GitHub allows 60 requests an hour; with it 5,000"
# GitHub asks for few concurrent calls (secondary limits) and allows 5000/h with a token
BUDGETS = {"api.github.com": HostBudget(concurrency=2, requests=80, window_seconds=60),
           # releases.atom / tags.atom for tokenless polls: a web page's politeness
           "github.com": HostBudget(concurrency=2, requests=30, window_seconds=60)}
# GitHub's documented limit without a token: 60 requests an hour per client address
ANONYMOUS_BUDGETS = {"api.github.com": HostBudget(concurrency=2, requests=60, window_seconds=3600)}
# the section MRT runs with when there is no config file (v0's targets)
DEFAULT_SECTION = {
    "repos": ["vllm-project/vllm", "sgl-project/sglang"],
    "monitor": {"issues": True, "pulls": True},
    "token_env": "GITHUB_TOKEN",
}
PER_PAGE = 100
HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


class Monitor(Strict):
    issues: bool = True
    pulls: bool = True
    releases: bool = False  # off by default: a v0 file (issues and pulls only) means the same
    tags: bool = False


class Config(SourceSection):
    """`sources.github` (v0 keys: repos, monitor, token_env)."""

    repos: list[str] = Field(min_length=1)
    monitor: Monitor = Field(default_factory=Monitor)
    issue_edited: bool = False  # also alert when a title, labels or body changed
    overlap_seconds: int = Field(120, ge=0)  # re-read this much before the cursor: ties are safe
    max_pages: int = Field(50, ge=1)  # per poll; the ascending cursor resumes where it stopped
    releases_window: int = Field(30, ge=1, le=100)  # newest releases read (one page) per poll
    # releases and tags through the REST API ("api") or the repo's releases.atom/tags.atom
    # ("atom"); "auto": the feeds when token_env is unset, as they cost no API calls
    releases_via: Literal["auto", "api", "atom"] = "auto"
    site_url: str | None = None  # where the feeds are (https://github.com; GHE: its web host)

    @field_validator("repos")
    @classmethod
    def _owner_slash_repo(cls, repos: list[str]) -> list[str]:
        for repo in repos:
            owner, _, name = repo.partition("/")
            if not owner or not name or "/" in name or " " in repo:
                raise ValueError(f"{repo!r} is not of the form owner/repo")
        return repos


def instances(name: str, section: Config, config: RootConfig) -> list[SourceSpec]:
    """`github:{o}/{r}` for issues and PRs (the key v0 databases were upgraded to), and each
    further kind under its own key, `github-releases:{o}/{r}` and `github-tags:{o}/{r}`, so each
    keeps its own cursor, snapshots, schedule and health: a failing tags list never holds back
    issues, and no stored cursor changes meaning."""
    specs = []
    monitor = section.monitor
    for repo in section.repos:
        if monitor.issues or monitor.pulls or not (monitor.releases or monitor.tags):
            specs.append(SourceSpec(key=f"github:{repo}", plugin="github", section=name,
                                    params={"repo": repo}, config=section))
        for kind, on in (("releases", monitor.releases), ("tags", monitor.tags)):
            if on:
                specs.append(SourceSpec(key=f"github-{kind}:{repo}", plugin="github",
                                        section=name, params={"repo": repo, "kind": kind},
                                        config=section))
    return specs


def _cursor_since(cursor: Mapping[str, Any] | None) -> datetime | None:
    """v1 `{"since": ISO}`; v0 `{"updated_after": ISO}` means the same point."""
    if not cursor:
        return None
    return parse_time(cursor.get("since") or cursor.get("updated_after"))


def cursor_since(when: datetime) -> dict[str, Any]:
    """The cursor under which the next poll reports what changed after `when`
    (`mrt cursor reset --to`): issues and pulls updated since then, overlap included."""
    return {"since": format_time(when)}


async def poll(spec: SourceSpec, ctx: PollContext) -> PollResult:
    config = spec.config
    assert isinstance(config, Config)
    repo = str(spec.params["repo"])
    base = (config.base_url or DEFAULT_BASE).rstrip("/")
    kind = spec.params.get("kind")
    if kind in ("releases", "tags"):
        site = _feed_site(config, ctx.env)
        if site is not None and kind == "releases":
            return await poll_releases_feed(spec, ctx, site)
        if site is not None:
            return await poll_tags_feed(spec, ctx, site)
        if kind == "releases":
            return await poll_releases(spec, ctx, base, HEADERS, config.releases_window,
                                       config.backfill)
        return await poll_tags(spec, ctx, base, HEADERS, config.max_pages)
    url = f"{base}/repos/{repo}/issues"
    since = _cursor_since(ctx.cursor)
    backfill = parse_backfill(config.backfill) if ctx.cursor is None else None
    baseline = ctx.cursor is None and backfill is None

    params: dict[str, Any] = {"state": "all", "sort": "updated", "per_page": PER_PAGE}
    if baseline:
        # the most recent 100 items are enough to know "what is there now"
        params["direction"] = "desc"
        max_pages = 1
    else:
        start = since - timedelta(seconds=config.overlap_seconds) if since else backfill
        params["direction"] = "asc"
        if start is not None:
            params["since"] = format_time(start)
        max_pages = config.max_pages

    items: dict[str, dict[str, Any]] = {}  # the last observation of each item wins
    quarantined: dict[str, Quarantined] = {}
    fetched = 0
    newest = since
    first_full = None
    # An item updated while we page moves to the end; the items behind it slide one place
    # up, and one may slide into a page already read. When we see an item twice we hold the
    # cursor at the end of the first page, so the next poll reads the rest again.
    moved = False
    first_page_end: datetime | None = None
    numbers: set[int] = set()
    # a 304 on a full first page would hide changes on the next ones: ask unconditionally then
    conditional = not (ctx.cursor or {}).get("first_page_full", False)
    async for page in link_pages(ctx.http, url, params=params, headers=HEADERS,
                                 max_pages=max_pages, conditional=conditional):
        if page.not_modified:
            return PollResult(cursor=dict(ctx.cursor or {}), fetched=0)
        if not isinstance(page.json, list):
            raise UpstreamChanged(f"{page.url}: expected a JSON list of issues, got "
                                  f"{type(page.json).__name__}", url=page.url)
        if first_full is None:
            first_full = len(page.json) >= PER_PAGE
        page_end: datetime | None = None
        for raw_item in page.json:
            item = valid_text(raw_item)
            fetched += 1
            # a bad item with a usable time still moves the cursor past it
            updated = usable_time(item, "updated_at", ctx.now)
            page_end = updated or page_end
            try:
                number, updated = _checked(item, ctx.now)
            except BadItem as error:
                if _watched(config, item):  # a bad PR when only issues are watched: no news
                    found = _quarantined(spec, item, error)
                    quarantined[found.item_key] = found
                if updated is not None:
                    newest = max(newest, updated) if newest else updated
                continue
            moved = moved or number in numbers
            numbers.add(number)
            newest = max(newest, updated) if newest else updated
            if not _watched(config, item):
                continue
            key = f"{repo}#{number}"
            previous = items.get(key)
            if previous is None or updated_at(previous) <= updated:
                items.pop(key, None)
                items[key] = item
        if first_page_end is None and page.json:
            first_page_end = page_end

    if moved and not baseline and first_page_end is not None:
        newest = max(since, first_page_end) if since else first_page_end
    cursor: dict[str, Any] = {"since": format_time(newest)} if newest else {}
    if first_full and not baseline:
        cursor["first_page_full"] = True
    ordered = sorted(items.items(), key=lambda kv: updated_at(kv[1]))
    snapshots = {key: snapshot_of(item) for key, item in ordered}
    kept_aside = list(quarantined.values())
    if baseline:
        return PollResult(snapshots=snapshots, cursor=cursor, fetched=fetched,
                          quarantined=kept_aside)
    known = ctx.snapshots(list(items))
    watermark = since or backfill
    events: list[TrackerEvent] = []
    for key, item in ordered:
        events.extend(changes(spec, repo, key, item, known.get(key), watermark, ctx.now,
                              edited=config.issue_edited))
    return PollResult(events=events, snapshots=snapshots, cursor=cursor, fetched=fetched,
                      quarantined=kept_aside)


def _feed_site(config: Config, env: Mapping[str, str]) -> str | None:
    """The web host whose releases.atom/tags.atom to read, or None for the REST API."""
    if config.releases_via == "api":
        return None
    token = bool(config.token_env and env.get(config.token_env))
    if config.releases_via == "auto" and (token or (config.base_url and not config.site_url)):
        return None  # a token: the API is richer; an Enterprise API without its web host: API
    return (config.site_url or DEFAULT_SITE).rstrip("/")


def _checked(item: Any, now: datetime) -> tuple[int, datetime]:
    """The item's number and update time, once its identity and required fields are usable.

    Required: `number`, `updated_at` (the cursor), `state` (a wrong one would read as a reopen)
    and `labels` (rules match them; a wrong shape would read as an edit). Other fields are
    read leniently (text_of, parse_time): a wrong type there is shown as empty, not fatal.
    """
    if not isinstance(item, dict):
        raise BadItem("item", "a JSON object", item)
    number = require_int(item, "number")
    updated = require_time(item, "updated_at", now)
    require_choice(item, "state", ("open", "closed"))
    labels_of(item)
    return number, updated


def _watched(config: Config, item: Any) -> bool:
    """Whether the config monitors this item's kind (an item that is not an object: unknown)."""
    if not isinstance(item, dict):
        return True
    return config.monitor.pulls if "pull_request" in item else config.monitor.issues


def _quarantined(spec: SourceSpec, item: Any, bad: BadItem) -> Quarantined:
    """Named by its number when usable, else by its id or URL; kept under the first of those."""
    fields = item if isinstance(item, dict) else {}
    kind = "pull request" if "pull_request" in fields else "issue"
    number = fields.get("number")
    usable = isinstance(number, int) and not isinstance(number, bool) and 1 <= number <= MAX_ID
    upstream_id = fields.get("id") if isinstance(fields.get("id"), int | str) else None
    link = text_of(fields.get("html_url")) or text_of(fields.get("url")) or None
    if usable:
        label, key = f"{kind} #{number}", f"#{number}"
    else:
        where = f" ({link})" if link else f" (id {upstream_id})" if upstream_id else ""
        label = f"{kind} #?{where}"
        key = f"id:{upstream_id}" if upstream_id else f"url:{link}" if link else content_key(item)
    return quarantine(spec.key, label, item, bad, item_key=key, upstream_id=upstream_id,
                      url=link)


def v0_state(
    rows: list[tuple[str, str, dict[str, Any], datetime | None]],
) -> dict[str, tuple[dict[str, Any], datetime | None]]:
    """v0's cursors (target, kind, cursor, updated_at) -> v1 key -> (cursor, updated_at).

    v0 kept `github:{o/r}:issues` and `github:{o/r}:pulls`, each {"updated_after": T}; v1 polls
    both with one request, so it takes the earlier T (the fingerprints absorb the repeats).
    """
    since: dict[str, list[tuple[datetime, str]]] = {}
    updated: dict[str, datetime | None] = {}
    for repo, kind, cursor, when in rows:
        if kind not in ("issues", "pulls"):
            continue
        updated[repo] = max((t for t in (updated.get(repo), when) if t is not None), default=None)
        bounds = since.setdefault(repo, [])
        text = cursor.get("updated_after")
        at = parse_time(text) if isinstance(text, str) else None
        if at is not None and isinstance(text, str):
            bounds.append((at, text))
    return {
        f"github:{repo}": ({"since": min(bounds)[1]}, updated.get(repo))
        for repo, bounds in since.items()
        if bounds
    }
