"""The v0 user guide's example config (seeds/002_3ef3080b45a560e2.txt, section 2.2, copied
verbatim to tests/fixtures/rules/v0_example.json) decides as v0 did."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from mrt.config import Config
from mrt.events import TrackerEvent
from mrt.rules import compile_rules
from mrt.rules.lint import lint_rules

EXAMPLE: dict[str, Any] = json.loads(
    (Path(__file__).parent / "fixtures" / "rules" / "v0_example.json").read_text(encoding="utf-8")
)


def rules_part() -> Config:
    """The keys the rules read; `sources` is validated by each source plugin, not here."""
    return Config.model_validate({k: v for k, v in EXAMPLE.items() if k != "sources"})


def github_event(title: str, summary: str = "", **extra: Any) -> TrackerEvent:
    return TrackerEvent(
        source="github",
        source_key="github:vllm-project/vllm",
        resource_type="pull_request",
        resource_id="vllm-project/vllm#1",
        event_type="pr_opened",
        event_id="1",
        title=title,
        summary=summary,
        **extra,
    )


@pytest.mark.parametrize(
    ("event", "alerts"),
    [
        (github_event("[Model] DeepSeek-V3 MTP support"), True),
        (github_event("Qwen3 MoE kernels"), True),
        (github_event("Fix typo", summary="needed for QWEN2-VL"), True),
        (github_event("Fix typo", url="https://github.com/deepseek-ai/x"), False),
        (github_event("Fix typo", author="qwen-team"), False),
        (github_event("Fix scheduler"), False),
    ],
)
def test_v0_example_alerts_exactly_on_keywords(event: TrackerEvent, alerts: bool) -> None:
    decision = compile_rules(rules_part()).evaluate(event)
    if alerts:
        assert decision.action == "notify"
        assert decision.channels == ("welink",)
        assert [m.rule for m in decision.matched] == ["watch_keywords"]
    else:
        assert decision.action == "none"
        assert decision.nearest is not None and decision.nearest.startswith("watch_keywords: ")


def test_v0_example_lints_clean() -> None:
    assert lint_rules(rules_part()) == []
