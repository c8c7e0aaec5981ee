"""GitHub security advisories: advisory_published, advisory_updated, advisory_withdrawn.

Two kinds of instance, each one list walked newest-updated first:

- per package, the global advisories: `GET {base}/advisories?ecosystem=pip&affects=vllm
  &sort=updated&direction=desc&per_page=100`
- per repository, its own advisories: `GET {base}/repos/{o}/{r}/security-advisories
  ?sort=updated&direction=desc&per_page=100`

Pages follow `Link: rel="next"` until the first advisory older than the cursor. Any change
moves an advisory to the top, so the first page is asked conditionally (ETag): a 304 means
nothing changed and costs no rate limit. Events are differences against the snapshot of each
`ghsa_id` ({updated_at, withdrawn_at}). The token and the host budget are GitHub's: the same
`token_env` as `sources.github` spends (and is deferred by) the same rate limit.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import Field, field_validator, model_validator

from mrt.api import (
    BadItem,
    HostBudget,
    PollContext,
    PollResult,
    Quarantined,
    RootConfig,
    SourceSection,
    SourceSpec,
    Strict,
    TrackerEvent,
    UpstreamChanged,
    content_key,
    format_time,
    link_pages,
    parse_backfill,
    parse_time,
    quarantine,
    require_text,
    require_time,
    text_of,
    usable_time,
    valid_text,
)

DEFAULT_BASE = "https://api.github.com"
DISPLAY_NAME = "GitHub Advisories"
# The details messages and the console show, per event type ("*": the rest): (key, label).
EVENT_DETAILS = {"*": (("severity", "Severity"), ("cve_id", "CVE"), ("cvss_score", "CVSS"),
                         ("patched", "Patched in"), ("withdrawn_at", "Withdrawn"))}
EVENT_WORDS = {
    "advisory_published": "New security advisory",
    "advisory_updated": "Security advisory updated",
    "advisory_withdrawn": "Security advisory withdrawn",
}
MISSING_TOKEN_COST = ("GitHub allows 60 requests an hour (shared with every other GitHub source); "
                      "with it 5,000, and a repository's own advisories need it")
# the same budget as sources.github declares: one host, one budget, whichever plugin names it
BUDGETS = {"api.github.com": HostBudget(concurrency=2, requests=80, window_seconds=60)}
# GitHub's documented limit without a token: 60 requests an hour per client address
ANONYMOUS_BUDGETS = {"api.github.com": HostBudget(concurrency=2, requests=60, window_seconds=3600)}
HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}
PER_PAGE = 100
SEVERITIES = ("low", "medium", "moderate", "high", "critical", "unknown")


class Package(Strict):
    ecosystem: str = Field(min_length=1)  # GitHub's names: pip, npm, maven, go, rubygems, ...
    name: str = Field(min_length=1)


class Config(SourceSection):
    """`sources.ghsa`: global advisories affecting packages, and repositories' own advisories."""

    packages: list[Package] = Field(default_factory=list)
    repos: list[str] = Field(default_factory=list)
    max_pages: int = Field(10, ge=1)

    @field_validator("repos")
    @classmethod
    def _owner_slash_repo(cls, repos: list[str]) -> list[str]:
        for repo in repos:
            owner, _, name = repo.partition("/")
            if not owner or not name or "/" in name or " " in repo:
                raise ValueError(f"{repo!r} is not of the form owner/repo")
        return repos

    @model_validator(mode="after")
    def _something_watched(self) -> Config:
        if not self.packages and not self.repos:
            raise ValueError("name at least one package or repo to watch")
        return self


def instances(name: str, section: Config, config: RootConfig) -> list[SourceSpec]:
    specs = [SourceSpec(key=f"ghsa:{p.ecosystem}/{p.name}", plugin="ghsa", section=name,
                        params={"ecosystem": p.ecosystem, "package": p.name}, config=section)
             for p in section.packages]
    specs += [SourceSpec(key=f"ghsa:{repo}", plugin="ghsa", section=name,
                         params={"repo": repo}, config=section) for repo in section.repos]
    return specs


def cursor_since(when: datetime) -> dict[str, Any]:
    """`mrt cursor reset --to`: advisories updated after `when` are reported again on the next
    poll, even those already seen unchanged."""
    stamp = format_time(when)
    return {"updated_after": stamp, "replay_after": stamp}


