"""WeLink through our Apprise plugin, against a fake robot on loopback that checks like the real one.

The fake robot (pytest-httpserver) enforces the rules of shared/reference/chat-robots.md: query
token and channel, messageType text, text 1..500 characters, timeStamp within 10 minutes, a uuid
unique across calls, isAt only with accounts, at most 10 accounts, mentions at the start of the
text. It answers like the real robot, or fails on demand.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from mrt.config import Config, NotifyV0, WeLinkV0
from mrt.delivery import channels
from mrt.delivery.base import Message, SendOutcome, Target
from mrt.delivery.welink import (
    DEFAULT_PATH,
    NotifyWeLink,
    register_welink,
    webhook_to_welink_url,
)

TOKEN = "wl-SECRET-token-0123456789"


@dataclass
class FakeRobot:
    """Checks each call like the real robot; `answer` decides what it says back."""

    token: str = TOKEN
    received: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    uuids: set[str] = field(default_factory=set)
    answer: Callable[[], Response] = lambda: Response(
        json.dumps({"code": "0", "data": "success", "message": "ok"}),
        content_type="application/json",
    )

    def handle(self, request: Request) -> Response:
        body = json.loads(request.get_data())
        self.received.append(body)
        problems = self.check(request, body)
        self.problems += problems
        if problems:
            return Response(json.dumps({"code": "58601", "message": "; ".join(problems)}))
        return self.answer()

    def check(self, request: Request, body: dict[str, Any]) -> list[str]:
        found = []
        if request.args.get("token") != self.token:
            found.append("token missing or wrong")
        if not request.args.get("channel"):
            found.append("channel missing")
        if body.get("messageType") != "text":
            found.append("messageType is not text")
        text = body.get("content", {}).get("text", "")
        if not 1 <= len(text) <= 500:
            found.append(f"text length {len(text)}")
        stamp = body.get("timeStamp")
        if not isinstance(stamp, int) or abs(stamp - time.time() * 1000) > 10 * 60 * 1000:
            found.append(f"timeStamp {stamp!r} not within 10 minutes")
        uid = body.get("uuid")
        if not uid or uid in self.uuids:
            found.append(f"uuid {uid!r} missing or reused")
        self.uuids.add(uid)
        accounts = body.get("atAccounts", [])
        if body.get("isAt") and not accounts:
            found.append("isAt without atAccounts")
        if len(accounts) > 10:
            found.append("more than 10 atAccounts")
        expected = (["@all"] if body.get("isAtAll") else []) + [f"@{a}" for a in accounts]
        if expected and not text.startswith(" ".join(expected)):
            found.append(f"text does not begin with {' '.join(expected)!r}")
        return found


@pytest.fixture
def robot(httpserver: HTTPServer) -> FakeRobot:
    fake = FakeRobot()
    httpserver.expect_request(DEFAULT_PATH, method="POST").respond_with_handler(fake.handle)
    return fake


def webhook(httpserver: HTTPServer) -> str:
    return httpserver.url_for(DEFAULT_PATH) + f"?token={TOKEN}&channel=standard"


def v0_target(httpserver: HTTPServer, **welink: Any) -> Target:
    config = Config(notify=NotifyV0(welink=WeLinkV0(**welink)))
    resolved = channels.resolve_targets(config, {"WELINK_WEBHOOK_URL": webhook(httpserver)})
    (target,) = resolved["welink"]
    return target


def send(target: Target, body: str = "hello", timeout: float = 5.0) -> SendOutcome:
    return asyncio.run(channels.send(target, Message(subject="", body=body), timeout=timeout))


def assert_no_secret(outcome: SendOutcome, target: Target) -> None:
    assert TOKEN not in (outcome.message or "")
    assert TOKEN not in target.key and TOKEN not in repr(target)


def test_register_is_idempotent_and_explicit() -> None:
    register_welink()
    register_welink()
    from apprise.manager_plugins import NotificationManager

    assert NotificationManager()["welink"] is NotifyWeLink


def test_v0_webhook_url_maps_to_welink_and_delivers(
    httpserver: HTTPServer, robot: FakeRobot
) -> None:
    target = v0_target(httpserver)
    assert target.kind == "welink" and target.key.startswith("welink://")
    assert target.max_length == 500

    outcome = send(target, "[MRT] New issue\nhttps://github.com/x/y/issues/1")

    assert outcome == SendOutcome(ok=True, retryable=False, http_status=200)
    assert robot.problems == []
    (body,) = robot.received
    assert body["content"]["text"] == "[MRT] New issue\nhttps://github.com/x/y/issues/1"
    assert body["isAt"] is False and body["isAtAll"] is False and body["atAccounts"] == []
    assert_no_secret(outcome, target)


def test_mentions_are_prefixed_and_flagged_as_v0_did(
    httpserver: HTTPServer, robot: FakeRobot
) -> None:
    target = v0_target(httpserver, at_accounts=["u100", "u200"], is_at_all=True)

    assert send(target, "deploy now").ok

    assert robot.problems == []
    (body,) = robot.received
    assert body["content"]["text"] == "@all @u100 @u200\ndeploy now"
    assert body["isAt"] is True and body["isAtAll"] is True
    assert body["atAccounts"] == ["u100", "u200"]


def test_each_call_has_a_fresh_uuid_and_current_timestamp(
    httpserver: HTTPServer, robot: FakeRobot
) -> None:
    target = v0_target(httpserver)
    for n in range(3):
        assert send(target, f"message {n}").ok
    assert robot.problems == []
    assert len({b["uuid"] for b in robot.received}) == 3


def test_long_text_is_trimmed_to_500_keeping_the_link(
    httpserver: HTTPServer, robot: FakeRobot
) -> None:
    target = v0_target(httpserver, at_accounts=["u1"])
    link = "https://github.com/vllm-project/vllm/issues/123456"

    assert send(target, "x" * 2000 + "\n" + link).ok

    assert robot.problems == []
    text = robot.received[0]["content"]["text"]
    assert len(text) == 500
    assert text.startswith("@u1\n") and text.endswith("…\n" + link)


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            lambda: Response("oops", status=500),
            SendOutcome(
                ok=False,
                retryable=True,
                http_status=500,
                error_class="HttpError",
                message="HTTP 500",
            ),
        ),
        (
            lambda: Response(json.dumps({"code": "58500", "message": "busy"})),
            SendOutcome(
                ok=False,
                retryable=True,
                http_status=200,
                vendor_code="58500",
                error_class="VendorError",
                message="code 58500: WeLink server error (busy)",
            ),
        ),
        (
            lambda: Response(json.dumps({"code": "58601", "message": "bad"})),
            SendOutcome(
                ok=False,
                retryable=False,
                http_status=200,
                vendor_code="58601",
                error_class="VendorError",
                message="code 58601: bad parameters (bad)",
            ),
        ),
        (
            lambda: Response(json.dumps({"code": "58602", "message": "off"})),
            SendOutcome(
                ok=False,
                retryable=False,
                http_status=200,
                vendor_code="58602",
                error_class="VendorError",
                message="code 58602: robot disabled (off)",
            ),
        ),
        (
            lambda: Response(json.dumps({"code": "58404", "message": "gone"})),
            SendOutcome(
                ok=False,
                retryable=False,
                http_status=200,
                vendor_code="58404",
                error_class="VendorError",
                message="code 58404: robot not found (gone)",
            ),
        ),
        (
            lambda: Response("not json at all"),
            SendOutcome(
                ok=False,
                retryable=True,
                http_status=200,
                error_class="VendorError",
                message="code None: unexpected answer",
            ),
        ),
        (
            lambda: Response(json.dumps({"code": "1"}), status=429),
            SendOutcome(
                ok=False,
                retryable=True,
                throttled=True,
                http_status=429,
                vendor_code="1",
                error_class="Throttled",
                message="HTTP 429",
            ),
        ),
    ],
    ids=["http500", "58500", "58601", "58602", "58404", "not-json", "http429"],
)
def test_failures_map_to_outcomes(
    httpserver: HTTPServer,
    robot: FakeRobot,
    answer: Callable[[], Response],
    expected: SendOutcome,
) -> None:
    robot.answer = answer
    target = v0_target(httpserver)

    outcome = send(target)

    assert outcome == expected
    assert robot.problems == []
    assert_no_secret(outcome, target)


def test_a_vendor_message_echoing_the_token_is_scrubbed(
    httpserver: HTTPServer, robot: FakeRobot
) -> None:
    robot.answer = lambda: Response(json.dumps({"code": "58601", "message": f"bad {TOKEN}"}))
    target = v0_target(httpserver)

    outcome = send(target)

    assert outcome.vendor_code == "58601" and "***" in (outcome.message or "")
    assert_no_secret(outcome, target)


@pytest.fixture
def silent_server() -> Iterator[tuple[int, threading.Event]]:
    """Accepts connections and never answers until released: a robot that hangs."""
    release = threading.Event()
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []

    def serve() -> None:
        while not release.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], release
    release.set()
    server.close()
    for conn in held:
        conn.close()


def test_a_hanging_robot_is_a_retryable_timeout(
    silent_server: tuple[int, threading.Event],
) -> None:
    port, _ = silent_server
    url = f"http://127.0.0.1:{port}{DEFAULT_PATH}?token={TOKEN}&channel=standard"
    target = channels.resolve_targets(
        Config(notify=NotifyV0(welink=WeLinkV0())), {"WELINK_WEBHOOK_URL": url}
    )["welink"][0]

    outcome = send(target, timeout=0.5)

    assert not outcome.ok and outcome.retryable and outcome.error_class == "Timeout"
    assert_no_secret(outcome, target)


@pytest.fixture
def resetting_server() -> Iterator[int]:
    """Accepts, reads the request, and resets the connection (RST, not a clean close)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    yield server.getsockname()[1]
    server.close()


