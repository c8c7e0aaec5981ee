"""Loopback fakes of the chat vendors' robots, their JSON Schemas, and alert messages to send.

Each fake checks a call like the real robot would (the token, the signature, the message
against the vendor's schema in tests/fixtures/vendors/) and answers as the vendor documents:
success, or what `script` says next (an error code, a 429 with Retry-After).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from mrt.delivery.base import Message
from mrt.store.models import Alert, Event
from mrt.store.outbox_extra import claim_extra

SCHEMAS = Path(__file__).parent / "fixtures" / "vendors"
TOKEN = "robottoken0123456789abcdef"
SECRET = "SECsigningsecret0123456789"
SLACK_BOT = "xoxb-1111-2222-botsecrettoken"
PATHS = {
    "dingtalk": "/robot/send",
    "feishu": f"/open-apis/bot/v2/hook/{TOKEN}",
    "wecom": "/cgi-bin/webhook/send",
    "slack": "/api/chat.postMessage",
    "slack-hook": f"/services/T000/B000/{TOKEN}",
}
SUCCESS: dict[str, tuple[int, Any]] = {
    "dingtalk": (200, {"errcode": 0, "errmsg": "ok"}),
    "feishu": (200, {"code": 0, "msg": "success", "data": {}}),
    "wecom": (200, {"errcode": 0, "errmsg": "ok"}),
    "slack": (200, {"ok": True, "channel": "C0123", "ts": "1700000000.000100"}),
    "slack-hook": (200, "ok"),
}

def schema_for(vendor: str) -> dict[str, Any]:
    name = "slack" if vendor.startswith("slack") else vendor
    loaded: dict[str, Any] = json.loads((SCHEMAS / f"{name}.schema.json").read_text("utf-8"))
    return loaded

def schema_problems(vendor: str, payload: Any) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema_for(vendor))
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(payload)]

def loopback_url(server: HTTPServer, vendor: str, **options: str) -> str:
    """The vendor's plain webhook URL on loopback (what a typed channel takes)."""
    base = server.url_for(PATHS[vendor])
    query = {
        "dingtalk": {"access_token": TOKEN, "secret": SECRET},
        "feishu": {"secret": SECRET},
        "wecom": {"key": TOKEN},
        "slack": {"channel": "C0123", "token": SLACK_BOT},
        "slack-hook": {},
    }[vendor] | options
    return base + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")

@dataclass
class Call:
    body: Any
    args: dict[str, str]
    headers: dict[str, str]

@dataclass
class FakeVendor:
    vendor: str
    calls: list[Call] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    script: list[tuple[int, Any, dict[str, str]]] = field(default_factory=list)
    ts_counter: int = 0

    def handle(self, request: Request) -> Response:
        body = json.loads(request.get_data())
        call = Call(body, dict(request.args), {k.lower(): v for k, v in request.headers.items()})
        self.calls.append(call)
        self.problems += [f"{self.vendor}: {p}" for p in self.check(call)]
        if self.script:
            status, answer, headers = self.script.pop(0)
        else:
            status, answer = SUCCESS[self.vendor]
            headers = {}
            if self.vendor == "slack":  # each message its own ts, as Slack's
                self.ts_counter += 1
                answer = dict(answer, ts=f"1700000000.{self.ts_counter:06d}")
        text = answer if isinstance(answer, str) else json.dumps(answer)
        kind = "text/plain" if isinstance(answer, str) else "application/json"
        return Response(text, status=status, headers=headers, content_type=kind)

    def check(self, call: Call) -> list[str]:
        found = schema_problems(self.vendor, call.body)
        if self.vendor == "dingtalk":
            if call.args.get("access_token") != TOKEN:
                found.append("access_token missing or wrong")
            stamp = call.args.get("timestamp", "")
            expected = base64.b64encode(hmac.new(
                SECRET.encode(), f"{stamp}\n{SECRET}".encode(), hashlib.sha256).digest()).decode()
            if call.args.get("sign") != expected:
                found.append("sign wrong")
            if "secret" in call.args:
                found.append("the secret itself was sent")
        elif self.vendor == "feishu":
            stamp = str(call.body.get("timestamp", ""))
            key = f"{stamp}\n{SECRET}".encode()
            expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
            if call.body.get("sign") != expected:
                found.append("sign wrong")
            if call.args:
                found.append(f"unexpected query {sorted(call.args)}")
        elif self.vendor == "wecom":
            if call.args.get("key") != TOKEN:
                found.append("key missing or wrong")
        elif self.vendor == "slack":
            if call.headers.get("authorization") != f"Bearer {SLACK_BOT}":
                found.append("bot token not in the Authorization header")
            if "token" in call.args:
                found.append("the token was sent in the query")
        return found

    def texts(self) -> list[str]:
        return [json.dumps(c.body, ensure_ascii=False) for c in self.calls]

