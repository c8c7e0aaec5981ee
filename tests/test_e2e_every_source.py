"""One config with one of every built-in source, as a user would combine them: one real worker
cycle against the loopback fakes of the conformance declarations, then `mrt sources`, the
console's Sources screen and its Metrics table each show every source instance.

The fakes and sections are the conformance declarations' (tests/source_conformance.py); the
model directory is a real temporary directory. The cycle is each source's baseline, so every
instance must come out ok, with its cycle recorded for the metrics.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import peewee
import pytest
from pytest_httpserver import HTTPServer
from source_conformance import CASES
from textual.widgets import DataTable
from tui_pilot import settle

from mrt.cli import main as mrt_main
from mrt.config import load_config
from mrt.pipeline import build_specs
from mrt.store.db import open_store
from tui.app import make_app
from tui.screens.sources import SourcesScreen
from tui.widgets.source_table import SourceTable
from worker.main import main as worker_main

# github-tags and github-releases come from one section (monitor.releases and .tags)
SKIP = {"github-tags"}


@pytest.fixture
def every_source(
    tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, Path]]:
    sources: dict[str, Any] = {}
    for case in CASES:
        case.serve(httpserver)
        if case.name in SKIP:
            continue
        section = case.section(httpserver).model_dump(
            mode="json", exclude_none=True, exclude_defaults=True
        )
        sources[case.name] = {**section, "type": case.plugin}
        for name, value in case.env.items():
            monkeypatch.setenv(name, value)
    models = tmp_path / "models"
    (models / "deepseek-v4").mkdir(parents=True)
    (models / "deepseek-v4" / "config.json").write_text("{}", encoding="utf-8")
    sources["modeldir"] = {"paths": [str(models)]}
    db_path = tmp_path / "mrt.sqlite3"
    config = {
        "version": 1,
        "state": {"sqlite_path": str(db_path)},
        "sources": sources,
        "channels": {"console": {"type": "console"}},
    }
    path = tmp_path / "every.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    monkeypatch.setenv("HOME", str(tmp_path))
    yield path, db_path


def every_key(config_path: Path) -> list[str]:
    return sorted(spec.key for spec in build_specs(load_config(config_path)))


def test_one_of_every_source_runs_and_shows_everywhere(
    every_source: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config_path, db_path = every_source
    keys = every_key(config_path)
    plugins = {key.split(":", 1)[0] for key in keys}
    assert {"github", "github-releases", "github-tags", "huggingface", "modelscope", "pypi",
            "npm", "osv", "ghsa", "feed", "arxiv", "oci", "gitlab-issues", "gitlab-mrs",
            "gitlab-releases", "gitlab-tags", "modeldir"} <= plugins

    assert worker_main(["--once", "--config", str(config_path)]) == 0, capsys.readouterr()
    capsys.readouterr()
    assert mrt_main(["sources", "--json", "--config", str(config_path)]) == 0
    listed = {row["key"]: row for row in json.loads(capsys.readouterr().out)["sources"]}
    assert sorted(listed) == keys
    assert {row["health"] for row in listed.values()} == {"ok"}, listed

    asyncio.run(console_shows(db_path, keys))


async def console_shows(db_path: Path, keys: list[str]) -> None:
    db: peewee.Database = open_store(db_path, read_only=True)
    try:
        # the cycle was recorded at the real time: the console's clock is the real one too
        app = make_app(db_path, clock=lambda: datetime.now(UTC), poll_seconds=3600,
                       status_seconds=3600, slow_seconds=3600)
        async with app.run_test(size=(160, 60)) as pilot:
            await settle(pilot)
            await pilot.press("3")
            await settle(pilot)
            assert isinstance(app.screen, SourcesScreen)
            assert app.screen.query_one(SourceTable).keys == keys
            await pilot.press("4")
            await settle(pilot)
            table = app.screen.query_one("#metrics-table", DataTable)
            shown = {str(table.get_row_at(i)[0]) for i in range(table.row_count)}
            assert set(keys) <= shown, sorted(set(keys) - shown)
    finally:
        db.close()
