"""The HTTP layer against a misbehaving upstream on loopback: every fault ends in the right
typed error (or a bounded retry), never a partial result, and nothing really waits."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import ssl
import struct
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from test_source_support import (
    T0,
    FakeClock,
    SourceState,
    load,
    make_pool,
    poll_once,
    recorded_issues,
    run,
    spec_for,
)
from werkzeug import Response

from mrt.errors import RateLimited, SourceError
from mrt.http import HostBudget, JsonResponse, parse_ratelimit, redact_url
from mrt.sources import github, huggingface

REPO = "PyGithub/PyGithub"
PATH = f"/repos/{REPO}/issues"
GH_HEADERS = load("github/issues_list_pygithub_2024.headers.json")["response_headers"]


def gh_spec(base: str, **kw: Any) -> Any:
    return spec_for(github, github.Config(repos=[REPO], base_url=base, token_env="GITHUB_TOKEN",
                                          **kw))


def fetch(server_or_base: HTTPServer | str, clock: FakeClock, *, path: str = PATH,
          env: dict[str, str] | None = None, pool_kw: dict[str, Any] | None = None,
          spec_kw: dict[str, Any] | None = None) -> tuple[JsonResponse, Any]:
    base = server_or_base if isinstance(server_or_base, str) else server_or_base.url_for("/")
    spec = gh_spec(base.rstrip("/"), **(spec_kw or {}))

    async def go() -> tuple[JsonResponse, Any]:
        async with make_pool(clock, **(pool_kw or {})) as pool:
            client = pool.client(spec.http_settings(env or {"GITHUB_TOKEN": "ghp_s3cret"}), validators={})
            try:
                return await client.get_json(base.rstrip("/") + path), client
            except SourceError as exc:
                exc.client = client  # type: ignore[attr-defined]
                raise

    return run(go)  # type: ignore[no-any-return]


def test_429_with_retry_after_defers_without_waiting(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_data(
        '{"message": "slow down"}', status=429, headers={"Retry-After": "120"})
    clock = FakeClock()
    with pytest.raises(RateLimited) as caught:
        fetch(httpserver, clock)
    assert caught.value.until == T0 + timedelta(seconds=120)
    assert caught.value.http_status == 429 and caught.value.context["retry_after"] == 120
    assert clock.sleeps == []
    assert "ghp_s3cret" not in str(caught.value)


def test_short_retry_after_is_waited_then_retried(httpserver: HTTPServer) -> None:
    when = format_datetime(T0 + timedelta(seconds=2), usegmt=True)  # the HTTP-date form
    httpserver.expect_ordered_request(PATH).respond_with_data(
        "", status=429, headers={"Retry-After": when})
    httpserver.expect_ordered_request(PATH).respond_with_json([])
    clock = FakeClock()
    response, client = fetch(httpserver, clock)
    assert response.json == [] and clock.sleeps == [2.0]
    assert client.retries == 1 and client.statuses == Counter({429: 1, 200: 1})


def test_403_primary_rate_limit_uses_reset_and_defers_the_whole_host(
    httpserver: HTTPServer,
) -> None:
    reset = int((T0 + timedelta(minutes=20)).timestamp())
    httpserver.expect_request(PATH).respond_with_json(
        {"message": "API rate limit exceeded for user ID 1."}, status=403,
        headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset),
                 "X-RateLimit-Limit": "5000"})
    clock = FakeClock()
    base = httpserver.url_for("").rstrip("/")

    async def go() -> None:
        async with make_pool(clock) as pool:
            first = pool.client(gh_spec(base).http_settings({}), validators={})
            with pytest.raises(RateLimited) as caught:
                await first.get_json(base + PATH)
            assert caught.value.until == datetime.fromtimestamp(reset, UTC)
            assert caught.value.http_status == 403
            assert first.ratelimit_remaining == 0
            assert first.ratelimit_reset_at == caught.value.until
            # another repo on the same host and token: deferred without spending a request
            other = pool.client(gh_spec(base).http_settings({}), validators={})
            with pytest.raises(RateLimited):
                await other.get_json(base + "/repos/other/repo/issues")
            assert other.requests == 0

    run(go)
    assert len(httpserver.log) == 1 and clock.sleeps == []


def test_403_secondary_rate_limit_message(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_json(
        {"message": "You have exceeded a secondary rate limit. Please wait a few minutes."},
        status=403)
    clock = FakeClock()
    with pytest.raises(RateLimited) as caught:
        fetch(httpserver, clock)
    assert caught.value.until == T0 + timedelta(seconds=60)
    assert "secondary rate limit" in str(caught.value)


def test_403_without_rate_limit_is_a_plain_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_json(
        {"message": "Resource not accessible by integration"}, status=403,
        headers={"X-RateLimit-Remaining": "4000"})
    with pytest.raises(SourceError) as caught:
        fetch(httpserver, FakeClock())
    assert not isinstance(caught.value, RateLimited)
    assert caught.value.http_status == 403 and "not accessible" in str(caught.value)


def test_huggingface_ratelimit_header_429(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_data(
        "Too Many Requests", status=429,
        headers={"RateLimit": '"api";r=0;t=30', "RateLimit-Policy": '"fixed window";"api";q=500;w=300'})
    with pytest.raises(RateLimited) as caught:
        fetch(httpserver, FakeClock())
    assert caught.value.until == T0 + timedelta(seconds=30)


def test_500_retried_with_full_jitter_then_success(httpserver: HTTPServer) -> None:
    httpserver.expect_ordered_request(PATH).respond_with_data("oops", status=500)
    httpserver.expect_ordered_request(PATH).respond_with_data("oops", status=502)
    httpserver.expect_ordered_request(PATH).respond_with_json([{"ok": 1}])
    clock = FakeClock()
    response, client = fetch(httpserver, clock)
    assert response.json == [{"ok": 1}]
    assert clock.sleeps == [0.5, 1.0]  # jitter 0.5 x (1 s, 2 s)
    assert client.retries == 2 and client.requests == 3
    assert client.statuses == Counter({500: 1, 502: 1, 200: 1})


def test_500_retried_then_given_up(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_data("oops", status=500)
    clock = FakeClock()
    with pytest.raises(SourceError) as caught:
        fetch(httpserver, clock)
    assert caught.value.http_status == 500 and caught.value.context["attempts"] == 4
    assert clock.sleeps == [0.5, 1.0, 2.0]
    assert caught.value.client.requests == 4  # type: ignore[attr-defined]


def test_503_with_a_long_retry_after_defers(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_data("maintenance", status=503,
                                                      headers={"Retry-After": "3600"})
    with pytest.raises(RateLimited) as caught:
        fetch(httpserver, FakeClock())
    assert caught.value.until == T0 + timedelta(hours=1) and caught.value.http_status == 503


@contextlib.contextmanager
def silent_server(reset: bool) -> Iterator[str]:
    """Accepts and never answers (reset=False), or answers every connection with a TCP RST."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            if reset:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                with contextlib.suppress(OSError):
                    conn.recv(65536)
                conn.close()
            else:
                held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()


