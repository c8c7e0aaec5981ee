"""Hostile text: catastrophic patterns over a crafted 1 MB body stay linear (RE2)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

import pytest

from mrt.config import Config
from mrt.events import TrackerEvent
from mrt.rules import compile_rules
from mrt.rules.fields import MAX_FIELD_CHARS

# With a backtracking engine each of these takes exponential time on the texts below:
# Python's `re` does not return from `(a+)+$` on 30 a's followed by "!".
CATASTROPHIC = [
    ("nested-plus", r"(a+)+$", "a", "!"),
    ("overlapping-plus", r"(x+x+)+y", "x", "z"),
    ("alternation", r"^(a|aa)+$", "a", "b"),
]


def event_with_body(body: str) -> TrackerEvent:
    return TrackerEvent(
        source="github",
        source_key="github:vllm-project/vllm",
        resource_type="issue",
        resource_id="vllm-project/vllm#1",
        event_type="issue_opened",
        event_id="1",
        title="hostile",
        summary=body,
    )


def best_time(func: Callable[[], object], repeat: int = 3) -> float:
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        timings.append(time.perf_counter() - start)
    return min(timings)


@pytest.mark.parametrize(
    ("pattern", "filler", "tail"),
    [(p, f, t) for _, p, f, t in CATASTROPHIC],
    ids=[i for i, *_ in CATASTROPHIC],
)
def test_catastrophic_pattern_scales_linearly(pattern: str, filler: str, tail: str) -> None:
    config = Config.model_validate(
        {
            "rules": [
                {
                    "name": "hostile",
                    "when": {"regex": {"field": "summary", "pattern": pattern}},
                    "notify": True,
                }
            ]
        }
    )
    ruleset = compile_rules(config)
    small = event_with_body(filler * 100_000 + tail)
    large = event_with_body(filler * 1_000_000 + tail)

    small_decision = ruleset.evaluate(small)
    large_decision = ruleset.evaluate(large)
    assert small_decision.action == large_decision.action == "none"
    assert large_decision.nearest == f"hostile: summary did not match /{pattern}/"

    ratio = best_time(lambda: ruleset.evaluate(large)) / best_time(lambda: ruleset.evaluate(small))
    # Linear is 10x; quadratic would be 100x, exponential would never return. Generous bound.
    assert ratio < 40, f"1 MB took {ratio:.1f}x the time of 100 KB"


def test_a_match_at_the_end_of_a_1_mb_body_is_found() -> None:
    config = Config.model_validate(
        {
            "rules": [
                {
                    "name": "tail",
                    "when": {"regex": {"field": "summary", "pattern": r"(a+)+b$"}},
                    "notify": True,
                }
            ]
        }
    )
    decision = compile_rules(config).evaluate(event_with_body("a" * 1_000_000 + "b"))
    assert decision.action == "notify"
    assert decision.matched[0].reasons[0].startswith("summary matched /(a+)+b$/ ('aaaa")


def test_text_past_the_field_cap_is_not_looked_at() -> None:
    config = Config.model_validate(
        {"rules": [{"name": "kw", "when": {"keywords": ["needle"]}, "notify": True}]}
    )
    ruleset = compile_rules(config)
    inside = event_with_body("." * (MAX_FIELD_CHARS - 10) + "needle")
    outside = event_with_body("." * MAX_FIELD_CHARS + "needle")
    assert ruleset.evaluate(inside).action == "notify"
    assert ruleset.evaluate(outside).action == "none"


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("qwen", True),
        ("(qwen)", True),
        ("c++ qwen-7b", True),
        ("qwen2", False),
        ("myqwen", False),
        ("qwen_vl", False),
        ("qwené", False),  # é is a letter: still inside a word
        ("使用qwen模型", True),  # CJK neighbours are not word characters
    ],
)
def test_word_bounded_keywords(text: str, matched: bool) -> None:
    config = Config.model_validate(
        {
            "rules": [
                {
                    "name": "w",
                    "when": {"keywords": {"terms": ["QWEN"], "word": True, "fields": ["summary"]}},
                    "notify": True,
                }
            ]
        }
    )
    decision = compile_rules(config).evaluate(event_with_body(text))
    assert (decision.action == "notify") is matched


def test_word_bounded_keywords_over_a_million_near_misses_scale_linearly() -> None:
    config = Config.model_validate(
        {
            "rules": [
                {
                    "name": "w",
                    "when": {
                        "keywords": {"terms": ["a", "ab"], "word": True, "fields": ["summary"]}
                    },
                    "notify": True,
                }
            ]
        }
    )
    ruleset = compile_rules(config)
    small = event_with_body("aa" * 50_000)
    large = event_with_body("aa" * 500_000)
    assert ruleset.evaluate(large).action == "none"
    ratio = best_time(lambda: ruleset.evaluate(large)) / best_time(lambda: ruleset.evaluate(small))
    assert ratio < 40, f"1 MB took {ratio:.1f}x the time of 100 KB"


def test_lone_surrogates_from_upstream_json_do_not_break_evaluation() -> None:
    config = Config.model_validate(
        {
            "rules": [
                {"name": "re", "when": {"regex": "dee?pseek"}, "notify": True},
                {
                    "name": "word",
                    "when": {"keywords": {"terms": ["qwen"], "word": True}},
                    "notify": True,
                },
                {"name": "glob", "when": {"resource_id": "*/a?c"}, "notify": True},
            ]
        }
    )
    body = json.loads('"broken \\ud800 deepseek"')
    decision = compile_rules(config).evaluate(event_with_body(body))
    assert decision.action == "notify"
    assert decision.matched[0].reasons == ("summary matched /dee?pseek/ ('deepseek')",)
