"""The OpenAI-compatible client against a fake server on loopback: structured output, embeddings,
retries on 429/5xx, slow answers, malformed and schema-invalid JSON, the per-minute budget and
the token counters. Settings come from a config file through the real loader."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from ai_fake import FakeAi
from pydantic import BaseModel, ConfigDict, Field
from pytest_httpserver import HTTPServer

from mrt.ai.client import AiClient, AiSettings
from mrt.config import load_config_with_warnings
from mrt.errors import AiInvalidOutput, AiUnavailable

T = TypeVar("T")
KEY = "sk-test-0123456789abcdef"


class Lines(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lines: list[str] = Field(min_length=1, max_length=5)


def settings_for(tmp_path: Path, fake: FakeAi, extra: str = "", env: Any = None) -> AiSettings:
    path = tmp_path / "mrt.toml"
    path.write_text(
        "version = 1\n[sources.github]\nrepos = ['vllm-project/vllm']\n[ai]\nenabled = true\n"
        f"base_url = '{fake.base_url}'\nmodel = 'qwen3-8b'\nembedding_model = 'bge-m3'\n"
        f"api_key_env = 'MRT_AI_KEY'\n{extra}",
        encoding="utf-8",
    )
    env = {"MRT_AI_KEY": KEY} if env is None else env
    loaded = load_config_with_warnings(str(path), env=env)
    settings = AiSettings.from_config(loaded.config.ai, env)
    assert settings is not None
    return settings


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def run(client: AiClient, call: Callable[[AiClient], Awaitable[T]]) -> T:
    async def go() -> T:
        async with client:
            return await call(client)

    return asyncio.run(go())


def client_for(settings: AiSettings, clock: Clock) -> AiClient:
    return AiClient(settings, sleep=clock.sleep, clock=clock)


def test_structured_output_is_asked_for_by_schema_and_validated(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    fake = FakeAi(httpserver, key=KEY)
    fake.chat = lambda body: {"lines": ["vLLM 0.9 adds DeepSeek-V4.", "Update before Friday."]}
    client = client_for(settings_for(tmp_path, fake), Clock())

    answer = run(client, lambda c: c.chat_structured("be brief", "the release notes", Lines))

    assert answer.lines == ["vLLM 0.9 adds DeepSeek-V4.", "Update before Friday."]
    body = fake.requests[0]
    assert body["model"] == "qwen3-8b"
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"] == Lines.model_json_schema()
    assert fake.auth_headers == [f"Bearer {KEY}"]
    counters = client.usage.snapshot()
    assert counters["chat_calls"] == 1 and counters["chat_prompt_tokens"] == 5
    assert counters["chat_completion_tokens"] == 8 and counters["failures"] == 0


def test_embeddings_come_back_in_order_and_count_tokens(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    fake = FakeAi(httpserver, key=KEY)
    client = client_for(settings_for(tmp_path, fake), Clock())

    vectors = run(client, lambda c: c.embed(["deepseek weights", "qwen release notes"]))

    assert len(vectors) == 2 and len(vectors[0]) == 8 and vectors[0] != vectors[1]
    assert fake.requests[0] == {"model": "bge-m3", "input": ["deepseek weights",
                                                               "qwen release notes"]}
    assert client.usage.snapshot()["embeddings_prompt_tokens"] == 5


def test_429_and_500_are_retried_with_backoff_then_answered(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    fake = FakeAi(httpserver, key=KEY)
    fake.script = ["429", "500"]
    clock = Clock()
    client = client_for(settings_for(tmp_path, fake), clock)

    answer = run(client, lambda c: c.chat_structured("s", "u", Lines))

    assert answer.lines == ["A summary."]
    assert len(fake.requests) == 3 and len(clock.slept) == 2
    used = client.usage.snapshot()
    assert used["chat_retries"] == 2 and used["chat_throttled"] == 1 and used["chat_calls"] == 1


def test_an_endpoint_that_keeps_failing_is_unavailable_without_the_key_in_the_error(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    fake = FakeAi(httpserver, key=KEY)
    fake.script = ["500", "500", "500", "500"]
    client = client_for(settings_for(tmp_path, fake, "max_retries = 2\n"), Clock())

    with pytest.raises(AiUnavailable) as caught:
        run(client, lambda c: c.chat_structured("s", "u", Lines))

    assert str(caught.value) == "AI endpoint /chat/completions: HTTP 500"
    assert len(fake.requests) == 3 and client.usage.snapshot()["chat_failures"] == 1


@pytest.mark.parametrize(
    ("script", "answer", "why"),
    [
        (["malformed"], None, "the answer is not JSON"),
        (["nonjson-content"], None, "out of its schema"),
        ([], {"lines": []}, "out of its schema (lines: List should have at least 1 item"),
        ([], {"lines": ["ok"], "priority": "critical"}, "priority: Extra inputs are not permitted"),
    ],
)
def test_malformed_or_schema_invalid_answers_are_rejected_not_retried(
    tmp_path: Path, httpserver: HTTPServer, script: list[str], answer: Any, why: str
) -> None:
    fake = FakeAi(httpserver, key=KEY)
    fake.script = script
    if answer is not None:
        fake.chat = lambda body: answer
    client = client_for(settings_for(tmp_path, fake), Clock())

    with pytest.raises(AiInvalidOutput, match=re.escape(why)):
        run(client, lambda c: c.chat_structured("s", "u", Lines))

    assert len(fake.requests) == 1


def test_a_slow_answer_times_out_within_the_configured_bound(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    fake = FakeAi(httpserver, key=KEY)
    fake.slow_seconds = 1.0
    fake.script = ["slow"]
    settings = settings_for(tmp_path, fake, "timeout_seconds = 0.2\nmax_retries = 0\n")
    client = client_for(settings, Clock())

    with pytest.raises(AiUnavailable, match=re.escape("no answer within 0.2 s")):
        run(client, lambda c: c.chat_structured("s", "u", Lines))


def test_the_per_minute_budget_refuses_before_sending_and_refills(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    fake = FakeAi(httpserver, key=KEY)
    clock = Clock()
    client = client_for(settings_for(tmp_path, fake, "requests_per_minute = 2\n"), clock)

    async def calls(c: AiClient) -> list[str]:
        seen = []
        for step in range(4):
            if step == 3:
                clock.now += 60
            try:
                await c.chat_structured("s", "u", Lines)
                seen.append("ok")
            except AiUnavailable as exc:
                seen.append(str(exc))
        return seen

    seen = run(client, calls)

    assert seen == ["ok", "ok", "AI endpoint /chat/completions: over its budget of 2 a minute",
                    "ok"]
    assert len(fake.requests) == 3 and client.usage.snapshot()["chat_over_budget"] == 1


def test_ai_is_off_by_default_and_without_an_endpoint(tmp_path: Path) -> None:
    path = tmp_path / "mrt.toml"
    path.write_text("version = 1\n[sources.github]\nrepos = ['a/b']\n", encoding="utf-8")
    off = load_config_with_warnings(str(path), env={}).config.ai
    assert AiSettings.from_config(off, {}) is None

    path.write_text(
        "version = 1\n[sources.github]\nrepos = ['a/b']\n[ai]\nenabled = true\n"
        "provider = 'openai'\nmodel = 'gpt-4o-mini'\n",
        encoding="utf-8",
    )
    loaded = load_config_with_warnings(str(path), env={})
    assert AiSettings.from_config(loaded.config.ai, {}) is None
    assert [w.path for w in loaded.warnings] == ["ai.enabled"]
