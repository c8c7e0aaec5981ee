"""Message rendering: default texts, aggregates, trimming, custom templates, hostile upstream text.

Events are built from a real recorded GitHub issues response (tests/fixtures/delivery/).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mrt.config import ChannelConfig, Config, EmailV0, NotifyV0, WeLinkV0
from mrt.delivery.render import render_message
from mrt.delivery.sanitize import clean_line, clean_text, clean_url, fit_text
from mrt.errors import TemplateError
from mrt.events import TrackerEvent
from mrt.rules import Decision, RuleMatch

ISSUES = json.loads(
    (Path(__file__).parent / "fixtures/delivery/issues_list_pygithub_2024.json").read_text()
)
DECISION = Decision(
    action="notify",
    channels=("welink", "email"),
    matched=(RuleMatch(rule="watch_keywords", reasons=("title or summary contained 'add'",)),),
)


def issue_event(item: dict[str, Any], **overrides: Any) -> TrackerEvent:
    fields: dict[str, Any] = {
        "source": "github",
        "source_key": "github:PyGithub/PyGithub",
        "resource_type": "pull" if "pull_request" in item else "issue",
        "resource_id": str(item["number"]),
        "event_type": "pr_opened" if "pull_request" in item else "issue_opened",
        "event_id": str(item["id"]),
        "title": item["title"],
        "summary": item.get("body") or "",
        "url": item["html_url"],
        "author": item["user"]["login"],
        "labels": tuple(label["name"] for label in item["labels"]),
        "occurred_at": datetime.fromisoformat(item["created_at"].replace("Z", "+00:00")),
        "observed_at": datetime(2024, 9, 17, tzinfo=UTC),
    }
    fields.update(overrides)
    return TrackerEvent(**fields)


def v0_config(**channels: ChannelConfig) -> Config:
    return Config(
        notify=NotifyV0(
            welink=WeLinkV0(), email=EmailV0(smtp_host="smtp.example.org", to_list=["a@b.org"])
        ),
        channels=channels,
    )


def test_default_chat_text_for_one_event() -> None:
    event = issue_event(ISSUES[2])  # issue 3042

    message = render_message(v0_config(), "welink", [event], DECISION)

    assert message.subject == ""
    assert message.body == (
        "[MRT] New issue · PyGithub/PyGithub on GitHub\n"
        "github.Repository is missing method for GET automated-security-fixes\n"
        "Why: watch_keywords: title or summary contained 'add'\n"
        "https://github.com/PyGithub/PyGithub/issues/3042"
    )
    assert message.url == "https://github.com/PyGithub/PyGithub/issues/3042"


def test_default_email_has_a_subject_and_the_details() -> None:
    event = issue_event(ISSUES[0])  # PR 3045

    message = render_message(v0_config(), "email", [event], DECISION)

    assert message.subject == (
        "[MRT] New pull request: Make tests pass some more years (PyGithub/PyGithub on GitHub)"
    )
    assert message.body.startswith(
        "New pull request in PyGithub/PyGithub on GitHub by bmwiedemann\n"
        "Make tests pass some more years\n"
    )
    assert "https://github.com/PyGithub/PyGithub/pull/3045" in message.body
    assert message.body.endswith(
        "Why it matched:\n- watch_keywords: title or summary contained 'add'"
    )
    assert "\r" not in message.body


def test_aggregate_chat_lists_what_fits_in_500_and_says_how_many_more() -> None:
    events = [issue_event(item) for item in ISSUES]  # 30 real items

    message = render_message(v0_config(), "welink", events, DECISION)

    assert len(message.body) <= 500
    lines = message.body.split("\n")
    assert lines[0] == "[MRT] 30 updates · PyGithub/PyGithub on GitHub"
    listed = [line for line in lines if line.startswith("- ")]
    links = [line.strip() for line in lines if line.startswith("  https://")]
    assert len(listed) == len(links) >= 2
    assert lines[-1] == f"and {30 - len(listed)} more"


def test_aggregate_email_lists_ten_and_the_rest_as_more() -> None:
    events = [issue_event(item) for item in ISSUES]

    message = render_message(v0_config(), "email", events, DECISION)

    assert message.subject == "[MRT] 30 updates in PyGithub/PyGithub on GitHub"
    assert message.body.count("https://github.com/PyGithub/PyGithub/") == 10
    assert "and 20 more" in message.body


def test_trimming_keeps_the_link() -> None:
    reasons = tuple(f"title matched {n} " + "x" * 280 for n in range(3))
    decision = Decision(action="notify", matched=(RuleMatch(rule="r", reasons=reasons),))
    event = issue_event(ISSUES[2])

    message = render_message(v0_config(), "welink", [event], decision)

    assert len(message.body) == 500
    assert message.body.endswith("…\nhttps://github.com/PyGithub/PyGithub/issues/3042")


def test_hostile_upstream_text_renders_inert() -> None:
    event = issue_event(
        ISSUES[2],
        title="@all {{ 7*7 }} \x1b[31mred\x1b[0m @所有人 {% raise %}",
        summary="ping @maintainer\x00\x07 \u202eevil",
        author="@all",
        url="javascript:alert(1)",
    )

    chat = render_message(v0_config(), "welink", [event], DECISION)
    mail = render_message(v0_config(), "email", [event], DECISION)

    for text in (chat.body, mail.subject, mail.body):
        assert "@" not in text  # no mention can survive: every @ is a full-width ＠
        assert "\x1b" not in text and "\x00" not in text and "\x07" not in text
        assert "\u202e" not in text
        assert "49" not in text  # never evaluated as a template
    assert "＠all {{ 7*7 }} red ＠所有人 {% raise %}" in chat.body
    assert "ping ＠maintainer evil" in mail.body
    assert "javascript:" not in chat.body + mail.body


def test_custom_inline_templates(tmp_path: Path) -> None:
    team = ChannelConfig(
        urls=["json://127.0.0.1/hook"],
        template="{{ count }} x {{ event.what }} by {{ event.author }}: {{ event.title }} <{{ event.url }}>",
        title_template="{{ rules[0].name }} / {{ priority }}",
    )
    event = issue_event(ISSUES[2])

    message = render_message(v0_config(team=team), "team", [event], DECISION)

    assert message.subject == "watch_keywords / normal"
    assert message.body == (
        "1 x New issue by BenedictStrunk-otto: github.Repository is missing method for GET "
        "automated-security-fixes <https://github.com/PyGithub/PyGithub/issues/3042>"
    )


def test_file_template_is_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "tpl").mkdir()
    (tmp_path / "tpl" / "short.j2").write_text("{{ event.title | upper }}\n", "utf-8")
    team = ChannelConfig(urls=["json://127.0.0.1/hook"], template="file:tpl/short.j2")
    cfg = v0_config(team=team).model_copy(update={"source_path": tmp_path / "mrt.json"})

    message = render_message(cfg, "team", [issue_event(ISSUES[0])], DECISION)

    assert message.body == "MAKE TESTS PASS SOME MORE YEARS"


def test_missing_template_file_is_a_template_error(tmp_path: Path) -> None:
    team = ChannelConfig(urls=["json://127.0.0.1/hook"], template="file:nope.j2")
    cfg = v0_config(team=team).model_copy(update={"source_path": tmp_path / "mrt.json"})
    with pytest.raises(TemplateError, match="channel 'team': cannot read template"):
        render_message(cfg, "team", [issue_event(ISSUES[0])], DECISION)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (
            "line one\n{{ event.title }\n",
            r"channel 'team': template channels\.team\.template, line 2: TemplateSyntaxError",
        ),
        (
            "ok\n\n{{ no_such_variable }}",
            r"channel 'team': template channels\.team\.template, line 3: UndefinedError",
        ),
        (
            "{{ event.__class__.__mro__ }}",
            r"channel 'team': template channels\.team\.template.*SecurityError|UndefinedError",
        ),
        ("{% for x in events %}{{ x.title.upper.__globals__ }}{% endfor %}", r"channel 'team'"),
        ("{{ events.append(1) }}", r"channel 'team'.*SecurityError"),
        (
            "a\n{{ count // 0 }}",
            r"channel 'team': template channels\.team\.template, line 2: ZeroDivisionError",
        ),
    ],
    ids=["syntax", "undefined", "dunder", "globals", "mutation", "arithmetic"],
)
def test_broken_or_unsafe_template_is_a_template_error(source: str, expected: str) -> None:
    team = ChannelConfig(urls=["json://127.0.0.1/hook"], template=source)
    with pytest.raises(TemplateError, match=expected):
        render_message(v0_config(team=team), "team", [issue_event(ISSUES[0])], DECISION)


def test_no_events_is_a_template_error() -> None:
    with pytest.raises(TemplateError, match="no events"):
        render_message(v0_config(), "welink", [], DECISION)


def test_sanitize_helpers() -> None:
    assert clean_line("a\tb\r\nc  d\x1b[1m!") == "a b c d!"
    assert clean_text("one\r\n\r\n\r\n\r\ntwo @x") == "one\n\ntwo ＠x"
    assert clean_url("https://hf.co/@org/model") == "https://hf.co/%40org/model"
    assert clean_url("javascript:alert(1)") == ""
    assert clean_url("https://x.test/a b") == ""
    assert fit_text("abcdef", 4) == "abc…"
    assert fit_text("head " * 50 + "\nhttps://x.test/1", 40) == (
        "head head head head he…\nhttps://x.test/1"
    )
    with pytest.raises(ValueError):
        fit_text("x", 0)


def test_a_mailto_channel_renders_as_email_and_no_rule_means_no_why() -> None:
    mail = ChannelConfig(urls=["mailtos://u:${SMTP_PASSWORD}@smtp.example.org?to=a@b.org"])
    event = issue_event(ISSUES[2])

    message = render_message(v0_config(mail=mail), "mail", [event], Decision(action="notify"))

    assert message.subject.startswith("[MRT] New issue: github.Repository is missing")
    assert "Why it matched" not in message.body
    chat = render_message(v0_config(), "welink", [event], Decision(action="notify"))
    assert "Why:" not in chat.body
    assert chat.body.endswith("\nhttps://github.com/PyGithub/PyGithub/issues/3042")
