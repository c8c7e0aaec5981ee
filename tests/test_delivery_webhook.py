"""WeLink robots and JSON webhooks through our pooled client (mrt.delivery.webhook), and the
Apprise instance kept per target for the channels left on Apprise; real HTTP on loopback."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import httpx._urlparse
import httpx._urls
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from mrt.config import ChannelConfig, Config, NotifyV0, WeLinkV0
from mrt.delivery import apprise_channel, channels, webhook, webhook_http
from mrt.delivery.base import Message, SendOutcome, Target
from mrt.delivery.welink import DEFAULT_PATH
from mrt.http.settings import USER_AGENT

TOKEN = "wl-pooled-SECRET-0123456789"


def send(target: Target, message: Message | None = None) -> SendOutcome:
    message = message or Message(subject="vllm v0.7.0", body="released\nhttps://example.org/x")
    return asyncio.run(channels.send(target, message, timeout=5))


def resolve(**channel: Any) -> Target:
    config = Config(channels={"team": ChannelConfig(**channel)})
    (target,) = channels.resolve_targets(config, {"HOOK_KEY": "k-SECRET-42"})["team"]
    return target


def welink_target(httpserver: HTTPServer) -> Target:
    url = httpserver.url_for(DEFAULT_PATH) + f"?token={TOKEN}&channel=standard"
    config = Config(notify=NotifyV0(welink=WeLinkV0()))
    (target,) = channels.resolve_targets(config, {"WELINK_WEBHOOK_URL": url})["welink"]
    return target


def test_welink_and_json_targets_go_through_our_client_not_apprise(httpserver: HTTPServer) -> None:
    seen: list[Request] = []

    def record(request: Request) -> Response:
        seen.append(request)
        return Response(json.dumps({"code": "0", "message": "ok"}), content_type="application/json")

    httpserver.expect_request(DEFAULT_PATH, method="POST").respond_with_handler(record)
    httpserver.expect_request("/hook", method="POST").respond_with_handler(record)
    robot = welink_target(httpserver)
    hook = resolve(urls=[f"json://bot:pw@127.0.0.1:{httpserver.port}/hook?+X-Key=${{HOOK_KEY}}"
                         "&:type=&:title=subject"])

    assert channels.plugin_for(robot) is webhook and channels.plugin_for(hook) is webhook
    assert send(robot) == SendOutcome(ok=True, retryable=False, http_status=200)
    assert send(hook).ok
    assert [r.headers["User-Agent"] for r in seen] == [USER_AGENT, USER_AGENT]
    welink_body = json.loads(seen[0].get_data())
    assert seen[0].args["token"] == TOKEN
    assert welink_body["content"]["text"] == "vllm v0.7.0\nreleased\nhttps://example.org/x"
    # Apprise's JSON payload, with the URL's payload edits: type dropped, title renamed
    assert json.loads(seen[1].get_data()) == {
        "version": "1.0", "subject": "vllm v0.7.0", "message": "released\nhttps://example.org/x",
        "attachments": [],
    }
    assert seen[1].headers["X-Key"] == "k-SECRET-42"
    assert seen[1].headers["Authorization"] == "Basic " + base64.b64encode(b"bot:pw").decode()


def test_a_throttled_robot_says_how_long_to_wait(httpserver: HTTPServer) -> None:
    httpserver.expect_request(DEFAULT_PATH, method="POST").respond_with_response(
        Response(json.dumps({"code": "429"}), status=429, headers={"Retry-After": "30"})
    )
    outcome = send(welink_target(httpserver))
    assert (outcome.throttled, outcome.retryable, outcome.retry_after) == (True, True, 30.0)
    assert outcome.error_class == "Throttled" and TOKEN not in (outcome.message or "")


def test_a_json_url_asking_for_put_is_left_to_apprise(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook", method="PUT").respond_with_data("ok")
    hook = resolve(urls=[f"json://127.0.0.1:{httpserver.port}/hook?method=PUT"])
    assert send(hook).ok
    assert [r.method for r, _ in httpserver.log] == ["PUT"]


def test_apprise_builds_a_targets_plugin_once_not_per_send(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/xml", method="POST").respond_with_data("ok")
    target = resolve(urls=[f"xml://127.0.0.1:{httpserver.port}/xml"])
    apprise_channel.instance.cache_clear()
    for _ in range(3):
        assert send(target).ok
    info = apprise_channel.instance.cache_info()
    assert (info.misses, info.hits) == (1, 2)
    assert len(httpserver.log) == 3


def test_a_kept_apprise_plugin_does_not_pace_its_sends(tmp_path: Any) -> None:
    """Apprise spaces the sends of one plugin object (5.5 s for email): a plugin kept per
    target must leave pacing to the rate budget, or every mail would wait."""
    import socket
    import time

    from aiosmtpd.controller import Controller

    got: list[float] = []

    class Mailbox:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            got.append(time.monotonic())
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = Controller(Mailbox(), hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        target = resolve(urls=[f"mailto://127.0.0.1:{port}/?smtp=127.0.0.1&from=mrt@example.org"
                               "&to=oncall@example.org&mode=insecure"])
        started = time.monotonic()
        assert send(target).ok and send(target).ok and send(target).ok
    finally:
        smtp.stop()
    assert len(got) == 3
    assert got[-1] - started < 3.0  # Apprise's own pacing alone would take 11 s


def test_a_json_hook_parses_its_url_once_per_send(
    httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Profiled in the sender drain: handed empty query params, httpx parsed each POST's URL a
    # second time (to put an empty query on it); a hook without `-param=` options passes none.
    parses: list[str] = []
    real = httpx._urlparse.urlparse

    def counting(url: str = "", **kwargs: Any) -> Any:
        parses.append(url)
        return real(url, **kwargs)

    for module in (httpx._urls, httpx._urlparse):  # a URL is parsed, or copied with a change
        monkeypatch.setattr(module, "urlparse", counting)
    seen: list[str] = []

    def record(request: Request) -> Response:
        seen.append(request.full_path)
        return Response("{}", content_type="application/json")

    httpserver.expect_request("/hook", method="POST").respond_with_handler(record)
    plain = resolve(urls=[f"json://127.0.0.1:{httpserver.port}/hook"])
    with_query = resolve(urls=[f"json://127.0.0.1:{httpserver.port}/hook?-src=mrt"])
    message = Message(subject="vllm v0.7.0", body="released")

    async def sends() -> list[int]:
        counts = []
        for target in (plain, plain, plain, with_query, with_query):
            before = len(parses)
            assert (await channels.send(target, message, timeout=5)).ok
            counts.append(len(parses) - before)
        await webhook_http.aclose()
        return counts

    counts = asyncio.run(sends())
    assert counts[1:3] == [1, 1]  # the first send also built the target's lane (its client)
    assert seen == ["/hook?", "/hook?", "/hook?", "/hook?src=mrt", "/hook?src=mrt"]
