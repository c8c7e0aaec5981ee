"""Each vendor's message, as rendered from an alert: the vendor's schema, its limits, its mention
syntax, and upstream text that never mentions anyone or becomes markup (issue 16)."""

from __future__ import annotations

import json
from dataclasses import replace
from types import ModuleType
from typing import Any

import pytest
from vendor_support import TOKEN, sample_event, sample_message, schema_problems

from mrt.config import ChannelConfig, Config
from mrt.delivery.render import render_message
from mrt.delivery.vendors import dingtalk, feishu, slack, wecom
from mrt.delivery.vendors.common import card_of
from mrt.errors import ConfigError
from mrt.message import Message
from mrt.rules import Decision, RuleMatch
from tests.hostile import CASES, MB_TITLE, assert_inert, mentions

MODULES: dict[str, tuple[ModuleType, str]] = {
    "dingtalk": (dingtalk, f"dingtalk://{TOKEN}/"),
    "feishu": (feishu, f"feishu://{TOKEN}/"),
    "wecom": (wecom, f"wecombot://{TOKEN}/"),
    "slack": (slack, f"slack://{TOKEN}/B000/C000/"),
}
VENDORS = list(MODULES)


def payload(vendor: str, message: Message, options: str = "") -> dict[str, Any]:
    module, url = MODULES[vendor]
    where = module.endpoint(url + (f"?{options}" if options else ""))
    result: dict[str, Any] = module.render(card_of(message), where.mentions)
    return result


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return []


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("variant", ["plain", "mentions", "at_all", "no_link", "test", "high"])
def test_each_message_matches_the_vendors_schema(vendor: str, variant: str) -> None:
    message = sample_message(
        kind="test" if variant == "test" else "event",
        priority="high" if variant == "high" else "normal",
    )
    if variant == "no_link":
        message = replace(message, url="", body=message.body.rsplit("\n", 1)[0])
    options = {"mentions": "at=13800000000,ou_abc", "at_all": "at_all=yes"}.get(variant, "")
    body = payload(vendor, message, options)
    assert schema_problems(vendor, body) == []
    text = json.dumps(body, ensure_ascii=False)
    assert "Qwen3-Next support" in text and "octocat" in text  # the title and a field
    if variant != "no_link":
        assert "https://github.com/vllm-project/vllm/pull/40002" in text
    if variant == "test":
        assert "[TEST]" in text


def test_the_card_parts() -> None:
    """Header, fields and a button: each vendor's own form of them."""
    message = sample_message(priority="high")
    card = feishu.render(card_of(message), feishu.endpoint(f"feishu://{TOKEN}").mentions)["card"]
    assert card["header"]["title"]["content"].startswith("[MRT] New pull request")
    assert card["header"]["template"] == "red"  # high priority
    fields = [f["text"]["content"] for f in card["elements"][1]["fields"]]
    assert "**Author**\nocto" in fields[2] and any("Priority" in f for f in fields)
    assert card["elements"][2]["actions"][0]["url"].endswith("/pull/40002")

    ding = payload("dingtalk", message)
    assert ding["msgtype"] == "actionCard"
    assert ding["actionCard"]["singleURL"].endswith("/pull/40002")
    assert "- **Platform**: GitHub" in ding["actionCard"]["text"]

    blocks = payload("slack", message)["blocks"]
    assert [b["type"] for b in blocks] == ["header", "section", "section", "actions"]
    assert blocks[3]["elements"][0]["url"].endswith("/pull/40002")

    markdown = payload("wecom", message)["markdown"]["content"]
    assert markdown.startswith("### ") and markdown.endswith(
        "[Open](https://github.com/vllm-project/vllm/pull/40002)")


def test_mentions_in_each_vendors_syntax() -> None:
    ding = payload("dingtalk", sample_message(), "at=13800000000,user01")
    assert ding["msgtype"] == "markdown"  # an ActionCard cannot mention
    assert ding["at"] == {"atMobiles": ["13800000000"], "atUserIds": ["user01"], "isAtAll": False}
    assert "@13800000000 @user01" in ding["markdown"]["text"]
    assert payload("dingtalk", sample_message(), "at_all=yes")["at"]["isAtAll"] is True
    apprise_form = dingtalk.endpoint(f"dingtalk://{TOKEN}/13900000000")  # Apprise's targets
    assert apprise_form.mentions.users == ("13900000000",)

    fei = json.dumps(payload("feishu", sample_message(), "at=ou_abc&at_all=yes"))
    assert "<at id=all></at> <at id=ou_abc></at>" in fei

    we = payload("wecom", sample_message(), "at=zhangsan")
    assert we["msgtype"] == "markdown" and we["markdown"]["content"].endswith("<@zhangsan>")
    everyone = payload("wecom", sample_message(), "at_all=yes&at=zhangsan")
    assert everyone["msgtype"] == "text"  # markdown cannot mention everyone
    assert everyone["text"]["mentioned_list"] == ["zhangsan", "@all"]
    mobile = payload("wecom", sample_message(), "at=13800000000,zhangsan")
    assert mobile["msgtype"] == "text"  # nor a mobile number
    assert mobile["text"]["mentioned_mobile_list"] == ["13800000000"]
    assert mobile["text"]["mentioned_list"] == ["zhangsan"]

    sl = payload("slack", sample_message(), "at=U0123&at_all=yes")
    assert sl["blocks"][-1]["text"]["text"] == "<!channel> <@U0123>"


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_mention_that_is_not_an_id_is_refused(vendor: str) -> None:
    module, url = MODULES[vendor]
    with pytest.raises(ConfigError, match="is not a user id"):
        module.endpoint(url + "?at=<!here>")


