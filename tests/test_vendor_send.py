"""Each vendor channel over real loopback HTTP: the robot gets a signed, valid message, its
answer (not just the HTTP status) decides ok / retry / throttle / dead, the vendor's words are
kept with secrets scrubbed, and Slack's Web API threads a follow-up (issue 16)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from types import ModuleType
from typing import Any

import peewee
import pytest
from pytest_httpserver import HTTPServer
from vendor_support import (
    SECRET,
    SLACK_BOT,
    TOKEN,
    FakeVendor,
    install,
    loopback_url,
    sample_event,
    sample_message,
)

from mrt.config import ChannelConfig
from mrt.delivery import channels
from mrt.delivery.vendors import dingtalk, feishu, slack, wecom
from mrt.errors import ConfigError
from mrt.message import Message, SendOutcome, Target
from mrt.store.models import VendorThread

MODULES: dict[str, ModuleType] = {
    "dingtalk": dingtalk, "feishu": feishu, "wecom": wecom, "slack": slack, "slack-hook": slack,
}
ENV = {"ROBOT_TOKEN": TOKEN, "ROBOT_SECRET": SECRET, "SLACK_BOT_TOKEN": SLACK_BOT}


def target_for(server: HTTPServer, vendor: str, **options: str) -> Target:
    """The target of a typed channel whose URL takes its secrets from the environment."""
    url = loopback_url(server, vendor, **options)
    for name, value in ENV.items():
        url = url.replace(value, "${" + name + "}")
    kind = "slack" if vendor.startswith("slack") else vendor
    found = MODULES[vendor].targets("team", ChannelConfig(type=kind, urls=[url]), ENV)
    assert len(found) == 1
    target: Target = found[0]
    return target


def send(target: Target, message: Message | None = None) -> SendOutcome:
    # through the one send the sender calls: the plugin is found by the target's kind
    return asyncio.run(channels.send(target, message or sample_message(), timeout=5.0))


@pytest.mark.parametrize("vendor", list(MODULES))
def test_each_vendor_gets_a_valid_signed_message(httpserver: HTTPServer, vendor: str) -> None:
    fake = install(httpserver, vendor)
    target = target_for(httpserver, vendor)
    assert TOKEN not in target.key and SECRET not in target.key and SLACK_BOT not in target.key
    outcome = send(target)
    assert outcome.ok, outcome
    assert fake.problems == []
    assert len(fake.calls) == 1
    assert "Qwen3-Next support" in fake.texts()[0]
    assert SECRET not in fake.texts()[0]  # the signing secret never travels


def test_an_apprise_url_of_a_vendor_is_sent_by_our_plugin() -> None:
    """`dingtalk://...` in an apprise channel keeps Apprise's target key, and our plugin sends."""
    found = channels.resolve_targets(
        _config({"robots": ChannelConfig(urls=["dingtalk://${ROBOT_SECRET}@${ROBOT_TOKEN}/"])}),
        ENV,
    )["robots"]
    assert found[0].kind == "dingtalk"
    assert channels.plugin_for(found[0]) is dingtalk
    where = dingtalk.endpoint(found[0].url)
    assert where.url == dingtalk.API and where.params == {"access_token": TOKEN}
    assert where.secret == SECRET


def _config(chans: dict[str, ChannelConfig]) -> Any:
    from mrt.config import Config

    return Config(channels=chans)


