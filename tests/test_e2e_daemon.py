"""`mrt sources poll KEY` reaches a running `mrt-worker --daemon`: the source is polled long
before its 5-minute interval, its news is delivered, nothing else is polled, and SIGTERM stops
the worker cleanly (exit 0)."""

from __future__ import annotations

import signal
import sqlite3
import subprocess
from pathlib import Path

from pytest_httpserver import HTTPServer
from test_e2e_support import (
    SUBPROCESS_TIMEOUT,
    Product,
    Upstreams,
    install_robot,
    installed_tool,
    loopback_config,
    product_env,
    robot_texts,
    wait_for,
)

VLLM = "github:vllm-project/vllm"


def polled_sources(db_file: Path) -> int:
    if not db_file.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True) as conn:
            (count,) = conn.execute(
                "SELECT count(*) FROM source_state WHERE cursor IS NOT NULL").fetchone()
    except sqlite3.OperationalError:  # the worker is still creating the schema
        return 0
    return int(count)


def audit_actions(db_file: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True) as conn:
        return [(a, p) for a, p in conn.execute("SELECT actor, action FROM audit_log")]


def test_a_poll_request_reaches_the_running_worker(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    up = Upstreams(httpserver)
    robot, _ = install_robot(httpserver)
    config = loopback_config(tmp_path, httpserver)
    db_file = tmp_path / "mrt_state.sqlite3"
    product = Product(config, product_env(tmp_path / "home", httpserver))
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [installed_tool("mrt-worker"), "--config", str(config), "--daemon"],
        env=product.env, cwd=product.env["HOME"], stdout=log, stderr=subprocess.STDOUT)
    try:
        # its first cycle: the baseline of all four sources, then quiet for 300 s
        wait_for(lambda: polled_sources(db_file) == 4, deadline_seconds=60,
                 step=lambda: _still_running(worker))
        before = up.statuses()

        up.open_issue("vllm-project/vllm", 40001, "Support DeepSeek-V3.2 sparse attention")
        asked = product.mrt("sources", "poll", VLLM, "--config", str(config))
        assert f"poll of {VLLM} requested" in asked.stdout

        wait_for(lambda: len(robot.received) >= 1, deadline_seconds=60,
                 step=lambda: _still_running(worker))
        texts = robot_texts(robot)
        assert len(texts) == 1 and "Support DeepSeek-V3.2 sparse attention" in texts[0]
        after = up.statuses()
        polled_again = {key for key in after if len(after[key]) > len(before[key])}
        assert polled_again == {VLLM}  # the others wait for their interval
        assert ("cli", "source.poll") in audit_actions(db_file)
        assert product.sources()[VLLM]["poll_requested_at"] is None  # the request was served
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            code = worker.wait(timeout=SUBPROCESS_TIMEOUT)
        except subprocess.TimeoutExpired:
            worker.kill()  # never leave a worker behind, even when the test fails
            worker.wait()
            raise
        finally:
            log.close()
    output = (tmp_path / "worker.log").read_text()
    assert code == 0, output
    assert "Traceback" not in output


def _still_running(worker: subprocess.Popen[bytes]) -> None:
    """A step of wait_for: give the worker a moment, and fail at once if it died."""
    try:
        worker.wait(timeout=0.2)
    except subprocess.TimeoutExpired:
        return
    raise AssertionError(f"the worker exited with {worker.returncode}")
