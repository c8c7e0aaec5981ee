"""The nearest-miss pass scores only the rules whose score it does not know already."""

from __future__ import annotations

from typing import Any

import pytest

from mrt.config import config_from_dict
from mrt.events import TrackerEvent
from mrt.rules import compile_rules
from mrt.rules.conditions import KeywordsCondition, Leaf


def _config() -> dict[str, Any]:
    notify = {"channels": ["team"]}
    return {
        "channels": {"team": {"urls": ["json://127.0.0.1:9/hook"]}},
        "rules": [
            {"name": "glm", "when": {"keywords": ["glm-4"]}, "notify": notify},
            {"name": "qwen", "when": {"keywords": ["qwen3"]}, "notify": notify},
            {"name": "wants-crash", "when": {"tags": ["crash"]}, "notify": notify},
            {"name": "tag-crash", "when": {"keywords": ["crash"]}, "tag": ["crash"]},
            {"name": "deepseek-prs", "when": {"keywords": ["deepseek"],
                                              "event_type": ["pr_merged"]}, "notify": notify},
            {"name": "mixtral", "when": {"keywords": ["mixtral"]}, "notify": notify},
        ],
    }


def _event(title: str, event_type: str = "pr_opened") -> TrackerEvent:
    return TrackerEvent(source="github", source_key="github:a/b", resource_type="pull_request",
                        resource_id="a/b#1", event_type=event_type, event_id="1", title=title)


@pytest.fixture
def leaf_scores(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The keyword leaves the nearest-miss pass scored, by their first term."""
    scored: list[str] = []
    real = Leaf.score

    def counting(self: Leaf, view: Any) -> float:
        if isinstance(self, KeywordsCondition):
            scored.append(self.terms[0])
        return real(self, view)

    monkeypatch.setattr(KeywordsCondition, "score", counting, raising=False)
    return scored


def test_the_nearest_miss_skips_single_leaf_rules_it_knows_score_nothing(
    leaf_scores: list[str],
) -> None:
    ruleset = compile_rules(config_from_dict(_config()))
    decision = ruleset.evaluate(_event("deepseek support"))
    assert decision.action == "none"
    # the two-condition rule half-held: it is the nearest, with what it missed
    assert decision.nearest == "deepseek-prs: event_type pr_opened is not one of [pr_merged]"
    # glm is scored (the first candidate), qwen and mixtral are not: one leaf each, false in the
    # main pass, so 0; the two-condition rule's keyword leaf is scored through it
    assert leaf_scores == ["glm-4", "deepseek"]


def test_the_nearest_miss_still_reads_tags_afresh(leaf_scores: list[str]) -> None:
    ruleset = compile_rules(config_from_dict(_config()))
    # a tag set by a rule after the one that wanted it: it holds only now, and is named
    decision = ruleset.evaluate(_event("a crash on start"))
    assert decision.nearest == "wants-crash: held only with tags or priority set by later rules"
    # nothing scores anything when no rule holds even in part: the first rule is named
    assert ruleset.evaluate(_event("nothing here")).nearest == (
        "glm: title or summary did not contain any of 'glm-4'")