def test_a_connection_reset_is_a_retryable_connection_error(resetting_server: int) -> None:
    url = f"http://127.0.0.1:{resetting_server}{DEFAULT_PATH}?token={TOKEN}&channel=standard"
    target = channels.resolve_targets(
        Config(notify=NotifyV0(welink=WeLinkV0())), {"WELINK_WEBHOOK_URL": url}
    )["welink"][0]

    outcome = send(target)

    assert outcome == SendOutcome(
        ok=False, retryable=True, error_class="ConnectionError", message="ConnectionError"
    )
    assert_no_secret(outcome, target)


def test_welink_url_forms() -> None:
    register_welink()
    public = webhook_to_welink_url(
        "https://open.welink.huaweicloud.com/api/werobot/v1/webhook/send?token=abc123&channel=standard"
    )
    assert public == "welink://abc123?channel=standard"
    plugin = NotifyWeLink(**NotifyWeLink.parse_url(public))  # type: ignore[arg-type]
    assert plugin.endpoint == "https://open.welink.huaweicloud.com" + DEFAULT_PATH

    local = webhook_to_welink_url(f"http://127.0.0.1:8080{DEFAULT_PATH}?token=abc123&channel=x")
    plugin = NotifyWeLink(**NotifyWeLink.parse_url(local))  # type: ignore[arg-type]
    assert plugin.endpoint == f"http://127.0.0.1:8080{DEFAULT_PATH}" and plugin.channel == "x"


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("welink://tok?is_at=yes", "needs at least one account"),
        ("welink://tok?at=" + ",".join(f"u{i}" for i in range(11)), "at most 10"),
    ],
)
def test_invalid_mentions_are_rejected_up_front(url: str, problem: str) -> None:
    from mrt.delivery.apprise_channel import build_target
    from mrt.errors import ConfigError

    with pytest.raises(ConfigError, match=problem):
        build_target("welink", url, [])


