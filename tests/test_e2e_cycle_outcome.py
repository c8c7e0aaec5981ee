"""Whichever stage a cycle fails in, `mrt-worker --once` says so (its line, exit 3) and
`mrt sources` shows it (issue 19 item 5). Faults are injected by real means: the loopback
upstream answering an error or a payload the operator's template cannot render, a template that
fails to render, and the SQLite database itself refusing a write (a trigger, as a full disk or a
constraint would). Driven through the real entry points, in process."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from test_e2e_support import Upstreams, cycle_report
from werkzeug import Response

from mrt.cli import main as mrt_main
from worker.main import main as worker_main

REPO = "vllm-project/vllm"
KEY = f"github:{REPO}"
OTHERS = {"github:sgl-project/sglang", "huggingface:deepseek-ai", "modelscope:deepseek-ai"}
# Sends a chat text that needs the event's first label: an issue without labels cannot render.
TEMPLATE = "{{ event.labels[0] }}: {{ event.title }}"


@dataclass
class Setup:
    home: Path
    up: Upstreams
    config: Path
    template: Path
    capsys: pytest.CaptureFixture[str]

    @property
    def db(self) -> Path:
        return self.home / "mrt.sqlite3"

    def once(self, expect: int) -> tuple[dict[str, tuple[str, int, int]], str]:
        """`mrt-worker --once`: the per-source lines, and the whole output."""
        code = worker_main(["--config", str(self.config), "--once"])
        out, err = self.capsys.readouterr()
        assert "Traceback" not in out + err
        assert code == expect, (code, out, err)
        return cycle_report_of(out), out

    def sources(self) -> dict[str, dict[str, Any]]:
        assert mrt_main(["sources", "--config", str(self.config), "--json"]) == 0
        rows = json.loads(self.capsys.readouterr().out)["sources"]
        return {row["key"]: row for row in rows}

    def sql(self, statement: str) -> None:
        with sqlite3.connect(self.db) as conn:
            conn.execute(statement)

    def latest_metric(self) -> tuple[str, str | None]:
        with sqlite3.connect(self.db) as conn:
            row = conn.execute(
                "SELECT outcome, error FROM cycle_metric WHERE source_key = ? "
                "ORDER BY id DESC LIMIT 1",
                (KEY,),
            ).fetchone()
        return row[0], row[1]


def cycle_report_of(out: str) -> dict[str, tuple[str, int, int]]:
    return cycle_report(subprocess.CompletedProcess([], 0, stdout=out))


@pytest.fixture
def setup(
    tmp_path: Path,
    httpserver: HTTPServer,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Setup:
    for name in ("MRT_CONFIG", "GITHUB_TOKEN", "HF_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.chdir(tmp_path)
    up = Upstreams(httpserver, hf_count=2, ms_count=2)
    httpserver.expect_request("/hook", method="POST").respond_with_json({"ok": True})
    base = httpserver.url_for("/").rstrip("/")
    template = tmp_path / "hook.j2"
    template.write_text(TEMPLATE, encoding="utf-8")
    config = tmp_path / "config.toml"
    config.write_text(
        f"""watch_keywords = ["deepseek"]

[state]
sqlite_path = "{tmp_path / "mrt.sqlite3"}"

[sources.github]
repos = ["{REPO}", "sgl-project/sglang"]
base_url = "{base}"

[sources.huggingface]
orgs = ["deepseek-ai"]
base_url = "{base}"

[sources.modelscope]
orgs = ["deepseek-ai"]
base_url = "{base}"

[channels.hook]
urls = ["json://127.0.0.1:{httpserver.port}/hook"]
template = "file:hook.j2"

[observability]
failure_alert_after = 1
""",
        encoding="utf-8",
    )
    s = Setup(tmp_path, up, config, template, capsys)
    baseline, _ = s.once(expect=0)
    assert set(baseline) == {KEY, *OTHERS} and all(v[0] == "ok" for v in baseline.values())
    return s


def labelled_news(s: Setup) -> None:
    """A matching new issue the template can render (it has a label)."""
    s.up.open_issue(REPO, 50001, "DeepSeek-V4 support")
    s.up.github[REPO].issue(50001)["labels"] = [{"name": "feature", "id": 1, "color": "fff"}]


def unlabelled_news(s: Setup) -> None:
    """A matching new issue without labels: the payload the operator's template cannot render."""
    s.up.open_issue(REPO, 50002, "DeepSeek-V4 crashes on load")
    s.up.github[REPO].issue(50002)["labels"] = []


