"""`observability.metrics_listen`: the real `mrt-worker --daemon` serves /metrics, /healthz and
/readyz. A cycle against the loopback fakes shows up in the exposition (parsed with
prometheus_client's own parser), a failing robot shows up as a queued, retried delivery under
the target's redacted URL (never its token), and /readyz fails while the database file is gone
and recovers when it is back."""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import subprocess
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import peewee
import pytest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from pytest_httpserver import HTTPServer
from test_delivery_welink import TOKEN
from test_e2e_daemon import _still_running, polled_sources
from test_e2e_support import (
    SUBPROCESS_TIMEOUT,
    Product,
    Upstreams,
    base_env,
    install_robot,
    installed_tool,
    loopback_config,
    product_env,
    wait_for,
)

from mrt.cli import main as mrt_main
from mrt.store.db import open_store
from worker.health import LIVENESS_SECONDS, Endpoint
from worker.metrics import WorkerMetrics

SOURCES = {
    "github:vllm-project/vllm", "github:sgl-project/sglang",
    "huggingface:deepseek-ai", "modelscope:deepseek-ai",
}


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def samples(text: str) -> list[Sample]:
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def named(text: str, name: str) -> list[Sample]:
    return [s for s in samples(text) if s.name == name]


def address_in(log: Path) -> str | None:
    found = re.search(r"metrics on http://(\S+)/metrics", log.read_text())
    return found.group(1) if found else None


