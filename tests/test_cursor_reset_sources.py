"""`mrt cursor reset KEY --to DATE` is honoured by the next poll of every built-in source.

Each source module says what its cursor "from DATE" is (`cursor_since`); the reset stores it.
Before, a ModelScope reset wrote `{"since"}` while the poller reads `last_modified_after`: the
date was ignored and the next poll walked every page without limit, announcing every model it
had not recorded as news.

The real worker cycle (build_runtime/run_once) on a real config file and SQLite file, loopback
fakes of each upstream, and `mrt cursor reset` through the CLI between two worker runs.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from test_source_support import (
    T0,
    FakeClock,
    FakeGitHub,
    FakeHub,
    FakeModelScope,
    hf_models,
    iso,
    make_pool,
    ms_models,
    recorded_issues,
)

from mrt.cli import main as mrt_main
from mrt.store.models import Event, SourceState
from worker.assembly import build_runtime
from worker.runtime import run_once

ORG = "deepseek-ai"
NEWEST = datetime(2026, 11, 20, 12, 0, tzinfo=T0.tzinfo)
RESET_TO = NEWEST - timedelta(hours=7, minutes=30)  # models 0..7 changed after it, 8..11 before


def write_config(tmp_path: Path, sources: dict[str, Any]) -> Path:
    path = tmp_path / "mrt.json"
    config = {
        "version": 1,
        "state": {"sqlite_path": str(tmp_path / "mrt.sqlite3")},
        "sources": sources,
    }
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def worker_once(path: Path, at: datetime) -> None:
    async def go() -> None:
        rt = await build_runtime(str(path), env={}, pool=make_pool(FakeClock(at)))
        try:
            await run_once(rt, lambda: at)
        finally:
            rt.db.close()

    asyncio.run(go())


def reset(tmp_path: Path, key: str, to: str, capsys: pytest.CaptureFixture[str]) -> str:
    code = mrt_main(["cursor", "reset", key, "--to", to, "--yes", "--db",
                     str(tmp_path / "mrt.sqlite3")])
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def events_of(key: str) -> list[tuple[str, str]]:
    rows = Event.select().where(Event.source_key == key).order_by(Event.id)
    return [(str(e.event_type), str(e.resource_id)) for e in rows]


@pytest.mark.parametrize("platform", ["modelscope", "huggingface"])
def test_a_model_source_reads_from_the_reset_date_and_no_further(
    tmp_path: Path, httpserver: HTTPServer, capsys: pytest.CaptureFixture[str], platform: str
) -> None:
    base = httpserver.url_for("/")
    if platform == "modelscope":
        fake: Any = FakeModelScope(httpserver, ms_models(ORG, 12, NEWEST))
    else:
        fake = FakeHub(httpserver, hf_models(ORG, 12, NEWEST))
    # five models a page: the baseline records the newest five (page 1) and nothing older
    config = write_config(tmp_path, {platform: {"orgs": [ORG], "base_url": base, "page_size": 5}})
    key = f"{platform}:{ORG}"
    worker_once(config, T0)
    assert events_of(key) == []

    out = reset(tmp_path, key, iso(RESET_TO), capsys)
    assert f"the next poll reads from {iso(RESET_TO)}" in out
    fake.requests.clear()
    worker_once(config, T0 + timedelta(minutes=5))

    # models 5, 6 and 7 changed after the date and were never recorded: news. 8..11 changed
    # before it: not news, and the walk stops at the first of them (page 2 of 3).
    names = [m["id"] for m in fake.models]
    assert events_of(key) == [("model_updated", names[n]) for n in (7, 6, 5)]
    assert len(fake.requests) == 2
    assert SourceState.get_by_id(key).cursor == {"last_modified_after": iso(NEWEST)}


def test_github_reads_from_the_reset_date_with_its_overlap(
    tmp_path: Path, httpserver: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = "PyGithub/PyGithub"
    fake = FakeGitHub(httpserver, repo, recorded_issues())
    config = write_config(tmp_path, {"github": {"repos": [repo],
                                                "base_url": httpserver.url_for("/")}})
    worker_once(config, T0)
    reset(tmp_path, f"github:{repo}", "2024-09-01", capsys)
    fake.requests.clear()
    worker_once(config, T0 + timedelta(minutes=5))
    (request,) = fake.requests
    # GitHub's `since` is "updated at or after"; the source re-reads 120 s before the cursor
    assert request.args["since"] == "2024-08-31T23:58:00Z"
    assert request.args["direction"] == "asc"
