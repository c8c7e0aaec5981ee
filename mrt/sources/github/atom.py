"""GitHub releases and tags without a token: the repository's `releases.atom` and `tags.atom`.

`{site}/{o}/{r}/releases.atom` lists the newest releases (title, notes as HTML, author, tag in
the entry id and link; no pre-release flag, no release id); `tags.atom` the newest tags (no
commit sha). Both are fetched by MRT's HTTP client (conditional GET, budgets, retries) and
parsed by feedparser. They cost nothing of the REST API's 60 anonymous calls an hour.

What the feeds cannot tell: a pre-release's promotion (no flag), a tag's commit. Published,
edited (title or notes changed), deleted (gone from inside the window) and new tags they can.
"""

from __future__ import annotations

import functools
from typing import Any

from mrt.api import (
    PollContext,
    PollResult,
    SourceError,
    SourceSpec,
    UpstreamChanged,
    format_time,
    parse_time,
    text_of,
)

from .releases import release_result, switched, tag_event

DEFAULT_SITE = "https://github.com"


@functools.cache
def _text_parser() -> type[Any]:
    """The stdlib's HTML parser, imported by the first release notes read (with its table of
    entities, ~2 ms at start-up otherwise, for a worker that polls no release feed)."""
    from html.parser import HTMLParser

    class Text(HTMLParser):
        """The text of an HTML fragment (release notes), as the stdlib's HTML parser reads it."""

        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.parts: list[str] = []

        def handle_data(self, data: str) -> None:
            self.parts.append(data)

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag in ("p", "br", "li", "h1", "h2", "h3", "h4", "div", "pre"):
                self.parts.append(" ")

    return Text


def html_text(fragment: str) -> str:
    parser = _text_parser()()
    parser.feed(fragment)
    parser.close()
    return " ".join("".join(parser.parts).split())


async def _entries(ctx: PollContext, url: str) -> tuple[list[Any], bool]:
    """The feed's entries (None: 304, nothing changed); a page that is not a feed fails."""
    page = await ctx.http.get_bytes(url)
    if page.not_modified:
        return [], True
    body = page.json if isinstance(page.json, bytes) else b""
    import feedparser  # ~50 ms at import: only a source that reads Atom feeds pays it

    parsed = feedparser.parse(body)
    if not parsed.get("version"):
        ctype = page.headers.get("content-type", "no content-type").split(";")[0]
        raise SourceError(f"{page.url}: HTTP {page.status} answered {ctype}, not an Atom feed",
                          url=page.url, status=page.status, content_type=ctype)
    if not isinstance(parsed.entries, list):
        raise UpstreamChanged(f"{page.url}: the feed has no entries list", url=page.url)
    return list(parsed.entries), False


def _tag_of(entry: Any) -> str:
    """`tag:github.com,2008:Repository/90259571/v2.1.0` -> v2.1.0 (else the link's last part)."""
    entry_id = text_of(entry.get("id"))
    _, marker, rest = entry_id.partition(":Repository/")
    if marker and "/" in rest:
        return rest.split("/", 1)[1]
    return text_of(entry.get("link")).rstrip("/").rsplit("/", 1)[-1]


def _notes(entry: Any) -> str:
    content = entry.get("content")
    if isinstance(content, list) and content and isinstance(content[0], dict):
        return html_text(text_of(content[0].get("value")))
    return html_text(text_of(entry.get("summary")))


async def poll_releases_feed(spec: SourceSpec, ctx: PollContext, site: str) -> PollResult:
    repo = str(spec.params["repo"])
    baseline = ctx.cursor is None or switched(ctx.cursor, "atom")
    entries, unchanged = await _entries(ctx, f"{site}/{repo}/releases.atom")
    if unchanged:
        return PollResult(cursor=dict(ctx.cursor or {}), fetched=0)
    releases: dict[str, dict[str, Any]] = {}
    for entry in entries:
        tag = _tag_of(entry)
        if not tag:
            continue  # no identity at all: nothing to key it by
        link = text_of(entry.get("link")) or f"{site}/{repo}/releases/tag/{tag}"
        releases[f"atom-release:{tag}"] = {
            "id": tag, "tag_name": tag, "name": text_of(entry.get("title")),
            "body": _notes(entry), "author": {"login": text_of(entry.get("author"))},
            "html_url": link, "published_at": text_of(entry.get("updated")),
        }
    watermark = None if baseline else parse_time((ctx.cursor or {}).get("since"))
    # the feed is a short window (GitHub serves the newest 10): never known to be complete
    return release_result(spec, ctx, releases, [], listed=list(releases), complete=False,
                          fetched=len(entries), watermark=watermark, baseline=baseline,
                          via="atom")


async def poll_tags_feed(spec: SourceSpec, ctx: PollContext, site: str) -> PollResult:
    repo = str(spec.params["repo"])
    baseline = ctx.cursor is None or switched(ctx.cursor, "atom")
    entries, unchanged = await _entries(ctx, f"{site}/{repo}/tags.atom")
    if unchanged:
        return PollResult(cursor=dict(ctx.cursor or {}), fetched=0)
    tags = {f"atom-tag:{tag}": entry for entry in entries if (tag := _tag_of(entry))}
    cursor = {"via": "atom", "since": format_time(ctx.now)}
    snapshots = {key: {"updated": text_of(entry.get("updated"))} for key, entry in tags.items()}
    if baseline:
        return PollResult(snapshots=snapshots, cursor=cursor, fetched=len(entries))
    known = ctx.snapshots(list(tags))
    events = [tag_event(spec, repo, key, key.partition(":")[2], None, ctx.now,
                        {"updated": text_of(entry.get("updated"))},
                        url=text_of(entry.get("link")))
              for key, entry in reversed(list(tags.items())) if key not in known]
    return PollResult(events=events, snapshots=snapshots, cursor=cursor, fetched=len(entries))
