"""What the feed sources share: parsing fetched bytes, clean text, entry times and hashes."""

from __future__ import annotations

import calendar
import hashlib
import time
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from mrt.api import JsonResponse, UpstreamChanged, valid_text

SUMMARY_CHARS = 1000  # of a summary's clean text kept in the event


def parse_feed(response: JsonResponse, *, strict: bool = False) -> Any:
    """feedparser's view of the fetched body; an HTML page or anything not a feed is an
    UpstreamChanged (the source fails this poll and keeps its cursor). `strict`: so is XML that
    is not well-formed (a truncated body), for upstreams that always write well-formed XML;
    feedparser reads what it can of other, sloppier feeds."""
    body = response.json if isinstance(response.json, bytes) else b""
    ctype = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if "html" in ctype:
        raise UpstreamChanged(f"{response.url}: HTTP {response.status} answered an HTML page "
                              f"({ctype}) instead of a feed{_snippet(body)}", url=response.url)
    import feedparser  # ~50 ms at import: loaded by the first feed polled, not by every worker

    parsed = feedparser.parse(body, response_headers={"content-type": ctype or "application/xml"})
    if strict and parsed.get("bozo"):
        raise UpstreamChanged(f"{response.url}: HTTP {response.status} answered malformed or "
                              f"truncated XML ({parsed.get('bozo_exception')})", url=response.url)
    if not parsed.get("version") and not parsed.get("entries"):
        reason = parsed.get("bozo_exception")
        raise UpstreamChanged(f"{response.url}: HTTP {response.status} answered something that "
                              f"is not an RSS, Atom or RDF feed ({reason or ctype or 'no type'})"
                              f"{_snippet(body)}", url=response.url)
    return parsed


def _snippet(body: bytes) -> str:
    text = " ".join(body[:120].decode("utf-8", "replace").split())
    return f": {text}" if text else ""


def clean_text(html: Any, limit: int | None = None) -> str:
    """An HTML fragment (or plain text) as one line of plain text: BeautifulSoup's get_text,
    whitespace collapsed, made valid (no NUL, no lone surrogates), cut at `limit`."""
    if not isinstance(html, str) or not html:
        return ""
    from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning  # ~100 ms at import

    with warnings.catch_warnings():  # a summary that is just a URL is fine text
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        soup = BeautifulSoup(html, "html.parser")
    text = " ".join(soup.get_text(" ").split())
    text = str(valid_text(text))
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def entry_time(entry: Mapping[str, Any], field: str) -> datetime | None:
    """feedparser's `<field>_parsed` (UTC struct_time) as an aware datetime. Read as a plain
    dict: feedparser's deprecated fallback would answer `published` when asked `updated`."""
    parsed = dict.get(entry, f"{field}_parsed") if isinstance(entry, dict) \
        else entry.get(f"{field}_parsed")
    if not isinstance(parsed, time.struct_time):
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), UTC)
    except (OverflowError, OSError, ValueError):
        return None


def content_hash(entry: Mapping[str, Any]) -> str:
    """What a reader sees of an entry (title, summary, content), hashed: a change is an update."""
    parts = [entry.get("title"), entry.get("summary")]
    for content in entry.get("content") or []:
        if isinstance(content, Mapping):
            parts.append(content.get("value"))
    text = "\x1f".join(p for p in parts if isinstance(p, str))
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32]


def plain(entry: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-safe, valid-text copy of an entry's scalar fields (for quarantine and raw)."""
    keep = ("id", "guid", "link", "title", "published", "updated", "author")
    fields = dict(entry)  # a plain dict: no feedparser fallback from `updated` to `published`
    return {k: valid_text(fields.get(k)) for k in keep
            if isinstance(fields.get(k), str | int | float | type(None))}