def upstream_404(s: Setup) -> None:
    s.up.faults[KEY].answer = lambda: Response('{"message": "Not Found"}', status=404)


def broken_template(s: Setup) -> None:
    labelled_news(s)
    s.template.write_text("{{ event.title | no_such_filter }}", encoding="utf-8")


def database_refuses_events(s: Setup) -> None:
    labelled_news(s)
    s.sql(
        "CREATE TRIGGER refuse BEFORE INSERT ON event "
        "BEGIN SELECT RAISE(ABORT, 'database or disk is full (injected)'); END"
    )


def database_refuses_notices(s: Setup) -> None:
    upstream_404(s)
    s.sql(
        "CREATE TRIGGER refuse BEFORE INSERT ON alert WHEN NEW.kind = 'source_health' "
        "BEGIN SELECT RAISE(ABORT, 'database or disk is full (injected)'); END"
    )


STAGES: dict[str, tuple[Callable[[Setup], None], tuple[str, ...]]] = {
    # stage: (the fault, what the reported error must say)
    "poll": (upstream_404, ("HTTP 404",)),
    "payload breaks planning": (unlabelled_news, ("planning failed", "hook")),
    "template fails to render": (broken_template, ("planning failed", "no_such_filter")),
    "database refuses the commit": (
        database_refuses_events,
        ("commit failed", "database or disk is full (injected)"),
    ),
    "database refuses the operators' notice": (
        database_refuses_notices,
        ("HTTP 404", "operators' notice failed", "database or disk is full (injected)"),
    ),
}


@pytest.mark.parametrize("stage", list(STAGES))
def test_a_cycle_that_fails_in_any_stage_is_reported_and_recorded(
    setup: Setup, stage: str
) -> None:
    inject, says = STAGES[stage]
    before = setup.sources()[KEY]
    inject(setup)

    report, out = setup.once(expect=3)
    assert report[KEY][0] == "failed", out
    line = next(line for line in out.splitlines() if line.startswith(f"{KEY}: "))
    assert all(words in line for words in says), line
    assert {k: report[k][0] for k in OTHERS} == dict.fromkeys(OTHERS, "ok")  # nobody else stops

    row = setup.sources()[KEY]
    assert row["health"] == "failing" and row["consecutive_failures"] == 1
    assert row["last_error"] and all(words in row["last_error"]["message"] for words in says)
    assert row["cursor"] == before["cursor"]  # nothing of a failed cycle is half kept
    outcome, error = setup.latest_metric()
    assert outcome == "failed" and error and says[0] in error


def test_a_failed_recovery_notice_fails_the_cycle_but_keeps_what_it_committed(
    setup: Setup,
) -> None:
    upstream_404(setup)
    setup.once(expect=3)  # told the operators it fails (failure_alert_after = 1)
    assert setup.sources()[KEY]["consecutive_failures"] == 1
    setup.up.faults[KEY].answer = None
    labelled_news(setup)
    setup.sql(
        "CREATE TRIGGER refuse BEFORE INSERT ON alert WHEN NEW.kind = 'source_health' "
        "BEGIN SELECT RAISE(ABORT, 'database or disk is full (injected)'); END"
    )

    report, out = setup.once(expect=3)
    assert report[KEY] == ("failed", 1, 1), out  # the news was committed and alerted
    row = setup.sources()[KEY]
    assert row["health"] == "failing" and row["consecutive_failures"] == 1
    assert row["last_error"]["message"].startswith("operators' notice failed: ")
    assert setup.latest_metric()[0] == "failed"

    setup.sql("DROP TRIGGER refuse")  # the database takes writes again: the notice goes out
    report, _ = setup.once(expect=0)
    row = setup.sources()[KEY]
    assert report[KEY][0] == "ok" and row["health"] == "ok" and row["last_error"] is None
    with sqlite3.connect(setup.db) as conn:
        titles = [t for (t,) in conn.execute("SELECT title FROM alert WHERE kind='source_health'")]
    assert len(titles) == 2 and "recovered" in titles[1]
