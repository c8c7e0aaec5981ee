"""`mrt cursor reset modeldir:PATH --to DATE` through the CLI between two real worker cycles
(build_runtime/run_once) on a real config, SQLite file and directory tree: the next poll reports
the files modified after DATE once, and the one after reports nothing."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from test_cursor_reset_sources import events_of, reset, worker_once, write_config
from test_source_support import T0


def write(path: Path, mtime: datetime) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"{}")
    stamp = int(mtime.timestamp() * 1e9)
    os.utime(path, ns=(stamp, stamp))


def test_modeldir_reports_the_files_modified_after_the_reset_date(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    models = tmp_path / "models"
    write(models / "old/config.json", datetime(2025, 1, 1, tzinfo=UTC))
    write(models / "recent/config.json", datetime(2026, 6, 1, tzinfo=UTC))
    write(models / "old/tokenizer.json", datetime(2026, 7, 1, tzinfo=UTC))
    key = f"modeldir:{models}"
    config = write_config(tmp_path, {"modeldir": {"paths": [str(models)]}})
    worker_once(config, T0)
    assert events_of(key) == []

    out = reset(tmp_path, key, "2026-05-01", capsys)
    assert "2026-05-01" in out
    worker_once(config, T0 + timedelta(minutes=5))
    assert events_of(key) == [("model_file_added", "old"), ("model_added", "recent")]
    worker_once(config, T0 + timedelta(minutes=10))
    assert len(events_of(key)) == 2
