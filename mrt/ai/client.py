"""One client for an OpenAI-compatible API: structured chat completions and embeddings.

    AiSettings.from_config(config.ai, env) -> AiSettings | None   (None: AI is off)
    AiClient(settings)  async context manager
      ├── chat_structured(system, user, model_cls) -> model_cls instance
      │     POST {base_url}/chat/completions, response_format json_schema from the pydantic
      │     model; the answer is parsed and validated by that model (extra keys refused)
      ├── embed(texts) -> [[float, ...], ...]       POST {base_url}/embeddings
      └── usage: AiUsage                           calls, failures, retries, tokens per endpoint;
                                                   fallbacks and cache hits per capability

Our own httpx calls rather than the `openai` package: we use two endpoints and three fields of
each answer, and httpx is already here; `openai` would add its own retry loop (which we need to
bound by our budget and deadline), its own timeouts and a tree of dependencies to every install,
AI or not. vLLM, SGLang, Ollama and the cloud APIs all speak the same JSON over these two paths.

What it does for every request: a total deadline (`timeout_seconds`, connect to last byte),
retries on 429, 5xx, timeouts and connection errors (`max_retries`, exponential backoff with full
jitter, a Retry-After honoured or, when longer than the deadline allows, a give-up), a budget of
`requests_per_minute` per endpoint (spent: AiUnavailable at once, nothing is queued behind it),
and token accounting from each answer's `usage`. Every failure is an AiError (AiUnavailable:
no usable answer, AiOverBudget when it is our own budget that said no; AiInvalidOutput: an answer
that is not JSON or not in the schema): the callers
fall back to the plain path, so AI can make a message better and never stop one.

The key comes from the environment only (the variable `ai.api_key_env` names); it is sent as a
bearer token and never put in an error text (errors name the endpoint path and the status).
Sleeping, the clock and the random source are injected, so tests never wait.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from mrt.ai.usage import CHAT, AiUsage
from mrt.ai.usage import AiSettings as AiSettings  # the callers build the client with it
from mrt.errors import AiInvalidOutput, AiOverBudget, AiUnavailable
from mrt.http import parse_retry_after

M = TypeVar("M", bound=BaseModel)

EMBEDDINGS = "embeddings"
MAX_ANSWER_BYTES = 1_000_000  # an answer past this is not one we asked for
BACKOFF_BASE_SECONDS = 0.5
BACKOFF_MAX_SECONDS = 8.0
BUDGET_WINDOW_SECONDS = 60.0


class MinuteBudget:
    """At most `per_minute` requests in any 60 s window; the clock is injected."""

    def __init__(self, per_minute: int, clock: Callable[[], float]) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self.sent: deque[float] = deque()

    def take(self) -> bool:
        now = self.clock()
        while self.sent and now - self.sent[0] >= BUDGET_WINDOW_SECONDS:
            self.sent.popleft()
        if len(self.sent) >= self.per_minute:
            return False
        self.sent.append(now)
        return True


def _schema_name(model_cls: type[BaseModel]) -> str:
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in model_cls.__name__)[:64]


class AiClient:
    def __init__(
        self,
        settings: AiSettings,
        *,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        usage: AiUsage | None = None,  # the worker's, kept across clients (a reload's new one)
    ) -> None:
        self.settings = settings
        self.usage = AiUsage() if usage is None else usage
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()
        self._budgets = {
            path: MinuteBudget(settings.requests_per_minute, clock) for path in (CHAT, EMBEDDINGS)
        }
        headers = {"Accept": "application/json"}
        if settings.api_key:
            headers["Authorization"] = f"Bearer {settings.api_key}"
        self._http = httpx.AsyncClient(
            base_url=settings.base_url + "/",
            headers=headers,
            timeout=settings.timeout_seconds,
            transport=transport,
            follow_redirects=False,
        )

    async def __aenter__(self) -> AiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def chat_structured(self, system: str, user: str, model_cls: type[M]) -> M:
        """A chat completion whose answer must be JSON in `model_cls`'s schema."""
        body = {
            "model": self.settings.chat_model,
            "messages": [{"role": "system", "content": system}, {"role": "user", "content": user}],
            "temperature": 0,
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": _schema_name(model_cls),
                    "schema": model_cls.model_json_schema(),
                    "strict": True,
                },
            },
        }
        answer = await self._post(CHAT, body)
        try:
            content = answer["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise self._invalid(CHAT, "no choices[0].message.content in the answer") from None
        if not isinstance(content, str):
            raise self._invalid(CHAT, "the message content is not a string")
        try:
            return model_cls.model_validate_json(content)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'answer'}: {e['msg']}"
                for e in exc.errors(include_url=False, include_input=False)[:3]
            )
            raise self._invalid(CHAT, f"out of its schema ({problems})") from None

    async def embed(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order."""
        if self.settings.embedding_model is None:
            raise AiUnavailable("no ai.embedding_model is configured")
        if not texts:
            return []
        answer = await self._post(
            EMBEDDINGS, {"model": self.settings.embedding_model, "input": texts}
        )
        try:
            rows = sorted(answer["data"], key=lambda row: int(row["index"]))
            vectors = [[float(x) for x in row["embedding"]] for row in rows]
        except (KeyError, TypeError, ValueError):
            raise self._invalid(EMBEDDINGS, "no data[].embedding lists of numbers") from None
        if len(vectors) != len(texts) or len({len(v) for v in vectors}) != 1 or not vectors[0]:
            raise self._invalid(EMBEDDINGS, f"{len(vectors)} vectors for {len(texts)} texts")
        return vectors

    def _invalid(self, path: str, why: str) -> AiInvalidOutput:
        self.usage.of(path).failures += 1
        return AiInvalidOutput(f"AI endpoint /{path}: {why}")

    def _unavailable(self, path: str, why: str) -> AiUnavailable:
        self.usage.of(path).failures += 1
        return AiUnavailable(f"AI endpoint /{path}: {why}")

    async def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        used = self.usage.of(path)
        deadline = self._clock() + self.settings.timeout_seconds * (self.settings.max_retries + 1)
        attempt = 0
        while True:
            if not self._budgets[path].take():
                used.over_budget += 1
                used.failures += 1
                raise AiOverBudget(
                    f"AI endpoint /{path}: over its budget of "
                    f"{self.settings.requests_per_minute} a minute"
                )
            wait_hint: float | None = None
            try:
                response = await self._http.post(path, json=body)
                status = response.status_code
                why = f"HTTP {status}"
                if status == 429:
                    used.throttled += 1
                    until = parse_retry_after(response.headers.get("retry-after"), _utcnow())
                    if until is not None:
                        wait_hint = max(0.0, (until - _utcnow()).total_seconds())
                if status < 400:
                    return self._answer(path, response)
                retryable = status == 429 or status >= 500
            except httpx.TimeoutException:
                why, retryable = f"no answer within {self.settings.timeout_seconds:g} s", True
            except httpx.TransportError as exc:
                why, retryable = f"cannot connect ({type(exc).__name__})", True
            if not retryable or attempt >= self.settings.max_retries:
                raise self._unavailable(path, why)
            attempt += 1
            ceiling = min(BACKOFF_MAX_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (attempt - 1))
            delay = max(wait_hint or 0.0, self._rng.uniform(0.0, ceiling))
            if self._clock() + delay > deadline:
                raise self._unavailable(path, f"{why}; asked to wait {delay:.0f} s, too long")
            used.retries += 1
            await self._sleep(delay)

    def _answer(self, path: str, response: httpx.Response) -> dict[str, Any]:
        if len(response.content) > MAX_ANSWER_BYTES:
            raise self._invalid(path, f"an answer of {len(response.content)} bytes")
        try:
            answer = json.loads(response.content)
        except ValueError:
            raise self._invalid(path, "the answer is not JSON") from None
        if not isinstance(answer, dict):
            raise self._invalid(path, "the answer is not a JSON object")
        used = self.usage.of(path)
        used.calls += 1
        usage = answer.get("usage")
        if isinstance(usage, dict):
            used.prompt_tokens += _count(usage.get("prompt_tokens"))
            used.completion_tokens += _count(usage.get("completion_tokens"))
        return answer


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _utcnow() -> datetime:
    return datetime.now(UTC)