def install(server: HTTPServer, vendor: str) -> FakeVendor:
    fake = FakeVendor(vendor)
    server.expect_request(PATHS[vendor], method="POST").respond_with_handler(fake.handle)
    return fake

def sample_event(title: str = "[Model] Qwen3-Next support", **changes: Any) -> Event:
    fields: dict[str, Any] = dict(
        id=1, source="github", source_key="github:vllm-project/vllm", resource_type="pull",
        resource_id="40002", event_type="pr_opened", event_id="40002", title=title,
        url="https://github.com/vllm-project/vllm/pull/40002", author="octocat",
        observed_at=datetime(2026, 11, 22, 9, 0, tzinfo=UTC),
    )
    fields.update(changes)
    return Event(**fields)

def sample_message(
    body: str = "[MRT] New pull request · vllm-project/vllm on GitHub\n"
    "[Model] Qwen3-Next support\nWhy: models: title contained 'qwen'\n"
    "https://github.com/vllm-project/vllm/pull/40002",
    *,
    event: Event | None = None,
    kind: str = "event",
    priority: str = "normal",
    subject: str = "",
) -> Message:
    """A message as the sender gets it from a claimed outbox row (extra from the alert)."""
    event = event if event is not None else sample_event()
    alert = Alert(id=7, kind=kind, title=event.title, priority=priority,
                  matched=[{"rule": "models", "reasons": ["title contained 'qwen'"]}])
    return Message(subject=subject, body=body, url=str(event.url), priority=priority,
                   extra=claim_extra(alert, event))


FEISHU_APP_ID = "cli_a1b2c3d4e5"
FEISHU_APP_SECRET = "appsecret0123456789abcdef"
FEISHU_CHAT = "oc_0123456789abcdef"


@dataclass
class FakeFeishuBot:
    """Feishu's IM API for an app bot: the tenant token, new messages and replies."""

    tokens_issued: int = 0
    sent: list[Call] = field(default_factory=list)  # new messages and replies, in order
    replied_to: list[str] = field(default_factory=list)  # message ids replied to (None: new)
    problems: list[str] = field(default_factory=list)

    def install(self, server: HTTPServer) -> None:
        import re

        server.expect_request("/open-apis/auth/v3/tenant_access_token/internal",
                              method="POST").respond_with_handler(self.token)
        server.expect_request(re.compile(r"^/open-apis/im/v1/messages/[^/]+/reply$"),
                              method="POST").respond_with_handler(self.message)
        server.expect_request("/open-apis/im/v1/messages",
                              method="POST").respond_with_handler(self.message)

    def token(self, request: Request) -> Response:
        body = json.loads(request.get_data())
        if body != {"app_id": FEISHU_APP_ID, "app_secret": FEISHU_APP_SECRET}:
            return Response(json.dumps({"code": 10014, "msg": "app secret invalid"}))
        self.tokens_issued += 1
        return Response(json.dumps({"code": 0, "msg": "ok", "expire": 7200,
                                    "tenant_access_token": f"t-{self.tokens_issued}"}))

    def message(self, request: Request) -> Response:
        body = json.loads(request.get_data())
        call = Call(body, dict(request.args), {k.lower(): v for k, v in request.headers.items()})
        self.sent.append(call)
        if call.headers.get("authorization") != f"Bearer t-{self.tokens_issued}":
            self.problems.append("no valid tenant token")
        reply = request.path.endswith("/reply")
        self.replied_to.append(request.path.split("/")[-2] if reply else "")
        if not reply and (call.args.get("receive_id_type") != "chat_id"
                          or body.get("receive_id") != FEISHU_CHAT):
            self.problems.append("new message without chat_id receive_id")
        card = json.loads(body.get("content", "{}"))
        self.problems += schema_problems("feishu", {"msg_type": body.get("msg_type"),
                                                    "card": card})
        message_id = f"om_{len(self.sent):04d}"
        return Response(json.dumps({"code": 0, "msg": "success",
                                    "data": {"message_id": message_id}}))


def feishu_bot_url(server: HTTPServer) -> str:
    return (server.url_for("/open-apis/im/v1/messages")
            + f"?receive_id={FEISHU_CHAT}&app_id={FEISHU_APP_ID}&app_secret={FEISHU_APP_SECRET}")


def stored(product: Any, *argv: str) -> Any:
    """What `mrt ARGV --json` reads from the product's database, run in-process (a read)."""
    import contextlib
    import io

    from mrt.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        # 4: `mrt outbox` listed a dead letter (README, Exit codes); still a good read
        assert main([*argv, "--config", str(product.config), "--json"]) in (0, 4)
    return json.loads(out.getvalue())
