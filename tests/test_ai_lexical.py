"""The lexical similarity behind `about:` (mrt.ai.lexical): deterministic, explainable, bounded."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mrt.ai.lexical import LexicalTopic, stem, terms
from mrt.events import TrackerEvent
from mrt.rules.about import MAX_ABOUT_CHARS, AboutCondition
from mrt.rules.fields import EventView


@pytest.mark.parametrize(
    ("word", "expected"),
    [("weights", "weight"), ("released", "releas"), ("release", "releas"),
     ("architectures", "architectur"), ("architecture", "architectur"), ("models", "model"),
     ("gpu", "gpu"), ("quantization", "quantiz")],
)
def test_stems_meet_across_plural_and_verb_forms(word: str, expected: str) -> None:
    assert stem(word) == expected


def test_names_weigh_twice_and_stop_words_do_not_count() -> None:
    topic = LexicalTopic.compile("Weights of the DeepSeek-V4 model or Qwen")
    assert dict(topic.weights) == {"weight": 1.0, "deepseek-v4": 2.0, "deepseek": 2.0,
                                   "v4": 2.0, "model": 1.0, "qwen": 2.0}


def test_version_suffixes_and_cjk_pairs() -> None:
    assert {"qwen3", "qwen"} <= terms("Qwen3 is out")
    assert {"模型", "型权", "权重"} <= terms("模型权重")


def test_the_same_inputs_give_the_same_score_and_order() -> None:
    topic = LexicalTopic.compile("new model weights from DeepSeek or Qwen")
    first = topic.similarity("DeepSeek weights, and Qwen")
    assert all(topic.similarity("DeepSeek weights, and Qwen") == first for _ in range(3))
    assert first.found == ("weight", "deepseek", "qwen") and first.missing == ("model",)
    assert first.score == 0.8333


def test_a_huge_body_is_read_only_up_to_the_bound() -> None:
    condition = AboutCondition("DeepSeek weights", 0.9, ("summary",))
    body = "x " * MAX_ABOUT_CHARS + "DeepSeek weights"
    event = TrackerEvent(source="github", source_key="github:a/b", resource_type="issue",
                         resource_id="a/b#1", event_type="issue_opened", event_id="1",
                         title="t", summary=body)
    assert condition.score(EventView(event)) == 0.0
    near = replace(event, summary="DeepSeek weights " + body)
    assert condition.test(EventView(near))