def test_v0_target_key_is_short_stable_and_secret_free(httpserver: HTTPServer) -> None:
    target = v0_target(httpserver, at_accounts=["u1"], is_at_all=True)
    where = f"@{httpserver.host}:{httpserver.port}{DEFAULT_PATH}"
    query = "?channel=standard&at=u1&at_all=yes&secure=no"
    # nothing of the token, not even its first and last characters (issue 19)
    assert target.key == f"welink://***{where}{query}"
    # rows queued by an earlier version carry the key of then, and still find their target
    assert target.previous_keys == (f"welink://w...9{where}{query}",)
    assert target == v0_target(httpserver, at_accounts=["u1"], is_at_all=True)


def test_v0_webhook_env_missing_is_named() -> None:
    from mrt.errors import MissingSecretError

    config = Config(notify=NotifyV0(welink=WeLinkV0(webhook_env="MY_ROBOT")))
    with pytest.raises(MissingSecretError, match="MY_ROBOT"):
        channels.resolve_targets(config, {})


def test_v0_webhook_env_with_another_url_is_a_config_error() -> None:
    from mrt.errors import ConfigError

    config = Config(notify=NotifyV0(welink=WeLinkV0()))
    with pytest.raises(ConfigError, match=r"notify\.welink\.webhook_env") as caught:
        channels.resolve_targets(config, {"WELINK_WEBHOOK_URL": f"https://example.org/?k={TOKEN}"})
    assert TOKEN not in str(caught.value)


