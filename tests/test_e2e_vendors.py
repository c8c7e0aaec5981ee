"""Issue 16 end to end: a config with a DingTalk, a Feishu, a WeCom and a Slack channel, checked by
`mrt check` and run by the real `mrt-worker --once` against loopback robots: each robot gets its
card for a new pull request, and when the PR is merged Slack's reply lands in the first
message's thread, and so does a Feishu app bot's."""

from __future__ import annotations

import json
from pathlib import Path

from pytest_httpserver import HTTPServer
from test_e2e_support import Product, Upstreams, product_env
from vendor_support import (
    FEISHU_APP_SECRET,
    SECRET,
    SLACK_BOT,
    TOKEN,
    FakeFeishuBot,
    feishu_bot_url,
    install,
    loopback_url,
    stored,
)

CHANNELS = {"ding": "dingtalk", "fei": "feishu", "we": "wecom", "sl": "slack"}


def vendor_config(tmp_path: Path, server: HTTPServer) -> Path:
    lines = [
        "version = 1",
        "[sources.github]",
        'repos = ["sgl-project/sglang"]',
        'token_env = "GITHUB_TOKEN"',
        f'base_url = "{server.url_for("/").rstrip("/")}"',
        "[state]",
        f'sqlite_path = "{tmp_path / "mrt.sqlite3"}"',
        "[delivery]",
        "min_interval_seconds = 0",
    ]
    for name, vendor in CHANNELS.items():
        url = loopback_url(server, vendor)
        for var, value in (("ROBOT_TOKEN", TOKEN), ("ROBOT_SECRET", SECRET),
                           ("SLACK_BOT_TOKEN", SLACK_BOT)):
            url = url.replace(value, "${" + var + "}")
        lines += [f"[channels.{name}]", f'type = "{vendor}"', f"urls = [{json.dumps(url)}]"]
    app = feishu_bot_url(server).replace(FEISHU_APP_SECRET, "${FEISHU_APP_SECRET}")
    lines += ["[channels.feibot]", 'type = "feishu"', f"urls = [{json.dumps(app)}]"]
    lines += [
        "[[rules]]",
        'name = "pulls"',
        'when = { event_type = ["pr_opened", "pr_merged"] }',
        f"notify = {{ channels = {json.dumps([*CHANNELS, 'feibot'])} }}",
    ]
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_worker_sends_each_vendors_card_and_slack_threads_the_follow_up(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    robots = {vendor: install(httpserver, vendor) for vendor in CHANNELS.values()}
    app_bot = FakeFeishuBot()
    app_bot.install(httpserver)
    up = Upstreams(httpserver)
    config = vendor_config(tmp_path, httpserver)
    env = product_env(tmp_path / "home", httpserver)
    env.update({"ROBOT_TOKEN": TOKEN, "ROBOT_SECRET": SECRET, "SLACK_BOT_TOKEN": SLACK_BOT,
                "FEISHU_APP_SECRET": FEISHU_APP_SECRET})
    product = Product(config, env)

    checked = product.mrt("check", "--config", str(config)).stdout
    assert "check: ready" in checked and "channels.sl: slack target parses (" in checked
    assert all(secret not in checked for secret in (TOKEN, SECRET, SLACK_BOT, FEISHU_APP_SECRET))
    product.worker_once()  # the baseline: nothing sent
    assert all(robot.calls == [] for robot in robots.values())

    up.open_issue("sgl-project/sglang", 40002, "[Model] Qwen3-Next support", pr=True)
    product.worker_once()
    for vendor, robot in robots.items():
        assert robot.problems == [], vendor
        assert len(robot.calls) == 1, vendor
        assert "Qwen3-Next support" in robot.texts()[0], vendor
    assert robots["feishu"].calls[0].body["card"]["header"]["title"]["content"].startswith("[MRT]")
    assert robots["dingtalk"].calls[0].body["msgtype"] == "actionCard"
    assert robots["wecom"].calls[0].body["msgtype"] == "markdown"
    first_slack = robots["slack"].calls[0].body
    assert first_slack["blocks"][0]["type"] == "header" and "thread_ts" not in first_slack

    up.close_issue("sgl-project/sglang", 40002, merged=True)
    product.worker_once()
    assert all(len(robot.calls) == 2 for robot in robots.values())
    assert robots["slack"].calls[1].body["thread_ts"] == "1700000000.000001"
    assert "thread_ts" not in json.dumps(robots["feishu"].calls[1].body)  # a custom bot: no thread
    assert app_bot.replied_to == ["", "om_0001"] and app_bot.problems == []  # an app bot: a reply
    sent = stored(product, "outbox", "--status", "sent")["deliveries"]
    assert len(sent) == 10 and all(TOKEN not in json.dumps(row) for row in sent)
