"""A fold in flight when the worker is SIGKILLed: after a restart every alert reaches the chat
exactly once, alone or inside a folded message (issue 13).

The real `mrt-worker --once` on the v0 example pointed at loopback, its channel a JSON webhook
(Apprise `json://`) with a small budget (burst 2, 6 a minute): twelve matching issues in one
cycle go out as one folded message. The webhook holds that message unanswered and the test
kills the worker meanwhile: the far side never accepted it. "Time passes" by moving the stored
lease and budget clocks back (no sleep); a second run sends the twelve again, each exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import threading
from pathlib import Path

from pytest_httpserver import HTTPServer
from test_e2e_support import (
    SUBPROCESS_TIMEOUT,
    Product,
    Upstreams,
    installed_tool,
    loopback_config,
    product_env,
)
from werkzeug import Request, Response

CASES = [f"DeepSeek burst case {n:02d}" for n in range(12)]


class HoldingHook:
    """Accepts every message but the first folded one, which it holds until told to let go."""

    def __init__(self, server: HTTPServer) -> None:
        self.accepted: list[str] = []
        self.fold_arrived = threading.Event()
        self.let_go = threading.Event()
        self.held: str | None = None
        server.expect_request("/hook", method="POST").respond_with_handler(self.handle)
        self.url = f"json://127.0.0.1:{server.port}/hook"

    def handle(self, request: Request) -> Response:
        payload = json.loads(request.get_data())
        text = f"{payload['title']}\n{payload['message']}"
        if "alerts at once" in text and self.held is None:
            self.held = text
            self.fold_arrived.set()
            self.let_go.wait(SUBPROCESS_TIMEOUT)
            return Response("the worker is gone", status=503)
        self.accepted.append(text)
        return Response("ok")


def rows(db: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return list(conn.execute(sql))


def test_a_fold_in_flight_at_a_sigkill_delivers_every_alert_exactly_once(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    up = Upstreams(httpserver)
    robot = HoldingHook(httpserver)
    config = loopback_config(tmp_path, httpserver, extra={
        "delivery": {"lease_seconds": 5},
        "channels": {"hook": {"urls": [robot.url], "rate": {"burst": 2, "per_minute": 6}}},
    })
    data = json.loads(config.read_text(encoding="utf-8"))
    del data["notify"]  # the hook is the one channel
    config.write_text(json.dumps(data), encoding="utf-8")
    env = product_env(tmp_path / "home", httpserver)
    product = Product(config, env)
    product.worker_once()  # the silent baseline
    for n, title in enumerate(CASES):
        up.open_issue("vllm-project/vllm", 50_000 + n, title)

    worker = subprocess.Popen(
        [installed_tool("mrt-worker"), "--config", str(config), "--once"], env=env,
        cwd=env["HOME"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        assert robot.fold_arrived.wait(SUBPROCESS_TIMEOUT), "no folded message was sent"
        os.kill(worker.pid, signal.SIGKILL)
        assert worker.wait(SUBPROCESS_TIMEOUT) == -signal.SIGKILL
    finally:
        robot.let_go.set()
        if worker.poll() is None:
            worker.kill()

    db = tmp_path / "mrt_state.sqlite3"
    in_flight = rows(db, "SELECT id, folded_into FROM outbox WHERE status = 'sending'")
    assert len(in_flight) == 12 and sum(1 for _, into in in_flight if into is not None) == 11
    # time passes: the dead worker's leases expire and the robot's budget refills
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE outbox SET lease_expires_at = '2000-01-01 00:00:00' "
                     "WHERE status = 'sending'")
        conn.execute("UPDATE target_budget SET tokens = 0, updated_at = '2000-01-01 00:00:00'")
    product.worker_once()

    told = "\n".join(robot.accepted)
    for title in CASES:
        assert told.count(title) == 1, (title, robot.accepted)
    assert robot.held is not None and any(title in robot.held for title in CASES)
    assert rows(db, "SELECT DISTINCT status FROM outbox") == [("sent",)]
    folded = rows(db, "SELECT COUNT(*) FROM outbox WHERE folded_into IS NOT NULL")[0][0]
    assert isinstance(folded, int) and folded >= 1  # the restart folded what was waiting again
    taken_back = rows(db, "SELECT COUNT(*) FROM delivery_attempt WHERE outcome = 'lease_expired'")
    assert taken_back[0][0] == len(in_flight)