def endpoint(spec: SourceSpec) -> tuple[str, dict[str, Any], str]:
    """The list URL, its query and what it watches in words."""
    config = spec.config
    base = (config.base_url or DEFAULT_BASE).rstrip("/")
    params: dict[str, Any] = {"sort": "updated", "direction": "desc", "per_page": PER_PAGE}
    if "repo" in spec.params:
        repo = str(spec.params["repo"])
        return f"{base}/repos/{repo}/security-advisories", params, repo
    params.update(ecosystem=spec.params["ecosystem"], affects=spec.params["package"])
    return f"{base}/advisories", params, f"{spec.params['package']} ({spec.params['ecosystem']})"


async def poll(spec: SourceSpec, ctx: PollContext) -> PollResult:
    config = spec.config
    assert isinstance(config, Config)
    url, params, watched = endpoint(spec)
    cursor = ctx.cursor or {}
    after = parse_time(cursor.get("updated_after"))
    backfill = parse_backfill(config.backfill) if ctx.cursor is None else None
    baseline = ctx.cursor is None and backfill is None
    replay = parse_time(cursor.get("replay_after")) or backfill
    watermark = replay or after

    found: dict[str, tuple[datetime, dict[str, Any]]] = {}
    quarantined: dict[str, Quarantined] = {}
    newest = after
    async for page in link_pages(ctx.http, url, params=params, headers=HEADERS,
                                 max_pages=config.max_pages,
                                 conditional=replay is None):
        if page.not_modified:
            return PollResult(cursor={k: v for k, v in cursor.items() if k != "replay_after"})
        if not isinstance(page.json, list):
            raise UpstreamChanged(f"{page.url}: expected a JSON list of advisories, got "
                                  f"{type(page.json).__name__}", url=page.url)
        older_seen = False
        for raw in page.json:
            item = valid_text(raw)
            updated = usable_time(item, "updated_at", ctx.now)
            if updated is not None:
                newest = max(newest, updated) if newest else updated
                if watermark and not baseline and updated < watermark:
                    older_seen = True  # newest first: the rest is older still
                    break
            try:
                ghsa_id, updated = _checked(item, ctx.now)
            except BadItem as bad:
                kept = _quarantined(spec, item, bad)
                quarantined[kept.item_key] = kept
                continue
            if ghsa_id not in found or found[ghsa_id][0] < updated:
                found[ghsa_id] = (updated, item)
        if older_seen:
            break

    next_cursor = {"updated_after": format_time(newest)} if newest else {}
    snapshots = {ghsa_id: snapshot_of(item) for ghsa_id, (_, item) in found.items()}
    kept_aside = list(quarantined.values())
    if baseline:
        return PollResult(snapshots=snapshots, cursor=next_cursor, fetched=len(found),
                          quarantined=kept_aside)
    known = ctx.snapshots(list(found))
    events = []
    for ghsa_id, (_, item) in sorted(found.items(), key=lambda kv: kv[1][0]):
        kind = change(known.get(ghsa_id), item, replay, watermark)
        if kind is not None:
            events.append(_event(spec, watched, item, kind, ctx.now))
    return PollResult(events=events, snapshots=snapshots, cursor=next_cursor,
                      fetched=len(found), quarantined=kept_aside)


def _checked(item: Any, now: datetime) -> tuple[str, datetime]:
    """Required: `ghsa_id` and `updated_at` (the cursor); `withdrawn_at` a time or null."""
    if not isinstance(item, dict):
        raise BadItem("item", "a JSON object", item)
    ghsa_id = require_text(item, "ghsa_id")
    updated = require_time(item, "updated_at", now)
    if item.get("withdrawn_at") is not None:
        require_time(item, "withdrawn_at", now)
    return ghsa_id, updated


def _quarantined(spec: SourceSpec, item: Any, bad: BadItem) -> Quarantined:
    fields = item if isinstance(item, dict) else {}
    ghsa_id = fields.get("ghsa_id")
    url = fields.get("html_url") if isinstance(fields.get("html_url"), str) else None
    if isinstance(ghsa_id, str) and ghsa_id.strip():
        return quarantine(spec.key, f"advisory {ghsa_id}", item, bad, item_key=f"id:{ghsa_id}",
                          upstream_id=ghsa_id, url=url)
    return quarantine(spec.key, "advisory ?", item, bad, item_key=content_key(item), url=url)


