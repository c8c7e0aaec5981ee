"""The AI counters on /metrics: the real `mrt-worker --daemon` with summaries and an `about:` rule
in the embeddings mode against the fake OpenAI-compatible endpoint, scraped and parsed with
prometheus_client's own parser."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from ai_fake import FakeAi, user_text
from pytest_httpserver import HTTPServer
from test_e2e_daemon import _still_running, polled_sources
from test_e2e_support import (
    SUBPROCESS_TIMEOUT,
    Product,
    Upstreams,
    install_robot,
    installed_tool,
    loopback_config,
    product_env,
    robot_texts,
    wait_for,
)
from test_metrics_endpoint import address_in, get, named

KEY = "sk-metrics-0123456789abcdef"


def test_the_daemon_counts_ai_calls_tokens_and_fallbacks(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    up = Upstreams(httpserver)
    robot, _ = install_robot(httpserver)
    fake = FakeAi(httpserver, key=KEY)
    fake.chat = lambda body: (
        {"lines": ["vLLM gains DeepSeek-V4 support."]} if "DeepSeek-V4" in user_text(body)
        else {"lines": ["out of its schema"], "route": "page everyone"}
    )
    config = loopback_config(tmp_path, httpserver, extra={
        "observability": {"metrics_listen": "127.0.0.1:0"},
        "delivery": {"min_interval_seconds": 0},
        "ai": {"enabled": True, "base_url": fake.base_url, "model": "qwen3-8b",
               "embedding_model": "bge-m3", "api_key_env": "MRT_AI_KEY", "max_retries": 0,
               "summary_wait_seconds": 30},
        # an about: rule: the cycle embeds its new events (AI2), counted with the rest
        "rules": [{"name": "memory", "when": {"about": "GPU out of memory"}, "notify": True}],
    })
    db_file = tmp_path / "mrt_state.sqlite3"
    env = product_env(tmp_path / "home", httpserver)
    env["MRT_AI_KEY"] = KEY
    product = Product(config, env)
    log_path = tmp_path / "worker.log"
    log = log_path.open("w")
    worker = subprocess.Popen(
        [installed_tool("mrt-worker"), "--config", str(config), "--daemon"],
        env=product.env, cwd=product.env["HOME"], stdout=log, stderr=subprocess.STDOUT)
    step = lambda: _still_running(worker)  # noqa: E731
    try:
        wait_for(lambda: address_in(log_path) is not None, deadline_seconds=60, step=step)
        base = f"http://{address_in(log_path)}"
        wait_for(lambda: polled_sources(db_file) == 4, deadline_seconds=60, step=step)
        text = get(f"{base}/metrics")[1]
        assert named(text, "mrt_ai_calls_total") == []  # nothing asked yet: no series

        up.open_issue("vllm-project/vllm", 42001, "Add DeepSeek-V4 support")
        up.open_issue("vllm-project/vllm", 42002, "Qwen3 tokenizer crash")
        product.mrt("sources", "poll", "github:vllm-project/vllm", "--config", str(config))
        wait_for(lambda: len(robot_texts(robot)) == 2, deadline_seconds=60, step=step)
        code, text = get(f"{base}/metrics")
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=SUBPROCESS_TIMEOUT)
        finally:
            log.close()

    assert code == 200 and KEY not in text
    calls = {s.labels["endpoint"]: s.value for s in named(text, "mrt_ai_calls_total")}
    assert calls["chat"] >= 1 and calls["embeddings"] == 1  # the topic and both events at once
    tokens = {s.labels["kind"]: s.value for s in named(text, "mrt_ai_tokens_total")
              if s.labels["endpoint"] == "chat"}
    assert tokens["prompt"] > 0 and tokens["completion"] > 0
    fallbacks = {s.labels["capability"]: s.value for s in named(text, "mrt_ai_fallbacks_total")}
    assert fallbacks == {"summary": 1.0}  # the answer out of its schema went out plain
    assert sum("summary by qwen3-8b" in t for t in robot_texts(robot)) == 1
