"""GitLab through the real `mrt-worker --once`, beside the v0 example's sources: a silent
baseline, a merged merge request alerted once through a loopback webhook, and faults (an HTML
page with 200, a 429, a 503) that touch only GitLab's instance."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from test_e2e_support import (
    Product,
    Upstreams,
    cycle_report,
    install_robot,
    latest_metrics,
    loopback_config,
    product_env,
    robot_texts,
)
from test_source_gitlab import PROJECT, FakeGitLab
from werkzeug import Response

MRS = f"gitlab-mrs:{PROJECT}"
OTHERS = ("github:vllm-project/vllm", "github:sgl-project/sglang", "huggingface:deepseek-ai",
          "modelscope:deepseek-ai")


@pytest.fixture
def product(tmp_path: Path, httpserver: HTTPServer) -> Product:
    config = loopback_config(tmp_path, httpserver)
    data = json.loads(config.read_text(encoding="utf-8"))
    data["sources"]["gitlab"] = {"projects": [PROJECT], "base_url": httpserver.url_for("/"),
                                 "monitor": {"issues": False}}
    data["watch_keywords"] += [PROJECT]
    config.write_text(json.dumps(data), encoding="utf-8")
    return Product(config, product_env(tmp_path / "home", httpserver))


def test_gitlab_baseline_then_a_merged_mr_alerts_once_and_faults_stay_its_own(
    tmp_path: Path, httpserver: HTTPServer, product: Product
) -> None:
    Upstreams(httpserver)
    robot, _ = install_robot(httpserver)
    gitlab = FakeGitLab(httpserver)
    gitlab.add("merge_requests", iid=2, state="opened", title="Add GPU runner",
               created_at="2026-01-01T00:00:00Z", updated_at="2026-01-01T00:00:00Z")
    db_file = tmp_path / "mrt_state.sqlite3"

    assert cycle_report(product.worker_once())[MRS] == ("ok", 0, 0)
    assert robot_texts(robot) == []

    gitlab.items["merge_requests"][1].update(state="merged", updated_at="2026-01-02T00:00:00Z",
                                             merged_at="2026-01-02T00:00:00Z")
    assert cycle_report(product.worker_once())[MRS] == ("ok", 1, 1)
    with sqlite3.connect(db_file) as db:
        assert db.execute("SELECT event_type, title FROM event WHERE source = 'gitlab'"
                          ).fetchall() == [("mr_merged", f"{PROJECT}!2 Add GPU runner")]
    (merged,) = robot_texts(robot)
    assert "MR merged" in merged and "Add GPU runner" in merged

    assert cycle_report(product.worker_once())[MRS] == ("ok", 0, 0)  # no repeat
    assert len(robot_texts(robot)) == 1

    cursor = product.sources()[MRS]["cursor"]
    gitlab.answer = Response("Retry later", status=429, headers={"Retry-After": "3600"})
    report = cycle_report(product.worker_once())
    assert report[MRS][1:] == (0, 0) and latest_metrics(db_file)[MRS]["outcome"] == "deferred"
    assert product.sources()[MRS]["cursor"] == cursor
    assert all(report[key][0] == "ok" for key in OTHERS), report


@pytest.mark.parametrize("answer, error", [
    (Response("<html>GitLab is not responding</html>", status=200, content_type="text/html"),
     "an HTML page instead of JSON"),
    (Response("unavailable", status=503), "HTTP 503"),
])
def test_a_gitlab_fault_fails_only_gitlab(httpserver: HTTPServer, product: Product,
                                          answer: Response, error: str) -> None:
    Upstreams(httpserver)
    install_robot(httpserver)
    gitlab = FakeGitLab(httpserver)
    assert cycle_report(product.worker_once())[MRS] == ("ok", 0, 0)
    gitlab.answer = answer
    report = cycle_report(product.worker_once(expect=3))
    assert report[MRS][0] == "failed"
    assert all(report[key][0] == "ok" for key in OTHERS), report
    row = product.sources()[MRS]
    assert row["health"] == "failing" and error in row["last_error"]["message"]
