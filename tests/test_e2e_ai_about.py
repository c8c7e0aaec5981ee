"""AI2's embeddings mode end to end: an `about:` rule, the real `mrt-worker --once`, a fake
WeLink robot and a fake OpenAI-compatible endpoint whose embeddings put "out of memory" texts
next to the topic. An event that shares no word with the topic matches by meaning; with the
endpoint down the lexical mode decides (no match), recorded in the event's decision."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from ai_fake import FakeAi
from pytest_httpserver import HTTPServer
from test_e2e_support import (
    Product,
    Upstreams,
    count_rows,
    install_robot,
    loopback_config,
    product_env,
    robot_texts,
)

TOPIC = "GPU memory blowups when serving large models"
RULE = {"name": "memory", "when": {"about": {"topic": TOPIC, "threshold": 0.5,
                                             "embedding_threshold": 0.8}}, "notify": True}


def meaning(text: str) -> list[float]:
    """A fake model that knows OOM is a GPU memory blowup."""
    return [1.0, 0.1] if text == TOPIC or "OOM" in text else [0.0, 1.0]


def setup(tmp_path: Path, httpserver: HTTPServer) -> tuple[Upstreams, Any, FakeAi, Product]:
    up = Upstreams(httpserver)
    robot, _ = install_robot(httpserver)
    fake = FakeAi(httpserver)
    fake.embed = meaning
    config = loopback_config(tmp_path, httpserver, extra={
        "ai": {"enabled": True, "base_url": fake.base_url, "model": "qwen3-8b",
               "embedding_model": "bge-m3", "summaries": False, "max_retries": 0,
               "timeout_seconds": 5},
        "delivery": {"min_interval_seconds": 0},
        "watch_keywords": [],
        "rules": [RULE],
    })
    product = Product(config, product_env(tmp_path / "home", httpserver))
    product.worker_once()
    assert robot.received == [] and fake.requests == []  # the baseline asks nothing
    return up, robot, fake, product


def stored(tmp_path: Path, title: str) -> tuple[str, dict[str, Any], dict[str, Any]]:
    with sqlite3.connect(f"file:{tmp_path / 'mrt_state.sqlite3'}?mode=ro", uri=True) as conn:
        decision, detail, details = conn.execute(
            "SELECT decision, decision_detail, details FROM event WHERE title = ?", (title,)
        ).fetchone()
    return str(decision), json.loads(detail), json.loads(details)


def test_an_event_matches_the_topic_by_meaning(tmp_path: Path, httpserver: HTTPServer) -> None:
    up, robot, fake, product = setup(tmp_path, httpserver)
    up.open_issue("vllm-project/vllm", 43001, "Qwen3-235B OOM on 8xH100")
    up.open_issue("vllm-project/vllm", 43002, "Docs typo in the install guide")

    product.worker_once()

    texts = robot_texts(robot)
    assert len(texts) == 1 and "Qwen3-235B OOM on 8xH100" in texts[0]
    decision, detail, details = stored(tmp_path, "Qwen3-235B OOM on 8xH100")
    assert decision == "notify"
    [reason] = detail["matched"][0]["reasons"]
    assert reason.endswith("embeddings similarity 1.00 >= 0.80")
    assert details["mrt.about_embeddings"] == {TOPIC: 1.0}
    decision, detail, _ = stored(tmp_path, "Docs typo in the install guide")
    assert decision == "none" and "embeddings similarity 0.10 < 0.80" in detail["nearest"]
    # one request for the topic and both events; all three cached for the next cycles
    assert len([r for r in fake.requests if "input" in r]) == 1
    assert count_rows(tmp_path / "mrt_state.sqlite3", "ai_cache_entry") == 3

    up.open_issue("vllm-project/vllm", 43003, "DeepSeek-V3 OOM with long prompts")
    product.worker_once()  # the topic comes from the cache: only the new event is asked
    assert fake.requests[-1]["input"] == ["DeepSeek-V3 OOM with long prompts\nDeepSeek-V3 OOM "
                                          "with long prompts."]
    assert len(robot_texts(robot)) == 2


def test_endpoint_down_the_lexical_mode_decides_recorded(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    up, robot, fake, product = setup(tmp_path, httpserver)
    fake.down()
    up.open_issue("vllm-project/vllm", 43004, "Qwen3-235B OOM on 8xH100")

    product.worker_once()

    assert robot_texts(robot) == []  # no shared word: the lexical mode does not match
    decision, detail, details = stored(tmp_path, "Qwen3-235B OOM on 8xH100")
    assert decision == "none"
    assert "HTTP 503" in details["mrt.about_fallback"]
    assert "lexical (embeddings unavailable: " in detail["nearest"]
    events = product.mrt("events", *product._config_args()).stdout
    assert "lexical (embeddings unavailable" in events


def test_check_says_the_embeddings_mode_is_in_force(tmp_path: Path, httpserver: HTTPServer) -> None:
    _up, _robot, _fake, product = setup(tmp_path, httpserver)
    out = product.mrt("check", *product._config_args()).stdout
    assert ("ok    rules: about: 1 condition(s), embeddings mode (model bge-m3; the lexical mode "
            "when the endpoint fails)") in out
    assert "ai.embedding_model" not in out  # used: no "accepted but not acted on"
