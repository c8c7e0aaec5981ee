"""Deterministic data for issue 17's views (audit, silences, events), on top of
tui_seed.console_scene (imported, not collected). Writes go through mrt.ops, as an operator's
would, with times derived from tui_seed.NOW."""

from __future__ import annotations

from datetime import timedelta

from tui_seed import NOW, SOURCES

from mrt.ops import silences as silence_ops
from mrt.ops import sources as source_ops
from mrt.store.models import SourceState


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
