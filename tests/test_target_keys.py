"""Targets keyed without Apprise (mrt.delivery.target_urls) carry exactly the key, former keys,
URL, kind and secrets that Apprise's reading of the same URL gives: outbox rows written by an
earlier version still find their target. Apprise is used here, in the test only, as the
reference."""

from __future__ import annotations

import pytest

from mrt.delivery.apprise_channel import apprise_target
from mrt.delivery.target_urls import build_target, parse_json, vendor_privacy_url
from mrt.delivery.welink_robot import is_welink_webhook, parse_welink, webhook_to_welink_url
from mrt.errors import ConfigError

READ_WITHOUT_APPRISE = [
    "json://127.0.0.1:8080/hook",
    "json://example.com/a/b",
    "jsons://example.com:443/a/c",
    "json://example.com:80/x",
    "jsons://hooks.example.org:8443/v1/alerts/",
    "json://user:pa55word@host.example:9000/p?+X-Token=abc&-q=1&:sound=ding",
    "json://user@host/p",
    "jsons://Host.Example.COM/Path/",
    "json://host/p?+Authorization=Bearer%20xyz&:message=text&:title=",
    "json://host/p?-ts=2026&+X-Api-Key=k3y-value-0123456789",
    "json://host",
    "json://host/",
    "json://host/abcdefghijklmnopqrstu/v",
    "json://10.0.0.7:9000/abcdefghijklmnopqrstuvwxyz0123456789",
    "welink://TOKEN1234567890",
    "welink://tok@127.0.0.1:9000/api/werobot/v1/webhook/send?secure=no",
    "welink://tok@127.0.0.1:9000/?secure=no",
    "welink://tok@proxy.example:8443/robot/send",
    "welink://tok?at=u1,u2&at_all=yes",
    "welink://tok?at=u1&is_at=no&channel=other",
    "welink://Ab-cd_ef.0123456789abcdef?channel=standard&is_at=yes&at=w00123456",
    "welink://abcdefghijklmnop?at_all=no&secure=yes",
    "https://open.welink.huaweicloud.com/api/werobot/v1/webhook/send?token=abcdefgh12345678&channel=standard",
    "http://127.0.0.1:8999/api/werobot/v1/webhook/send?token=xyz&channel=standard",
    "https://open.welink.huaweicloud.com/api/werobot/v1/webhook/send?token=t0k3n0123456789abc&channel=group",
    "dingtalk://abcdef0123456789",
    "dingtalk://abcdef0123456789/",
    "dingtalk://SEC0123456789@abcdef0123456789/?at=u1,u2",
    "dingtalk://abcdef0123456789/?at=u1&at_all=yes",
    "feishu://tok_0123456789-abcdef",
    "feishu://tok0123456789abcdef/?at_all=yes",
    "lark://tok-0123456789abcdef/?at=ou_1",
    "wecombot://key-0123-4567-89ab",
    "wecombot://key_0123-4567-89ab?at=u1",
]

# Options only Apprise reads, or shapes we leave to it: keyed by Apprise, as before.
LEFT_TO_APPRISE = [
    "json://host/p?method=PUT",
    "jsons://host/p?verify=no",
    "json://host/p?tz=UTC",
    "json://us%40er:p%3Ass@host/p",
    "json://[::1]:8080/p",
    "json://host/a%20b",
    "welink://tok?verify=no",
    "welink://tok?cto=5",
    "welink://to%2Bk",
    "dingtalk://SEC0123456789@abcdef0123456789/13800000000/13900000000",
    "dingtalk://abcdef0123456789/?secret=abc0123&to=13800000000",
    "dingtalk://abc_def",
    "feishu://tok?token=other0123",
    "wecombot://key?mode=x",
]


def _as_apprise_keys_it(url: str, secrets: list[str]) -> object:
    return apprise_target("hook", url, secrets, max_length=None, min_interval_seconds=2.0)


@pytest.mark.parametrize("url", READ_WITHOUT_APPRISE)
def test_key_is_apprises_for_urls_read_without_apprise(url: str) -> None:
    welink = webhook_to_welink_url(url) if is_welink_webhook(url) else url
    assert any(read(welink) is not None  # our path
               for read in (parse_welink, parse_json, vendor_privacy_url))
    for secrets in ([], [url]):
        ours = build_target("hook", url, secrets, min_interval_seconds=2.0)
        assert ours == _as_apprise_keys_it(url, secrets)


@pytest.mark.parametrize("url", LEFT_TO_APPRISE)
def test_other_forms_are_left_to_apprise(url: str) -> None:
    assert parse_welink(url) is None and parse_json(url) is None
    assert vendor_privacy_url(url) is None
    try:
        ours = build_target("hook", url, [], min_interval_seconds=2.0)
    except ConfigError as exc:  # what Apprise refuses is refused in its words
        with pytest.raises(ConfigError) as theirs:
            _as_apprise_keys_it(url, [])
        assert str(exc) == str(theirs.value)
    else:
        assert ours == _as_apprise_keys_it(url, [])


@pytest.mark.parametrize("url", [u for u in READ_WITHOUT_APPRISE if u.startswith("json")])
def test_json_hook_is_read_as_apprise_reads_it(url: str) -> None:
    """What our sender posts to (endpoint, headers, query, payload edits, basic auth) is what
    Apprise's JSON plugin would have posted to."""
    from apprise import Apprise, AppriseAsset

    plugin = Apprise.instantiate(url, asset=AppriseAsset(storage_mode="memory"))
    hook = parse_json(url)
    assert hook is not None
    port = f":{plugin.port}" if isinstance(plugin.port, int) else ""
    scheme = "https" if plugin.secure else "http"
    assert hook.endpoint == f"{scheme}://{plugin.host}{port}{plugin.fullpath or ''}"
    assert (hook.headers, hook.params, hook.extras) == (
        plugin.headers, plugin.params, plugin.payload_extras)
    assert (hook.user, hook.password) == (plugin.user, plugin.password)


@pytest.mark.parametrize("url", [u for u in READ_WITHOUT_APPRISE if u.startswith("welink")])
def test_welink_robot_is_read_as_apprises_plugin_reads_it(url: str) -> None:
    from apprise import Apprise, AppriseAsset

    from mrt.delivery.welink import register_welink

    register_welink()
    plugin = Apprise.instantiate(url, asset=AppriseAsset(storage_mode="memory"))
    robot = parse_welink(url)
    assert robot is not None
    assert (robot.endpoint, robot.token, robot.channel, list(robot.at_accounts),
            robot.is_at, robot.at_all) == (plugin.endpoint, plugin.token, plugin.channel,
                                           plugin.at_accounts, plugin.is_at, plugin.at_all)


def test_a_refused_json_post_is_worded_as_apprise_words_it() -> None:
    from apprise.plugins.custom_json import NotifyJSON

    from mrt.delivery.webhook import APPRISE_HTTP_WORDS

    for status in (*range(100, 600), 999):
        assert APPRISE_HTTP_WORDS.get(status, "") == NotifyJSON.http_response_code_lookup(status)
