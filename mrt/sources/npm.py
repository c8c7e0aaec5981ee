"""npm packages: version_published, dist_tag_moved and version_deprecated, from the registry's
abbreviated metadata document.

`GET {base}/{package}` with `Accept: application/vnd.npm.install-v1+json` answers the package's
`dist-tags`, its `versions` (each with `deprecated` when it is) and `modified`; a scoped name
`@scope/name` is asked as `@scope%2fname`, as the registry expects. The request is conditional
(ETag / Last-Modified). The snapshot of a package is its versions, dist-tags and deprecations;
each poll reports what differs from it. The abbreviated document carries no per-version times
(only the full one has `time`), so a version's event has no publication time, `backfill` is
not honoured (the first poll is always a silent baseline), and `mrt cursor reset --to DATE`
stores the date as the document's `modified` but the next poll still reports what differs from
the last snapshot, not what was published after DATE.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from pydantic import Field, StringConstraints

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
    UpstreamChanged,
    format_time,
    parse_time,
    quarantine,
    text_of,
    valid_text,
)

DEFAULT_BASE = "https://registry.npmjs.org"
DISPLAY_NAME = "npm"
# The details messages and the console show, per event type ("*": the rest): (key, label).
EVENT_DETAILS = {
    "version_published": (("version", "Version"), ("tag", "Tag"), ("engines", "Engines")),
    "dist_tag_moved": (("tag", "Tag"), ("version", "Now"), ("previous", "Was")),
    "version_deprecated": (("version", "Version"), ("deprecated", "Deprecated")),
}
EVENT_WORDS = {"version_published": "New version", "dist_tag_moved": "Dist-tag moved",
               "version_deprecated": "Version deprecated"}
MISSING_TOKEN_COST = ("only public packages are seen (the public registry needs no token; a "
                      "private package needs a token with read access)")
# the public registry publishes no fixed limit for metadata reads: stay polite
BUDGETS = {"registry.npmjs.org": HostBudget(concurrency=4, requests=120, window_seconds=60)}
ABBREVIATED = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8"

PackageName = Annotated[str, StringConstraints(
    strip_whitespace=True, max_length=214, pattern=r"^(@[a-z0-9~][a-z0-9._~-]*/)?[a-z0-9~][a-z0-9._~-]*$")]


class Config(SourceSection):
    """`sources.npm`: which packages to watch (lower case, `@scope/name` for scoped ones)."""

    packages: list[PackageName] = Field(min_length=1)


def instances(name: str, section: Config, config: RootConfig) -> list[SourceSpec]:
    return [
        SourceSpec(key=f"npm:{package}", plugin="npm", section=name,
                   params={"package": package}, config=section)
        for package in section.packages
    ]


def cursor_since(when: datetime) -> dict[str, Any]:
    """`mrt cursor reset --to`: the package document as modified at `when`."""
    return {"modified": format_time(when)}


def document_url(base: str, package: str) -> str:
    """`@scope/name` -> `{base}/@scope%2fname`, as the registry expects; others as they are."""
    return f"{base}/{quote(package, safe='@').replace('%2F', '%2f')}"


def _version(name: Any, entry: Any) -> dict[str, Any]:
    if not isinstance(name, str) or not name.strip() or len(name) > 256:
        raise BadItem("version", "a version string", name)
    if not isinstance(entry, dict):
        raise BadItem("versions." + name, "a JSON object", entry)
    deprecated = entry.get("deprecated")
    if deprecated is not None and not isinstance(deprecated, str | bool):
        raise BadItem("deprecated", "a message", deprecated)
    return entry


async def poll(spec: SourceSpec, ctx: PollContext) -> PollResult:
    config = spec.config
    assert isinstance(config, Config)
    package = str(spec.params["package"])
    site = (config.base_url or DEFAULT_BASE).rstrip("/")
    page = await ctx.http.get_json(document_url(site, package), headers={"Accept": ABBREVIATED})
    if page.not_modified:
        return PollResult(cursor=dict(ctx.cursor or {}))
    doc = valid_text(page.json)
    if not (isinstance(doc, dict) and isinstance(doc.get("versions"), dict)):
        raise UpstreamChanged(f"{page.url}: expected a package document with `versions`",
                              url=page.url)
    versions: dict[str, dict[str, Any]] = {}
    kept_aside: list[Quarantined] = []
    for name, entry in doc["versions"].items():
        try:
            versions[name] = _version(name, entry)
        except BadItem as bad:
            kept_aside.append(quarantine(spec.key, f"version {text_of(name) or '?'}",
                                         {"version": name, "entry": entry}, bad,
                                         item_key=f"version:{name}", upstream_id=name))
    raw_tags = doc.get("dist-tags") if isinstance(doc.get("dist-tags"), dict) else {}
    tags = {str(t): v for t, v in (raw_tags or {}).items() if isinstance(v, str) and v in versions}
    deprecated = {v: _deprecation(e) for v, e in versions.items() if e.get("deprecated")}
    modified = parse_time(doc.get("modified"))
    cursor_in = ctx.cursor or {}
    after = parse_time(cursor_in.get("modified"))
    cursor = {"modified": format_time(max(filter(None, (modified, after))))
              if modified or after else None}
    snapshot = {"versions": sorted(versions), "dist_tags": tags, "deprecated": deprecated}
    result = PollResult(snapshots={package: snapshot}, cursor=cursor, fetched=len(versions),
                        quarantined=kept_aside)
    if ctx.cursor is None:
        return result  # the silent baseline
    before = ctx.snapshots([package]).get(package)
    if not before:
        return result  # no snapshot to compare with (state lost): a baseline again, silent
    known = set(before.get("versions") or ())
    known_tags: dict[str, Any] = before.get("dist_tags") or {}
    known_deprecated: dict[str, Any] = before.get("deprecated") or {}
    events = result.events
    for version in versions:  # the registry lists versions in publication order
        if version not in known:
            events.append(_event(spec, site, package, doc, "version_published", version,
                                 version, tags, ctx.now))
    for tag, version in tags.items():
        if known_tags.get(tag) != version:
            event = _event(spec, site, package, doc, "dist_tag_moved", f"{tag}:{version}",
                           version, tags, ctx.now, tag=tag, previous=known_tags.get(tag))
            events.append(event)
    for version, message in deprecated.items():
        if version in known and version not in known_deprecated:
            events.append(_event(spec, site, package, doc, "version_deprecated",
                                 f"{version}:deprecated", version, tags, ctx.now,
                                 message=message))
    return result


def _deprecation(entry: dict[str, Any]) -> str:
    message = entry.get("deprecated")
    return message if isinstance(message, str) else "deprecated"


def _event(spec: SourceSpec, site: str, package: str, doc: dict[str, Any], kind: str,
           event_id: str, version: str, tags: dict[str, str], now: datetime, *,
           tag: str | None = None, previous: Any = None, message: str = "") -> TrackerEvent:
    entry = doc["versions"].get(version) or {}
    if kind == "dist_tag_moved":
        moved = f"from {previous} " if previous else ""
        title, summary = f"{package} {tag} → {version}", f"{tag} moved {moved}to {version}"
    elif kind == "version_deprecated":
        title, summary = f"{package} {version} deprecated", message
    else:
        title, summary = f"{package} {version}", text_of(entry.get("description"))
    dist = entry.get("dist") if isinstance(entry.get("dist"), dict) else {}
    return TrackerEvent(
        source="npm",
        source_key=spec.key,
        resource_type="package",
        resource_id=package,
        event_type=kind,
        event_id=event_id,
        title=title,
        summary=summary,
        url=f"https://www.npmjs.com/package/{package}/v/{version}",
        observed_at=now,
        details={"version": version, "dist_tags": dict(tags), "tag": tag,
                 "previous": previous, "deprecated": message or None,
                 "tarball": text_of((dist or {}).get("tarball")) or None,
                 "engines": entry.get("engines") if isinstance(entry.get("engines"), dict)
                 else None},
        raw={"version": version, "modified": doc.get("modified")},
    )
