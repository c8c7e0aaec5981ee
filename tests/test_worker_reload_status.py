"""A running worker's failed config reload is recorded on its heartbeat and shown by `mrt check`
(a warn line), `mrt sources` (a line at the top, and --json) and the console (banner and status
line); the next successful reload clears it. Driven through the real `mrt-worker --daemon`
(SIGHUP, then the reload command) and the real `mrt` CLI; the error never holds a secret."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import peewee
import pytest
from pytest_httpserver import HTTPServer
from test_e2e_support import (
    SUBPROCESS_TIMEOUT,
    Product,
    Upstreams,
    install_robot,
    installed_tool,
    loopback_config,
    product_env,
    wait_for,
)
from textual.widgets import Static
from tui_pilot import console, settle
from tui_seed import NOW, beat

from mrt.store import workers
from mrt.store.db import open_database
from mrt.store.models import WorkerHeartbeat

SECRET = "ghp_e2e_fake_token"  # GITHUB_TOKEN in product_env: a secret of the running config


def reload_state(db_file: Path) -> tuple[Any, Any, Any] | None:
    if not db_file.exists():
        return None
    try:
        with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True) as conn:
            row = conn.execute(
                "SELECT reload_error, reload_failed_at, reloaded_at FROM worker_heartbeat "
                "WHERE stopped_at IS NULL").fetchone()
    except sqlite3.OperationalError:  # the worker is still creating the schema
        return None
    return tuple(row) if row else None


def still_running(worker: subprocess.Popen[bytes]) -> None:
    try:
        worker.wait(timeout=0.2)
    except subprocess.TimeoutExpired:
        return
    raise AssertionError(f"the worker exited with {worker.returncode}")


def test_a_failed_reload_is_shown_until_a_reload_succeeds(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    Upstreams(httpserver)
    install_robot(httpserver)
    config = loopback_config(tmp_path, httpserver)
    good = config.read_text()
    db_file = tmp_path / "mrt_state.sqlite3"
    product = Product(config, product_env(tmp_path / "home", httpserver))
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [installed_tool("mrt-worker"), "--config", str(config), "--daemon"],
        env=product.env, cwd=product.env["HOME"], stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: reload_state(db_file) == (None, None, None), deadline_seconds=60,
                 step=lambda: still_running(worker))
        assert "the running worker" not in product.mrt("check", "--config", str(config)).stdout

        # A bad edit whose error quotes a secret, then SIGHUP: the worker keeps running.
        data = json.loads(good)
        data["sources"]["github"]["repos"] = SECRET
        config.write_text(json.dumps(data))
        worker.send_signal(signal.SIGHUP)
        wait_for(lambda: (reload_state(db_file) or (None,))[0] is not None, deadline_seconds=60,
                 step=lambda: still_running(worker))
        error, failed_at, _ = reload_state(db_file)  # type: ignore[misc]
        assert failed_at is not None
        assert SECRET not in error
        assert error == f"{config}: sources.github.repos: found '***', expected a list"

        # The operator fixes the file but has not reloaded yet: every door says so.
        config.write_text(good)
        checked = product.mrt("check", "--config", str(config)).stdout
        [line] = [x for x in checked.splitlines() if x.startswith("warn  worker:")]
        assert line.startswith(f"warn  worker: the running worker failed to reload {config} at ")
        assert line.endswith(": sources.github.repos: found '***', expected a list; "
                             "it runs the previous config")
        listed = product.mrt("sources", "--config", str(config)).stdout.splitlines()
        assert listed[0].startswith(f"warning: the running worker failed to reload {config} at")
        [failure] = product.mrt_json("sources")["reload_failures"]
        assert failure["error"] == error and SECRET not in json.dumps(failure)

        # A reload through the command queue (as a console would ask) that succeeds clears it.
        asker = open_database(db_file)
        with asker.connection_context():
            workers.submit_command("reload", {}, NOW)
        asker.close()
        wait_for(lambda: (reload_state(db_file) or (1,))[0] is None, deadline_seconds=60,
                 step=lambda: still_running(worker))
        assert reload_state(db_file)[2] is not None  # type: ignore[index]  # reloaded_at
        assert "warn  worker:" not in product.mrt("check", "--config", str(config)).stdout
        assert product.mrt_json("sources")["reload_failures"] == []
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            code = worker.wait(timeout=SUBPROCESS_TIMEOUT)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
            raise
        finally:
            log.close()
    output = (tmp_path / "worker.log").read_text()
    assert code == 0, output
    assert "Traceback" not in output and SECRET not in output
    assert "reload failed, keeping the running config" in output


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_the_console_shows_a_failed_reload_in_its_banner_and_status_line(
    db: peewee.Database, db_path: Path
) -> None:
    beat(NOW)
    [worker_id] = [b.worker_id for b in WorkerHeartbeat.select()]
    workers.record_reload(worker_id, error="/etc/mrt.toml: rules[2].when: unknown key 'colour'"
                          "\x1b[2J", now=NOW - timedelta(minutes=3))
    db.close()
    async with console(db_path).run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        banner = str(pilot.app.screen.query_one("#banner", Static).render())
        assert ("Config reload failed: the running worker failed to reload /etc/mrt.toml at "
                "2026-11-20 09:27:00 UTC: rules[2].when: unknown key 'colour'") in banner
        assert "it runs the previous config" in banner and "\x1b" not in banner
        status = str(pilot.app.screen.query_one("#status-bar", Static).render())
        assert "✗ reload failed" in status
    db.connect(reuse_if_open=True)
    workers.record_reload(worker_id, error=None, now=NOW)
    db.close()
    async with console(db_path).run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        banner = pilot.app.screen.query_one("#banner", Static)
        assert "reload" not in str(banner.render())
        assert "reload failed" not in str(pilot.app.screen.query_one("#status-bar", Static).render())
