"""arXiv papers, by API query or by category listing: paper_published and paper_revised.

A query is the API's Atom search (`{base}/api/query?search_query=...`, sorted by lastUpdatedDate
descending, paged with start/max_results until the first paper older than the cursor); a category
is its listing feed (`{listing_url}/{category}`, one document). A paper is known by its arXiv id
without version: a new id is paper_published, a higher vN of a known one is paper_revised.

arXiv asks for at most one request every 3 seconds: BUDGETS gives its hosts one request per
3-second window and one in flight, and the worker's HTTP pool applies that per host to every
arXiv source in the config together.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import Field, model_validator

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
    content_key,
    format_time,
    parse_backfill,
    parse_time,
    quarantine,
)

from .common import clean_text, entry_time, parse_feed, plain

DEFAULT_BASE = "https://export.arxiv.org"
DEFAULT_LISTING = "https://rss.arxiv.org/atom"
DISPLAY_NAME = "arXiv"
# The details messages and the console show, per event type ("*": the rest): (key, label).
EVENT_DETAILS = {"*": (("categories", "Categories"), ("version", "Version"), ("comment", "Comment"))}
EVENT_WORDS = {"paper_published": "New paper", "paper_revised": "Paper revised"}
# https://info.arxiv.org/help/api/tou.html: "no more than one request every three seconds"
_POLITE = HostBudget(concurrency=1, requests=1, window_seconds=3.0)
BUDGETS = {"export.arxiv.org": _POLITE, "rss.arxiv.org": _POLITE}
# new style 2501.01234v2, old style hep-th/9901001v1, in an abs/pdf URL or an oai: id
_ARXIV_ID = re.compile(r"(\d{4}\.\d{4,5}|[a-z][a-z.\-]*/\d{7})(?:v(\d+))?$", re.IGNORECASE)


class Config(SourceSection):
    """`sources.arxiv`: `queries` (API search expressions) and/or `categories` (listing feeds).
    base_url is the API's site; listing_url where the category feeds live."""

    queries: list[str] = Field(default_factory=list)
    categories: list[str] = Field(default_factory=list)
    listing_url: str = Field(DEFAULT_LISTING, pattern=r"^https?://\S+$")
    page_size: int = Field(50, ge=1, le=2000)
    max_pages: int = Field(5, ge=1)

    @model_validator(mode="after")
    def _watches_something(self) -> Config:
        if not self.queries and not self.categories:
            raise ValueError("expected `queries` (arXiv API search expressions) or `categories` "
                             "(e.g. [\"cs.CL\"]), found neither")
        return self


def instances(name: str, section: Config, config: RootConfig) -> list[SourceSpec]:
    queries = [SourceSpec(key=f"arxiv:query:{q}", plugin="arxiv", section=name,
                          params={"query": q}, config=section) for q in section.queries]
    return queries + [SourceSpec(key=f"arxiv:category:{c}", plugin="arxiv", section=name,
                                 params={"category": c}, config=section)
                      for c in section.categories]


def cursor_since(when: datetime) -> dict[str, Any]:
    """`mrt cursor reset --to`: papers updated after `when` are reported again."""
    return {"after": format_time(when), "replay": True}


def paper_id(entry: Mapping[str, Any]) -> tuple[str, int]:
    """(arXiv id without version, version) from the entry's id, else its link."""
    for field in ("id", "link"):
        value = entry.get(field)
        if isinstance(value, str):
            found = _ARXIV_ID.search(value.strip().rstrip("/"))
            if found:
                return found.group(1), int(found.group(2) or 1)
    raise BadItem("id", "an arXiv id such as http://arxiv.org/abs/2501.01234v2", entry.get("id"))


