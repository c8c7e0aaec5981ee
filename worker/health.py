"""The worker's HTTP endpoint on `observability.metrics_listen` (off when unset).

    GET /metrics   Prometheus text exposition (worker/metrics.py)
    GET /healthz   liveness: 200 while the worker's asyncio loop turns (it ticks every second;
                   a loop stuck for LIVENESS_SECONDS is 503); independent of the database
    GET /readyz    readiness: 200 when the database answers, its schema is the one this
                   worker needs, and no source has failed `observability.failure_alert_after`
                   cycles in a row; else 503 with one reason a line

The server runs in daemon threads (one a request, each with its own database connection,
closed after the request): a scrape never waits for a cycle and a cycle never waits for a
scrape. Only the liveness tick runs on the worker's loop, which is the point of it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import peewee
from prometheus_client import CONTENT_TYPE_LATEST

from mrt.errors import ConfigError
from mrt.inert import inert_text
from mrt.store.db_errors import explain
from mrt.store.migrations import LATEST
from mrt.store.views import scrape
from worker.metrics import DatabaseGone, WorkerMetrics, check_reachable, close_quietly, label

log = logging.getLogger("mrt.worker")

LIVENESS_SECONDS = 30.0
TICK_SECONDS = 1.0


def split_listen(listen: str) -> tuple[str, int]:
    """'127.0.0.1:9464' -> ('127.0.0.1', 9464); '[::1]:0' -> ('::1', 0)."""
    host, _, port = listen.rpartition(":")
    return host.strip("[]"), int(port)


class Endpoint:
    def __init__(
        self,
        metrics: WorkerMetrics,
        *,
        database: str,
        failing_after: Callable[[], int],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.metrics = metrics
        self.database = database
        self.failing_after = failing_after
        self.monotonic = monotonic
        self.loop_at = monotonic()
        self.server: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None
        self.ticker: asyncio.Task[None] | None = None

    # --- the answers -------------------------------------------------------------------------

    def liveness(self) -> tuple[int, str]:
        quiet = self.monotonic() - self.loop_at
        if quiet > LIVENESS_SECONDS:
            return 503, f"the worker's loop has not turned for {quiet:.0f} s\n"
        return 200, "alive\n"

    def readiness(self) -> tuple[int, str]:
        db = self.metrics.db
        try:
            check_reachable(db)
            problems = scrape.readiness(db, latest=LATEST, failing_after=self.failing_after())
        except DatabaseGone as exc:
            problems = [str(exc)]
        except Exception as exc:
            problems = [f"the database cannot be read: {explain(exc, self.database)}"]
        finally:
            close_quietly(db)
        if problems:
            lines = [label(p, self.metrics.secrets, max_chars=1000) for p in problems]
            return 503, "not ready\n" + "".join(f"{line}\n" for line in lines)
        return 200, "ready\n"

    # --- serving -----------------------------------------------------------------------------

    def serve(self, listen: str) -> str:
        """Bind `listen` and serve in a daemon thread; returns the address bound (port 0 gets
        a free one). A busy or unknown address is a ConfigError naming the key."""
        host, port = split_listen(listen)
        endpoint = self

        class Server(ThreadingHTTPServer):
            address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
            daemon_threads = True

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                endpoint.answer(self)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("metrics endpoint: " + format, *args)

        try:
            self.server = Server((host, port), Handler)
        except OSError as exc:
            raise ConfigError(
                f"observability.metrics_listen: cannot listen on {inert_text(listen)}: "
                f"{exc.strerror or exc}; choose a free HOST:PORT (port 0 picks one)"
            ) from exc
        bound_host, bound_port = self.server.server_address[:2]
        bound_host = bound_host.decode() if isinstance(bound_host, bytes) else str(bound_host)
        self.thread = threading.Thread(
            target=self.server.serve_forever, name="mrt-metrics", daemon=True
        )
        self.thread.start()
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        return f"{shown}:{bound_port}"

    def answer(self, request: BaseHTTPRequestHandler) -> None:
        path = request.path.split("?", 1)[0]
        content_type = "text/plain; charset=utf-8"
        if path == "/metrics":
            code, body = 200, self.metrics.exposition()
            content_type = CONTENT_TYPE_LATEST
        elif path == "/healthz":
            code, text = self.liveness()
            body = text.encode()
        elif path == "/readyz":
            code, text = self.readiness()
            body = text.encode()
        else:
            code, body = 404, b"not found: /metrics, /healthz or /readyz\n"
        request.send_response(code)
        request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        request.wfile.write(body)

    async def tick(self) -> None:
        """On the worker's loop: while this turns, the loop does (what /healthz reports)."""
        while True:
            self.loop_at = self.monotonic()
            await asyncio.sleep(TICK_SECONDS)

    def close(self) -> None:
        if self.ticker is not None:
            self.ticker.cancel()
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def start_endpoint(
    db: peewee.Database,
    *,
    listen: str | None,
    worker_id: str,
    database: str,
    secrets: tuple[str, ...],
    failing_after: Callable[[], int],
) -> Endpoint | None:
    """Serve /metrics, /healthz and /readyz when `listen` is set; call from the running loop."""
    if listen is None:
        return None
    metrics = WorkerMetrics(db, worker_id=worker_id, secrets=secrets)
    with contextlib.suppress(Exception):  # an unreachable database: the first scrape counts
        metrics.start_counting()
    endpoint = Endpoint(metrics, database=database, failing_after=failing_after)
    address = endpoint.serve(listen)
    endpoint.ticker = asyncio.get_running_loop().create_task(endpoint.tick(), name="mrt-health")
    log.info("metrics on http://%s/metrics (health: /healthz, /readyz)", address)
    return endpoint