# (vendor, HTTP status, answer, headers) -> (ok, retryable, throttled, retry_after, code, words)
ANSWERS = [
    ("dingtalk", 200, {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"},
     {}, (False, True, True, 600.0, "130101", "send too fast")),
    ("dingtalk", 200, {"errcode": 310000, "errmsg": "keywords not in content"},
     {}, (False, False, False, None, "310000", "keywords not in content")),
    ("dingtalk", 200, {"errcode": 300001, "errmsg": f"token {TOKEN} is not exist"},
     {}, (False, False, False, None, "300001", "token *** is not exist")),
    ("dingtalk", 200, {"errcode": 88888, "errmsg": "system busy"},
     {}, (False, True, False, None, "88888", "system busy")),
    ("feishu", 200, {"code": 11232, "msg": "frequency limited psm"},
     {}, (False, True, True, None, "11232", "frequency limited")),
    ("feishu", 400, {"code": 9499, "msg": "too many request"},
     {}, (False, True, True, None, "9499", "too many request")),
    ("feishu", 200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour"},
     {}, (False, False, False, None, "19021", "sign match fail")),
    ("feishu", 200, {"StatusCode": 0, "StatusMessage": "success"},
     {}, (True, False, False, None, "0", "")),
    ("wecom", 200, {"errcode": 45009, "errmsg": "api freq out of limit"},
     {}, (False, True, True, 60.0, "45009", "api freq out of limit")),
    ("wecom", 200, {"errcode": 93000, "errmsg": "invalid webhook url"},
     {}, (False, False, False, None, "93000", "invalid webhook url")),
    ("slack-hook", 429, "rate_limited", {"Retry-After": "30"},
     (False, True, True, 30.0, "rate_limited", "rate_limited")),
    ("slack-hook", 400, "invalid_payload",
     {}, (False, False, False, None, "invalid_payload", "invalid_payload")),
    ("slack-hook", 404, "channel_not_found",
     {}, (False, False, False, None, "channel_not_found", "channel_not_found")),
    ("slack-hook", 503, "service unavailable",
     {}, (False, True, False, None, None, "service unavailable")),
    ("slack", 200, {"ok": False, "error": "ratelimited"},
     {}, (False, True, True, None, "ratelimited", "ratelimited")),
    ("slack", 200, {"ok": False, "error": "channel_not_found"},
     {}, (False, False, False, None, "channel_not_found", "channel_not_found")),
    ("slack", 200, {"ok": False, "error": "internal_error"},
     {}, (False, True, False, None, "internal_error", "internal_error")),
]


@pytest.mark.parametrize(("vendor", "status", "answer", "headers", "expected"), ANSWERS,
                         ids=[f"{a[0]}-{a[1]}-{i}" for i, a in enumerate(ANSWERS)])
def test_the_vendors_answer_decides_the_outcome(
    httpserver: HTTPServer, vendor: str, status: int, answer: Any, headers: dict[str, str],
    expected: tuple[bool, bool, bool, float | None, str | None, str],
) -> None:
    fake = install(httpserver, vendor)
    fake.script.append((status, answer, headers))
    outcome = send(target_for(httpserver, vendor))
    ok, retryable, throttled, retry_after, code, words = expected
    assert (outcome.ok, outcome.throttled, outcome.vendor_code) == (ok, throttled, code)
    if not ok:
        assert outcome.retryable is retryable
        assert outcome.retry_after == retry_after
        assert words in (outcome.message or ""), outcome.message
        assert TOKEN not in (outcome.message or "")


def test_a_robot_that_never_answers_is_retried(httpserver: HTTPServer) -> None:
    target = target_for(httpserver, "wecom")
    httpserver.stop()  # nothing listens there any more
    try:
        outcome = send(target)
    finally:
        httpserver.start()
    assert not outcome.ok and outcome.retryable and outcome.error_class == "ConnectionError"


def test_slack_bot_replies_in_the_first_messages_thread(
    httpserver: HTTPServer, db: peewee.Database
) -> None:
    """A PR alerted when opened and again when merged: the second is a reply in the first's
    thread (its ts kept in the database); another resource starts its own thread."""
    fake = install(httpserver, "slack")
    target = target_for(httpserver, "slack")
    opened = sample_message()
    merged = sample_message(event=sample_event(event_type="pr_merged", id=2))
    other = sample_message(event=sample_event(resource_id="40003", id=3))
    assert send(target, opened).ok and send(target, merged).ok and send(target, other).ok
    assert fake.problems == []
    first, second, third = (c.body for c in fake.calls)
    assert "thread_ts" not in first and "thread_ts" not in third
    assert second["thread_ts"] == "1700000000.000001"  # the first message's ts
    assert VendorThread.select().count() == 2
    assert target.key.endswith("/api/chat.postMessage?channel=C0123&token=***")
    kept = VendorThread.get(VendorThread.message_id == "1700000000.000001")
    assert kept.target_key == target.key and TOKEN not in kept.target_key


def test_slack_webhook_cannot_thread_so_a_follow_up_is_a_new_message(
    httpserver: HTTPServer, db: peewee.Database
) -> None:
    fake = install(httpserver, "slack-hook")
    target = target_for(httpserver, "slack-hook")
    merged = sample_message(event=sample_event(event_type="pr_merged"))
    assert send(target).ok and send(target, merged).ok
    assert all("thread_ts" not in c.body for c in fake.calls)
    assert VendorThread.select().count() == 0


def test_a_failed_first_message_starts_no_thread(
    httpserver: HTTPServer, db: peewee.Database
) -> None:
    fake: FakeVendor = install(httpserver, "slack")
    fake.script.append((200, {"ok": False, "error": "internal_error"}, {}))
    target = target_for(httpserver, "slack")
    assert not send(target).ok
    assert send(target, replace(sample_message(), body="again")).ok
    assert "thread_ts" not in fake.calls[1].body
    assert VendorThread.select().count() == 1


def test_feishu_app_bot_replies_in_the_first_messages_thread(
    httpserver: HTTPServer, db: peewee.Database
) -> None:
    from vendor_support import FEISHU_APP_SECRET, FakeFeishuBot, feishu_bot_url

    fake = FakeFeishuBot()
    fake.install(httpserver)
    url = feishu_bot_url(httpserver).replace(FEISHU_APP_SECRET, "${FEISHU_APP_SECRET}")
    target, = feishu.targets("team", ChannelConfig(type="feishu", urls=[url]),
                             {"FEISHU_APP_SECRET": FEISHU_APP_SECRET})
    assert FEISHU_APP_SECRET not in target.key
    opened = sample_message()
    merged = sample_message(event=sample_event(event_type="pr_merged", id=2))
    assert send(target, opened).ok and send(target, merged).ok
    assert fake.problems == []
    assert fake.replied_to == ["", "om_0001"]  # the second replies to the first
    assert fake.sent[1].body["reply_in_thread"] is True
    assert fake.tokens_issued == 1  # the tenant token is kept between sends


def test_feishu_app_bot_with_a_wrong_secret_is_dead_in_feishus_words(
    httpserver: HTTPServer,
) -> None:
    from vendor_support import FEISHU_APP_SECRET, FakeFeishuBot, feishu_bot_url

    FakeFeishuBot().install(httpserver)
    url = feishu_bot_url(httpserver).replace(FEISHU_APP_SECRET, "${FEISHU_APP_SECRET}")
    target, = feishu.targets("team", ChannelConfig(type="feishu", urls=[url]),
                             {"FEISHU_APP_SECRET": "wrong-secret-value"})
    outcome = send(target)
    assert not outcome.ok and not outcome.retryable and outcome.vendor_code == "10014"
    assert "app secret invalid" in (outcome.message or "")
    assert "wrong-secret-value" not in (outcome.message or "")


def test_a_bad_mention_in_an_apprise_url_is_caught_by_check_and_never_retried(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """`dingtalk://...?at=<!here>` in an apprise channel: Apprise parses it, our plugin refuses
    the mention: `mrt check` says so, and a send is dead at once (not retried) in those words."""
    from mrt.cli import main

    config = tmp_path / "config.toml"
    config.write_text(
        '[channels.robots]\nurls = ["dingtalk://${ROBOT_TOKEN}/?at=<!here>"]\n'
        f'[state]\nsqlite_path = "{tmp_path / "mrt.sqlite3"}"\n', encoding="utf-8")
    env = {"ROBOT_TOKEN": TOKEN, "HOME": str(tmp_path)}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        code = main(["check", "--config", str(config)])
    out = capsys.readouterr().out
    assert code == 2 and "mention '<!here>' is not a user id" in out and TOKEN not in out

    target, = channels.resolve_targets(
        _config({"robots": ChannelConfig(urls=["dingtalk://${ROBOT_TOKEN}/?at=<!here>"])}), ENV,
    )["robots"]
    outcome = send(target)
    assert not outcome.ok and not outcome.retryable and outcome.error_class == "ConfigError"
    assert "is not a user id" in (outcome.message or "") and TOKEN not in (outcome.message or "")


@pytest.mark.parametrize("url", [
    f"dingtalk://{SECRET}@${{ROBOT_TOKEN}}/",
    f"https://oapi.dingtalk.com/robot/send?access_token=${{ROBOT_TOKEN}}&secret={SECRET}",
    f"feishu://${{ROBOT_TOKEN}}/?secret={SECRET}",
    "https://open.feishu.cn/open-apis/im/v1/messages?receive_id=oc_1&app_id=cli_1"
    f"&app_secret={SECRET}",
])
def test_a_signing_secret_written_in_the_file_is_refused(url: str) -> None:
    kind = "dingtalk" if "dingtalk" in url else "feishu"
    module = dingtalk if kind == "dingtalk" else feishu
    with pytest.raises(ConfigError, match="signing secret is written in the file") as caught:
        module.targets("team", ChannelConfig(type=kind, urls=[url]), ENV)
    assert SECRET not in str(caught.value)


def test_forms_only_apprise_sends_stay_with_apprise() -> None:
    """A Slack workflow URL keeps Apprise's meaning: our plugin hands it to Apprise."""
    assert slack.endpoint("slack://T1/B2/C3?mode=workflow") is None
    assert slack.endpoint("slack://T1/B2/C3") is not None