def test_timeout_is_retried_then_reported() -> None:
    clock = FakeClock()
    with silent_server(reset=False) as base, pytest.raises(SourceError) as caught:
        fetch(base, clock, spec_kw={"timeout_seconds": 0.1}, pool_kw={"max_attempts": 3})
    assert caught.value.context["kind"] == "timeout" and caught.value.context["attempts"] == 3
    assert clock.sleeps == [0.5, 1.0]


def test_connection_reset_is_retried_then_reported() -> None:
    clock = FakeClock()
    with silent_server(reset=True) as base, pytest.raises(SourceError) as caught:
        fetch(base, clock, pool_kw={"max_attempts": 2})
    assert caught.value.context["kind"] == "connection"
    assert caught.value.client.retries == 1  # type: ignore[attr-defined]


def test_truncated_json_is_an_error_not_no_items(httpserver: HTTPServer) -> None:
    body = json.dumps(recorded_issues())[:5000]
    httpserver.expect_request(PATH).respond_with_data(
        body, content_type="application/json; charset=utf-8")
    with pytest.raises(SourceError) as caught:
        fetch(httpserver, FakeClock())
    assert "truncated or invalid JSON" in str(caught.value)
    assert caught.value.http_status == 200
    assert caught.value.context["content_type"] == "application/json"


