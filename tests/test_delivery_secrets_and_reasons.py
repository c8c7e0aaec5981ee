"""Secrets in debug logs, masked targets, and the reasons recorded for a failed attempt
(issue 19 items 7 and 10), through the installed `mrt-worker` and `mrt` as a user runs them.

- A worker run at `--log-level debug` delivering to a loopback WeLink robot and an Apprise
  json:// webhook (user:password, a token in the path, a key in the query): urllib3, apprise
  and peewee all log at that level, and no secret part may appear anywhere in the log.
- A real aiosmtpd server that refuses the recipient with 550: the attempt's reason is the
  server's own words, shown by `mrt outbox` and `mrt trace`.
- A bad `welink://` URL: the error keeps the scheme readable.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import peewee
import pytest
from aiosmtpd.controller import Controller
from pytest_httpserver import HTTPServer
from test_delivery_email import free_port
from test_delivery_welink import TOKEN, v0_target
from test_e2e_support import (
    Product,
    Upstreams,
    install_robot,
    installed_tool,
    loopback_config,
    product_env,
)
from test_outbox_support import T0, config, enqueue_alerts

from mrt.delivery.sender import Sender
from mrt.store.models import Outbox
from worker.assembly import send

HOOK_USER = "hookuser"
HOOK_PASSWORD = "hookPASS-secret-77"
HOOK_TOKEN = "HOOKTOKEN-path-0123456789"
HOOK_KEY = "apikeyVALUE-9911"
SECRETS = (TOKEN, HOOK_PASSWORD, HOOK_TOKEN, HOOK_KEY, "ghp_e2e_fake_token", "hf_e2e_fake_token")


def worker_debug(product: Product) -> str:
    assert product.config is not None
    done = product._run(
        [
            installed_tool("mrt-worker"),
            "--config",
            str(product.config),
            "--once",
            "--log-level",
            "debug",
        ]
    )
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_a_debug_run_logs_no_part_of_any_secret(tmp_path: Path, httpserver: HTTPServer) -> None:
    up = Upstreams(httpserver)
    robot, _ = install_robot(httpserver)
    httpserver.expect_request(f"/hook/{HOOK_TOKEN}", method="POST").respond_with_data("ok")
    hook = (
        f"json://{HOOK_USER}:${{HOOK_PASSWORD}}@127.0.0.1:{httpserver.port}/hook/${{HOOK_TOKEN}}"
        "?-X-Api-Key=${HOOK_KEY}"
    )
    config = loopback_config(tmp_path, httpserver, extra={"channels": {"hook": {"urls": [hook]}}})
    env = product_env(tmp_path / "home", httpserver)
    env.update(HOOK_PASSWORD=HOOK_PASSWORD, HOOK_TOKEN=HOOK_TOKEN, HOOK_KEY=HOOK_KEY)
    product = Product(config, env)

    logs = worker_debug(product)
    up.open_issue("vllm-project/vllm", 40001, "Support DeepSeek-V3.2 sparse attention")
    logs += worker_debug(product)

    # both targets were really sent to, and the libraries really logged their requests
    assert len(robot.received) == 1
    assert [r.path for r, _ in httpserver.log if r.path.startswith("/hook/")] == [
        f"/hook/{HOOK_TOKEN}"
    ]
    # WeLink and JSON webhooks go through our pooled httpx client (mrt.delivery.webhook): its
    # transport logged both POSTs at DEBUG, and nothing of a secret
    assert logs.count("httpcore.http11: send_request_headers.started request=<Request [b'POST']>") >= 2
    for secret in SECRETS:
        assert secret not in logs, [line for line in logs.splitlines() if secret in line][:3]
    # masked targets show nothing of a token, not its first and last characters
    assert f"welink://{TOKEN[0]}...{TOKEN[-1]}" not in logs
    assert "delivered to welink welink://***@" in logs


class Refusing:
    """An SMTP server that refuses every recipient, as a real one does for an unknown user."""

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown in relay"


@pytest.fixture
def refusing_smtp() -> Iterator[int]:
    port = free_port()
    controller = Controller(Refusing(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def test_an_smtp_refusal_is_the_attempts_reason_in_outbox_and_trace(
    tmp_path: Path, httpserver: HTTPServer, refusing_smtp: int
) -> None:
    up = Upstreams(httpserver)
    install_robot(httpserver)
    config = loopback_config(tmp_path, httpserver)
    data = json.loads(config.read_text(encoding="utf-8"))
    data["notify"]["email"] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": refusing_smtp,
        "to_list": ["nobody@example.org"],
        "from_addr": "mrt@example.org",
        "use_tls": False,
    }
    config.write_text(json.dumps(data), encoding="utf-8")
    product = Product(config, product_env(tmp_path / "home", httpserver))

    product.worker_once()
    up.open_issue("vllm-project/vllm", 40001, "Support DeepSeek-V3.2 sparse attention")
    refused = product.worker_once(expect=4)  # the email is retrying: the run says so
    assert "NOT ALL DELIVERED: 1 sent, 1 retrying, 0 dead" in refused.stdout

    reason = (
        "SMTP 550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in relay"
    )
    (row,) = product.outbox("--channel", "email")
    assert row["status"] == "retrying"
    assert reason in json.dumps(row), row
    table = product.mrt("outbox", "--config", str(config), "--channel", "email").stdout
    assert "Refused: SMTP 550 5.1.1 <nobody@" in table  # the table cuts long reasons

    trace = product.trace(row["fingerprint"])
    (delivery,) = [d for a in trace["alerts"] for d in a["deliveries"] if d["channel"] == "email"]
    (attempt,) = delivery["attempt_log"]
    assert reason in json.dumps(attempt), attempt
    text = product.mrt("trace", row["fingerprint"], "--config", str(config)).stdout
    assert reason in text


def test_a_bad_welink_url_error_keeps_the_scheme(tmp_path: Path, httpserver: HTTPServer) -> None:
    config = loopback_config(
        tmp_path, httpserver, extra={"channels": {"robot": {"urls": ["welink://"]}}}
    )
    product = Product(config, product_env(tmp_path / "home", httpserver))
    done = product.worker_once(expect=2)
    assert "channels.robot: welink:// URL rejected by Apprise: welink:// needs a token" in (
        done.stderr
    ), done.stderr
    assert "***" not in done.stderr


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("welink://@proxy.example.org", "welink:// needs a token"),
        ("welink://:secret-here@proxy.example.org", "welink:// needs a token"),
        (
            "welink://tok-0123456789@proxy.example.org:99999/send",
            "welink://TOKEN@proxy.example.org:99999: the endpoint is not a valid host[:port]",
        ),
        (
            "welink://tok-0123456789@:8080",
            "welink://TOKEN@:8080: the endpoint is not a valid host[:port]",
        ),
    ],
)
def test_a_bad_welink_url_is_refused_at_start_naming_what_is_wrong(
    url: str, problem: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import worker.main

    path = tmp_path / "c.json"
    data = {
        "state": {"sqlite_path": str(tmp_path / "mrt.sqlite3")},
        "channels": {"robot": {"urls": [url]}},
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    assert worker.main.main(["--config", str(path), "--once"]) == 2
    err = capsys.readouterr().err
    assert f"channels.robot: welink:// URL rejected by Apprise: {problem}" in err, err
    assert "tok-0123456789" not in err and "secret-here" not in err


def test_a_row_queued_under_a_targets_former_key_is_still_delivered(
    db: peewee.Database, httpserver: HTTPServer
) -> None:
    # Keys used to show a token's first and last characters; rows queued by that version
    # carry the old key, and an upgrade must not leave them to die as "target gone".
    robot, _ = install_robot(httpserver)
    target = v0_target(httpserver)
    (former,) = target.previous_keys
    assert former.startswith(f"welink://{TOKEN[0]}...{TOKEN[-1]}@") and target.key.startswith(
        "welink://***@"
    )
    [row_id] = enqueue_alerts(T0, [replace(target, key=former)])
    sender = Sender(
        config(min_interval_seconds=0), {"welink": [target]}, send, owner="t", rng=random.Random(1)
    )

    report = asyncio.run(sender.run_once(T0))

    assert report.sent == 1 and len(robot.received) == 1
    assert Outbox.get_by_id(row_id).status == "sent"


def test_the_log_scrubs_url_parts_in_tracebacks_and_keeps_its_level() -> None:
    import io
    import logging

    from mrt.logs import configure_logging

    out = io.StringIO()
    webhook = f"https://open.welink.huaweicloud.com/api/werobot/v1/webhook/send?token={TOKEN}"
    configure_logging("json", "info", secrets=[webhook], stream=out)
    try:
        logging.getLogger("apprise").setLevel(logging.DEBUG)  # as a send does (apprise_detail)
        logging.getLogger("apprise").debug("below the level: %s", TOKEN)
        try:
            raise ConnectionError(f"Max retries exceeded with url: /send?token={TOKEN}")
        except ConnectionError:
            logging.getLogger("urllib3.connectionpool").exception("POST to %s failed", webhook)
        logging.getLogger("somelib").warning("bad format %d", TOKEN)  # never raises, scrubbed
    finally:
        logging.getLogger("apprise").setLevel(logging.NOTSET)
        configure_logging("text", "warning")
    line, bad = [json.loads(text) for text in out.getvalue().splitlines()]
    assert bad["msg"] == "bad format %d ('***',)"
    assert TOKEN not in out.getvalue()
    assert line["msg"] == (
        "POST to https://open.welink.huaweicloud.com/api/werobot/v1/webhook/send?token=*** failed"
    )
    assert line["exc"].endswith("Max retries exceeded with url: /send?token=***")


def test_a_reload_teaches_the_log_the_new_configs_secrets(tmp_path: Path) -> None:
    import io
    import logging

    from test_source_support import FakeClock, make_pool

    from mrt.logs import configure_logging
    from worker.assembly import Runtime, build_runtime, reload

    path = tmp_path / "c.json"
    data: dict[str, Any] = {
        "state": {"sqlite_path": str(tmp_path / "mrt.sqlite3")},
        "channels": {"ops": {"type": "console"}},
    }
    path.write_text(json.dumps(data), encoding="utf-8")
    env = {"HOOK_TOKEN": HOOK_TOKEN}

    async def build() -> Runtime:
        return await build_runtime(str(path), env=env, pool=make_pool(FakeClock()))

    rt = asyncio.run(build())
    out = io.StringIO()
    try:
        configure_logging("text", "info", secrets=[], stream=out)
        data["channels"]["hook"] = {"urls": ["json://127.0.0.1:9/hook/${HOOK_TOKEN}"]}
        data["channels"]["team"] = {"urls": ["json://127.0.0.1:9/team/LITERAL-team-token-4242"]}
        path.write_text(json.dumps(data), encoding="utf-8")
        reload(rt)
        assert set(rt.config.channels) == {"ops", "hook", "team"}
        logging.getLogger("urllib3.connectionpool").warning(
            '"POST /hook/%s HTTP/1.1" then /team/LITERAL-team-token-4242', HOOK_TOKEN
        )
    finally:
        configure_logging("text", "warning")
        rt.db.close()
    assert '"POST /hook/*** HTTP/1.1" then /team/***' in out.getvalue()


def test_mrt_check_shows_nothing_of_a_token(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mrt.cli import main as mrt_main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("WL_TOKEN", TOKEN)
    monkeypatch.setenv("DT_TOKEN", "dingTOKENabcdef0123")
    path = tmp_path / "c.toml"
    path.write_text(
        '[channels.robots]\nurls = ["welink://${WL_TOKEN}", "dingtalk://${DT_TOKEN}"]\n',
        encoding="utf-8",
    )
    code = mrt_main(["check", "--config", str(path)])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "channels.robots.urls[0]: parses (welink://***?channel=standard" in out
    assert "channels.robots.urls[1]: parses (dingtalk://***/…)" in out
    assert f"{TOKEN[0]}...{TOKEN[-1]}" not in out and "d...3" not in out


def test_mrt_check_says_why_a_welink_url_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mrt.cli import main as mrt_main

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    path = tmp_path / "c.toml"
    path.write_text(
        '[channels.robot]\nurls = ["welink://", "welink://tok-0123456789@proxy:99999"]\n',
        encoding="utf-8",
    )
    assert mrt_main(["check", "--config", str(path)]) == 2
    out = capsys.readouterr().out
    assert (
        "error channels.robot.urls[0]: welink://…: Apprise does not understand this URL: "
        "welink:// needs a token (welink://TOKEN or welink://TOKEN@HOST[:PORT]/PATH)"
    ) in out
    assert (
        "error channels.robot.urls[1]: welink://…: Apprise does not understand this URL: "
        "welink://TOKEN@proxy:99999: the endpoint is not a valid host[:port]"
    ) in out
    assert "tok-0123456789" not in out
