"""docs/RULES.md cannot drift: every yaml block compiles, and its worked examples hold."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mrt.config import Config
from mrt.events import TrackerEvent
from mrt.rules import compile_rules
from mrt.rules.lint import lint_rules

DOC = Path(__file__).parent.parent / "docs" / "RULES.md"
BLOCKS: list[dict[str, Any]] = [
    yaml.safe_load(block)
    for block in re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
]


def event(**fields: Any) -> TrackerEvent:
    base: dict[str, Any] = {
        "source": "github",
        "source_key": "github:vllm-project/vllm",
        "resource_type": "pull_request",
        "resource_id": "vllm-project/vllm#7",
        "event_type": "pr_merged",
        "event_id": "7",
        "title": "Fix scheduler",
        "author": "alice",
    }
    return TrackerEvent(**{**base, **fields})


def test_the_doc_has_examples() -> None:
    assert len(BLOCKS) >= 6


@pytest.mark.parametrize("block", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_every_example_compiles_and_lints_without_invalid_rules(block: dict[str, Any]) -> None:
    config = Config.model_validate(block)
    compile_rules(config)
    assert [f for f in lint_rules(config) if f.code == "invalid"] == []


def _block_with_rule(name: str) -> Config:
    for block in BLOCKS:
        if any(rule["name"] == name for rule in block.get("rules", [])):
            return Config.model_validate(block)
    raise AssertionError(f"no example defines {name}")


def test_the_worked_evaluation_example() -> None:
    ruleset = compile_rules(_block_with_rule("ops-sees-critical"))
    person = ruleset.evaluate(event(labels=("security",)))
    assert person.action == "notify"
    assert person.channels == ("ops", "team")
    assert person.priority == "critical"
    assert person.tags == ("security",)
    assert [m.rule for m in person.matched] == ["security", "ops-sees-critical", "merged"]

    bot = ruleset.evaluate(event(labels=("security",), author="dependabot[bot]"))
    assert bot.action == "suppress"
    assert bot.channels == ()


def test_watch_keywords_and_its_spelled_out_rule_decide_alike() -> None:
    v0 = next(b for b in BLOCKS if "watch_keywords" in b and "rules" not in b)
    spelled = next(
        b for b in BLOCKS if any(r["name"] == "watch_keywords" for r in b.get("rules", []))
    )
    first, second = (
        compile_rules(Config.model_validate(v0)),
        compile_rules(Config.model_validate(spelled)),
    )
    for item in (
        event(title="DeepSeek-V3"),
        event(summary="qwen tokenizer"),
        event(url="https://x/deepseek"),
        event(author="qwen-bot"),
    ):
        a, b = first.evaluate(item), second.evaluate(item)
        assert (a.action, a.channels, a.matched) == (b.action, b.channels, b.matched)


def test_the_deepseek_example_from_the_top() -> None:
    ruleset = compile_rules(_block_with_rule("deepseek-prs"))
    decision = ruleset.evaluate(event(title="DeepSeek MLA kernels"))
    assert decision.action == "notify"
    assert decision.channels == ("welink-ai",)
    assert decision.priority == "high"
    assert decision.matched[0].reasons == (
        "title contained 'deepseek'",
        "event_type is pr_merged",
        "source_key github:vllm-project/vllm matches 'github:*'",
    )
    missed = ruleset.evaluate(event(title="DeepSeek MLA kernels", event_type="pr_opened"))
    assert missed.nearest == "deepseek-prs: event_type pr_opened is not one of [pr_merged]"
