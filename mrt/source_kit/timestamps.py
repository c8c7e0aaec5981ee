"""Upstream timestamps: ISO 8601 in, aware UTC datetimes inside, one ISO form out."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mrt.errors import SourceError


def parse_time(value: Any) -> datetime | None:
    """`2024-09-16T14:19:35Z`, `...000Z`, `+00:00`, or epoch seconds; None when absent/bad.

    Never raises: an epoch of 1e20, NaN or a year-1 time with an offset is "bad", not a crash
    (datetime raises OverflowError, ValueError or OSError for those)."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC)
        if not isinstance(value, str):
            return None
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError, OSError):
        return None


def format_time(value: datetime) -> str:
    """The one form cursors are written in: `2024-09-16T14:19:35Z`."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_backfill(backfill: str) -> datetime | None:
    """`none` -> None; `since YYYY-MM-DD` -> that midnight UTC. Anything else is a SourceError."""
    text = backfill.strip().lower()
    if text in ("", "none"):
        return None
    head, _, date = text.partition(" ")
    since = parse_time(date.strip()) if head == "since" else None
    if since is None:
        raise SourceError(f"backfill {backfill!r}: expected 'none' or 'since YYYY-MM-DD'")
    return since
