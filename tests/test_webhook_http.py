"""The pooled webhook client: real HTTP on loopback, what each answer means."""

from __future__ import annotations

import asyncio
import http.server
import json
import socket
import threading

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from mrt.delivery import webhook_http
from mrt.delivery.webhook_http import TransportError, outcome_for_status, post_json


def _post(url: str, payload: object, **kwargs: object) -> webhook_http.WebhookAnswer:
    async def run() -> webhook_http.WebhookAnswer:
        try:
            return await post_json(url, payload, timeout=5.0, **kwargs)  # type: ignore[arg-type]
        finally:
            await webhook_http.aclose()

    return asyncio.run(run())


def test_posts_utf8_json_and_reads_the_answer(httpserver: HTTPServer) -> None:
    seen: list[dict[str, object]] = []

    def handler(request: Request) -> Response:
        seen.append(json.loads(request.data.decode("utf-8")))
        assert request.headers["Content-Type"].startswith("application/json")
        assert request.args["token"] == "t0ken"
        return Response('{"code":"0"}', status=200, content_type="application/json")

    httpserver.expect_request("/hook", method="POST").respond_with_handler(handler)
    answer = _post(httpserver.url_for("/hook"), {"text": "通义千问"}, params={"token": "t0ken"})
    assert seen == [{"text": "通义千问"}]
    assert answer.json() == {"code": "0"}
    assert outcome_for_status(answer).ok


def test_429_is_a_throttle_with_its_retry_after(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data(
        "slow down", status=429, headers={"Retry-After": "17"}
    )
    outcome = outcome_for_status(_post(httpserver.url_for("/hook"), {}))
    assert (outcome.ok, outcome.throttled, outcome.http_status) == (False, True, 429)
    assert outcome.retry_after == pytest.approx(17, abs=1)


@pytest.mark.parametrize(("status", "retryable"), [(500, True), (503, True), (400, False),
                                                   (404, False), (408, True)])
def test_status_alone_says_later_or_never(httpserver: HTTPServer, status: int,
                                          retryable: bool) -> None:
    httpserver.expect_request("/hook").respond_with_data("no", status=status)
    outcome = outcome_for_status(_post(httpserver.url_for("/hook"), {}), reason="no")
    assert not outcome.ok and not outcome.throttled
    assert outcome.retryable is retryable
    assert outcome.message == f"HTTP {status}: no"


def test_a_huge_answer_is_cut(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook").respond_with_data("x" * (1024 * 1024), status=200)
    answer = _post(httpserver.url_for("/hook"), {})
    assert len(answer.body) == webhook_http.MAX_ANSWER_BYTES


def test_no_answer_never_names_the_url() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/robot/send?access_token=SECRET123"
    with pytest.raises(TransportError) as caught:
        _post(url, {})
    assert caught.value.error_class == "ConnectionError"
    assert "SECRET123" not in str(caught.value) and str(port) not in str(caught.value)
    outcome = webhook_http.transport_outcome(caught.value)
    assert outcome.retryable and not outcome.ok



class _KeepAlive(http.server.BaseHTTPRequestHandler):
    """Answers every POST with {} over HTTP/1.1 keep-alive (pytest-httpserver closes each
    connection), noting the client port it came from."""

    protocol_version = "HTTP/1.1"
    ports: list[int] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        _KeepAlive.ports.append(self.client_address[1])
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


def _ports(paths: list[str]) -> list[int]:
    """The client port each POST (in this order, one loop) came from."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _KeepAlive)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _KeepAlive.ports = []

    async def run() -> None:
        try:
            for path in paths:
                await post_json(f"http://127.0.0.1:{server.server_port}{path}", {}, timeout=5.0)
        finally:
            await webhook_http.aclose()

    try:
        asyncio.run(run())
    finally:
        server.shutdown()
        server.server_close()
    return _KeepAlive.ports


def test_each_webhook_url_keeps_its_own_connection() -> None:
    # one kept-alive connection per target (its lane), not one pool every target's turn scans
    ports = _ports(["/a", "/b", "/a", "/b", "/a"])
    a, b = {ports[0], ports[2], ports[4]}, {ports[1], ports[3]}
    assert len(a) == 1 and len(b) == 1 and a != b


def test_the_least_recently_used_lane_is_closed_past_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(webhook_http, "MAX_LANES", 1)
    ports = _ports(["/a", "/a", "/b", "/a"])
    assert ports[0] == ports[1]  # kept alive
    assert ports[3] not in (ports[0], ports[2])  # /a's lane was closed for /b's: a new one
