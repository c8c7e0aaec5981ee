"""Configured channels: Apprise URLs as targets, secrets from env, outcomes from AppriseResult.

A loopback JSON sink (pytest-httpserver) stands in for any webhook Apprise's json:// speaks to.
Apprise's stock DingTalk/Feishu/WeCom plugins post to fixed public hosts and cannot be pointed at
loopback, so the throttling answer is a json:// 429 here.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from mrt.config import ChannelConfig, Config
from mrt.delivery import apprise_channel, channels, console
from mrt.delivery.base import Message, SendOutcome, Target
from mrt.errors import ConfigError, MissingSecretError, PluginError

SECRET = "hook-secret-4f9a8b7c6d5e"


def config(**chans: ChannelConfig) -> Config:
    return Config(channels=chans)


def send(target: Target, message: Message | None = None, timeout: float = 5.0) -> SendOutcome:
    message = message or Message(subject="[MRT] New release", body="v1.2.3\nhttps://x.test/r")
    return asyncio.run(channels.send(target, message, timeout=timeout))


@pytest.fixture
def sink(httpserver: HTTPServer) -> list[dict[str, Any]]:
    received: list[dict[str, Any]] = []

    def handle(request: Request) -> Response:
        received.append({"json": json.loads(request.get_data()), "headers": dict(request.headers)})
        return Response("{}", content_type="application/json")

    httpserver.expect_request("/hook", method="POST").respond_with_handler(handle)
    return received


def json_url(httpserver: HTTPServer) -> str:
    return f"json://127.0.0.1:{httpserver.port}/hook"


def test_json_webhook_target_delivers_title_and_body(
    httpserver: HTTPServer, sink: list[dict[str, Any]]
) -> None:
    cfg = config(team=ChannelConfig(urls=[json_url(httpserver) + "?+X-Hook-Key=${HOOK_KEY}"]))
    (target,) = channels.resolve_targets(cfg, {"HOOK_KEY": SECRET})["team"]

    outcome = send(target)

    assert outcome.ok and outcome.retryable is False
    (got,) = sink
    assert got["json"]["title"] == "[MRT] New release"
    assert got["json"]["message"] == "v1.2.3\nhttps://x.test/r"
    assert got["headers"]["X-Hook-Key"] == SECRET
    # the header value came from the environment: neither the key nor the repr shows it
    assert target.kind == "json" and target.key.startswith("json://")
    assert SECRET not in target.key and SECRET not in repr(target)


def test_url_env_holds_a_whole_url(httpserver: HTTPServer, sink: list[dict[str, Any]]) -> None:
    cfg = config(team=ChannelConfig(url_env=["TEAM_HOOK"]))
    (target,) = channels.resolve_targets(cfg, {"TEAM_HOOK": json_url(httpserver)})["team"]
    assert send(target).ok and len(sink) == 1


def test_each_url_is_its_own_target_with_distinct_keys(httpserver: HTTPServer) -> None:
    cfg = config(
        team=ChannelConfig(
            urls=[
                f"json://127.0.0.1:{httpserver.port}/a?+X-K=${{A}}",
                f"json://127.0.0.1:{httpserver.port}/a?+X-K=${{B}}",
            ]
        )
    )
    targets = channels.resolve_targets(cfg, {"A": "first-secret-1", "B": "second-secret-2"})
    keys = [t.key for t in targets["team"]]
    # same privacy form (the secret is scrubbed), so a short hash keeps them apart
    assert len(set(keys)) == 2
    assert all("first-secret-1" not in k and "second-secret-2" not in k for k in keys)


@pytest.mark.parametrize(
    ("status", "retryable", "throttled", "error_class"),
    [
        (429, True, True, "Throttled"),
        (500, True, False, "HttpError"),
        (503, True, False, "HttpError"),
        (404, False, False, "HttpError"),
        (400, False, False, "HttpError"),
    ],
)
def test_http_failures_map_to_outcomes(
    httpserver: HTTPServer, status: int, retryable: bool, throttled: bool, error_class: str
) -> None:
    httpserver.expect_request("/hook").respond_with_json({"errcode": 130101}, status=status)
    (target,) = channels.resolve_targets(
        config(team=ChannelConfig(urls=[json_url(httpserver) + "?+X-K=${K}"])), {"K": SECRET}
    )["team"]

    outcome = send(target)

    assert not outcome.ok
    assert (outcome.http_status, outcome.retryable, outcome.throttled, outcome.error_class) == (
        status,
        retryable,
        throttled,
        error_class,
    )
    assert f"error={status}" in (outcome.message or "")
    assert SECRET not in (outcome.message or "")


def test_unreachable_target_is_a_retryable_connection_error() -> None:
    # a port nobody listens on (bound and closed at once)
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (target,) = channels.resolve_targets(
        config(team=ChannelConfig(urls=[f"json://127.0.0.1:{port}/hook"])), {}
    )["team"]

    outcome = send(target)

    assert not outcome.ok and outcome.retryable and outcome.error_class == "ConnectionError"


def test_missing_placeholder_variable_is_named_never_valued() -> None:
    cfg = config(team=ChannelConfig(urls=["json://127.0.0.1/hook?+X-K=${NOT_SET_HOOK_KEY}"]))
    with pytest.raises(MissingSecretError, match=r"NOT_SET_HOOK_KEY.*channels\.team\.urls\[0\]"):
        channels.resolve_targets(cfg, {})


def test_missing_url_env_is_named() -> None:
    with pytest.raises(MissingSecretError, match="TEAM_HOOK"):
        channels.resolve_targets(config(team=ChannelConfig(url_env=["TEAM_HOOK"])), {})


def test_unknown_scheme_is_a_config_error_naming_the_channel() -> None:
    with pytest.raises(ConfigError, match=r"channels\.team.*nosuchthing://"):
        channels.resolve_targets(config(team=ChannelConfig(urls=["nosuchthing://x/y"])), {})


def test_a_channel_type_without_plugin_is_a_plugin_error() -> None:
    with pytest.raises(PluginError, match="'pager'"):
        channels.resolve_targets(config(team=ChannelConfig(type="pager")), {})


def test_dispatch_needs_a_plugin_for_the_target_kind() -> None:
    target = Target(channel="x", key="k", url="u", kind="pager")
    with pytest.raises(PluginError, match="pager"):
        channels.plugin_for(target, plugins={})
    assert channels.plugin_for(target, plugins={"apprise": apprise_channel}) is apprise_channel
    assert channels.plugin_for(Target("x", "k", "u", "console")) is console


def test_a_plugin_failure_is_an_outcome_not_an_exception() -> None:
    # Not a URL Apprise can build: the apprise plugin reports it, nothing raises.
    target = Target(channel="x", key="k", url=f"nosuchthing://{SECRET}", kind="nosuchthing")

    outcome = send(target)

    assert not outcome.ok and outcome.error_class is not None
    assert SECRET not in (outcome.message or "")


def test_console_channel_prints_the_message(capsys: pytest.CaptureFixture[str]) -> None:
    (target,) = channels.resolve_targets(config(local=ChannelConfig(type="console")), {})["local"]
    assert target.key == "console://stdout"

    outcome = send(target, Message(subject="Hello", body="line one\nline two"))

    assert outcome == SendOutcome(ok=True, retryable=False)
    assert capsys.readouterr().out == "== Hello ==\nline one\nline two\n"


def test_scrub_removes_raw_and_url_quoted_secrets() -> None:
    text = "failed for pa ss/w@rd! and pa%20ss%2Fw%40rd%21 and pa+ss%2Fw%40rd%21"
    assert apprise_channel.scrub(text, ["pa ss/w@rd!"]) == "failed for *** and *** and ***"
