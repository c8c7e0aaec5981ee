"""Upgrading a v0 state database in place, and answering "did v0 already see this?".

v0 kept four tables and no schema version:

    cursors(source_key TEXT PRIMARY KEY, cursor TEXT, updated_at TEXT)
    seen_events(fingerprint TEXT PRIMARY KEY, first_seen_at TEXT)
    alerts(fingerprint TEXT PRIMARY KEY, alert_json TEXT, created_at TEXT)
    notify_failures(id INTEGER PRIMARY KEY, fingerprint, channel, error, created_at)

Migration step 1 finds them (no v1 table name collides: v1 says `alert`, `source_state`,
`v0_seen_event`, ...), creates the v1 schema beside them and copies their content into it; the v0
tables themselves are left exactly as they were. Cursor shapes after the upgrade (the pollers read
these), each source plugin translating its own (`v0_state` in mrt/sources/<platform>.py):

    github:{o/r}:issues + github:{o/r}:pulls {"updated_after": T}  -> github:{o/r} {"since": min T}
    huggingface:{org}:models {"last_modified_after": T}          -> huggingface:{org} (same)
    modelscope:{org}:models {"known_model_ids": [...]}           -> modelscope:{org} (same)
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import peewee

from mrt.plugins import source_plugin
from mrt.store.db import fetch_all
from mrt.store.models import Alert, SourceState, V0NotifyFailure, V0SeenEvent

V0_TABLES = ("cursors", "seen_events", "alerts", "notify_failures")
UPGRADE_DETAIL = "upgraded from v0"
_CHUNK = 500  # stay under SQLite's bound-parameter limit


def is_v0_database(db: peewee.Database) -> bool:
    """v0's tables are present and no MRT v1 schema version is recorded yet."""
    tables = set(db.get_tables())
    return {"cursors", "seen_events"} <= tables and "schema_version" not in tables


def parse_v0_time(text: Any) -> datetime | None:
    """v0 wrote ISO 8601 text (with `Z` or an offset, or naive UTC); None if unreadable."""
    if not isinstance(text, str) or not text.strip():
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass
class _SourceProgress:
    source: str
    cursor: dict[str, Any]
    updated_at: datetime | None


def _load_json(text: Any) -> Any:
    if not isinstance(text, str):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def convert_cursors(rows: Iterable[tuple[Any, Any, Any]]) -> dict[str, _SourceProgress]:
    """v0 (source_key, cursor JSON, updated_at) rows -> v1 source key -> progress.

    v0 keys read `{platform}:{target}:{kind}`; each source plugin translates its own rows (its
    `v0_state`). A row whose key or cursor v0 would not have written, or whose platform no
    installed plugin translates, is left out (it stays in the v0 table).
    """
    by_platform: dict[str, list[tuple[str, str, dict[str, Any], datetime | None]]] = {}
    for key, cursor_text, updated_text in rows:
        if not isinstance(key, str):
            continue
        cursor = _load_json(cursor_text)
        platform, _, rest = key.partition(":")
        target, _, kind = rest.rpartition(":")
        if not isinstance(cursor, dict) or not target:
            continue
        by_platform.setdefault(platform, []).append(
            (target, kind, cursor, parse_v0_time(updated_text))
        )
    result: dict[str, _SourceProgress] = {}
    for platform, found in by_platform.items():
        translate = getattr(source_plugin(platform), "v0_state", None)
        if translate is None:
            continue
        for v1_key, (cursor, updated) in translate(found).items():
            result[v1_key] = _SourceProgress(platform, cursor, updated)
    return result


def _v0_alert_source_key(payload: dict[str, Any]) -> str | None:
    source, resource = payload.get("source"), payload.get("resource_id")
    if isinstance(source, str) and isinstance(resource, str) and source and resource:
        return f"{source}:{resource}"
    return None


def copy_into_v1(db: peewee.Database, *, now: datetime) -> None:
    """Copy v0's rows into the (just created) v1 tables; the v0 tables are only read.

    Runs inside migration step 1's transaction, so it is all or nothing.
    """
    tables = set(db.get_tables())
    progress = convert_cursors(
        fetch_all(db, "SELECT source_key, cursor, updated_at FROM cursors")
    )
    for key, item in sorted(progress.items()):
        SourceState.insert(
            source_key=key,
            source=item.source,
            cursor=item.cursor,
            validators={},
            last_poll_at=item.updated_at,
            last_success_at=item.updated_at,
            health="ok",
            health_detail=UPGRADE_DETAIL,
            updated_at=now,
        ).on_conflict_ignore().execute()

    seen = fetch_all(db, "SELECT fingerprint, first_seen_at FROM seen_events")
    for start in range(0, len(seen), _CHUNK):
        batch = [
            {"fingerprint": fp, "first_seen_at": at}
            for fp, at in seen[start : start + _CHUNK]
            if isinstance(fp, str)
        ]
        if batch:
            V0SeenEvent.insert_many(batch).on_conflict_ignore().execute()

    if "alerts" in tables:
        rows = fetch_all(db, "SELECT fingerprint, alert_json, created_at FROM alerts ORDER BY created_at")
        for fingerprint, alert_json, created_text in rows:
            parsed = _load_json(alert_json)
            payload = parsed if isinstance(parsed, dict) else {"alert_json": alert_json}
            title = payload.get("title")
            Alert.create(
                kind="v0",
                fingerprint=fingerprint,
                title=title if isinstance(title, str) else "",
                source_key=_v0_alert_source_key(payload),
                payload=payload,
                created_at=parse_v0_time(created_text) or now,
            )

    if "notify_failures" in tables:
        failures = fetch_all(db, "SELECT id, fingerprint, channel, error, created_at FROM notify_failures ORDER BY id")
        for fid, fingerprint, channel, error, created_text in failures:
            V0NotifyFailure.insert(
                id=fid,
                fingerprint=None if fingerprint is None else str(fingerprint),
                channel=None if channel is None else str(channel),
                error=None if error is None else str(error),
                created_at=None if created_text is None else str(created_text),
            ).on_conflict_ignore().execute()


def legacy_seen(fingerprints: Iterable[str]) -> set[str]:
    """Which of these v0-recipe fingerprints v0 already saw (empty on a database v0 never had)."""
    wanted = list(dict.fromkeys(fingerprints))
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        query = V0SeenEvent.select(V0SeenEvent.fingerprint).where(
            V0SeenEvent.fingerprint.in_(chunk)
        )
        found.update(str(row.fingerprint) for row in query)
    return found
