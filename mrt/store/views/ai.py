"""What the AI enhancements left on an event, for the console's detail pane: the summary (and
the model that wrote it), the triage outcome (score, route, model, or why the rule decided),
and the cluster (lexical: no model). Each is (label, text); nothing when AI never touched it.
And what `mrt rules suggest` learns from: the texts a rule matched, and the others."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from mrt.store.history import events_observed_since
from mrt.store.models import AiCacheEntry, Event


def ai_lines(event: Event | None) -> tuple[tuple[str, str], ...]:
    if event is None:
        return ()
    lines: list[tuple[str, str]] = []
    newest: Any = (
        AiCacheEntry.select()
        .where((AiCacheEntry.fingerprint == event.fingerprint)
               & (AiCacheEntry.capability == "summary"))
        .order_by(AiCacheEntry.created_at.desc(), AiCacheEntry.id.desc())
        .first()
    )
    if newest is not None:
        lines.append((f"summary by {newest.model}", str(newest.text)))
    detail = event.decision_detail if isinstance(event.decision_detail, dict) else {}
    triaged = detail.get("triaged")
    if isinstance(triaged, dict):
        lines.append(("triage", _triage(triaged)))
    details = event.details if isinstance(event.details, dict) else {}
    if details.get("cluster"):
        lines.append(("cluster", f"{details['cluster']} (lexical, no model)"))
    return tuple(lines)


def _triage(triaged: dict[str, Any]) -> str:
    score = triaged.get("score")
    if triaged.get("by") == "ai" and isinstance(score, int | float):
        confidence = triaged.get("confidence")
        sure = f", confidence {confidence:.2f}" if isinstance(confidence, int | float) else ""
        return (f"score {score:.2f}{sure}: {triaged.get('route')} "
                f"(by {triaged.get('model') or 'the model'})")
    return f"{triaged.get('route')}, the rule's plain decision: {triaged.get('why')}"


def rule_match_texts(rule: str, since: datetime) -> tuple[list[str], list[str]]:
    """(texts of the events `rule` matched, texts of the others), observed since `since`, as
    recorded when they were decided; a text is an event's title and summary."""
    matched: list[str] = []
    other: list[str] = []
    for row in events_observed_since(since):
        detail = row.decision_detail if isinstance(row.decision_detail, dict) else {}
        names = {m.get("rule") for m in detail.get("matched") or () if isinstance(m, dict)}
        (matched if rule in names else other).append(f"{row.title}\n{row.summary or ''}")
    return matched, other
