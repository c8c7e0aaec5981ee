"""The Docker Hub source through the real `mrt-worker --once`, beside the v0 example's sources:
a silent baseline, a new tag alerted once through a loopback webhook, no repeat, and a fault
(a 429, an HTML page with 200) that touches only this source."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
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
    now_utc,
    product_env,
    robot_texts,
)
from test_source_oci import NAME, FakeDockerHub, FakeRegistry
from werkzeug import Response

OCI = "oci:library/rust"
OTHERS = ("github:vllm-project/vllm", "github:sgl-project/sglang", "huggingface:deepseek-ai",
          "modelscope:deepseek-ai")


@pytest.fixture
def product(tmp_path: Path, httpserver: HTTPServer) -> Product:
    config = loopback_config(tmp_path, httpserver)
    data = json.loads(config.read_text(encoding="utf-8"))
    data["sources"]["oci"] = {"images": ["rust"],
                              "base_url": httpserver.url_for("/").rstrip("/")}
    data["watch_keywords"] += ["rust"]
    config.write_text(json.dumps(data), encoding="utf-8")
    return Product(config, product_env(tmp_path / "home", httpserver))


def stored(db_file: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db_file) as db:
        return db.execute("SELECT event_type, title FROM event WHERE source = 'oci' ORDER BY id"
                          ).fetchall()


def test_baseline_then_one_alert_then_no_repeat_and_faults_of_its_own(
    tmp_path: Path, httpserver: HTTPServer, product: Product
) -> None:
    up = Upstreams(httpserver)
    robot, _ = install_robot(httpserver)
    hub = FakeDockerHub(httpserver)
    hub.push("1.44.0-slim", now_utc() - timedelta(days=30))
    db_file = tmp_path / "mrt_state.sqlite3"

    assert cycle_report(product.worker_once())[OCI] == ("ok", 0, 0)
    assert stored(db_file) == [] and robot_texts(robot) == []

    hub.push("1.45.0-slim", now_utc() - timedelta(minutes=5))
    assert cycle_report(product.worker_once())[OCI] == ("ok", 1, 1)
    assert stored(db_file) == [("tag_published", "rust:1.45.0-slim")]
    (text,) = robot_texts(robot)
    assert "rust:1.45.0-slim" in text and "New image tag" in text and "Docker Hub" in text

    assert cycle_report(product.worker_once())[OCI] == ("ok", 0, 0)  # no repeat
    assert hub.statuses[-1] == 304 and len(robot_texts(robot)) == 1

    cursor = product.sources()[OCI]["cursor"]
    hub.answer = Response("Too Many Requests", status=429, headers={"Retry-After": "3600"})
    report = cycle_report(product.worker_once())
    assert report[OCI][1:] == (0, 0)
    assert latest_metrics(db_file)[OCI]["outcome"] == "deferred"
    assert product.sources()[OCI]["cursor"] == cursor
    assert all(report[key][0] == "ok" for key in OTHERS), report
    assert up.statuses()


def test_html_with_200_fails_only_this_source(
    tmp_path: Path, httpserver: HTTPServer, product: Product
) -> None:
    Upstreams(httpserver)
    install_robot(httpserver)
    hub = FakeDockerHub(httpserver)
    hub.answer = Response("<html><body>Down</body></html>", status=200, content_type="text/html")
    report = cycle_report(product.worker_once(expect=3))
    assert report[OCI][0] == "failed"
    assert all(report[key][0] == "ok" for key in OTHERS), report
    assert "an HTML page instead of JSON" in product.sources()[OCI]["last_error"]["message"]


def test_check_lists_it_and_says_what_a_missing_token_costs(
    tmp_path: Path, product: Product
) -> None:
    data = json.loads(product.config.read_text(encoding="utf-8"))
    data["sources"]["oci"]["token_env"] = "DOCKERHUB_TOKEN"
    data["sources"]["oci"].pop("base_url")
    product.config.write_text(json.dumps(data), encoding="utf-8")
    check = product.mrt("check", "--config", str(product.config), expect=0).stdout
    assert "ok    sources: github, huggingface, modelscope, oci\n" in check, check
    assert "env DOCKERHUB_TOKEN: not set (optional, sources.oci.token_env): without " \
        "DOCKERHUB_TOKEN only public images are seen" in check, check
    data["sources"]["oci"]["images"] = ["ghcr.io/sgl-project/sglang", "vllm/vllm-openai:latest"]
    product.config.write_text(json.dumps(data), encoding="utf-8")
    out = product.mrt("check", "--config", str(product.config), expect=2).stderr
    assert "sources.oci.images[1]" in out and "no tag" in out, out
    assert "Traceback" not in out


def test_a_registry_image_through_the_token_flow_alerts_once(
    tmp_path: Path, httpserver: HTTPServer, product: Product
) -> None:
    data = json.loads(product.config.read_text(encoding="utf-8"))
    data["sources"]["oci"]["images"] = [f"ghcr.io/{NAME}"]
    data["sources"]["oci"]["registry_urls"] = {"ghcr.io": httpserver.url_for("/").rstrip("/")}
    data["watch_keywords"] += ["sglang"]
    product.config.write_text(json.dumps(data), encoding="utf-8")
    Upstreams(httpserver)
    robot, _ = install_robot(httpserver)
    reg = FakeRegistry(httpserver)
    reg.digests = {"v0.4.0": "sha256:" + "a" * 64, "latest": "sha256:" + "1" * 64}
    key = f"oci:ghcr.io/{NAME}"

    assert cycle_report(product.worker_once())[key] == ("ok", 0, 0)
    assert robot_texts(robot) == []
    reg.digests["latest"] = "sha256:" + "2" * 64
    assert cycle_report(product.worker_once())[key] == ("ok", 1, 1)
    (text,) = robot_texts(robot)
    assert f"ghcr.io/{NAME}:latest re-pushed" in text and "Image tag re-pushed" in text
    assert cycle_report(product.worker_once())[key] == ("ok", 0, 0)
    assert len(robot_texts(robot)) == 1