def snapshot_of(item: Mapping[str, Any]) -> dict[str, Any]:
    return {"updated_at": item.get("updated_at"), "withdrawn_at": item.get("withdrawn_at")}


def change(before: Mapping[str, Any] | None, item: Mapping[str, Any],
           replay: datetime | None, watermark: datetime | None = None) -> str | None:
    """published for an id never seen that was published after the window opened (or after a
    reset's date), withdrawn when withdrawn_at was set, updated when updated_at moved (an id
    never seen but published before the window: it existed, we had not recorded it)."""
    withdrawn = item.get("withdrawn_at")
    updated = parse_time(item.get("updated_at"))
    published = parse_time(item.get("published_at"))
    replayed = replay is not None and updated is not None and updated > replay
    if withdrawn and (before is None or not before.get("withdrawn_at") or replayed):
        return "advisory_withdrawn"
    fresh = watermark is None or published is None or published > watermark
    if (before is None and fresh) or (replay is not None and published is not None
                                      and published > replay):
        return "advisory_published"
    if before is None or replayed or parse_time(before.get("updated_at")) != updated:
        return "advisory_updated"
    return None


def vulnerable(item: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Per package: its vulnerable range and patched versions (global: first_patched_version;
    a repository's: patched_versions)."""
    found = []
    for entry in item.get("vulnerabilities") or []:
        if not isinstance(entry, dict):
            continue
        package = entry.get("package")
        package = package if isinstance(package, dict) else {}
        patched = entry.get("first_patched_version", entry.get("patched_versions"))
        if isinstance(patched, dict):  # the older shape: {"identifier": "5.0.0"}
            patched = patched.get("identifier")
        found.append({"package": f"{text_of(package.get('name'))} "
                                 f"({text_of(package.get('ecosystem'))})",
                      "vulnerable": text_of(entry.get("vulnerable_version_range")),
                      "patched": text_of(patched)})
    return found


def _event(spec: SourceSpec, watched: str, item: Mapping[str, Any], kind: str,
           now: datetime) -> TrackerEvent:
    ghsa_id = str(item["ghsa_id"])
    cve = text_of(item.get("cve_id"))
    severity = text_of(item.get("severity")).lower()
    severity = severity if severity in SEVERITIES else ""
    cvss = item.get("cvss")
    cvss = cvss if isinstance(cvss, dict) else {}
    vector, score = text_of(cvss.get("vector_string")), cvss.get("score")
    ranges = vulnerable(item)
    named = f"{ghsa_id} ({cve})" if cve else ghsa_id
    rated = f"{named} [{severity.upper()}]" if severity else named
    summary = text_of(item.get("summary"))
    said = [f"severity {severity or 'unrated'}"]
    if vector:
        said.append(f"CVSS {score} {vector}" if score is not None else f"CVSS {vector}")
    said += [f"{r['package']}: vulnerable {r['vulnerable'] or '?'}, patched "
             f"{r['patched'] or 'none yet'}" for r in ranges]
    updated = text_of(item.get("updated_at"))
    when = {"advisory_published": "published_at", "advisory_withdrawn": "withdrawn_at"}
    return TrackerEvent(
        source="ghsa",
        source_key=spec.key,
        resource_type="advisory",
        resource_id=ghsa_id,
        event_type=kind,
        event_id={"advisory_published": ghsa_id}.get(kind, f"{kind}:{updated}"),
        title=f"{rated}: {summary}" if summary else rated,
        summary=". ".join(said),
        url=text_of(item.get("html_url")),
        author=watched,
        labels=tuple(a for a in (ghsa_id, cve) if a),
        occurred_at=parse_time(item.get(when.get(kind, "updated_at"))) or parse_time(updated),
        observed_at=now,
        details={"ghsa_id": ghsa_id, "cve_id": cve or None, "severity": severity or None,
                 "cvss_vector": vector or None, "cvss_score": score,
                 "vulnerabilities": ranges,
                 "patched": list(dict.fromkeys(r["patched"] for r in ranges if r["patched"])), "html_url": text_of(item.get("html_url")),
                 "published_at": item.get("published_at"), "updated_at": updated,
                 "withdrawn_at": item.get("withdrawn_at"), "watched": watched},
        raw={k: item.get(k) for k in ("ghsa_id", "cve_id", "updated_at", "withdrawn_at",
                                      "published_at", "severity")},
    )
