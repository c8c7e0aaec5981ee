"""Exit codes that scripts and cron can trust (issue 17): `mrt-worker --once` exits 4 and says
"NOT ALL DELIVERED" when a delivery of its run ended retrying or dead; `mrt outbox` exits 4 when
it lists a dead delivery. A loopback webhook that fails, the real entry points, in process."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from test_e2e_support import Upstreams
from werkzeug import Request, Response

from mrt.cli import main as mrt_main
from worker.main import main as worker_main

REPO = "vllm-project/vllm"


@dataclass
class Hook:
    failing: bool = True
    calls: int = 0

    def handle(self, _request: Request) -> Response:
        self.calls += 1
        return Response("down", status=503) if self.failing else Response("{}", status=200)


@pytest.fixture
def setup(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> tuple[Path, Upstreams, Hook]:
    for name in ("MRT_CONFIG", "GITHUB_TOKEN", "HF_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.chdir(tmp_path)
    up = Upstreams(httpserver, hf_count=1, ms_count=1)
    hook = Hook()
    httpserver.expect_request("/hook", method="POST").respond_with_handler(hook.handle)
    config = tmp_path / "config.toml"
    config.write_text(
        f"""watch_keywords = ["deepseek"]

[state]
sqlite_path = "{tmp_path / "mrt.sqlite3"}"

[sources.github]
repos = ["{REPO}"]
base_url = "{httpserver.url_for("/").rstrip("/")}"

[channels.hook]
urls = ["json://127.0.0.1:{httpserver.port}/hook"]

[delivery]
max_attempts = 1
min_interval_seconds = 0
""",
        encoding="utf-8",
    )
    return config, up, hook


def once(config: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = worker_main(["--config", str(config), "--once"])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out


def outbox(config: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    code = mrt_main(["outbox", "--config", str(config), *argv])
    return code, capsys.readouterr().out


def test_a_dead_delivery_makes_once_and_outbox_exit_4(
    setup: tuple[Path, Upstreams, Hook], capsys: pytest.CaptureFixture[str]
) -> None:
    config, up, hook = setup
    code, out = once(config, capsys)  # the baseline: nothing to deliver
    assert code == 0 and "deliveries: none due" in out
    with sqlite3.connect(config.parent / "mrt.sqlite3") as conn:  # the heartbeat knows how it ran
        assert conn.execute("SELECT mode FROM worker_heartbeat").fetchall() == [("once",)]

    up.open_issue(REPO, 40001, "Support DeepSeek-V3.2 sparse attention")
    code, out = once(config, capsys)
    assert hook.calls == 1
    assert code == 4, out
    assert "deliveries: NOT ALL DELIVERED: 0 sent, 0 retrying, 1 dead" in out

    code, listed = outbox(config, capsys, "--status", "dead")
    assert code == 4 and "dead 1" in listed
    code, listed = outbox(config, capsys, "--status", "dead", "--json")
    assert code == 4 and json.loads(listed)["deliveries"][0]["status"] == "dead"
    code, _ = outbox(config, capsys, "--status", "sent")
    assert code == 0  # nothing dead listed: all good

    # Fixed and retried: the next run delivers it and everything is 0 again.
    hook.failing = False
    assert mrt_main(["outbox", "--config", str(config), "retry", "--all-dead", "--yes"]) == 0
    capsys.readouterr()
    code, out = once(config, capsys)
    assert code == 0 and "deliveries: 1 sent, 0 retrying, 0 dead" in out
    code, _ = outbox(config, capsys)
    assert code == 0


def test_a_retrying_delivery_also_needs_you(
    setup: tuple[Path, Upstreams, Hook], capsys: pytest.CaptureFixture[str]
) -> None:
    config, up, _hook = setup
    text = config.read_text(encoding="utf-8").replace("max_attempts = 1", "max_attempts = 5")
    config.write_text(text + "backoff_base_seconds = 3600\n", encoding="utf-8")
    assert once(config, capsys)[0] == 0
    up.open_issue(REPO, 40002, "DeepSeek-R2 weights")
    code, out = once(config, capsys)
    assert code == 4 and "0 sent, 1 retrying, 0 dead" in out
    code, _ = outbox(config, capsys, "--status", "retrying")
    assert code == 0  # retrying rows are listed, but only dead ones make listing exit 4


def test_the_deliveries_line_says_what_each_run_came_to() -> None:
    from mrt.delivery.sender import DeliveryResult, SendReport
    from worker.main import deliveries_line

    assert deliveries_line(None) == ("deliveries: none due", False)
    report = SendReport()
    report.add(DeliveryResult(1, "hook", "json://h", "retrying", "503"))
    report.add(DeliveryResult(1, "hook", "json://h", "sent"))  # retried within the run: sent
    report.add(DeliveryResult(2, "hook", "json://h", "sent"))
    assert deliveries_line(report) == ("deliveries: 2 sent, 0 retrying, 0 dead", False)
    report.claim_error = "OperationalError: database is locked"
    line, needs_you = deliveries_line(report)
    assert needs_you and "stopped early" in line and "database is locked" in line
