"""OSV advisories for watched packages: advisory_published, advisory_modified, advisory_withdrawn.

One `POST {base}/v1/querybatch` per cycle asks for every watched package at once and answers only
`{id, modified}` per advisory; `GET {base}/v1/vulns/{id}` is asked only for the ids never seen or
whose `modified` moved, so a cycle where nothing changed costs one request. OSV has no
conditional GET for POST (no ETag, no Last-Modified): the batch query is what keeps it cheap.
A package with more results than one batch page carries `next_page_token`; it is asked again,
alone, with that `page_token`, until it has none.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import Field

from mrt.api import (
    BadItem,
    HostBudget,
    PollContext,
    PollResult,
    Quarantined,
    RootConfig,
    SourceError,
    SourceSection,
    SourceSpec,
    Strict,
    TrackerEvent,
    UpstreamChanged,
    content_key,
    format_time,
    parse_backfill,
    parse_time,
    quarantine,
    require_text,
    require_time,
    text_of,
    valid_text,
)

DEFAULT_BASE = "https://api.osv.dev"
DISPLAY_NAME = "OSV"
# The details messages and the console show, per event type ("*": the rest): (key, label).
EVENT_DETAILS = {"*": (("severity", "Severity"), ("aliases", "Aliases"), ("fixed", "Fixed in"),
                         ("withdrawn", "Withdrawn"))}
EVENT_WORDS = {
    "advisory_published": "New security advisory",
    "advisory_modified": "Security advisory modified",
    "advisory_withdrawn": "Security advisory withdrawn",
}
MISSING_TOKEN_COST = "none: OSV's API is public and takes no token"
BUDGETS = {"api.osv.dev": HostBudget(concurrency=2, requests=60, window_seconds=60)}
MAX_REFERENCES = 10


class Package(Strict):
    ecosystem: str = Field(min_length=1)  # PyPI, npm, Go, crates.io, ... as OSV spells it
    name: str = Field(min_length=1)


class Config(SourceSection):
    """`sources.osv`: the packages whose advisories are watched, all in one batch query."""

    packages: list[Package] = Field(min_length=1, max_length=1000)  # OSV's batch limit
    max_pages: int = Field(10, ge=1)  # per package, when OSV pages its results


def instances(name: str, section: Config, config: RootConfig) -> list[SourceSpec]:
    return [SourceSpec(key=f"osv:{name}", plugin="osv", section=name,
                       params={"packages": [p.model_dump() for p in section.packages]},
                       config=section)]


def cursor_since(when: datetime) -> dict[str, Any]:
    """`mrt cursor reset --to`: advisories modified after `when` are reported again on the next
    poll, even those already seen unchanged."""
    stamp = format_time(when)
    return {"modified_after": stamp, "replay_after": stamp}


def base_url(config: SourceSection, env: Mapping[str, str] | None = None) -> str:
    # (config, env): the signature mrt.schedule.source_host calls a plugin's base_url with
    return (config.base_url or DEFAULT_BASE).rstrip("/")


async def poll(spec: SourceSpec, ctx: PollContext) -> PollResult:
    config = spec.config
    assert isinstance(config, Config)
    site = base_url(config)
    packages = [dict(p) for p in spec.params["packages"]]
    cursor = ctx.cursor or {}
    backfill = parse_backfill(config.backfill) if ctx.cursor is None else None
    baseline = ctx.cursor is None and backfill is None
    replay = parse_time(cursor.get("replay_after")) or backfill

    listed, quarantined = await _listed(spec, ctx, site, packages, config.max_pages)
    newest = parse_time(cursor.get("modified_after"))
    for modified, _ in listed.values():
        newest = max(newest, modified) if newest else modified
    next_cursor = {"modified_after": format_time(newest)} if newest else {}
    known = ctx.snapshots(list(listed))
    snapshots: dict[str, dict[str, Any]] = {}
    wanted: list[str] = []
    for vuln_id, (modified, _) in listed.items():
        before = known.get(vuln_id)
        # the first poll records what is there; with a backfill, what changed before its date
        if baseline or (backfill is not None and modified <= backfill):
            snapshots[vuln_id] = {"modified": modified.isoformat(), "withdrawn": None}
        elif (before is None or parse_time(before.get("modified")) != modified
              or (replay is not None and modified > replay)):
            wanted.append(vuln_id)
    if baseline:
        return PollResult(snapshots=snapshots, cursor=next_cursor, fetched=len(listed),
                          quarantined=quarantined)

    events: list[TrackerEvent] = []
    missing: list[str] = []
    for vuln_id in sorted(wanted, key=lambda v: listed[v][0]):  # oldest change first
        try:
            page = await ctx.http.request_json("GET", f"{site}/v1/vulns/{vuln_id}",
                                               conditional=False)
        except SourceError as error:
            if error.http_status != 404:
                raise
            missing.append(vuln_id)  # listed, not yet served: no snapshot, asked again
            continue
        record = valid_text(page.json)
        try:
            modified, published, withdrawn = _checked_record(record, vuln_id, ctx.now)
        except BadItem as bad:
            quarantined.append(quarantine(spec.key, f"advisory {vuln_id}", record, bad,
                                          item_key=f"id:{vuln_id}", upstream_id=vuln_id))
            continue
        before = known.get(vuln_id)
        snapshots[vuln_id] = {"modified": modified.isoformat(),  # to the microsecond
                              "withdrawn": format_time(withdrawn) if withdrawn else None}
        kind = _kind(before, withdrawn, published, replay)
        if kind is not None:
            events.append(_event(spec, site, record, packages, kind, modified, published,
                                 withdrawn, ctx.now))
    degraded = (f"{len(missing)} advisory id(s) listed but answered 404 "
                f"({', '.join(missing[:5])}): asked again next cycle") if missing else None
    return PollResult(events=events, snapshots=snapshots, cursor=next_cursor,
                      fetched=len(listed), quarantined=quarantined, degraded=degraded)


async def _listed(
    spec: SourceSpec, ctx: PollContext, site: str, packages: list[dict[str, Any]],
    max_pages: int,
) -> tuple[dict[str, tuple[datetime, dict[str, Any]]], list[Quarantined]]:
    """Every advisory id the batch query lists for the packages, with its `modified` time."""
    listed: dict[str, tuple[datetime, dict[str, Any]]] = {}
    quarantined: list[Quarantined] = []
    queries: list[tuple[dict[str, Any], str | None, int]] = [(p, None, 1) for p in packages]
    while queries:
        body = {"queries": [{"package": p, **({"page_token": t} if t else {})}
                            for p, t, _ in queries]}
        page = await ctx.http.request_json("POST", f"{site}/v1/querybatch", json_body=body,
                                           conditional=False)
        results = page.json.get("results") if isinstance(page.json, dict) else None
        if not isinstance(results, list) or len(results) != len(queries):
            raise UpstreamChanged(f"{page.url}: expected {{\"results\": [...]}} with one result "
                                  f"per query ({len(queries)})", url=page.url)
        again: list[tuple[dict[str, Any], str | None, int]] = []
        for (package, _, pages), result in zip(queries, results, strict=True):
            result = result if isinstance(result, dict) else {}
            for raw in result.get("vulns") or []:
                item = valid_text(raw)
                try:
                    vuln_id = require_text(item, "id") if isinstance(item, dict) else None
                    if vuln_id is None:
                        raise BadItem("item", "a JSON object", item)
                    modified = require_time(item, "modified", ctx.now)
                except BadItem as bad:
                    quarantined.append(_quarantined(spec, item, bad))
                    continue
                seen = listed.get(vuln_id)
                if seen is None or seen[0] < modified:
                    listed[vuln_id] = (modified, package)
            token = result.get("next_page_token")
            if isinstance(token, str) and token and pages < max_pages:
                again.append((package, token, pages + 1))
        queries = again
    return listed, quarantined


def _checked_record(record: Any, vuln_id: str, now: datetime,
                    ) -> tuple[datetime, datetime | None, datetime | None]:
    if not isinstance(record, dict):
        raise BadItem("record", "a JSON object", record)
    if require_text(record, "id") != vuln_id:
        raise BadItem("id", f"{vuln_id!r}", record.get("id"))
    modified = require_time(record, "modified", now)
    published = parse_time(record.get("published")) if record.get("published") else None
    withdrawn = (require_time(record, "withdrawn", now)
                 if record.get("withdrawn") is not None else None)
    return modified, published, withdrawn


def _quarantined(spec: SourceSpec, item: Any, bad: BadItem) -> Quarantined:
    vuln_id = item.get("id") if isinstance(item, dict) else None
    if isinstance(vuln_id, str) and vuln_id.strip():
        return quarantine(spec.key, f"advisory {vuln_id}", item, bad, item_key=f"id:{vuln_id}",
                          upstream_id=vuln_id)
    return quarantine(spec.key, "advisory ?", item, bad, item_key=content_key(item))


def _kind(before: Mapping[str, Any] | None, withdrawn: datetime | None,
          published: datetime | None, replay: datetime | None) -> str | None:
    if withdrawn is not None:
        return None if before is not None and before.get("withdrawn") else "advisory_withdrawn"
    if replay is None:
        return "advisory_published" if before is None else "advisory_modified"
    # a reset or backfill date: published after it is news, older ones changed after it
    if published is None or published > replay:
        return "advisory_published"
    return "advisory_modified"


def severity_of(record: Mapping[str, Any]) -> dict[str, Any]:
    """CVSS vectors (`severity[]`), and the databases' own word (`database_specific.severity`,
    or an affected entry's `ecosystem_specific`/`database_specific` severity)."""
    vectors = [f"{text_of(s.get('type'))} {text_of(s.get('score'))}".strip()
               for s in record.get("severity") or [] if isinstance(s, dict)]
    words: list[str] = []
    for holder in [record, *(a for a in record.get("affected") or [] if isinstance(a, dict))]:
        for key in ("database_specific", "ecosystem_specific"):
            extra = holder.get(key)
            if isinstance(extra, dict) and isinstance(extra.get("severity"), str):
                words.append(extra["severity"].upper())
    return {"cvss": vectors, "level": words[0] if words else None}


