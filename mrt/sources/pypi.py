"""PyPI projects: version_published and version_yanked, from the JSON API.

`GET {base}/pypi/{project}/json` answers the project's `info` (the newest release's metadata) and
`releases`: every version with its files. A version is yanked when all its files are (PEP 592,
with `yanked_reason`). The snapshot of a project is its set of versions and their yanked state;
a new version is one the snapshot lacks, a yank one whose files were all yanked since. "Newest"
is PEP 440 order (`packaging`), pre-releases left out unless `prereleases = true`. The request
is conditional (ETag / Last-Modified): a 304 costs one request and nothing else.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version
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
    parse_backfill,
    parse_time,
    quarantine,
    require_time,
    text_of,
    valid_text,
)

DEFAULT_BASE = "https://pypi.org"
DISPLAY_NAME = "PyPI"
# The details messages and the console show, per event type ("*": the rest): (key, label).
EVENT_DETAILS = {
    "version_published": (("version", "Version"), ("requires_python", "Python"),
                          ("prerelease", "Pre-release"), ("newest", "Newest")),
    "version_yanked": (("version", "Version"), ("yanked_reason", "Reason")),
}
EVENT_WORDS = {"version_published": "New version", "version_yanked": "Version yanked"}
MISSING_TOKEN_COST = "nothing is lost: PyPI's JSON API is public and needs no token"
# PyPI's JSON API is served from its CDN and publishes no hard limit: stay polite
BUDGETS = {"pypi.org": HostBudget(concurrency=4, requests=120, window_seconds=60)}

# PEP 508's project name
ProjectName = Annotated[str, StringConstraints(
    strip_whitespace=True, pattern=r"^[A-Za-z0-9]([A-Za-z0-9._-]*[A-Za-z0-9])?$")]


class Config(SourceSection):
    """`sources.pypi`: which projects to watch, and whether pre-releases count."""

    projects: list[ProjectName] = Field(min_length=1)
    prereleases: bool = False


def instances(name: str, section: Config, config: RootConfig) -> list[SourceSpec]:
    return [
        SourceSpec(key=f"pypi:{canonicalize_name(project)}", plugin="pypi", section=name,
                   params={"project": str(canonicalize_name(project))}, config=section)
        for project in section.projects
    ]


def cursor_since(when: datetime) -> dict[str, Any]:
    """`mrt cursor reset --to`: versions first uploaded after `when` are news again."""
    return {"published_after": format_time(when)}


class Release:
    """One version as its files say: when first uploaded, whether all yanked, and why."""

    def __init__(self, version: str, parsed: Version, files: list[dict[str, Any]],
                 now: datetime) -> None:
        self.version = version
        self.parsed = parsed
        self.files = files
        times = [_upload_time(f, now) for f in files]
        self.published: datetime | None = min(times) if times else None
        self.yanked = bool(files) and all(f.get("yanked") is True for f in files)
        reasons = [text_of(f.get("yanked_reason")) for f in files if f.get("yanked_reason")]
        self.yanked_reason = reasons[0] if reasons else ""
        pythons = [f.get("requires_python") for f in files if isinstance(f.get("requires_python"),
                                                                           str)]
        self.requires_python = pythons[0] if pythons else None


def _upload_time(file: Any, now: datetime) -> datetime:
    if not isinstance(file, dict):
        raise BadItem("files[]", "a JSON object", file)
    field = "upload_time_iso_8601" if file.get("upload_time_iso_8601") else "upload_time"
    return require_time(file, field, now)  # upload_time has no zone: PyPI's clock is UTC


def _release(version: Any, files: Any, now: datetime) -> Release:
    try:
        parsed = Version(version)
    except (InvalidVersion, TypeError):
        raise BadItem("version", "a PEP 440 version", version) from None
    if not isinstance(files, list):
        raise BadItem("files", "a JSON list of files", files)
    return Release(version, parsed, files, now)


async def poll(spec: SourceSpec, ctx: PollContext) -> PollResult:
    config = spec.config
    assert isinstance(config, Config)
    project = str(spec.params["project"])
    site = (config.base_url or DEFAULT_BASE).rstrip("/")
    page = await ctx.http.get_json(f"{site}/pypi/{project}/json")
    if page.not_modified:
        return PollResult(cursor=dict(ctx.cursor or {}))
    doc = valid_text(page.json)
    if not (isinstance(doc, dict) and isinstance(doc.get("info"), dict)
            and isinstance(doc.get("releases"), dict)):
        raise UpstreamChanged(f"{page.url}: expected a JSON object with `info` and `releases`",
                              url=page.url)
    info: dict[str, Any] = doc["info"]
    releases: list[Release] = []
    kept_aside: list[Quarantined] = []
    for version, files in doc["releases"].items():
        try:
            release = _release(version, files, ctx.now)
        except BadItem as bad:
            kept_aside.append(quarantine(spec.key, f"version {text_of(version) or '?'}",
                                         {"version": version, "files": files}, bad,
                                         item_key=f"version:{version}", upstream_id=version))
            continue
        if config.prereleases or not release.parsed.is_prerelease:
            releases.append(release)
    releases.sort(key=lambda r: r.parsed)  # PEP 440 order, oldest first

    cursor_in = ctx.cursor or {}
    after = parse_time(cursor_in.get("published_after"))
    backfill = parse_backfill(config.backfill) if ctx.cursor is None else None
    watermark = after or backfill
    times = [r.published for r in releases if r.published is not None]
    newest_time = max([*times, *([after] if after else [])], default=None)
    cursor = {"published_after": format_time(newest_time) if newest_time else None}
    snapshot = {"versions": {r.version: r.yanked for r in releases}}
    result = PollResult(snapshots={project: snapshot}, cursor=cursor, fetched=len(releases),
                        quarantined=kept_aside)
    if ctx.cursor is None and backfill is None:
        return result  # the silent baseline
    before = ctx.snapshots([project]).get(project)
    known: dict[str, Any] = (before or {}).get("versions") or {}
    # after `mrt cursor reset --to` (or with no snapshot) the date says what is news
    by_date = before is None or "reset_to" in cursor_in
    newest = max((r.parsed for r in releases if not r.yanked), default=None)
    for release in releases:
        fresh = release.published is None or watermark is None or release.published > watermark
        if (release.version not in known and fresh) or (by_date and fresh and watermark):
            result.events.append(_event(spec, site, project, info, release, newest,
                                        "version_published", ctx.now))
        elif release.version in known and release.yanked and known[release.version] is False:
            result.events.append(_event(spec, site, project, info, release, newest,
                                        "version_yanked", ctx.now))
    return result


def _event(spec: SourceSpec, site: str, project: str, info: dict[str, Any], release: Release,
           newest: Version | None, kind: str, now: datetime) -> TrackerEvent:
    version = release.version
    is_info = text_of(info.get("version")) == version  # info describes the newest upload only
    urls = info.get("project_urls") if isinstance(info.get("project_urls"), dict) else {}
    details = {
        "version": version,
        "requires_python": release.requires_python
        or (text_of(info.get("requires_python")) or None if is_info else None),
        "summary": text_of(info.get("summary")),
        "project_urls": {str(k): text_of(v) for k, v in (urls or {}).items()},
        "prerelease": release.parsed.is_prerelease,
        "newest": str(newest) if newest else None,
        "is_newest": newest is not None and release.parsed == newest,
        "yanked": release.yanked,
        "yanked_reason": release.yanked_reason,
    }
    yank = kind == "version_yanked"
    return TrackerEvent(
        source="pypi",
        source_key=spec.key,
        resource_type="project",
        resource_id=project,
        event_type=kind,
        event_id=f"{version}:yanked" if yank else version,
        title=f"{project} {version}" + (" yanked" if yank else ""),
        summary=(release.yanked_reason if yank else "") or text_of(info.get("summary")),
        url=f"{site}/project/{project}/{version}/",
        author=text_of(info.get("author")),
        occurred_at=None if yank else release.published,
        observed_at=now,
        details=details,
        raw={"version": version, "files": len(release.files), "yanked": release.yanked},
    )
