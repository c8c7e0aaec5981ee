"""Issue 3's "done when" at the worker level: the real `mrt-worker --once` on the v0 example
config pointed at loopback fakes. What a cycle costs (requests counted on the fakes), that an
unchanged cycle is all 304s and no event, and that a 500 storm on one source and a 429 on
another leave their cursors where they were without stopping anyone else's alerts."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_httpserver import HTTPServer
from test_e2e_support import (
    Product,
    Upstreams,
    count_rows,
    cycle_report,
    install_robot,
    latest_metrics,
    loopback_config,
    product_env,
    robot_texts,
    statuses_since,
)
from werkzeug import Response

KEYS = ["github:vllm-project/vllm", "github:sgl-project/sglang", "huggingface:deepseek-ai",
        "modelscope:deepseek-ai"]
ONE_EACH = dict.fromkeys(KEYS, 1)


def test_a_cycle_costs_one_request_per_repo_and_page_and_an_unchanged_one_is_all_304(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    # 150 Hugging Face models and 80 ModelScope models: more than one page of each exists
    up = Upstreams(httpserver, hf_count=150, ms_count=80)
    robot, _ = install_robot(httpserver)
    config = loopback_config(tmp_path, httpserver)
    product = Product(config, product_env(tmp_path / "home", httpserver))
    db_file = tmp_path / "mrt_state.sqlite3"

    start = up.statuses()
    product.worker_once()  # the baseline: the newest page of each, no alert
    after_baseline = up.statuses()
    baseline = statuses_since(start, after_baseline)
    assert {key: len(s) for key, s in baseline.items()} == ONE_EACH
    assert all(s == [200] for s in baseline.values())
    events_after_baseline = count_rows(db_file, "event")

    # the first steady cycle: GitHub asks a new URL (ascending since the baseline's newest
    # update, a 200); the others ask the baseline's URL again and hear 304
    product.worker_once()
    after_first = up.statuses()
    first = statuses_since(after_baseline, after_first)
    assert first == {"github:vllm-project/vllm": [200], "github:sgl-project/sglang": [200],
                     "huggingface:deepseek-ai": [304], "modelscope:deepseek-ai": [304]}
    cursors = {key: row["cursor"] for key, row in product.sources().items()}

    # nothing changed: the same number of requests, every one a 304, no event
    unchanged_run = product.worker_once()
    unchanged = statuses_since(after_first, up.statuses())
    assert unchanged == {key: [304] for key in KEYS}
    assert cycle_report(unchanged_run) == {key: ("ok", 0, 0) for key in KEYS}
    assert count_rows(db_file, "event") == events_after_baseline
    assert {key: row["cursor"] for key, row in product.sources().items()} == cursors
    assert robot.received == []
    # the figures the TUI shows for that cycle say the same
    metrics = latest_metrics(db_file)
    for key in KEYS:
        figures = metrics[key]
        assert (figures["requests"], figures["http_statuses"]) == (1, {"304": 1}), figures
        assert (figures["new_events"], figures["alerts"], figures["retries"]) == (0, 0, 0)


def test_a_500_storm_and_a_429_keep_their_cursors_and_stop_nobody_else(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    up = Upstreams(httpserver)
    robot, _ = install_robot(httpserver)
    config = loopback_config(tmp_path, httpserver, extra={"delivery": {"min_interval_seconds": 0}})
    product = Product(config, product_env(tmp_path / "home", httpserver))
    product.worker_once()
    product.worker_once()  # past the first steady cycle: cursors are where they will stay
    before = product.sources()

    # matching news everywhere, but vllm answers only 500s and Hugging Face is rate limited
    up.open_issue("vllm-project/vllm", 40001, "Support DeepSeek-V3.2 sparse attention")
    up.open_issue("sgl-project/sglang", 40002, "[Model] Qwen3-Next support", pr=True)
    up.add_hf_model("DeepSeek-V4")
    up.add_ms_model("DeepSeek-R2")
    up.faults["github:vllm-project/vllm"].answer = lambda: Response(
        "<html><body>Internal Server Error</body></html>", status=500, content_type="text/html")
    up.faults["huggingface:deepseek-ai"].answer = lambda: Response(
        json.dumps({"error": "rate limited"}), status=429,
        headers={"Retry-After": "3600"}, content_type="application/json")

    faulty = product.worker_once(expect=3)  # a source failed: exit 3, like any --once failure
    report = cycle_report(faulty)
    assert report["github:vllm-project/vllm"][0] == "failed"
    assert report["github:sgl-project/sglang"] == ("ok", 1, 1)
    assert report["modelscope:deepseek-ai"] == ("ok", 1, 1)
    assert report["huggingface:deepseek-ai"][1:] == (0, 0)
    assert up.faults["github:vllm-project/vllm"].hits >= 2  # retried, then gave up
    assert up.faults["huggingface:deepseek-ai"].hits == 1  # a rate limit is not retried now

    texts = robot_texts(robot)
    assert len(texts) == 2 and robot.problems == []
    assert sum("Qwen3-Next" in t for t in texts) == 1 and sum("DeepSeek-R2" in t for t in texts) == 1

    metrics = latest_metrics(tmp_path / "mrt_state.sqlite3")
    assert metrics["github:vllm-project/vllm"]["outcome"] == "failed"
    assert metrics["github:vllm-project/vllm"]["retries"] >= 1
    assert metrics["huggingface:deepseek-ai"]["outcome"] == "deferred"
    assert metrics["modelscope:deepseek-ai"]["alerts"] == 1

    after = product.sources()
    vllm, hub = after["github:vllm-project/vllm"], after["huggingface:deepseek-ai"]
    assert vllm["cursor"] == before["github:vllm-project/vllm"]["cursor"]
    assert vllm["health"] == "failing" and vllm["consecutive_failures"] == 1
    assert vllm["last_error"]["http_status"] == 500
    assert "HTTP 500" in vllm["last_error"]["message"]
    assert hub["cursor"] == before["huggingface:deepseek-ai"]["cursor"]
    assert hub["health"] == "deferred" and hub["deferred_until"] is not None
    assert hub["consecutive_failures"] == 0  # a rate limit is not an error storm
    for key in ("github:sgl-project/sglang", "modelscope:deepseek-ai"):
        assert (after[key]["health"], after[key]["last_error"]) == ("ok", None)

    # vllm recovers: its news arrives now, once; Hugging Face waits out its reset
    up.faults["github:vllm-project/vllm"].answer = None
    recovered = product.worker_once()
    assert cycle_report(recovered)["github:vllm-project/vllm"] == ("ok", 1, 1)
    texts = robot_texts(robot)
    assert len(texts) == 3 and sum("DeepSeek-V3.2" in t for t in texts) == 1
    assert product.sources()["github:vllm-project/vllm"]["consecutive_failures"] == 0
