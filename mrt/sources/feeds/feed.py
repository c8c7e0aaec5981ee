"""Any RSS 2.0 / Atom 1.0 / RDF feed by URL: entry_published and entry_updated.

One GET per feed per cycle, conditional (ETag / Last-Modified): a 304 costs no parsing and moves
nothing. The body is parsed by feedparser (never allowed to fetch). An entry is identified by its
id, else its guid, else its link; one with none of them is quarantined, the rest of the feed goes
on. An entry never seen is `entry_published`; a known one whose updated time or content hash moved
is `entry_updated`. Feeds do not page: an entry that scrolls off between two polls is missed
(poll a busy feed more often).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import Field

from mrt.api import (
    BadItem,
    PollContext,
    PollResult,
    Quarantined,
    RootConfig,
    SourceSection,
    SourceSpec,
    Strict,
    TrackerEvent,
    content_key,
    format_time,
    parse_backfill,
    parse_time,
    quarantine,
    valid_text,
)

from .common import SUMMARY_CHARS, clean_text, content_hash, entry_time, parse_feed, plain

DISPLAY_NAME = "Feed"
# The details messages and the console show, per event type ("*": the rest): (key, label).
EVENT_DETAILS = {"*": (("feed_title", "Feed"),)}
EVENT_WORDS = {"entry_published": "New feed entry", "entry_updated": "Feed entry updated"}
IDENTITY_FIELDS = ("id", "guid", "link")


class FeedRef(Strict):
    """One feed: its URL and, optionally, the name its source key and messages use."""

    url: str = Field(pattern=r"^https?://\S+$")
    name: str | None = Field(None, min_length=1, max_length=100, pattern=r"^[^\s:]+$")


class Config(SourceSection):
    """`sources.feed`: `feeds = [{url = "...", name = "..."}]`."""

    feeds: list[FeedRef] = Field(min_length=1)


def instances(name: str, section: Config, config: RootConfig) -> list[SourceSpec]:
    return [
        SourceSpec(key=f"feed:{feed.name or feed.url}", plugin="feed", section=name,
                   params={"url": feed.url, "name": feed.name or feed.url}, config=section)
        for feed in section.feeds
    ]


def cursor_since(when: datetime) -> dict[str, Any]:
    """`mrt cursor reset --to`: the next poll reports every entry published or updated after
    `when` again, known or not."""
    return {"after": format_time(when), "replay": True}


def identity_of(entry: Mapping[str, Any]) -> str:
    """id, else guid, else link (feedparser maps an RSS guid to `id` already)."""
    for field in IDENTITY_FIELDS:
        value = entry.get(field)
        if isinstance(value, str) and value.strip():
            return value.strip()
    raise BadItem("id", "an id, a guid or a link", None)


async def poll(spec: SourceSpec, ctx: PollContext) -> PollResult:
    url = str(spec.params["url"])
    response = await ctx.http.get_bytes(url)
    if response.not_modified:
        return PollResult(cursor=dict(ctx.cursor or {}))
    parsed = parse_feed(response)
    feed_title = clean_text(parsed.get("feed", {}).get("title"), 200)

    cursor = dict(ctx.cursor or {})
    backfill = parse_backfill(spec.config.backfill) if ctx.cursor is None else None
    after = parse_time(cursor.get("after")) or backfill
    replay = bool(cursor.get("replay"))
    baseline = ctx.cursor is None and backfill is None

    entries: dict[str, Mapping[str, Any]] = {}
    quarantined: list[Quarantined] = []
    for entry in parsed.get("entries", []):
        try:
            entries.setdefault(identity_of(entry), entry)
        except BadItem as bad:
            title = clean_text(entry.get("title"), 80) or "?"
            raw = plain(entry)
            quarantined.append(quarantine(spec.key, f"entry {title!r}", raw, bad,
                                          item_key=content_key(raw)))

    snapshots = {_key(ident): _snapshot(ident, entry) for ident, entry in entries.items()}
    newest = max((t for e in entries.values() if (t := _when(e)) is not None), default=None)
    new_cursor = {"after": format_time(max(t for t in (newest, after) if t is not None))} \
        if newest or after else {}
    if baseline:
        return PollResult(snapshots=snapshots, cursor=new_cursor, fetched=len(entries),
                          quarantined=quarantined)
    known = ctx.snapshots(list(snapshots))
    events: list[TrackerEvent] = []
    # feeds list newest first: alert oldest first
    for ident, entry in reversed(list(entries.items())):
        key = _key(ident)
        before = known.get(key)
        when = _when(entry)
        in_window = after is None or when is None or when > after
        if before is None and (in_window or not (replay or backfill)):
            # after the baseline every entry the feed lists is recorded: one never seen is new,
            # however it is dated (a feed cut short last time may list it only now)
            kind = "entry_published"
        elif before is None:
            continue  # older than a reset or backfill date: an entry we just never recorded
        elif replay and in_window:
            kind = "entry_published"
        elif (snapshots[key]["hash"] != before.get("hash")
              or (snapshots[key]["updated"] or "") > (before.get("updated") or "")):
            kind = "entry_updated"
        else:
            continue
        events.append(_event(spec, feed_title, ident, entry, kind, snapshots[key], ctx.now))
    return PollResult(events=events, snapshots=snapshots, cursor=new_cursor,
                      fetched=len(entries), quarantined=quarantined)


def _key(ident: str) -> str:
    """A snapshot key of bounded length for any id (ids are often whole URLs)."""
    return "entry:" + hashlib.sha256(ident.encode("utf-8", "replace")).hexdigest()[:32]


def _when(entry: Mapping[str, Any]) -> datetime | None:
    return entry_time(entry, "updated") or entry_time(entry, "published")


def _snapshot(ident: str, entry: Mapping[str, Any]) -> dict[str, Any]:
    updated = entry_time(entry, "updated")
    return {"id": valid_text(ident)[:500], "hash": content_hash(entry),
            "updated": format_time(updated) if updated else None}


def _event(spec: SourceSpec, feed_title: str, ident: str, entry: Mapping[str, Any], kind: str,
           snapshot: Mapping[str, Any], now: datetime) -> TrackerEvent:
    published = entry_time(entry, "published")
    updated = entry_time(entry, "updated")
    link = entry.get("link") if isinstance(entry.get("link"), str) else ""
    tags = [clean_text(t.get("term"), 80) for t in entry.get("tags") or []
            if isinstance(t, Mapping)]
    ident = str(valid_text(ident))
    version = snapshot["updated"] or snapshot["hash"]
    return TrackerEvent(
        source="feed",
        source_key=spec.key,
        resource_type="entry",
        resource_id=ident[:500],
        event_type=kind,
        event_id=ident[:500] if kind == "entry_published" else f"{ident[:400]}@{version}",
        title=clean_text(entry.get("title"), 300) or ident[:300],
        summary=clean_text(entry.get("summary"), SUMMARY_CHARS),
        url=str(valid_text(link)),
        author=clean_text(entry.get("author"), 200),
        labels=tuple(t for t in tags if t),
        occurred_at=updated if kind == "entry_updated" else (published or updated),
        observed_at=now,
        details={"feed": spec.params["name"], "feed_title": feed_title,
                 "published": format_time(published) if published else None,
                 "updated": format_time(updated) if updated else None},
        raw=plain(entry),
    )
