"""Deterministic data for issue 17's views (audit, silences, events), on top of
tui_seed.console_scene (imported, not collected). Writes go through mrt.ops, as an operator's
would, with times derived from tui_seed.NOW."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tui_seed import NOW, SOURCES

from mrt.ops import silences as silence_ops
from mrt.ops import sources as source_ops
from mrt.store.models import Event, Silence, SourceState


def views_scene() -> None:
    ended = silence_ops.create(
        {"event_type": "release_published"}, expires_at=NOW + timedelta(days=1),
        now=NOW - timedelta(days=2), actor="tui", reason="release week",
    )
    silence_ops.expire(ended, now=NOW - timedelta(days=1), actor="tui", reason="over early")
    active = silence_ops.create(
        {"source_key": "modelscope:*", "keywords": ["qwen", "deepseek"]},
        expires_at=NOW + timedelta(hours=6), now=NOW - timedelta(hours=2), actor="cli",
        reason="ModelScope mirror re-sync",
    )
    if SourceState.get_or_none(SourceState.source_key == SOURCES[0]) is None:
        SourceState.create(source_key=SOURCES[0], source="github", updated_at=NOW)
    source_ops.poll_now(SOURCES[0], now=NOW - timedelta(minutes=5), actor="tui",
                        reason="checking the new token")
    assert active


def add_event(n: int, decision: str, *, source_key: str = "github:vllm-project/vllm",
              title: str = "", **fields: Any) -> int:
    return int(Event.create(
        fingerprint=f"{n:064x}", source=source_key.split(":")[0], source_key=source_key,
        resource_type="issue", resource_id=str(n), event_type="issue_opened", event_id=str(n),
        title=title or f"event {n}", observed_at=NOW - timedelta(seconds=600 - n),
        decision=decision, **fields,
    ).id)


def events_scene() -> None:
    """Five events, one of each kind of decision (the silence is #1 on an empty database)."""
    silence = Silence.create(matcher={"keywords": "qwen"}, created_at=NOW, created_by="cli",
                             expires_at=NOW + timedelta(hours=1), reason="mirror re-sync")
    add_event(1, "baseline")
    add_event(2, "notify", title="DeepSeek-V3 FP8", decision_detail={
        "matched": [{"rule": "deepseek", "reasons": ["title contained 'deepseek'"]}],
        "decided_by": "deepseek", "action": "notify", "channels": ["welink"]})
    add_event(3, "none", decision_detail={"matched": [], "nearest": "deepseek: no keyword"})
    add_event(4, "silenced", source_key="modelscope:qwen", title="Qwen3 \x1b[31mred\u202e",
              silence=silence.id, decision_detail={
                  "matched": [{"rule": "qwen", "reasons": ["title contained 'qwen'"]}],
                  "silence": {"id": int(silence.id), "reason": "mirror re-sync"}})
    add_event(5, "failed", error="template error: 'x' is undefined")
