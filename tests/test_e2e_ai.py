"""AI1 summaries end to end: the real `mrt-worker --once` on the v0 example (pointed at loopback),
a fake WeLink robot, and a fake OpenAI-compatible endpoint on the same loopback server.

With the endpoint up, the alert goes out with the model's summary where the upstream body was
(cleaned like upstream text: no mention survives), and a second run neither asks again nor sends
again. With the endpoint down for the whole run, every alert goes out on time with its plain
text, and the operators hear "AI degraded" once, not once per run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ai_fake import FakeAi, user_text
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

KEY = "sk-e2e-0123456789abcdef"
WAIT_SECONDS = 30


def ai_section(fake: FakeAi, **more: Any) -> dict[str, Any]:
    return {"ai": {"enabled": True, "provider": "vllm", "base_url": fake.base_url,
                   "model": "qwen3-8b", "api_key_env": "MRT_AI_KEY", "max_retries": 1,
                   "timeout_seconds": 5, "summary_wait_seconds": WAIT_SECONDS, **more},
            "delivery": {"min_interval_seconds": 0}}  # the robot's spacing is not tested here


def setup(tmp_path: Path, httpserver: HTTPServer) -> tuple[Upstreams, Any, FakeAi, Product]:
    up = Upstreams(httpserver)
    robot, _ = install_robot(httpserver)
    fake = FakeAi(httpserver, key=KEY)
    config = loopback_config(tmp_path, httpserver, extra=ai_section(fake))
    env = product_env(tmp_path / "home", httpserver)
    env["MRT_AI_KEY"] = KEY
    product = Product(config, env)
    product.worker_once()  # the baseline: nothing is news, nothing is summarised
    assert robot.received == [] and fake.requests == []
    return up, robot, fake, product


def test_an_alert_goes_out_with_its_summary_once(tmp_path: Path, httpserver: HTTPServer) -> None:
    up, robot, fake, product = setup(tmp_path, httpserver)
    fake.chat = lambda body: {"lines": [
        "vLLM gains DeepSeek-V4 support @all",
        "Teams serving DeepSeek can upgrade; no API change.",
    ]} if "DeepSeek-V4" in user_text(body) else {"lines": ["unrelated"]}
    up.open_issue("vllm-project/vllm", 40001, "Add DeepSeek-V4 support")

    product.worker_once()

    texts = robot_texts(robot)
    assert len(texts) == 1
    assert "vLLM gains DeepSeek-V4 support ＠all" in texts[0] and "@all" not in texts[0]
    assert "Teams serving DeepSeek can upgrade; no API change." in texts[0]
    assert "(summary by qwen3-8b)" in texts[0]
    assert len(fake.requests) == 1 and KEY not in str(fake.requests)
    assert count_rows(tmp_path / "mrt_state.sqlite3", "ai_cache_entry") == 1

    product.worker_once()  # nothing new: nothing asked, nothing re-sent
    assert len(robot_texts(robot)) == 1 and len(fake.requests) == 1


def test_endpoint_down_plain_text_on_time_and_one_degraded_notice(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    up, robot, fake, product = setup(tmp_path, httpserver)
    fake.down()
    up.open_issue("vllm-project/vllm", 40002, "Qwen3 tokenizer crash")
    up.open_issue("sgl-project/sglang", 40003, "DeepSeek MTP slower than expected")

    product.worker_once()

    assert product.seconds[-1] < WAIT_SECONDS  # nobody waited for a summary that never came
    texts = robot_texts(robot)
    plain = [t for t in texts if "MRT AI degraded" not in t]
    notices = [t for t in texts if "MRT AI degraded" in t]
    assert len(plain) == 2 and len(notices) == 1
    assert any("\nQwen3 tokenizer crash\n" in t for t in plain)  # the text without AI
    assert not any("summary by" in t for t in plain)
    assert "HTTP 503" in notices[0] and KEY not in notices[0]
    # each event is tried at most once (with its one retry): the two are asked at once
    assert len(fake.requests) <= 4

    up.open_issue("vllm-project/vllm", 40004, "Qwen3-Next weights")
    asked = len(fake.requests)
    product.worker_once()  # still down: the alert goes out plain, the notice is not repeated
    assert len(fake.requests) == asked + 2  # a new run asks again (its one try and retry)

    texts = robot_texts(robot)
    assert len(texts) == 4 and sum("MRT AI degraded" in t for t in texts) == 1
    assert "\nQwen3-Next weights\n" in texts[-1] and "summary by" not in texts[-1]