async def poll(spec: SourceSpec, ctx: PollContext) -> PollResult:
    config = spec.config
    assert isinstance(config, Config)
    cursor = dict(ctx.cursor or {})
    backfill = parse_backfill(config.backfill) if ctx.cursor is None else None
    after = parse_time(cursor.get("after")) or backfill
    baseline = ctx.cursor is None and backfill is None

    papers: dict[str, tuple[int, Mapping[str, Any]]] = {}
    quarantined: list[Quarantined] = []
    pages = 1 if baseline or "category" in spec.params else config.max_pages
    for number in range(pages):
        url, params = _request(spec, config, number)
        response = await ctx.http.get_bytes(url, params=params, conditional=number == 0)
        if response.not_modified:
            return PollResult(cursor=cursor)
        parsed = parse_feed(response, strict=True)  # arXiv writes well-formed XML
        entries = parsed.get("entries", [])
        older = False
        for entry in entries:
            when = _when(entry)
            if after is not None and when is not None and when <= after and "query" in spec.params:
                older = True  # sorted by lastUpdatedDate, newest first: the rest is older
                break
            try:
                ident, version = paper_id(entry)
                if not clean_text(entry.get("title")):
                    raise BadItem("title", "the paper's title", entry.get("title"))
            except BadItem as bad:
                raw = plain(entry)
                title = clean_text(entry.get("title"), 80) or "?"
                quarantined.append(quarantine(spec.key, f"paper {title!r}", raw, bad,
                                              item_key=content_key(raw)))
                continue
            if ident not in papers or papers[ident][0] < version:
                papers[ident] = (version, entry)
        if older or len(entries) < config.page_size:
            break

    newest = max((t for _, e in papers.values() if (t := _when(e)) is not None), default=None)
    marks = [t for t in (newest, after) if t is not None]
    new_cursor = {"after": format_time(max(marks))} if marks else {}
    snapshots = {ident: {"version": v} for ident, (v, _) in papers.items()}
    if baseline:
        return PollResult(snapshots=snapshots, cursor=new_cursor, fetched=len(papers),
                          quarantined=quarantined)
    known = ctx.snapshots(list(snapshots))
    replay = bool(cursor.get("replay"))
    events = []
    for ident, (version, entry) in reversed(list(papers.items())):
        before = known.get(ident)
        when = _when(entry)
        # a listing holds only the day's announcements, all stamped with the day: new to us is news
        fresh = "category" in spec.params or after is None or when is None or when > after
        if before is None or (replay and fresh):
            if not fresh:
                continue  # older than the window: a paper we just never recorded
            kind = "paper_published" if version == 1 else "paper_revised"
        elif version > int(before.get("version") or 0):
            kind = "paper_revised"
        else:
            continue
        events.append(_event(spec, ident, version, entry, kind, ctx.now))
    return PollResult(events=events, snapshots=snapshots, cursor=new_cursor,
                      fetched=len(papers), quarantined=quarantined)


def _request(spec: SourceSpec, config: Config, page: int) -> tuple[str, dict[str, Any]]:
    if "category" in spec.params:
        return f"{config.listing_url.rstrip('/')}/{spec.params['category']}", {}
    site = (config.base_url or DEFAULT_BASE).rstrip("/")
    return f"{site}/api/query", {
        "search_query": spec.params["query"], "sortBy": "lastUpdatedDate",
        "sortOrder": "descending", "start": page * config.page_size,
        "max_results": config.page_size}


def _when(entry: Mapping[str, Any]) -> datetime | None:
    return entry_time(entry, "updated") or entry_time(entry, "published")


def _abstract(text: str) -> str:
    """A listing's summary starts "arXiv:2501.01234v2 Announce Type: new Abstract: ..."."""
    head, sep, rest = text.partition(" Abstract: ")
    return rest if sep and head.startswith("arXiv:") else text


def _pdf(entry: Mapping[str, Any], ident: str, version: int) -> str:
    for link in entry.get("links") or []:
        if isinstance(link, Mapping) and (link.get("type") == "application/pdf"
                                          or link.get("title") == "pdf"):
            return str(link.get("href") or "")
    return f"https://arxiv.org/pdf/{ident}v{version}"


def _event(spec: SourceSpec, ident: str, version: int, entry: Mapping[str, Any], kind: str,
           now: datetime) -> TrackerEvent:
    authors = [clean_text(a.get("name"), 100) for a in entry.get("authors") or []
               if isinstance(a, Mapping)]
    categories = [clean_text(t.get("term"), 40) for t in entry.get("tags") or []
                  if isinstance(t, Mapping)]
    published = entry_time(entry, "published")
    updated = entry_time(entry, "updated")
    return TrackerEvent(
        source="arxiv",
        source_key=spec.key,
        resource_type="paper",
        resource_id=ident,
        event_type=kind,
        event_id=f"{ident}v{version}",
        title=clean_text(entry.get("title"), 300),
        summary=_abstract(clean_text(entry.get("summary"), 1200))[:1000],
        url=f"https://arxiv.org/abs/{ident}v{version}",
        author=", ".join(a for a in authors[:10] if a),
        labels=tuple(c for c in categories if c),
        occurred_at=(published if kind == "paper_published" else updated) or published,
        observed_at=now,
        details={"authors": [a for a in authors if a], "categories": categories,
                 "version": version, "pdf": _pdf(entry, ident, version),
                 "published": format_time(published) if published else None,
                 "updated": format_time(updated) if updated else None,
                 "comment": clean_text(entry.get("arxiv_comment"), 300) or None},
        raw=plain(entry),
    )