def test_200_with_an_html_page(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_data(
        "<!DOCTYPE html><html><body>Unicorn! This page is taking too long</body></html>",
        content_type="text/html; charset=utf-8")
    with pytest.raises(SourceError) as caught:
        fetch(httpserver, FakeClock())
    assert "an HTML page instead of JSON" in str(caught.value)
    assert caught.value.context["content_type"] == "text/html"


def test_oversize_body_declared_and_streamed(httpserver: HTTPServer) -> None:
    big = json.dumps(recorded_issues()).encode()  # ~97 KB
    httpserver.expect_request("/declared").respond_with_data(big, content_type="application/json")
    httpserver.expect_request("/streamed").respond_with_response(
        Response((big[i:i + 4096] for i in range(0, len(big), 4096)),
                 content_type="application/json"))
    for path in ("/declared", "/streamed"):
        with pytest.raises(SourceError) as caught:
            fetch(httpserver, FakeClock(), path=path, pool_kw={"max_body_bytes": 10_000})
        assert "10000-byte cap" in str(caught.value)


def test_secrets_stay_out_of_errors(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_data("nope", status=404)
    with pytest.raises(SourceError) as caught:
        fetch(httpserver, FakeClock(), path=PATH + "?access_token=abc123&state=all")
    text = str(caught.value) + repr(caught.value.context)
    assert "abc123" not in text and "ghp_s3cret" not in text
    assert "access_token=***" in text and "state=all" in text
    assert "ghp_s3cret" not in repr(caught.value.client)  # type: ignore[attr-defined]
    assert redact_url("https://u:pw@h/x?key=1") == "https://h/x?key=***"
    # an organisation filter is not a secret, an auth parameter is
    assert redact_url("https://h/api/models?author=deepseek-ai&auth=x") == (
        "https://h/api/models?author=deepseek-ai&auth=***"
    )


def test_validators_are_sent_and_a_304_is_not_modified(httpserver: HTTPServer) -> None:
    recorded = load("github/conditional_304_not_modified.headers.json")["response_headers"]
    etag, modified = recorded["etag"], recorded["last-modified"]
    httpserver.expect_ordered_request(PATH).respond_with_json(
        [], headers={"ETag": etag, "Last-Modified": modified})
    httpserver.expect_ordered_request(PATH, headers={"If-None-Match": etag,
                                                     "If-Modified-Since": modified}
                                      ).respond_with_data("", status=304, headers=recorded)
    base = httpserver.url_for("").rstrip("/")

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            first = pool.client(gh_spec(base).http_settings({}), validators={})
            await first.get_json(base + PATH, params={"state": "all"})
            second = pool.client(gh_spec(base).http_settings({}), validators=first.validators)
            response = await second.get_json(base + PATH, params={"state": "all"})
            assert response.not_modified and response.json is None
            assert second.requests == 1 and second.statuses == Counter({304: 1})
            assert second.ratelimit_remaining == 4988
            key = next(iter(first.validators))
            assert first.validators[key] == {"etag": etag, "last_modified": modified}

    run(go)
    httpserver.check_assertions()


def test_host_budget_spaces_requests_through_the_injected_sleep(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_json([])
    clock = FakeClock()
    base = httpserver.url_for("").rstrip("/")

    async def go() -> None:
        budget = HostBudget(concurrency=2, requests=2, window_seconds=60)
        async with make_pool(clock, budgets={"localhost": budget, "127.0.0.1": budget}) as pool:
            for repo in ("a/a", "b/b", "c/c"):  # three repos, one host, one budget
                spec = spec_for(github, github.Config(repos=[repo], base_url=base))
                await pool.client(spec.http_settings({}), validators={}).get_json(base + PATH)

    run(go)
    assert clock.sleeps == [60.0]


def test_bad_ca_bundle_is_a_clear_error(httpserver: HTTPServer, tmp_path: Any) -> None:
    bundle = tmp_path / "missing.pem"
    with pytest.raises(SourceError) as caught:
        fetch(httpserver, FakeClock(), spec_kw={"ca_bundle": str(bundle)})
    assert "ca_bundle" in str(caught.value) and str(bundle) in str(caught.value)


def test_ratelimit_headers_parse() -> None:
    import httpx

    gh = httpx.Headers(GH_HEADERS)
    assert parse_ratelimit(gh, T0) == (4983, datetime.fromtimestamp(1726571099, UTC))
    hf = httpx.Headers({"RateLimit": '"api";r=12;t=40'})
    assert parse_ratelimit(hf, T0) == (12, T0 + timedelta(seconds=40))


def test_a_failed_poll_returns_nothing_and_keeps_the_cursor(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_data("<html>bad gateway</html>", status=200,
                                                      content_type="text/html")
    state = SourceState(cursor={"since": "2024-09-01T00:00:00Z"})

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            with pytest.raises(SourceError):
                await poll_once(github, gh_spec(httpserver.url_for("").rstrip("/")), pool,
                                state)

    run(go)
    assert state.cursor == {"since": "2024-09-01T00:00:00Z"} and state.snapshots == {}


def test_huggingface_poll_rate_limited_keeps_state(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/models").respond_with_data(
        "", status=429, headers={"RateLimit": '"api";r=0;t=300'})
    state = SourceState(cursor={"last_modified_after": "2025-01-01T00:00:00Z"})
    spec = spec_for(huggingface, huggingface.Config(orgs=["deepseek-ai"],
                                                    base_url=httpserver.url_for("/")))

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            with pytest.raises(RateLimited) as caught:
                await poll_once(huggingface, spec, pool, state)
            assert caught.value.until == T0 + timedelta(seconds=300)

    run(go)
    assert state.cursor == {"last_modified_after": "2025-01-01T00:00:00Z"}


def test_tls_is_verified_and_a_ca_bundle_is_honoured(tmp_path: Any) -> None:
    """A loopback HTTPS server whose certificate comes from a private CA (trustme)."""
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ca.issue_cert("localhost", "127.0.0.1").configure_cert(server_context)
    bundle = tmp_path / "private-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    server = HTTPServer(host="localhost", ssl_context=server_context)
    server.start()
    try:
        server.expect_request(PATH).respond_with_json([])
        base = server.url_for("/")
        assert base.startswith("https://")
        with pytest.raises(SourceError) as caught:
            fetch(base, FakeClock())
        assert caught.value.context["kind"] == "tls" and "ca_bundle" in str(caught.value)
        response, client = fetch(base, FakeClock(), spec_kw={"ca_bundle": str(bundle)})
        assert response.json == [] and client.requests == 1
    finally:
        server.clear()
        server.stop()


def test_concurrency_per_host_is_bounded() -> None:
    """Six sources on one host, concurrency 2: the threaded server never sees more than 2."""
    import time

    server = HTTPServer(threaded=True)
    server.start()
    lock = threading.Lock()
    in_flight = [0, 0]  # now, max

    def slow(request: Any) -> Response:
        with lock:
            in_flight[0] += 1
            in_flight[1] = max(in_flight[1], in_flight[0])
        time.sleep(0.05)
        with lock:
            in_flight[0] -= 1
        return Response("[]", content_type="application/json")

    try:
        server.expect_request(PATH).respond_with_handler(slow)
        base = server.url_for("").rstrip("/")

        async def go() -> None:
            budget = HostBudget(concurrency=2, requests=100, window_seconds=60)
            async with make_pool(FakeClock(), default_budget=budget) as pool:
                clients = [pool.client(gh_spec(base).http_settings({}), validators={}) for _ in range(6)]
                await asyncio.gather(*(c.get_json(base + PATH) for c in clients))

        run(go)
    finally:
        server.clear()
        server.stop()
    assert in_flight[1] == 2


def test_the_last_allowed_call_defers_the_next(httpserver: HTTPServer) -> None:
    reset = int((T0 + timedelta(minutes=5)).timestamp())
    httpserver.expect_request(PATH).respond_with_json(
        [], headers={"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)})
    base = httpserver.url_for("").rstrip("/")

    async def go() -> None:
        async with make_pool(FakeClock()) as pool:
            first = pool.client(gh_spec(base).http_settings({}), validators={})
            assert (await first.get_json(base + PATH)).json == []
            with pytest.raises(RateLimited) as caught:
                await first.get_json(base + PATH + "?page=2")
            assert caught.value.until == datetime.fromtimestamp(reset, UTC)

    run(go)
    assert len(httpserver.log) == 1


def test_retries_are_logged_without_secrets(httpserver: HTTPServer,
                                            caplog: pytest.LogCaptureFixture) -> None:
    httpserver.expect_ordered_request(PATH).respond_with_data("oops", status=503)
    httpserver.expect_ordered_request(PATH).respond_with_json([])
    caplog.set_level("DEBUG", logger="mrt.http")
    fetch(httpserver, FakeClock(), path=PATH + "?token=t0ps3cret")
    text = "\n".join(r.getMessage() for r in caplog.records if r.name == "mrt.http")
    assert "HTTP 503" in text and "retry 1" in text and "-> 200" in text
    assert "t0ps3cret" not in text and "ghp_s3cret" not in text
