"""A rule's `notify.template` (docs/RULES.md) shapes that rule's messages, and a template that
cannot work stops the config at load (`mrt check`, `mrt-worker`) with the file and the field.

The worker runs its real cycle on a real config file, a real SQLite file, a loopback GitHub and
a loopback JSON webhook; the clock is passed in.
"""

from __future__ import annotations

import asyncio
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from test_delivery_render import ISSUES, issue_event
from test_noise_support import REPO, first_issue
from test_source_support import (
    T0,
    FakeClock,
    FakeGitHub,
    close,
    make_pool,
    recorded_issues,
    touch,
)

from mrt.cli import main as mrt_main
from mrt.delivery.render import build_context
from mrt.rules import Decision
from mrt.templating import CONTEXT_NAMES
from worker.assembly import Runtime, build_runtime
from worker.main import main as worker_main
from worker.runtime import run_once

CLOSED_TEMPLATE = "RULE-TEMPLATE {{ event.what }}: {{ event.title }} [{{ rules[0].name }}]"


def write_config(tmp_path: Path, server: HTTPServer, template: str | None) -> Path:
    notify: dict[str, Any] = {"channels": ["hook"]}
    if template is not None:
        notify["template"] = template
    config = {
        "version": 1,
        "state": {"sqlite_path": str(tmp_path / "mrt.sqlite3")},
        "sources": {"github": {"repos": [REPO], "base_url": server.url_for("/")}},
        "channels": {"hook": {"urls": [f"json://127.0.0.1:{server.port}/hook"]}},
        "delivery": {"min_interval_seconds": 0},
        "rules": [
            {"name": "closed", "when": {"event_type": "issue_closed"}, "notify": notify},
            {"name": "others", "notify": ["hook"]},
        ],
    }
    path = tmp_path / "mrt.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def hook_posts(server: HTTPServer) -> list[str]:
    return [json.loads(r.get_data())["message"] for r, _ in server.log if r.path == "/hook"]


def run_two_cycles(path: Path, issues: list[dict[str, Any]]) -> None:
    """A baseline cycle, then one that sees the first issue closed (and delivers it)."""

    async def go() -> None:
        rt: Runtime = await build_runtime(str(path), env={}, pool=make_pool(FakeClock()))
        try:
            await run_once(rt, lambda: T0)
            close(first_issue(issues), T0 + timedelta(minutes=1))
            await run_once(rt, lambda: T0 + timedelta(minutes=2))
        finally:
            rt.db.close()

    asyncio.run(go())


@pytest.mark.parametrize("form", ["inline", "file"])
def test_a_rules_template_is_the_body_the_webhook_receives(
    tmp_path: Path, httpserver: HTTPServer, form: str
) -> None:
    issues = recorded_issues()
    FakeGitHub(httpserver, REPO, issues)
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    template = CLOSED_TEMPLATE
    if form == "file":
        (tmp_path / "tpl").mkdir()
        (tmp_path / "tpl" / "closed.j2").write_text(CLOSED_TEMPLATE + "\n", encoding="utf-8")
        template = "file:tpl/closed.j2"  # relative to the config file
    run_two_cycles(write_config(tmp_path, httpserver, template), issues)

    title = first_issue(issues)["title"]
    assert hook_posts(httpserver) == [f"RULE-TEMPLATE Issue closed: {title} [closed]"]


def test_without_a_rule_template_the_channel_default_is_used(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    issues = recorded_issues()
    FakeGitHub(httpserver, REPO, issues)
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    run_two_cycles(write_config(tmp_path, httpserver, None), issues)
    (post,) = hook_posts(httpserver)
    assert post.startswith("[MRT] Issue closed") and "RULE-TEMPLATE" not in post


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("file:tpl/missing.j2", r"cannot read template .*tpl/missing\.j2: No such file"),
        ("{% if event.title %}open", r"line 1: Unexpected end of template"),
        ("{{ evnt.title }}", r"unknown name 'evnt' \(did you mean 'event'\?\)"),
        ("{{ event.title | nosuchfilter }}", r"No filter named 'nosuchfilter'"),
        ("   ", r"the template is empty"),
    ],
)
def test_a_rule_template_that_cannot_work_is_a_config_error_at_load(
    tmp_path: Path,
    httpserver: HTTPServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    template: str,
    expected: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write_config(tmp_path, httpserver, template)
    where = re.escape(f"{path}: rules[0] (closed).notify.template: ") + f".*{expected}"

    assert mrt_main(["check", "--config", str(path)]) == 2
    out = capsys.readouterr()
    assert _matches(where, out.out + out.err)

    assert worker_main(["--config", str(path), "--once"]) == 2
    err = capsys.readouterr().err
    assert _matches(where, err) and "Traceback" not in err
    assert httpserver.log == []  # refused before any poll


def _matches(pattern: str, text: str) -> bool:
    return re.search(pattern, text) is not None


def test_the_names_a_template_may_use_are_the_names_the_renderer_provides() -> None:
    event = issue_event(ISSUES[0])
    context = build_context("team", [event], Decision(action="notify"), 1)
    assert set(context) == CONTEXT_NAMES


def test_an_aggregating_rules_template_is_the_body_of_its_aggregate(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    issues = recorded_issues()
    FakeGitHub(httpserver, REPO, issues)
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    path = write_config(tmp_path, httpserver, None)
    config = json.loads(path.read_text())
    config["sources"]["github"]["issue_edited"] = True
    config["rules"] = [{
        "name": "edits", "when": {"event_type": "issue_edited"},
        "aggregate": {"window_minutes": 10},
        "notify": {"template": "AGG {{ count }}:{% for e in shown %} {{ e.title }};{% endfor %}"},
    }]
    path.write_text(json.dumps(config))

    async def go() -> None:
        rt = await build_runtime(str(path), env={}, pool=make_pool(FakeClock()))
        try:
            await run_once(rt, lambda: T0)
            issue = first_issue(issues)
            for n in range(2):
                touch(issue, T0 + timedelta(minutes=1 + n), title=f"edit {n}")
                at = T0 + timedelta(minutes=1 + n, seconds=10)
                await run_once(rt, lambda at=at: at)  # type: ignore[misc]
            await run_once(rt, lambda: T0 + timedelta(minutes=15))  # the window has ended
        finally:
            rt.db.close()

    asyncio.run(go())
    assert hook_posts(httpserver) == ["AGG 2: edit 0; edit 1;"]
