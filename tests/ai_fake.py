"""A fake OpenAI-compatible server on loopback (pytest-httpserver): no tests live here.

    fake = FakeAi(httpserver)          serves /v1/chat/completions and /v1/embeddings
    fake.chat = lambda body: {...}     the JSON object the model "answers" (per request body)
    fake.script = ["429", "500", ...]  what the next requests get before the normal answer:
                                       "429" (Retry-After: 0), "500", "malformed" (not JSON),
                                       "nonjson-content" (content not JSON), "slow" (sleeps
                                       `slow_seconds` in the server thread)
    fake.down()                        every request answers 503
    fake.requests                      every request body received, in order

Usage in answers is counted like a real server: prompt_tokens = words in the messages,
completion_tokens = words in the content.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

ChatAnswer = Callable[[dict[str, Any]], dict[str, Any]]


def user_text(body: dict[str, Any]) -> str:
    return "\n".join(m["content"] for m in body["messages"] if m["role"] == "user")


def system_text(body: dict[str, Any]) -> str:
    return "\n".join(m["content"] for m in body["messages"] if m["role"] == "system")


def _default_chat(body: dict[str, Any]) -> dict[str, Any]:
    return {"lines": ["A summary."]}


def vector(text: str, dims: int = 8) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [b / 255 for b in digest[:dims]]


class FakeAi:
    def __init__(self, server: HTTPServer, *, key: str | None = None) -> None:
        self.server = server
        self.key = key
        self.chat: ChatAnswer = _default_chat
        self.embed: Callable[[str], list[float]] = vector  # one text -> its vector
        self.script: list[str] = []
        self.slow_seconds = 1.0
        self.is_down = False
        self.requests: list[dict[str, Any]] = []
        self.auth_headers: list[str | None] = []
        server.expect_request("/v1/chat/completions", method="POST").respond_with_handler(
            self._chat
        )
        server.expect_request("/v1/embeddings", method="POST").respond_with_handler(self._embed)

    @property
    def base_url(self) -> str:
        return self.server.url_for("/v1")

    def down(self) -> None:
        self.is_down = True

    def _scripted(self) -> Response | None:
        self.auth_headers.append(None)
        if self.is_down:
            return Response("upstream down", status=503)
        if not self.script:
            return None
        step = self.script.pop(0)
        if step == "429":
            return Response("slow down", status=429, headers={"Retry-After": "0"})
        if step == "500":
            return Response("oops", status=500)
        if step == "malformed":
            return Response("{not json", status=200, content_type="application/json")
        if step == "slow":
            time.sleep(self.slow_seconds)
            return None
        self.script.insert(0, step)  # an answer-shaping step: the handler reads it
        return None

    def _record(self, request: Request) -> dict[str, Any]:
        body: dict[str, Any] = json.loads(request.get_data())
        self.requests.append(body)
        self.auth_headers[-1] = request.headers.get("Authorization")
        return body

    def _chat(self, request: Request) -> Response:
        early = self._scripted()
        body = self._record(request)
        if early is not None:
            return early
        if self.key is not None and request.headers.get("Authorization") != f"Bearer {self.key}":
            return Response("bad key", status=401)
        content: str
        if self.script and self.script[0] == "nonjson-content":
            self.script.pop(0)
            content = "Sure! Here is the JSON you asked for: {"
        else:
            content = json.dumps(self.chat(body))
        prompt_words = sum(len(m["content"].split()) for m in body["messages"])
        answer = {
            "id": "chatcmpl-fake",
            "object": "chat.completion",
            "model": body.get("model"),
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": prompt_words, "completion_tokens": len(content.split()),
                      "total_tokens": prompt_words + len(content.split())},
        }
        return Response(json.dumps(answer), content_type="application/json")

    def _embed(self, request: Request) -> Response:
        early = self._scripted()
        body = self._record(request)
        if early is not None:
            return early
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [{"object": "embedding", "index": i, "embedding": self.embed(t)}
                for i, t in enumerate(texts)]
        tokens = sum(len(t.split()) for t in texts)
        answer = {"object": "list", "data": data, "model": body.get("model"),
                  "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
        return Response(json.dumps(answer), content_type="application/json")


# --- the suite with AI on (MRT_TEST_AI=1): one endpoint for the whole session ------------------

AI_ON_ENV = "MRT_TEST_AI"
TRIAGE_ON = {"importance": 0.9, "urgency": 0.8, "relevance": 0.9, "confidence": 0.9,
             "reason": "A change to a tracked project."}  # overall 0.87: a rule's plain "at once"
SUMMARY_ON = {"lines": ["AI summary: what changed upstream.", "Possible impact: check it."]}


def ai_on() -> bool:
    """The harness switch: every config the e2e helpers write carries an `[ai]` section on."""
    import os

    return os.environ.get(AI_ON_ENV, "") == "1"


def valid_answer(body: dict[str, Any]) -> dict[str, Any]:
    """A valid answer to whichever structured output the request asks for (summary, triage)."""
    name = body.get("response_format", {}).get("json_schema", {}).get("name", "")
    return dict(TRIAGE_ON) if name == "TriageScore" else dict(SUMMARY_ON)


_session: tuple[HTTPServer, FakeAi] | None = None


def start_session_fake() -> FakeAi:
    """A fast, always-valid endpoint on its own loopback server, shared by the session."""
    global _session
    if _session is None:
        server = HTTPServer(host="127.0.0.1", port=0)
        server.start()
        fake = FakeAi(server)
        fake.chat = valid_answer
        _session = (server, fake)
    return _session[1]


def stop_session_fake() -> None:
    global _session
    if _session is not None:
        server, _ = _session
        if server.is_running():
            server.stop()
        _session = None


def ai_on_section() -> dict[str, Any]:
    """The `[ai]` section the harness adds with AI on: summaries on, a short wait. No embedding
    model: `mrt check` rightly warns about one that no `about:` rule uses (the tests with such
    rules write their own section, at their own fake)."""
    fake = start_session_fake()
    return {"enabled": True, "provider": "vllm", "base_url": fake.base_url, "model": "fake-chat",
            "max_retries": 1, "timeout_seconds": 5,
            "summaries": True, "summary_wait_seconds": 5}
