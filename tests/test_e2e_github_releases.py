"""GitHub releases through the real `mrt-worker --once`: a v0 config with `monitor.releases` on
takes a silent baseline, alerts a new release once through the loopback webhook, and a 304
costs one request and nothing else; a failing releases list leaves the issues polls alone."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

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
from test_source_github_releases import FakeList, new_release, recorded_releases
from werkzeug import Response

REPO = "vllm-project/vllm"
KEY = f"github-releases:{REPO}"


def releases_config(tmp_path: Path, server: HTTPServer) -> Path:
    config = loopback_config(tmp_path, server)
    data = json.loads(config.read_text(encoding="utf-8"))
    data["sources"]["github"]["repos"] = [REPO]
    data["sources"]["github"]["monitor"]["releases"] = True
    config.write_text(json.dumps(data), encoding="utf-8")
    return config


def stored(db_file: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db_file) as db:
        return db.execute("SELECT event_type, title FROM event WHERE source_key = ? ORDER BY id",
                          (KEY,)).fetchall()


def test_baseline_then_a_new_release_alerts_once_and_a_304_costs_nothing(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    Upstreams(httpserver)
    robot, _ = install_robot(httpserver)
    releases = recorded_releases()
    fake = FakeList(httpserver, "releases", releases, repo=REPO)
    product = Product(releases_config(tmp_path, httpserver), product_env(tmp_path / "h", httpserver))
    db_file = tmp_path / "mrt_state.sqlite3"

    report = cycle_report(product.worker_once())
    assert report[KEY] == ("ok", 0, 0) and report[f"github:{REPO}"][0] == "ok"
    assert stored(db_file) == [] and robot_texts(robot) == []

    releases.insert(0, new_release(releases[0], 99, "v0.12.0"))
    releases[0]["name"] = "v0.12.0: DeepSeek-V4 support"  # the v0 example watches "deepseek"
    assert cycle_report(product.worker_once())[KEY] == ("ok", 1, 1)
    assert stored(db_file) == [
        ("release_published", f"{REPO} v0.12.0: DeepSeek-V4 support (v0.12.0)")]
    (text,) = [t for t in robot_texts(robot) if "v0.12.0" in t]
    assert "New release" in text

    asked = len(fake.requests)
    assert cycle_report(product.worker_once())[KEY] == ("ok", 0, 0)
    assert len(fake.requests) == asked + 1
    assert fake.requests[-1].headers.get("If-None-Match")
    assert latest_metrics(db_file)[KEY]["http_statuses"] == {"304": 1}
    assert len([t for t in robot_texts(robot) if "v0.12.0" in t]) == 1
    assert product.sources()[KEY]["cursor"]["since"] == "2022-01-20T10:00:00Z"


def test_a_failing_releases_list_fails_that_source_only(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    Upstreams(httpserver)
    install_robot(httpserver)
    fake = FakeList(httpserver, "releases", recorded_releases(), repo=REPO)
    fake.fail = Response("<html><body>Unicorn!</body></html>", status=200,
                         content_type="text/html")
    product = Product(releases_config(tmp_path, httpserver), product_env(tmp_path / "h", httpserver))
    report = cycle_report(product.worker_once(expect=3))  # a source failed: exit 3
    assert report[KEY][0] == "failed"
    assert report[f"github:{REPO}"][0] == "ok"
    assert all(outcome == "ok" for key, (outcome, _, _) in report.items() if key != KEY)


def test_check_and_sources_know_the_release_and_tag_keys(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    config = releases_config(tmp_path, httpserver)
    data = json.loads(config.read_text(encoding="utf-8"))
    data["sources"]["github"]["monitor"]["tags"] = True
    del data["sources"]["github"]["base_url"]  # github.com itself: its own token wording
    config.write_text(json.dumps(data), encoding="utf-8")
    env = product_env(tmp_path / "h", httpserver)
    del env["GITHUB_TOKEN"]
    product = Product(config, env)
    check = product.mrt("check", "--config", str(config)).stdout
    assert "env GITHUB_TOKEN: not set (optional, sources.github.token_env): without " \
        "GITHUB_TOKEN GitHub allows 60 requests an hour; with it 5,000\n" in check, check
    keys = set(product.sources())
    assert {f"github:{REPO}", KEY, f"github-tags:{REPO}"} <= keys


def test_without_a_token_the_worker_reads_releases_atom(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    """No GITHUB_TOKEN: releases come from the repository's releases.atom, not the API."""
    from test_source_github_atom import FEED, NEW_ENTRY, FakeSite
    from test_source_github_atom import REPO as FEED_REPO

    Upstreams(httpserver)
    robot, _ = install_robot(httpserver)
    site = FakeSite(httpserver)
    config = releases_config(tmp_path, httpserver)
    data = json.loads(config.read_text(encoding="utf-8"))
    data["sources"]["github"]["repos"] = [FEED_REPO]
    data["sources"]["github"]["monitor"] = {"issues": False, "pulls": False, "releases": True}
    data["sources"]["github"]["site_url"] = httpserver.url_for("/").rstrip("/")
    config.write_text(json.dumps(data), encoding="utf-8")
    env = product_env(tmp_path / "h", httpserver)
    del env["GITHUB_TOKEN"]
    product = Product(config, env)
    key = f"github-releases:{FEED_REPO}"
    assert cycle_report(product.worker_once())[key] == ("ok", 0, 0)
    site.feed = FEED.replace("<entry>", NEW_ENTRY.replace(
        "<title>v2.1.0</title>", "<title>v2.1.0: plays DeepSeek podcasts</title>"), 1)
    assert cycle_report(product.worker_once())[key] == ("ok", 1, 1)
    (text,) = [t for t in robot_texts(robot) if "v2.1.0" in t]
    assert "New release" in text
    assert cycle_report(product.worker_once())[key] == ("ok", 0, 0)
    assert [r.path for r in site.requests] == [f"/{FEED_REPO}/releases.atom"] * 3
    assert "Authorization" not in site.requests[-1].headers