def test_rendered_hostile_event_reaches_the_robot_without_becoming_a_mention(
    httpserver: HTTPServer, robot: FakeRobot
) -> None:
    from mrt.delivery.render import render_message
    from mrt.events import TrackerEvent
    from mrt.rules import Decision, RuleMatch

    config = Config(notify=NotifyV0(welink=WeLinkV0(at_accounts=["oncall1"])))
    event = TrackerEvent(
        source="huggingface",
        source_key="huggingface:deepseek-ai",
        resource_type="model",
        resource_id="deepseek-ai/DeepSeek-V3",
        event_type="model_updated",
        event_id="sha1",
        title="@all @所有人 please look {{ 7*7 }}\x1b[2J",
        url="https://huggingface.co/deepseek-ai/DeepSeek-V3",
    )
    decision = Decision(action="notify", matched=(RuleMatch("watch_keywords", ("'deepseek'",)),))
    message = render_message(config, "welink", [event], decision)
    (target,) = channels.resolve_targets(config, {"WELINK_WEBHOOK_URL": webhook(httpserver)})[
        "welink"
    ]

    assert asyncio.run(channels.send(target, message, timeout=5)).ok

    assert robot.problems == []
    text = robot.received[0]["content"]["text"]
    head, _, rest = text.partition("\n")
    assert head == "@oncall1"  # the operator's mention, and only it
    assert "@" not in rest and "＠all ＠所有人 please look {{ 7*7 }}" in rest
    assert rest.endswith("https://huggingface.co/deepseek-ai/DeepSeek-V3")
    assert robot.received[0]["isAtAll"] is False


def test_a_subject_is_folded_into_the_text(httpserver: HTTPServer, robot: FakeRobot) -> None:
    target = v0_target(httpserver)
    message = Message(subject="[MRT] Heads up", body="body line")

    assert asyncio.run(channels.send(target, message, timeout=5)).ok

    assert robot.received[0]["content"]["text"] == "[MRT] Heads up\nbody line"


def test_importing_the_delivery_modules_registers_nothing() -> None:
    import subprocess
    import sys

    code = (
        "import mrt.delivery.channels, mrt.delivery.apprise_channel, mrt.delivery.welink\n"
        "from apprise.manager_plugins import NotificationManager\n"
        "assert 'welink' not in NotificationManager(), 'registered at import'\n"
        "mrt.delivery.welink.register_welink()\n"
        "assert 'welink' in NotificationManager()\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
