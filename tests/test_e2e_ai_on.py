"""The harness switch MRT_TEST_AI=1 (the e2e suite with AI on, .ci/run's second pytest run):
every config the e2e helpers write or run carries an `ai` section turned on, at the session's
fake OpenAI-compatible endpoint, and the real worker then sends its alerts with a summary."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from ai_fake import AI_ON_ENV, SUMMARY_ON, start_session_fake
from pytest_httpserver import HTTPServer
from test_e2e_support import (
    ROOT,
    Product,
    Upstreams,
    install_robot,
    loopback_config,
    product_env,
    robot_texts,
    with_ai_section,
)


@pytest.fixture
def ai_switched_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(AI_ON_ENV, "1")


@pytest.mark.usefixtures("ai_switched_on")
def test_the_worker_sends_the_fake_summary_with_title_and_link(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    up = Upstreams(httpserver)
    robot, _ = install_robot(httpserver)
    config = loopback_config(tmp_path, httpserver,
                             extra={"delivery": {"min_interval_seconds": 0}})
    section = json.loads(config.read_text(encoding="utf-8"))["ai"]
    fake = start_session_fake()
    assert section["enabled"] is True and section["base_url"] == fake.base_url
    product = Product(config, product_env(tmp_path / "home", httpserver))
    product.worker_once()  # the baseline: nothing is news
    asked = len(fake.requests)
    up.open_issue("vllm-project/vllm", 41001, "Add DeepSeek-V4 support")

    product.worker_once()

    texts = robot_texts(robot)
    assert len(texts) == 1
    assert SUMMARY_ON["lines"][0] in texts[0] and "(summary by fake-chat)" in texts[0]
    assert "Add DeepSeek-V4 support" in texts[0]
    assert "https://github.com/vllm-project/vllm/issues/41001" in texts[0]
    assert len(fake.requests) == asked + 1


@pytest.mark.usefixtures("ai_switched_on")
def test_a_config_a_test_wrote_gets_the_section_unless_it_has_one(tmp_path: Path) -> None:
    toml = tmp_path / "mrt.toml"
    toml.write_text('version = 1\n[state]\nsqlite_path = "db.sqlite3"\n', encoding="utf-8")
    with_ai_section(toml)
    data = tomllib.loads(toml.read_text(encoding="utf-8"))
    assert data["state"] == {"sqlite_path": "db.sqlite3"} and data["ai"]["enabled"] is True

    own = tmp_path / "own.json"
    own.write_text(json.dumps({"ai": {"enabled": False}}), encoding="utf-8")
    with_ai_section(own)
    assert json.loads(own.read_text(encoding="utf-8")) == {"ai": {"enabled": False}}

    shipped = ROOT / "share" / "examples" / "v0-config.json"
    before = shipped.read_bytes()
    with_ai_section(shipped)  # never a file of the repository
    assert shipped.read_bytes() == before
