"""Issue 11 step 5's "done when": a third-party source, registered only through its own
package's `mrt.sources` entry point (tests/plugins/mrt_example_source, no line of MRT names it),
is loaded by the real `mrt-worker --once`, polls a loopback fake, and its events are stored and
alerted in its own words; `mrt check`, `mrt sources` and `mrt cursor reset` know it.

The package is installed the way an installer lays out a wheel: its module and a `.dist-info`
whose entry_points.txt holds the `[project.entry-points]` of its pyproject.toml, in a directory
that only the subprocesses get on PYTHONPATH (this process never sees it).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import tomllib
from collections.abc import Iterator
from datetime import timedelta
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from test_e2e_support import (
    Product,
    Upstreams,
    cycle_report,
    install_robot,
    loopback_config,
    now_utc,
    product_env,
    robot_texts,
)
from werkzeug import Request, Response

PACKAGE = Path(__file__).parent / "plugins" / "mrt_example_source"
PROJECT = "deepseek-v4"
KEY = f"example:{PROJECT}"
RELEASES = f"/api/projects/{PROJECT}/releases"


@pytest.fixture(scope="session")
def plugin_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A site directory holding the package as installed: module + dist-info + entry points."""
    project = tomllib.loads((PACKAGE / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    site = tmp_path_factory.mktemp("site-packages")
    for module in project.get("py-modules", []) or ["mrt_example_source"]:
        shutil.copy(PACKAGE / f"{module}.py", site)
    info = site / f"{project['name'].replace('-', '_')}-{project['version']}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project['name']}\nVersion: {project['version']}\n",
        encoding="utf-8")
    (info / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{name} = {target}\n" for name, target in points.items())
        for group, points in project["entry-points"].items()), encoding="utf-8")
    return site


class Registry:
    """The fake registry: a project's releases, newest first, changed by the test."""

    def __init__(self, server: HTTPServer) -> None:
        self.releases: list[dict[str, Any]] = [
            {"version": "1.0", "published_at": "2025-11-01T00:00:00Z", "summary": "first"}]
        self.tokens: list[str | None] = []
        server.expect_request(RELEASES).respond_with_handler(self.handle)

    def handle(self, request: Request) -> Response:
        self.tokens.append(request.headers.get("Authorization"))
        return Response(json.dumps(self.releases), content_type="application/json")

    def publish(self, version: str, summary: str) -> None:
        at = now_utc().strftime("%Y-%m-%dT%H:%M:%SZ")
        self.releases.insert(0, {"version": version, "published_at": at, "summary": summary,
                                 "url": f"https://registry.example.org/{PROJECT}/{version}"})


@pytest.fixture
def product(tmp_path: Path, httpserver: HTTPServer, plugin_path: Path) -> Iterator[Product]:
    config = loopback_config(tmp_path, httpserver)
    data = json.loads(config.read_text(encoding="utf-8"))
    data["sources"]["example"] = {"projects": [PROJECT], "token_env": "EXAMPLE_TOKEN",
                                  "base_url": httpserver.url_for("/").rstrip("/")}
    config.write_text(json.dumps(data), encoding="utf-8")
    env = product_env(tmp_path / "home", httpserver)
    env["PYTHONPATH"] = os.pathsep.join([env["PYTHONPATH"], str(plugin_path)])
    yield Product(config, env)


def stored_events(db_file: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db_file) as db:
        return db.execute("SELECT source_key, event_type, title FROM event WHERE source = ? "
                          "ORDER BY id", ("example",)).fetchall()


def test_a_source_from_its_own_package_is_polled_stored_and_alerted_by_the_worker(
    tmp_path: Path, httpserver: HTTPServer, product: Product
) -> None:
    Upstreams(httpserver)
    robot, _ = install_robot(httpserver)
    registry = Registry(httpserver)
    db_file = tmp_path / "mrt_state.sqlite3"

    baseline = product.worker_once()
    assert cycle_report(baseline)[KEY] == ("ok", 0, 0)
    assert stored_events(db_file) == []

    registry.publish("2.0", "deepseek weights, 1M context")
    steady = product.worker_once()
    assert cycle_report(steady)[KEY] == ("ok", 1, 1)
    assert stored_events(db_file) == [(KEY, "version_published", f"{PROJECT} 2.0")]
    # the alert speaks the plugin's words: its EVENT_WORDS and DISPLAY_NAME
    (text,) = [t for t in robot_texts(robot) if f"{PROJECT} 2.0" in t]
    assert "New registry release" in text
    assert f"{PROJECT} on Example Registry" in text
    # the HTTP client read the plugin's token_env; none was set, so no header went out
    assert registry.tokens and set(registry.tokens) == {None}

    assert product.sources()[KEY]["cursor"] == {
        "published_after": registry.releases[0]["published_at"]}


def test_check_sources_and_cursor_reset_know_the_plugin(
    tmp_path: Path, httpserver: HTTPServer, product: Product
) -> None:
    check = product.mrt("check", "--config", str(product.config), expect=0).stdout
    assert "ok    sources: github, huggingface, modelscope, example\n" in check, check
    # its MISSING_TOKEN_COST, as `mrt check` words a missing token for the registry itself
    # (a base_url'd server has its own limits, so that config gets the general wording)
    data = json.loads(product.config.read_text(encoding="utf-8"))
    del data["sources"]["example"]["base_url"]
    public = tmp_path / "public.json"
    public.write_text(json.dumps(data), encoding="utf-8")
    check = product.mrt("check", "--config", str(public), expect=0).stdout
    assert "env EXAMPLE_TOKEN: not set (optional, sources.example.token_env): without " \
        "EXAMPLE_TOKEN only public projects are seen\n" in check, check

    Upstreams(httpserver)
    install_robot(httpserver)
    Registry(httpserver)
    product.worker_once()
    assert KEY in product.sources()
    when = (now_utc() - timedelta(days=3)).replace(hour=0, minute=0, second=0)
    day = when.strftime("%Y-%m-%d")
    product.mrt("cursor", "reset", KEY, "--to", day, "--yes", "--config", str(product.config))
    # its cursor_since says what "from that day" is (reset_to is what every reset records)
    assert product.sources()[KEY]["cursor"] == {"published_after": f"{day}T00:00:00Z",
                                                "reset_to": f"{day}T00:00:00Z"}


def test_without_its_package_the_source_is_a_config_error_naming_it(product: Product) -> None:
    product.env["PYTHONPATH"] = product.env["PYTHONPATH"].rsplit(os.pathsep, 1)[0]
    done = product.mrt("check", "--config", str(product.config), expect=2)
    # the built-ins, as this process (which never sees the example package) finds them
    builtins = ", ".join(sorted(e.name for e in entry_points(group="mrt.sources")))
    assert f"sources.example: no source plugin named 'example' (installed: {builtins})" \
        in done.stderr, done.stderr
