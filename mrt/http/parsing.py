"""What upstream answers say: rate-limit headers, Retry-After, JSON bodies; URLs made safe to show.

Pure functions of a response (and the clock), shared by the HTTP client and its tests.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from mrt.errors import SourceError

# "auth" must not catch `author=` (the Hub's organisation filter is not a secret)
_SECRET_PARAM = re.compile(r"token|key|secret|sig|password|auth(?!or)|credential", re.IGNORECASE)


def redact_url(url: str) -> str:
    """The URL without userinfo and with secret-looking query values replaced by ***."""
    parts = urlsplit(str(url))
    netloc = parts.netloc.rpartition("@")[2]
    query = urlencode(
        [(k, "***" if _SECRET_PARAM.search(k) else v) for k, v in parse_qsl(parts.query, True)],
        safe="*",
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def validator_key(url: str, params: Mapping[str, Any] | None) -> str:
    """One key per URL + params, independent of the params' order."""
    merged = httpx.URL(url).copy_merge_params({k: str(v) for k, v in (params or {}).items()})
    query = sorted(parse_qsl(merged.query.decode(), True))
    return urlunsplit((merged.scheme, merged.netloc.decode(), merged.path, urlencode(query), ""))


def parse_retry_after(value: str | None, now: datetime) -> datetime | None:
    """`Retry-After` as delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return now + timedelta(seconds=int(value))
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_ratelimit(headers: httpx.Headers, now: datetime) -> tuple[int | None, datetime | None]:
    """(remaining, reset_at) from GitHub's X-RateLimit-* or the IETF draft RateLimit header."""
    remaining = headers.get("x-ratelimit-remaining")
    reset = headers.get("x-ratelimit-reset")
    if remaining is not None and remaining.strip().isdigit():
        reset_at = None
        if reset and reset.strip().isdigit():
            reset_at = datetime.fromtimestamp(int(reset), UTC)
        return int(remaining), reset_at
    # draft-ietf-httpapi-ratelimit-headers: `"api";r=0;t=30` (Hugging Face), or the older
    # RateLimit-Remaining / RateLimit-Reset pair
    structured = headers.get("ratelimit")
    if structured:
        fields = dict(re.findall(r";\s*([a-z]+)=(\d+)", structured))
        if "r" in fields:
            t = fields.get("t")
            return int(fields["r"]), now + timedelta(seconds=int(t)) if t else None
    remaining = headers.get("ratelimit-remaining")
    if remaining is not None and remaining.strip().isdigit():
        t = headers.get("ratelimit-reset")
        at = now + timedelta(seconds=int(t)) if t and t.strip().isdigit() else None
        return int(remaining), at
    return None, None


def decode_json(body: bytes, content_type: str, status: int, shown: str) -> Any:
    try:
        return json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        ctype = content_type.split(";")[0].strip() or "no content-type"
        if "json" in ctype:
            what = f"truncated or invalid JSON ({exc})"
        elif "html" in ctype:
            what = "an HTML page instead of JSON"
        else:
            what = f"{ctype} instead of JSON"
        raise SourceError(
            f"{shown}: HTTP {status} answered {what}{snippet(body)}",
            url=shown,
            status=status,
            content_type=ctype,
        ) from None


def snippet(body: bytes) -> str:
    text = " ".join(body[:200].decode("utf-8", "replace").split())
    return f": {text}" if text else ""
