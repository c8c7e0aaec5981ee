"""How a GitHub issue or pull request became an event: the snapshot MRT keeps of each one and
the differences between two snapshots (opened, closed, reopened, merged, edited).

Part of the GitHub source plugin (mrt/sources/github/); like the rest of it, it imports MRT only
through mrt.api.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from mrt.api import (
    BadItem,
    SourceSpec,
    TrackerEvent,
    fingerprint_of,
    parse_time,
    text_of,
)

SUMMARY_CHARS = 500


def labels_of(item: Mapping[str, Any]) -> list[str]:
    """Label names, sorted: `labels` is a list of `{"name": ...}` (or of names); null is none."""
    labels = item.get("labels")
    if labels is None:
        return []
    if not isinstance(labels, list):
        raise BadItem("labels", "a list of labels", labels)
    names = []
    for n, label in enumerate(labels):
        name = label.get("name") if isinstance(label, dict) else label
        if not isinstance(name, str):
            raise BadItem(f"labels[{n}]", 'a label {"name": "..."}', label)
        names.append(name)
    return sorted(names)


def updated_at(item: Mapping[str, Any]) -> datetime:
    parsed = parse_time(item.get("updated_at"))
    assert parsed is not None  # checked by _checked
    return parsed


def _digest(text: Any) -> str:
    return hashlib.sha256(str(text or "").encode("utf-8")).hexdigest()[:16]


def _labels(item: Mapping[str, Any]) -> list[str]:
    return labels_of(item)  # checked by _checked: never raises here


def _merged_at(item: Mapping[str, Any]) -> str | None:
    pull = item.get("pull_request")
    return pull.get("merged_at") if isinstance(pull, dict) else None


def snapshot_of(item: Mapping[str, Any]) -> dict[str, Any]:
    """What is kept of an issue/PR between polls: enough to tell each change once."""
    return {
        "state": item.get("state"),
        "state_reason": item.get("state_reason"),
        "merged": _merged_at(item) is not None,
        "draft": bool(item.get("draft")),
        "title_hash": _digest(item.get("title")),
        "body_hash": _digest(item.get("body")),
        "labels": _labels(item),
        "updated_at": item.get("updated_at"),
        "closed_at": item.get("closed_at"),
        "comments": item.get("comments"),
    }


def changes(
    spec: SourceSpec,
    repo: str,
    key: str,
    item: Mapping[str, Any],
    before: Mapping[str, Any] | None,
    watermark: datetime | None,
    now: datetime,
    *,
    edited: bool,
) -> list[TrackerEvent]:
    """The events between `before` (None: never seen) and `item`, oldest change first."""
    is_pr = "pull_request" in item
    number = item["number"]
    closed = item.get("state") == "closed"
    merged_at = _merged_at(item)
    closed_at = item.get("closed_at")
    found: list[tuple[str, str, Any]] = []  # (event_type, event_id, occurred_at)
    if before is None:
        created = parse_time(item.get("created_at"))
        # an item created before the window is old news we never recorded, not a new one
        if watermark is None or created is None or created >= watermark:
            found.append(("pr_opened" if is_pr else "issue_opened", f"{number}:opened",
                          item.get("created_at")))
        was_closed, was_merged = False, False
        closed_time = parse_time(closed_at)
        if closed and closed_time and watermark and closed_time < watermark:
            was_closed, was_merged = True, merged_at is not None  # closed before we looked
    else:
        was_closed, was_merged = before.get("state") == "closed", bool(before.get("merged"))
        if not closed and was_closed:
            found.append(("pr_reopened" if is_pr else "issue_reopened",
                          f"{number}:reopened:{before.get('closed_at')}", item.get("updated_at")))
            was_closed = False
        elif edited and not is_pr and (
            before.get("title_hash") != _digest(item.get("title"))
            or before.get("body_hash") != _digest(item.get("body"))
            or list(before.get("labels") or []) != _labels(item)
        ):
            found.append(("issue_edited", f"{number}:edited:{item.get('updated_at')}",
                          item.get("updated_at")))
    if closed and not was_closed:
        if is_pr and merged_at:
            found.append(("pr_merged", f"{number}:merged:{merged_at}", merged_at))
        else:
            found.append(("pr_closed" if is_pr else "issue_closed",
                          f"{number}:closed:{closed_at}", closed_at))
    elif closed and is_pr and merged_at and not was_merged:
        found.append(("pr_merged", f"{number}:merged:{merged_at}", merged_at))
    return [_event(spec, repo, key, item, kind, event_id, parse_time(at), now)
            for kind, event_id, at in found]


def _event(
    spec: SourceSpec,
    repo: str,
    key: str,
    item: Mapping[str, Any],
    kind: str,
    event_id: str,
    occurred_at: datetime | None,
    now: datetime,
) -> TrackerEvent:
    is_pr = "pull_request" in item
    merged = _merged_at(item) is not None
    labels = _labels(item)
    user = item.get("user")
    author = text_of(user.get("login")) if isinstance(user, dict) else ""
    body = " ".join(text_of(item.get("body")).split())
    legacy = fingerprint_of(
        "github", "repo_pr" if is_pr else "repo_issue", repo,
        ("pr_merged" if merged else "pr_updated") if is_pr else "issue_updated",
        str(item.get("id")),
    )
    return TrackerEvent(
        source="github",
        source_key=spec.key,
        resource_type="pull_request" if is_pr else "issue",
        resource_id=key,
        event_type=kind,
        event_id=event_id,
        title=text_of(item.get("title")),
        summary=body[:SUMMARY_CHARS] + ("…" if len(body) > SUMMARY_CHARS else ""),
        url=text_of(item.get("html_url")),
        author=author,
        labels=tuple(labels),
        occurred_at=occurred_at,
        observed_at=now,
        details={
            "number": item.get("number"),
            "labels": labels,
            "author": author,
            "state": item.get("state"),
            "state_reason": item.get("state_reason"),
            "draft": bool(item.get("draft")),
            "merged": merged,
            "merged_at": _merged_at(item),
            "comments": item.get("comments"),
            "html_url": item.get("html_url"),
            "created_at": item.get("created_at"),
            "updated_at": item.get("updated_at"),
            "closed_at": item.get("closed_at"),
            "repo": repo,
        },
        raw={k: item.get(k) for k in ("id", "number", "title", "state", "updated_at")},
        legacy_fingerprint=legacy,
    )
