"""`mrt notify test` and `mrt check --send-test` (issue 16), run as the user runs them, against
loopback fakes of every channel kind: WeLink, a JSON webhook, email (aiosmtpd, STARTTLS and
AUTH), DingTalk, Feishu, WeCom and Slack. A test goes through the real path (a "test" alert,
outbox rows, attempts) and the far side's own words are printed, secrets removed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from test_delivery_welink import TOKEN as WELINK_TOKEN
from test_e2e_support import (
    SMTP_PASSWORD,
    Product,
    SmtpSink,
    install_robot,
    product_env,
    robot_texts,
    smtp_sink,
)
from vendor_support import SECRET, SLACK_BOT, TOKEN, install, loopback_url, stored
from werkzeug import Request, Response

__all__ = ["smtp_sink"]  # the fixture, used by name below

VENDORS = {"ding": "dingtalk", "fei": "feishu", "we": "wecom", "sl": "slack"}
SECRET_ENV = {"ROBOT_TOKEN": TOKEN, "ROBOT_SECRET": SECRET, "SLACK_BOT_TOKEN": SLACK_BOT}


class JsonHook:
    def __init__(self) -> None:
        self.bodies: list[Any] = []

    def handle(self, request: Request) -> Response:
        self.bodies.append(json.loads(request.get_data()))
        return Response("{}", content_type="application/json")


def notify_config(tmp_path: Path, server: HTTPServer, smtp: SmtpSink) -> Path:
    port = server.port
    lines = [
        "version = 1",
        "[sources.github]",
        'repos = ["sgl-project/sglang"]',
        f'base_url = "{server.url_for("/").rstrip("/")}"',
        "[state]",
        f'sqlite_path = "{tmp_path / "mrt.sqlite3"}"',
        "[channels.team-welink]",
        'url_env = ["WELINK_WEBHOOK_URL"]',
        "[channels.hook]",
        f'urls = ["json://127.0.0.1:{port}/hook"]',
        "[notify.email]",
        'smtp_host = "127.0.0.1"',
        f"smtp_port = {smtp.port}",
        'user_env = "MRT_SMTP_USER"',
        'password_env = "MRT_SMTP_PASSWORD"',
        'to_list = ["oncall@example.org"]',
        "use_tls = true",
    ]
    for name, vendor in VENDORS.items():
        url = loopback_url(server, vendor)
        for var, value in SECRET_ENV.items():
            url = url.replace(value, "${" + var + "}")
        lines += [f"[channels.{name}]", f'type = "{vendor}"', f"urls = [{json.dumps(url)}]"]
    path = tmp_path / "config.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def product_for(tmp_path: Path, server: HTTPServer, smtp: SmtpSink) -> Product:
    env = product_env(tmp_path / "home", server, smtp)
    env.update(SECRET_ENV)
    return Product(notify_config(tmp_path, server, smtp), env)


def test_notify_test_all_reaches_every_channel_kind_through_the_outbox(
    tmp_path: Path, httpserver: HTTPServer, smtp_sink: SmtpSink
) -> None:
    robots = {vendor: install(httpserver, vendor) for vendor in VENDORS.values()}
    welink, _ = install_robot(httpserver)
    hook = JsonHook()
    httpserver.expect_request("/hook", method="POST").respond_with_handler(hook.handle)
    product = product_for(tmp_path, httpserver, smtp_sink)

    done = product.mrt("notify", "test", "--all", "--config", str(product.config))
    out = done.stdout
    assert "notify test: 7 sent, 0 failed" in out, out
    for name in ("team-welink", "hook", "email", *VENDORS):
        assert any(line.startswith("sent ") and f" {name} " in line for line in out.splitlines())
    assert "code 0: ok" in out  # DingTalk's and WeCom's own words
    assert "code 0: success" in out  # Feishu's
    for secret in (TOKEN, SECRET, SLACK_BOT, WELINK_TOKEN, SMTP_PASSWORD):
        assert secret not in out + done.stderr

    for vendor, robot in robots.items():
        assert robot.problems == [] and len(robot.calls) == 1, vendor
        assert "[MRT TEST]" in robot.texts()[0] and "mrt notify test" in robot.texts()[0]
    assert "[MRT TEST]" in robot_texts(welink)[0] and welink.problems == []
    assert "[MRT TEST]" in json.dumps(hook.bodies)
    (rcpts, mail), = smtp_sink.mailbox.messages
    assert rcpts == ["oncall@example.org"] and mail.get_content_type() == "multipart/alternative"
    assert "[MRT TEST]" in mail.get_body(preferencelist=("plain",)).get_content()
    assert "<h3>[MRT TEST]" in mail.get_body(preferencelist=("html",)).get_content()

    rows = stored(product, "outbox", "--status", "sent")["deliveries"]
    assert len(rows) == 7 and len({r["alert_id"] for r in rows}) == 1
    trace = stored(product, "trace", str(rows[0]["alert_id"]))
    assert [a["kind"] for a in trace["alerts"]] == ["test"]
    assert len(trace["alerts"][0]["deliveries"]) == 7


def test_a_refusal_is_reported_in_the_vendors_words_and_exits_1(
    tmp_path: Path, httpserver: HTTPServer, smtp_sink: SmtpSink
) -> None:
    ding = install(httpserver, "dingtalk")
    ding.script.append((200, {"errcode": 310000, "errmsg": "keywords not in content"}, {}))
    slack = install(httpserver, "slack")
    slack.script.append((200, {"ok": False, "error": "channel_not_found"}, {}))
    fei = install(httpserver, "feishu")
    product = product_for(tmp_path, httpserver, smtp_sink)

    done = product.mrt("notify", "test", "ding", "sl", "fei", "--config", str(product.config),
                       expect=1)
    lines = done.stdout.splitlines()
    assert any(line.startswith("FAIL") and "keywords not in content" in line for line in lines)
    assert any(line.startswith("FAIL") and "channel_not_found" in line for line in lines)
    assert any(line.startswith("sent") and " fei " in line for line in lines)
    assert "notify test: 1 sent, 2 failed" in done.stdout
    assert TOKEN not in done.stdout and SLACK_BOT not in done.stdout
    assert len(fei.calls) == 1

    dead = stored(product, "outbox", "--status", "dead")["deliveries"]
    assert {r["channel"] for r in dead} == {"ding", "sl"}  # a test is not retried later
    assert any("keywords not in content" in json.dumps(r) for r in dead)

    as_json = json.loads(product.mrt("notify", "test", "ding", "--json", "--config",
                                     str(product.config), expect=0).stdout)
    assert as_json["sent"] == 1 and as_json["results"][0]["said"] == "ok"


def test_check_send_test_is_the_shortcut(
    tmp_path: Path, httpserver: HTTPServer, smtp_sink: SmtpSink
) -> None:
    for vendor in VENDORS.values():
        install(httpserver, vendor)
    install_robot(httpserver)
    httpserver.expect_request("/hook", method="POST").respond_with_handler(JsonHook().handle)
    product = product_for(tmp_path, httpserver, smtp_sink)
    done = product.mrt("check", "--send-test", "--config", str(product.config))
    assert "check: ready" in done.stdout and "notify test: 7 sent, 0 failed" in done.stdout


def test_notify_test_refuses_what_it_cannot_do(
    tmp_path: Path, httpserver: HTTPServer, smtp_sink: SmtpSink,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mrt.cli import main

    product = product_for(tmp_path, httpserver, smtp_sink)
    config = str(product.config)
    for name, value in product.env.items():
        monkeypatch.setenv(name, value)
    assert main(["notify", "test", "--config", config]) == 2
    assert "name one or more channels, or --all" in capsys.readouterr().err
    assert main(["notify", "test", "nope", "--config", config]) == 2
    assert "no channel named 'nope' (configured: " in capsys.readouterr().err
    monkeypatch.delenv("ROBOT_SECRET")
    assert main(["notify", "test", "ding", "--config", config]) == 2
    err = capsys.readouterr().err
    assert "ROBOT_SECRET" in err and "Traceback" not in err


def test_welink_and_email_refusals_are_reported_in_their_own_words(
    tmp_path: Path, httpserver: HTTPServer, smtp_sink: SmtpSink
) -> None:
    _, script = install_robot(httpserver)
    script.always = True
    script.failure = lambda: Response(
        json.dumps({"code": "58404", "data": "", "message": "robot not found"}),
        content_type="application/json")
    product = product_for(tmp_path, httpserver, smtp_sink)
    product.env["MRT_SMTP_PASSWORD"] = "not-the-password"

    done = product.mrt("notify", "test", "team-welink", "email", "--config",
                       str(product.config), expect=1)
    lines = done.stdout.splitlines()
    welink = next(line for line in lines if " team-welink " in line)
    mail = next(line for line in lines if " email " in line)
    assert welink.startswith("FAIL") and "58404" in welink and "robot not found" in welink
    assert mail.startswith("FAIL") and "535" in mail  # the SMTP server's refusal
    assert "not-the-password" not in done.stdout and WELINK_TOKEN not in done.stdout
    assert smtp_sink.mailbox.messages == []


def test_json_output_stays_one_document_when_a_console_channel_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from mrt.cli import main

    config = tmp_path / "config.toml"
    config.write_text(f'[channels.term]\ntype = "console"\n[state]\n'
                      f'sqlite_path = "{tmp_path / "mrt.sqlite3"}"\n', encoding="utf-8")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["notify", "test", "--all", "--json", "--config", str(config)]) == 0
    out, err = capsys.readouterr()
    data = json.loads(out)  # exactly one document
    assert data["sent"] == 1 and data["results"][0]["channel"] == "term"
    assert "[MRT TEST] Test message for channel term" in err  # the console channel's output
    assert main(["trace", str(data["results"][0]["alert_id"]), "--config", str(config)]) == 0
    assert "(no event: a test message sent by `mrt notify test`)" in capsys.readouterr().out