HOSTILE_CONFIG = Config(channels={
    name: ChannelConfig(type=name, urls=[url]) for name, (_, url) in MODULES.items()
})
DECISION = Decision(action="notify", channels=tuple(MODULES),
                    matched=(RuleMatch(rule="models", reasons=("title contained 'deepseek'",)),))


def hostile_message(vendor: str, text: str) -> Message:
    """`text` as title, body, author and label, through the real renderer and the claim."""
    from mrt.events import TrackerEvent

    event = TrackerEvent(
        source="github", source_key="github:org/repo", resource_type="issue", resource_id="7",
        event_type="issue_opened", event_id="7", title=text, summary=text,
        url="https://github.com/org/repo/issues/7", author=text, labels=(text,),
    )
    rendered = render_message(HOSTILE_CONFIG, vendor, [event], DECISION)
    stored = sample_event(title=text, author=text, url=event.url)
    return replace(rendered, extra=sample_message(event=stored).extra)


INJECTION = ("[click](https://evil.example/x) ![img](https://evil.example/p.png) <b>bold</b> "
             "<font color=\"warning\">red</font> `code` *star* # heading <@U999> <!channel> "
             "<at id=all></at> @all")


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("text", [*CASES, pytest.param(INJECTION, id="markup_injection")])
def test_upstream_text_is_inert_mentions_no_one_and_is_no_markup(vendor: str, text: str) -> None:
    body = payload(vendor, hostile_message(vendor, text))
    assert schema_problems(vendor, body) == []
    for value in strings(body):
        assert_inert(value)
        assert mentions(value) == [], (vendor, value)
    for markup in markup_strings(vendor, body):
        # a markdown link or image (Slack's links are <url|text>, and no `<` is left there)
        assert "](https://evil" not in markup or vendor == "slack"
        assert "<b>" not in markup and "<font" not in markup and "<at " not in markup
        assert "<!" not in markup
        assert "`code`" not in markup or vendor == "slack"  # Slack escapes only & < >
        headings = [line for line in markup.split("\n")[1:] if line.lstrip().startswith("#")]
        assert headings == []  # only the title's own line may be a heading
        if vendor in ("slack", "feishu"):  # entities: the characters stay readable
            assert "<" not in markup and ">" not in markup


def markup_strings(vendor: str, body: dict[str, Any]) -> list[str]:
    """The strings a vendor reads as markup (plain_text and text messages are not)."""
    if vendor == "dingtalk":
        return [body[body["msgtype"]]["text"]]
    if vendor == "wecom":
        return [body["markdown"]["content"]] if body["msgtype"] == "markdown" else []
    if vendor == "feishu":
        return [
            t["content"] for element in body["card"]["elements"]
            for t in [element.get("text") or {}, *[f["text"] for f in element.get("fields", [])]]
            if t.get("tag") == "lark_md"
        ]
    return [
        t["text"] for block in body["blocks"]
        for t in [block.get("text") or {}, *block.get("fields", [])] if t.get("type") == "mrkdwn"
    ]


@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("options", ["", "at=13800000000,user01"], ids=["plain", "mentions"])
def test_each_vendors_length_limits_hold_and_keep_the_link(vendor: str, options: str) -> None:
    message = hostile_message(vendor, MB_TITLE)
    message = replace(message, body="\n".join(["x" * 300] * 200) + "\n" + message.url)
    body = payload(vendor, message, options)
    assert schema_problems(vendor, body) == []  # Slack's block limits are in its schema
    size = len(json.dumps(body, ensure_ascii=False).encode("utf-8"))
    if vendor == "dingtalk":
        assert size <= 20000
    elif vendor == "feishu":
        assert size <= 20 * 1024
    elif vendor == "wecom" and body["msgtype"] == "text":  # a mobile mention: text
        assert len(body["text"]["content"].encode("utf-8")) <= 2048
    elif vendor == "wecom":
        assert len(body["markdown"]["content"].encode("utf-8")) <= 4096
        everyone = payload(vendor, message, "at_all=yes")
        assert len(everyone["text"]["content"].encode("utf-8")) <= 2048
        assert everyone["text"]["content"].endswith(message.url)
    assert "\u2026" in json.dumps(body, ensure_ascii=False)  # trimmed visibly
    assert "https://github.com/org/repo/issues/7" in json.dumps(body)
    if options:  # the mentions survive the trimming
        assert "13800000000" in json.dumps(body) and "user01" in json.dumps(body)


@pytest.mark.parametrize("vendor", VENDORS)
def test_a_one_line_message_without_link_or_fields_is_still_a_valid_message(vendor: str) -> None:
    """An operator's template may render one line, and a notice has no event: still valid."""
    message = Message(subject="", body="[MRT] source github:org/repo is failing")
    body = payload(vendor, message)
    assert schema_problems(vendor, body) == []
    assert "source github:org/repo is failing" in json.dumps(body)

