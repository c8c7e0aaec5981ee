"""The hostile corpus through every channel's renderer, and to a loopback WeLink robot.

Each string goes in as a title, a body, an author and a label at once. Whatever comes out for
WeLink, an Apprise chat URL, email (subject and body) or the console channel carries no escape,
control, separator or zero-width character and mentions no one.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from pytest_httpserver import HTTPServer

from mrt.config import ChannelConfig, Config, EmailV0, NotifyV0, WeLinkV0
from mrt.delivery import channels
from mrt.delivery.base import Message
from mrt.delivery.console import format_message
from mrt.delivery.render import render_message
from mrt.events import TrackerEvent
from mrt.rules import Decision, RuleMatch
from tests.hostile import CASES, CORPUS, MB_TITLE, assert_inert, mentions
from tests.test_delivery_welink import DEFAULT_PATH, FakeRobot, webhook

CONFIG = Config(
    notify=NotifyV0(
        welink=WeLinkV0(), email=EmailV0(smtp_host="smtp.example.org", to_list=["a@b.org"])
    ),
    channels={
        "team": ChannelConfig(urls=["slack://T1/B2/C3"]),
        "local": ChannelConfig(type="console"),
    },
)
DECISION = Decision(
    action="notify",
    channels=("welink", "email", "team", "local"),
    matched=(RuleMatch(rule="models", reasons=("title contained 'deepseek'",)),),
)


def hostile_event(text: str, *, title: str | None = None) -> TrackerEvent:
    return TrackerEvent(
        source="github",
        source_key="github:org/repo",
        resource_type="issue",
        resource_id="7",
        event_type="issue_opened",
        event_id="7",
        title=text if title is None else title,
        summary=text,
        url="https://github.com/org/repo/issues/7",
        author=text,
        labels=(text, "bug"),
        observed_at=datetime(2026, 11, 1, tzinfo=UTC),
    )


def rendered(event: TrackerEvent) -> dict[str, Message]:
    return {
        channel: render_message(CONFIG, channel, [event], DECISION)
        for channel in ("welink", "email", "team", "local")
    }


@pytest.mark.parametrize("text", CASES)
def test_every_renderer_makes_the_corpus_inert_and_mention_free(text: str) -> None:
    for channel, message in rendered(hostile_event(text)).items():
        for part in (message.subject, message.body, format_message(message)):
            assert_inert(part)
            assert mentions(part) == [], f"{channel}: {mentions(part)} in {part!r}"
        assert "\n" not in message.subject, channel
        assert "https://github.com/org/repo/issues/7" in message.body, channel


def test_a_megabyte_title_renders_bounded() -> None:
    messages = rendered(hostile_event("body", title=MB_TITLE))
    assert len(messages["welink"].body) <= 500
    assert len(messages["team"].body) < 5000
    assert len(messages["email"].subject) <= 250 and len(messages["email"].body) < 10_000


@pytest.mark.parametrize("name", ["line_paragraph_separators", "zero_width", "bidi_isolates"])
def test_separators_and_zero_width_never_reach_the_robot(httpserver: HTTPServer, name: str) -> None:
    robot = FakeRobot()
    httpserver.expect_request(DEFAULT_PATH, method="POST").respond_with_handler(robot.handle)
    config = Config(notify=NotifyV0(welink=WeLinkV0()))
    message = render_message(config, "welink", [hostile_event(CORPUS[name])], DECISION)
    (target,) = channels.resolve_targets(config, {"WELINK_WEBHOOK_URL": webhook(httpserver)})[
        "welink"
    ]

    assert asyncio.run(channels.send(target, message, timeout=5)).ok

    assert robot.problems == []
    text = robot.received[0]["content"]["text"]
    assert_inert(text)
    assert "deepseek qwen x" in text if name == "zero_width" else True
    assert "one two three" in text if name == "line_paragraph_separators" else True
