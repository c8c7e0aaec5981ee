"""The PyPI and npm sources through the real `mrt-worker --once`, beside the v0 example's sources:
a silent baseline, a change alerted once through a loopback webhook, a 304 that costs one
request and nothing else, and a fault (an HTML page with 200, a 429) that touches only its own
source. Upstreams are the recorded payloads (tests/fixtures/upstream/pypi, npm), changed here.
"""

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
    now_utc,
    product_env,
    robot_texts,
)
from test_source_npm import FakeRegistry
from test_source_npm import recorded as npm_recorded
from test_source_pypi import FakePyPI
from test_source_pypi import recorded as pypi_recorded
from werkzeug import Response

PYPI, NPM = "pypi:azure-cli-monitor", "npm:tiny-tarball"
OTHERS = ("github:vllm-project/vllm", "github:sgl-project/sglang", "huggingface:deepseek-ai",
          "modelscope:deepseek-ai")


@pytest.fixture
def product(tmp_path: Path, httpserver: HTTPServer) -> Product:
    config = loopback_config(tmp_path, httpserver)
    data = json.loads(config.read_text(encoding="utf-8"))
    base = httpserver.url_for("/").rstrip("/")
    data["sources"]["pypi"] = {"projects": ["azure-cli-monitor"], "base_url": base}
    data["sources"]["npm"] = {"packages": ["tiny-tarball"], "base_url": base}
    data["watch_keywords"] += ["azure-cli-monitor", "tiny-tarball"]  # what the team ships
    config.write_text(json.dumps(data), encoding="utf-8")
    return Product(config, product_env(tmp_path / "home", httpserver))


def stored(db_file: Path, source: str) -> list[tuple[str, str]]:
    with sqlite3.connect(db_file) as db:
        return db.execute("SELECT event_type, title FROM event WHERE source = ? ORDER BY id",
                          (source,)).fetchall()


def test_pypi_baseline_then_one_alert_then_304_and_a_fault_of_its_own(
    tmp_path: Path, httpserver: HTTPServer, product: Product
) -> None:
    up = Upstreams(httpserver)
    robot, _ = install_robot(httpserver)
    pypi = FakePyPI(httpserver, pypi_recorded())
    npm = FakeRegistry(httpserver, npm_recorded())
    db_file = tmp_path / "mrt_state.sqlite3"

    assert cycle_report(product.worker_once())[PYPI] == ("ok", 0, 0)
    assert stored(db_file, "pypi") == [] and robot_texts(robot) == []

    pypi.upload("0.2.0", now_utc())
    pypi.yank("0.1.7", "metadata broken")
    assert cycle_report(product.worker_once())[PYPI] == ("ok", 2, 2)
    assert stored(db_file, "pypi") == [("version_yanked", "azure-cli-monitor 0.1.7 yanked"),
                                       ("version_published", "azure-cli-monitor 0.2.0")]
    texts = robot_texts(robot)
    (published,) = [t for t in texts if "azure-cli-monitor 0.2.0" in t]
    assert "New version" in published and "on PyPI" in published
    (yanked,) = [t for t in texts if "0.1.7 yanked" in t]
    assert "Version yanked" in yanked

    assert cycle_report(product.worker_once())[PYPI] == ("ok", 0, 0)  # no repeat
    assert pypi.statuses[-1] == 304 and len(robot_texts(robot)) == 2
    assert latest_metrics(db_file)[PYPI]["http_statuses"] == {"304": 1}

    # PyPI answers its HTML maintenance page with 200: PyPI fails, npm's news still arrives
    pypi.answer = Response("<html><body>Down for maintenance</body></html>", status=200,
                           content_type="text/html")
    npm.publish("1.1.0")
    report = cycle_report(product.worker_once(expect=3))
    assert report[PYPI][0] == "failed"
    assert report[NPM] == ("ok", 2, 2)  # the version and latest's move
    assert all(report[key][0] == "ok" for key in OTHERS), report
    row = product.sources()[PYPI]
    assert row["health"] == "failing" and "an HTML page instead of JSON" in \
        row["last_error"]["message"]
    assert up.statuses()  # the other fakes were asked as usual


def test_npm_baseline_then_dist_tag_moved_once_then_304_and_a_429_of_its_own(
    tmp_path: Path, httpserver: HTTPServer, product: Product
) -> None:
    Upstreams(httpserver)
    robot, _ = install_robot(httpserver)
    pypi = FakePyPI(httpserver, pypi_recorded())
    npm = FakeRegistry(httpserver, npm_recorded())
    db_file = tmp_path / "mrt_state.sqlite3"

    assert cycle_report(product.worker_once())[NPM] == ("ok", 0, 0)
    npm.publish("1.1.0", tag="next")
    npm.publish("1.2.0")
    assert cycle_report(product.worker_once())[NPM] == ("ok", 4, 4)
    assert stored(db_file, "npm") == [
        ("version_published", "tiny-tarball 1.1.0"), ("version_published", "tiny-tarball 1.2.0"),
        ("dist_tag_moved", "tiny-tarball latest → 1.2.0"),
        ("dist_tag_moved", "tiny-tarball next → 1.1.0")]
    (moved,) = [t for t in robot_texts(robot) if "latest → 1.2.0" in t]
    assert "Dist-tag moved" in moved and "on npm" in moved

    assert cycle_report(product.worker_once())[NPM] == ("ok", 0, 0)
    assert npm.statuses[-1] == 304 and len(robot_texts(robot)) == 4
    assert latest_metrics(db_file)[NPM]["http_statuses"] == {"304": 1}

    # the registry rate-limits: npm is deferred, its cursor kept; PyPI's yank still arrives
    cursor = product.sources()[NPM]["cursor"]
    npm.answer = Response("Too Many Requests", status=429, headers={"Retry-After": "3600"})
    pypi.yank("0.1.7", "bad upload")
    report = cycle_report(product.worker_once())
    assert report[NPM][1:] == (0, 0) and report[PYPI] == ("ok", 1, 1)
    assert latest_metrics(db_file)[NPM]["outcome"] == "deferred"
    row = product.sources()[NPM]
    assert row["health"] == "deferred" and row["cursor"] == cursor
    assert all(report[key][0] == "ok" for key in OTHERS), report


def test_check_lists_both_and_says_what_a_missing_token_costs(
    tmp_path: Path, product: Product
) -> None:
    check = product.mrt("check", "--config", str(product.config), expect=0).stdout
    assert "ok    sources: github, huggingface, modelscope, pypi, npm\n" in check, check
    data = json.loads(product.config.read_text(encoding="utf-8"))
    for name, env in (("pypi", "PYPI_TOKEN"), ("npm", "NPM_TOKEN")):
        del data["sources"][name]["base_url"]  # the public registries' own wording
        data["sources"][name]["token_env"] = env
    public = tmp_path / "public.json"
    public.write_text(json.dumps(data), encoding="utf-8")
    check = product.mrt("check", "--config", str(public), expect=0).stdout
    assert "env PYPI_TOKEN: not set (optional, sources.pypi.token_env): without PYPI_TOKEN " \
        "nothing is lost: PyPI's JSON API is public and needs no token\n" in check, check
    assert "env NPM_TOKEN: not set (optional, sources.npm.token_env): without NPM_TOKEN only " \
        "public packages are seen" in check, check
