"""`mrt run --once` and v0's `python -m mrt --config FILE --once` hand over to the worker."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def _config(tmp_path: Path) -> Path:
    # no sources: the run is about the hand-over, not about polling
    path = tmp_path / "config.json"
    path.write_text(
        json.dumps({"state": {"sqlite_path": str(tmp_path / "state.sqlite3")}, "sources": {}}),
        encoding="utf-8",
    )
    return path


def _env(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
    }


def test_python_dash_m_mrt_once_runs_the_worker(tmp_path: Path) -> None:
    config = _config(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "mrt", "--config", str(config), "--once"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "state.sqlite3").exists()  # the worker opened and migrated the store
    assert "Traceback" not in result.stderr


def test_mrt_run_once_runs_the_worker(tmp_path: Path) -> None:
    config = _config(tmp_path)
    result = subprocess.run(
        [sys.executable, "-m", "mrt", "run", "--once", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(tmp_path),
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "state.sqlite3").exists()


def test_a_bad_config_exits_2_without_a_traceback(tmp_path: Path) -> None:
    config = tmp_path / "bad.json"
    config.write_text('{"poll_interval_seconds": "often"}', encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "mrt", "--config", str(config), "--once"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(tmp_path),
    )
    assert result.returncode == 2
    assert "poll_interval_seconds" in result.stderr and "Traceback" not in result.stderr
