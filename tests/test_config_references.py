"""A channel (or digest) that does not exist is a config error everywhere the config loads.

Issue 19 item 1: a rule naming a missing channel passed `mrt check` ("ready", exit 0) and its
alerts went nowhere. Each entry point a user starts is run here on the same broken file: `mrt
check`, `mrt-worker`, `mrt-tui`, and a SIGHUP reload of a running worker.
"""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from test_source_support import FakeClock, make_pool

import worker.main
from mrt.cli import main as mrt_main
from worker.assembly import Runtime, build_runtime, reload


@pytest.fixture
def home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    for name in ("MRT_CONFIG", "GITHUB_TOKEN", "HF_TOKEN", "WELINK_WEBHOOK_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def config_data(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "state": {"sqlite_path": str(tmp_path / "mrt.sqlite3")},
        "channels": {"ops": {"type": "console"}, "team": {"type": "console"}},
        "rules": [
            {"name": "prs", "when": {"event_type": "pr_opened"}, "notify": ["ops"]},
            {"name": "models", "when": {"event_type": "model_added"}, "notify": True},
            {
                "name": "qwen",
                "when": {"keywords": ["qwen"]},
                "notify": {"channels": ["team", "opps"], "priority": "high"},
            },
        ],
    }
    data.update(extra)
    return data


def write(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


EXPECTED = (
    "rules[2].notify.channels[1]: no channel named 'opps'; did you mean 'ops'? "
    "(the channels configured: 'ops', 'team')"
)


def test_mrt_check_refuses_a_rule_naming_a_missing_channel(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(home / "c.json", config_data(home))
    assert mrt_main(["check", "--config", str(path)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.strip() == f"mrt: {path}: {EXPECTED}"


def test_the_worker_exits_2_with_the_same_message(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(home / "c.json", config_data(home))
    assert worker.main.main(["--config", str(path), "--once"]) == 2
    err = capsys.readouterr().err
    assert f"mrt-worker: {path}: {EXPECTED}" in err
    assert not (home / "mrt.sqlite3").exists()  # refused before anything was stored


def test_the_console_refuses_with_the_same_message(home: Path) -> None:
    path = write(home / "c.json", config_data(home))
    # a subprocess: were the config accepted, the console would take over this terminal
    done = subprocess.run(
        [str(Path(sys.executable).parent / "mrt-tui"), "--config", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == f"mrt-tui: {path}: {EXPECTED}"


@pytest.mark.parametrize(
    ("extra", "fragment"),
    [
        (  # v0's notify sections are channels; a rule may name them, not others
            {
                "notify": {"welink": {}},
                "rules": [{"name": "r", "notify": ["welink", "email"]}],
            },
            "rules[0].notify[1]: no channel named 'email' (the channels configured: "
            "'ops', 'team', 'welink')",
        ),
        (
            {
                "digests": {"daily": {"cron": "0 9 * * *", "channels": ["tema"]}},
                "rules": [{"name": "r", "digest": "daily"}],
            },
            "digests.daily.channels[0]: no channel named 'tema'; did you mean 'team'?",
        ),
        (
            {
                "digests": {"daily": {"cron": "0 9 * * *"}},
                "rules": [{"name": "r", "digest": "dialy"}],
            },
            "rules[0].digest: no digest named 'dialy'; did you mean 'daily'? "
            "(the digests configured: 'daily')",
        ),
        (
            {"observability": {"ops_channels": ["pager"]}, "rules": []},
            "observability.ops_channels[0]: no channel named 'pager'",
        ),
    ],
    ids=["v0-implicit-channels", "digest-channels", "rule-digest", "ops-channels"],
)
def test_every_place_naming_a_channel_is_checked(
    extra: dict[str, Any], fragment: str, home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(home / "c.json", config_data(home, **extra))
    assert mrt_main(["check", "--config", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path}: {fragment}" in err, err


def test_v0_implicit_channels_may_be_named(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(
        "WELINK_WEBHOOK_URL",
        "https://open.welink.huaweicloud.com/api/werobot/v1/webhook/send?token=wl-0123456789&channel=standard",
    )
    data = config_data(home, notify={"welink": {}})
    data["rules"] = [{"name": "r", "notify": {"channels": ["welink", "ops"]}}]
    path = write(home / "c.json", data)
    assert mrt_main(["check", "--config", str(path)]) == 0, capsys.readouterr()


def test_a_reload_with_a_missing_channel_keeps_the_running_config(
    home: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = config_data(home)
    good["rules"][2]["notify"]["channels"] = ["team"]
    path = write(home / "c.json", good)

    async def build() -> Runtime:
        return await build_runtime(str(path), env={}, pool=make_pool(FakeClock()))

    rt = asyncio.run(build())
    try:
        before = rt.config
        write(path, config_data(home))
        with caplog.at_level(logging.ERROR, logger="mrt.worker"):
            reload(rt)
        assert rt.config is before
        (record,) = [r for r in caplog.records if r.name == "mrt.worker"]
        assert "reload failed, keeping the running config" in record.getMessage()
        assert f"{path}: {EXPECTED}" in record.getMessage()
    finally:
        rt.db.close()