def affected_for(record: Mapping[str, Any], packages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The affected entries of the watched packages: their ranges and listed versions."""
    watched = {(p["ecosystem"].lower(), p["name"]) for p in packages}
    found = []
    for entry in record.get("affected") or []:
        package = entry.get("package") if isinstance(entry, dict) else None
        if not isinstance(package, dict):
            continue
        if (text_of(package.get("ecosystem")).lower(), text_of(package.get("name"))) in watched:
            ranges = [{"type": r.get("type"), "events": r.get("events")}
                      for r in entry.get("ranges") or [] if isinstance(r, dict)]
            found.append({"package": f"{package.get('name')} ({package.get('ecosystem')})",
                          "ranges": ranges, "versions": (entry.get("versions") or [])[:20]})
    return found


def _fixed(affected: list[dict[str, Any]]) -> list[str]:
    """The versions that fix it, in the order the ranges give them."""
    found = [text_of(step.get("fixed")) for entry in affected for span in entry["ranges"]
             for step in span.get("events") or [] if isinstance(step, dict) and step.get("fixed")]
    return list(dict.fromkeys(found))


def _range_text(affected: list[dict[str, Any]]) -> str:
    parts = []
    for entry in affected:
        spans: list[str] = []
        for span in entry["ranges"]:
            for step in span.get("events") or []:
                if isinstance(step, dict):
                    spans.extend(f"{k} {v}" for k, v in step.items())
        parts.append(f"{entry['package']}: {', '.join(spans) or 'all versions'}")
    return "; ".join(parts)


def title_of(vuln_id: str, aliases: list[str], level: str | None, summary: str) -> str:
    """`GHSA-x (CVE-y) [HIGH]: summary`: what a message's one line must say of an advisory."""
    named = f"{vuln_id} ({', '.join(aliases[:3])})" if aliases else vuln_id
    rated = f"{named} [{level}]" if level else named
    return f"{rated}: {summary}" if summary else rated


def _event(spec: SourceSpec, site: str, record: dict[str, Any], packages: list[dict[str, Any]],
           kind: str, modified: datetime, published: datetime | None,
           withdrawn: datetime | None, now: datetime) -> TrackerEvent:
    vuln_id = str(record["id"])
    aliases = [a for a in record.get("aliases") or [] if isinstance(a, str)]
    severity = severity_of(record)
    affected = affected_for(record, packages)
    summary_text = text_of(record.get("summary")) or text_of(record.get("details"))[:200]
    said = [f"severity {severity['level'] or 'unrated'}"]
    said += severity["cvss"]
    if aliases:
        said.append("aliases " + ", ".join(aliases))
    if affected:
        said.append("affects " + _range_text(affected))
    references = [text_of(r.get("url")) for r in record.get("references") or []
                  if isinstance(r, dict)][:MAX_REFERENCES]
    when = {"advisory_published": published or modified, "advisory_withdrawn": withdrawn}
    event_id = {"advisory_published": vuln_id,
                "advisory_withdrawn": f"withdrawn:{format_time(withdrawn) if withdrawn else ''}"}
    return TrackerEvent(
        source="osv",
        source_key=spec.key,
        resource_type="advisory",
        resource_id=vuln_id,
        event_type=kind,
        event_id=event_id.get(kind, f"modified:{format_time(modified)}"),
        title=title_of(vuln_id, aliases, severity["level"], summary_text),
        summary=". ".join(said),
        url=f"https://osv.dev/vulnerability/{vuln_id}" if site == DEFAULT_BASE
        else f"{site}/v1/vulns/{vuln_id}",
        labels=tuple(aliases),
        occurred_at=when.get(kind) or modified,
        observed_at=now,
        details={"id": vuln_id, "aliases": aliases, "severity": severity["level"],
                 "cvss": severity["cvss"], "affected": affected, "fixed": _fixed(affected), "references": references,
                 "published": format_time(published) if published else None,
                 "modified": format_time(modified),
                 "withdrawn": format_time(withdrawn) if withdrawn else None},
        raw={k: record.get(k) for k in ("id", "modified", "published", "withdrawn", "aliases")},
    )
