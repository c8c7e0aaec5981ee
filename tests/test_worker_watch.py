"""Issue 12: the daemon watches a model directory (inotify through watchfiles) and a change asks
for the source's poll now, long before its 1-hour interval; the poll's scan makes the event, which
reaches a loopback webhook. Without watchfiles the worker says so once and the scheduled scans go
on. The real runtime, a real SQLite file and directory, a loopback webhook."""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from test_source_support import T0, FakeClock, make_pool

from mrt.api import SourceSection, SourceSpec
from mrt.events import utcnow
from mrt.sources import modeldir
from mrt.store.models import AuditLog
from worker.assembly import Runtime, build_runtime
from worker.runtime import run_daemon, run_once
from worker.watch import watch_sources, woken_keys


def write_config(directory: Path, models: Path, server: HTTPServer) -> Path:
    config = {
        "version": 1,
        "state": {"sqlite_path": str(directory / "mrt.sqlite3")},
        "sources": {"modeldir": {"paths": [str(models)], "interval_seconds": 3600}},
        "channels": {"hook": {"urls": [f"json://127.0.0.1:{server.port}/hook"]}},
        "delivery": {"min_interval_seconds": 0, "shutdown_grace_seconds": 3},
        "rules": [{"name": "models", "when": {"event_type": "model_added"},
                   "notify": {"channels": ["hook"]}}],
    }
    path = directory / "mrt.json"
    path.write_text(json.dumps(config), encoding="utf-8")
    return path


def baselined(tmp_path: Path, server: HTTPServer, baseline_at: Callable[[], datetime]) -> tuple[
        Runtime, Path]:
    models = tmp_path / "models"
    (models / "llama-7b").mkdir(parents=True)
    (models / "llama-7b/config.json").write_text("{}", encoding="utf-8")
    server.expect_request("/hook", method="POST").respond_with_data("ok")

    async def build() -> Runtime:
        rt = await build_runtime(str(write_config(tmp_path, models, server)), env={},
                                 pool=make_pool(FakeClock()))
        await run_once(rt, baseline_at)
        return rt

    return asyncio.run(build()), models


def posts(server: HTTPServer) -> list[str]:
    return [json.loads(r.get_data())["message"] for r, _ in server.log if r.path == "/hook"]


def daemon_until(rt: Runtime, change: Callable[[], None], condition: Callable[[], bool],
                 seconds: float) -> None:
    """Run the daemon, make the change once it runs, wait (with a deadline) for `condition`."""
    async def main() -> None:
        stop = asyncio.Event()
        task = asyncio.create_task(run_daemon(rt, stop, asyncio.Event()))
        try:
            await asyncio.sleep(0.3)  # let the daemon start its watch before the change
            change()
            deadline = time.monotonic() + seconds
            while not condition():
                assert not task.done(), f"the daemon stopped: {task.exception()!r}"
                assert time.monotonic() < deadline, "timed out"
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await asyncio.wait_for(task, timeout=10)

    asyncio.run(main())


def add_model(models: Path) -> Callable[[], None]:
    def change() -> None:
        (models / "qwen3-8b").mkdir()
        (models / "qwen3-8b/model.safetensors").write_bytes(b"\0" * 64)
    return change


def test_a_new_model_folder_is_polled_at_once_not_after_the_interval(
        tmp_path: Path, httpserver: HTTPServer) -> None:
    pytest.importorskip("watchfiles")
    rt, models = baselined(tmp_path, httpserver, utcnow)  # next scheduled poll: in 1 hour
    assert posts(httpserver) == []

    daemon_until(rt, add_model(models), lambda: bool(posts(httpserver)), seconds=10)

    (text,) = posts(httpserver)
    assert "qwen3-8b" in text and "New model" in text
    # an automatic wake-up is not an operator's action: nothing audited
    assert not AuditLog.select().where(AuditLog.action == "source.poll").exists()


def test_without_watchfiles_the_scheduled_scan_still_alerts_and_it_is_said_once(
        tmp_path: Path, httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(sys.modules, "watchfiles", None)  # `import watchfiles` fails
    rt, models = baselined(tmp_path, httpserver, lambda: T0)  # due again right away
    caplog.set_level(logging.INFO)
    add_model(models)()  # before the daemon: the scheduled poll, not a watch, must see it

    daemon_until(rt, lambda: None, lambda: bool(posts(httpserver)), seconds=10)

    (text,) = posts(httpserver)
    assert "qwen3-8b" in text
    said = [r.getMessage() for r in caplog.records
            if r.getMessage().startswith("watchfiles") or "watching" in r.getMessage()]
    assert said == ["watchfiles is not installed: local directories are scanned at their "
                    "scheduled polls only"]


def test_a_watch_that_fails_is_said_once_and_the_task_ends(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    watchfiles = pytest.importorskip("watchfiles")

    def too_many(*paths: object, **options: object) -> object:
        raise OSError("OS file watch limit reached")

    monkeypatch.setattr(watchfiles, "awatch", too_many)
    spec = SourceSpec(key=f"modeldir:{tmp_path}", plugin="modeldir", section="modeldir",
                      params={"path": str(tmp_path)}, config=SourceSection())
    caplog.set_level(logging.INFO)

    async def main() -> None:  # returns by itself: the scheduled scans carry on without it
        await asyncio.wait_for(
            watch_sources(lambda: ([spec], {"modeldir": modeldir}), asyncio.Event(), utcnow), 5)

    asyncio.run(main())
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warned == [f"cannot watch {tmp_path} for changes (OS file watch limit reached): "
                      "they are scanned at their scheduled polls only"]


def test_a_change_wakes_only_the_sources_whose_tree_holds_it() -> None:
    paths = {"/data/models": ["modeldir:/data/models"], "/data/models2": ["modeldir:/data/models2"]}
    assert woken_keys(["/data/models2/qwen/config.json"], paths) == {"modeldir:/data/models2"}
    assert woken_keys(["/data/models"], paths) == {"modeldir:/data/models"}
    assert woken_keys(["/data/other/x"], paths) == set()
