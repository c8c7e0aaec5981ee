"""GitHub webhook deliveries as the events a poll would make of the same change.

    webhook_source_key(event, payload) -> str | None     the source a delivery belongs to
    webhook_result(spec, event, payload, cursor=..., snapshots=..., now=...) -> PollResult

An `issues` delivery carries the issue as the issues list shows it, a `pull_request` one the
pull request (turned here into the list's shape: `pull_request.merged_at`), a `release` one the
release as the releases list shows it, a `push` of a new tag its name and commit. Each goes
through the poll's own difference functions (changes.py, releases.py) against the snapshot the
store holds, so the events carry the same fingerprints as the poll's: whichever of the two sees
a change first stores it, and the other finds it stored. Polling goes on as the safety net.

Releases and tags are taken from a delivery only while the source reads them through the REST
API (its cursor says "via": "api"): the feeds name releases differently. Part of the GitHub
source plugin; it imports MRT only through mrt.api.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from mrt.api import (
    BadItem,
    PollResult,
    SourceSpec,
    TrackerEvent,
    parse_time,
    require_choice,
    require_int,
    require_time,
    valid_text,
)

from .changes import changes, labels_of, snapshot_of
from .releases import _checked_release, _deleted, _release_changes, release_snapshot, tag_event

WEBHOOK_EVENTS = ("issues", "pull_request", "release", "push")
Snapshots = Callable[[Iterable[str]], dict[str, dict[str, Any]]]
_TAGS = "refs/tags/"


def _repo(payload: Mapping[str, Any]) -> str | None:
    repository = payload.get("repository")
    name = repository.get("full_name") if isinstance(repository, dict) else None
    return name if isinstance(name, str) and name.count("/") == 1 else None


def webhook_source_key(event: str, payload: Mapping[str, Any]) -> str | None:
    """`github:{o}/{r}` for issues and pull requests, `github-releases:` and `github-tags:` for
    releases and new tags; None for a delivery no GitHub source polls for."""
    repo = _repo(payload)
    if repo is None:
        return None
    if event in ("issues", "pull_request"):
        return f"github:{repo}"
    if event == "release":
        return f"github-releases:{repo}"
    ref = payload.get("ref")
    if event == "push" and isinstance(ref, str) and ref.startswith(_TAGS) and payload.get("created"):
        return f"github-tags:{repo}"
    return None


def _as_listed_pull(pull: Mapping[str, Any]) -> dict[str, Any]:
    """A pull request object in the shape the issues list gives it."""
    item = {k: v for k, v in pull.items() if k not in ("merged", "merged_at", "id")}
    item["pull_request"] = {"merged_at": pull.get("merged_at"), "html_url": pull.get("html_url")}
    return item


def webhook_result(
    spec: SourceSpec,
    event: str,
    payload: Mapping[str, Any],
    *,
    cursor: Mapping[str, Any],
    snapshots: Snapshots,
    now: datetime,
) -> PollResult:
    """The events and snapshots of one delivery for `spec` (the source webhook_source_key
    named), given its stored `cursor` (a source not polled yet takes no deliveries: its
    baseline comes first). BadItem when the payload lacks what the poll would require."""
    repo = str(spec.params["repo"])
    body = valid_text(dict(payload))
    since = parse_time(cursor.get("since"))
    action = body.get("action")
    if event in ("issues", "pull_request"):
        raw = body.get("issue" if event == "issues" else "pull_request")
        if not isinstance(raw, dict):
            raise BadItem(event, "an object", raw)
        item = raw if event == "issues" else _as_listed_pull(raw)
        # what the poll requires of an item before it looks for changes (see _checked)
        number = require_int(item, "number")
        require_time(item, "updated_at", now)
        require_choice(item, "state", ("open", "closed"))
        labels_of(item)
        key = f"{repo}#{number}"
        before = snapshots([key]).get(key)
        edited = bool(getattr(spec.config, "issue_edited", False))
        found = changes(spec, repo, key, item, before, since, now, edited=edited)
        return PollResult(events=found, snapshots={key: snapshot_of(item)}, cursor=dict(cursor))
    if cursor.get("via") != "api":
        return PollResult(cursor=dict(cursor))  # read through the feeds: the poll tells
    if event == "release":
        release = body.get("release")
        if not isinstance(release, dict):
            raise BadItem("release", "an object", release)
        release_id, _ = _checked_release(release)
        key = f"release:{release_id}"
        before = snapshots([key]).get(key)
        if action == "deleted":
            gone: list[TrackerEvent] = [] if before is None else [
                _deleted(spec, repo, key, before, now)]
            return PollResult(events=gone, cursor=dict(cursor))
        if release.get("draft"):
            return PollResult(cursor=dict(cursor))
        found = _release_changes(spec, repo, key, release, before, since, now)
        return PollResult(events=found, snapshots={key: release_snapshot(release)},
                          cursor=dict(cursor))
    name = str(body.get("ref", ""))[len(_TAGS):]
    sha = body.get("after")
    if not name or not isinstance(sha, str):
        raise BadItem("after", "the tag's commit", sha)
    key = f"tag:{name}"
    if key in snapshots([key]):
        return PollResult(cursor=dict(cursor))
    tag = tag_event(spec, repo, key, name, sha, now, {})
    return PollResult(events=[tag], snapshots={key: {"sha": sha}}, cursor=dict(cursor))