def test_a_running_worker_serves_metrics_health_and_readiness(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    up = Upstreams(httpserver)
    _, script = install_robot(httpserver)
    script.always = True  # every send fails: its row stays queued, its attempts are counted
    config = loopback_config(tmp_path, httpserver, extra={
        "observability": {"metrics_listen": "127.0.0.1:0"},
        "delivery": {"min_interval_seconds": 0},
    })
    db_file = tmp_path / "mrt_state.sqlite3"
    product = Product(config, product_env(tmp_path / "home", httpserver))
    log_path = tmp_path / "worker.log"
    log = log_path.open("w")
    worker = subprocess.Popen(
        [installed_tool("mrt-worker"), "--config", str(config), "--daemon"],
        env=product.env, cwd=product.env["HOME"], stdout=log, stderr=subprocess.STDOUT)
    step = lambda: _still_running(worker)  # noqa: E731
    try:
        wait_for(lambda: address_in(log_path) is not None, deadline_seconds=60, step=step)
        base = f"http://{address_in(log_path)}"
        assert get(f"{base}/healthz") == (200, "alive\n")
        wait_for(lambda: polled_sources(db_file) == 4, deadline_seconds=60, step=step)

        up.open_issue("vllm-project/vllm", 40001, "Support DeepSeek-V3.2 sparse attention")
        product.mrt("sources", "poll", "github:vllm-project/vllm", "--config", str(config))
        wait_for(lambda: bool(named(get(f"{base}/metrics")[1], "mrt_delivery_attempts_total")),
                 deadline_seconds=60, step=step)
        code, text = get(f"{base}/metrics")
        assert code == 200
        assert TOKEN not in text

        polls = named(text, "mrt_source_polls_total")
        assert {s.labels["source"] for s in polls} == SOURCES
        assert {s.labels["outcome"] for s in polls} <= {"ok", "not_modified", "failed", "deferred"}
        assert {s.labels["source"] for s in named(text, "mrt_source_http_requests_total")} == SOURCES
        assert all(s.labels["status"].isdigit() for s in named(text, "mrt_source_http_requests_total"))
        assert named(text, "mrt_source_events_fetched_total")
        assert named(text, "mrt_source_events_matched_total")
        buckets = named(text, "mrt_source_cycle_duration_seconds_bucket")
        assert {s.labels["source"] for s in buckets} == SOURCES and "le" in buckets[0].labels
        health = named(text, "mrt_source_health")
        assert {s.labels["source"] for s in health} == SOURCES
        assert {s.labels["source"] for s in named(text, "mrt_source_cursor_age_seconds")} == SOURCES
        assert all(s.value >= 0 for s in named(text, "mrt_source_cursor_age_seconds"))

        attempts = named(text, "mrt_delivery_attempts_total")
        assert {s.labels["channel"] for s in attempts} == {"welink"}
        assert all(s.labels["target"].startswith("welink://***@") for s in attempts), attempts
        assert {s.labels["outcome"] for s in attempts} <= {"retry", "dead", "throttled"}
        depth = named(text, "mrt_outbox_queue_depth")
        assert [s.value for s in depth] == [1.0]
        assert named(text, "mrt_outbox_oldest_pending_age_seconds")[0].value >= 0
        assert [s.value for s in named(text, "mrt_outbox_dead")] == [0.0]

        beats = named(text, "mrt_worker_heartbeat_timestamp_seconds")
        assert len(beats) == 1 and beats[0].labels["worker"].endswith(tuple("0123456789abcdef"))
        leases = named(text, "mrt_worker_leases_held")
        assert {s.labels["kind"] for s in leases} == {"source", "outbox"}
        assert named(text, "mrt_build_info")[0].labels["version"]
        assert [s.value for s in named(text, "mrt_database_up")] == [1.0]
        assert get(f"{base}/readyz") == (200, "ready\n")

        # the database goes away: not ready, and the scrape says so instead of failing
        moved = db_file.with_name("elsewhere.sqlite3")
        db_file.rename(moved)
        try:
            code, body = get(f"{base}/readyz")
            assert code == 503 and "database file" in body and "missing" in body
            code, text = get(f"{base}/metrics")
            assert code == 200 and [s.value for s in named(text, "mrt_database_up")] == [0.0]
            assert named(text, "mrt_source_polls_total")  # the counters are kept
            assert get(f"{base}/healthz")[0] == 200  # liveness is not the database's
        finally:
            moved.rename(db_file)
        assert get(f"{base}/readyz") == (200, "ready\n")
        assert get(f"{base}/nowhere")[0] == 404
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
    output = log_path.read_text()
    assert code == 0, output
    assert "Traceback" not in output


# --- the address, and a loop that stops turning -------------------------------------------------

def test_a_malformed_listen_address_is_a_config_error_naming_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "mrt.toml"
    path.write_text(
        'version = 1\n[sources.github]\nrepos = ["vllm-project/vllm"]\n'
        '[observability]\nmetrics_listen = "9464"\n', encoding="utf-8")

    assert mrt_main(["check", "--config", str(path)]) == 2

    out = capsys.readouterr()
    text = out.out + out.err
    assert "observability.metrics_listen" in text and "HOST:PORT" in text
    assert "Traceback" not in text


def test_a_busy_port_stops_the_worker_with_a_plain_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        path = tmp_path / "mrt.toml"
        path.write_text(
            'version = 1\n[sources.github]\nrepos = ["vllm-project/vllm"]\n'
            f'[state]\nsqlite_path = "{tmp_path / "mrt.sqlite3"}"\n'
            f'[observability]\nmetrics_listen = "127.0.0.1:{port}"\n', encoding="utf-8")
        env = base_env(tmp_path / "home")
        done = subprocess.run(
            [installed_tool("mrt-worker"), "--config", str(path), "--daemon"], env=env,
            capture_output=True, text=True, timeout=SUBPROCESS_TIMEOUT, check=False)

    assert done.returncode == 2, done.stderr
    assert f"observability.metrics_listen: cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr


def test_healthz_fails_when_the_loop_stops_turning(tmp_path: Path) -> None:
    clock = [1000.0]
    endpoint = Endpoint(
        WorkerMetrics(peewee.SqliteDatabase(str(tmp_path / "x.sqlite3")), worker_id="w"),
        database=str(tmp_path / "x.sqlite3"), failing_after=lambda: 5,
        monotonic=lambda: clock[0],
    )
    address = endpoint.serve("127.0.0.1:0")
    try:
        assert get(f"http://{address}/healthz") == (200, "alive\n")
        clock[0] += LIVENESS_SECONDS + 1  # the loop's tick has not run since
        code, body = get(f"http://{address}/healthz")
        assert code == 503 and "has not turned for 31 s" in body
    finally:
        endpoint.close()


# --- PostgreSQL: the server goes away and comes back -------------------------------------------

class Relay:
    """A loopback TCP relay to the PostgreSQL server: `down()` refuses and cuts every
    connection (the server is unreachable), `up()` serves again on the same port."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.listener: socket.socket | None = None
        self.open: list[socket.socket] = []
        self.up()

    def up(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen()
        self.port = listener.getsockname()[1]
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            self.open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def down(self) -> None:
        assert self.listener is not None
        with contextlib.suppress(OSError):  # wakes the accept() blocked in its thread
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        for s in self.open:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()
        self.open.clear()


@pytest.mark.postgres
def test_readyz_follows_a_postgresql_server_that_goes_away_and_comes_back(
    fresh_pg_url: str,
) -> None:
    parts = urlsplit(fresh_pg_url)
    relay = Relay(parts.hostname or "127.0.0.1", parts.port or 5432)
    netloc = parts.netloc.rpartition("@")
    url = urlunsplit(parts._replace(netloc=f"{netloc[0]}@127.0.0.1:{relay.port}"))
    db = open_store(url)
    endpoint = Endpoint(WorkerMetrics(db, worker_id="w"), database=url, failing_after=lambda: 5)
    address = endpoint.serve("127.0.0.1:0")
    try:
        assert get(f"http://{address}/readyz") == (200, "ready\n")
        relay.down()
        code, body = get(f"http://{address}/readyz")
        assert code == 503 and "the database cannot be read" in body
        assert parts.password is None or parts.password not in body
        text = get(f"http://{address}/metrics")[1]
        assert [s.value for s in named(text, "mrt_database_up")] == [0.0]
        relay.up()
        assert get(f"http://{address}/readyz") == (200, "ready\n")
        assert [s.value for s in named(get(f"http://{address}/metrics")[1],
                                       "mrt_database_up")] == [1.0]
    finally:
        endpoint.close()
        relay.down()
        with contextlib.suppress(Exception):
            db.close()
