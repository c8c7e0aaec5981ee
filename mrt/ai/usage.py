"""What the AI step is told by the config (AiSettings) and what its calls cost (AiUsage).

Apart from the client (mrt.ai.client, with httpx and the answer schemas): the engine keeps its
counters and the worker decides whether AI is on before any of the client is needed, so a
worker with AI off never imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from mrt.config import AiConfig

CHAT = "chat/completions"


@dataclass(frozen=True, slots=True)
class AiSettings:
    """The endpoint, models and limits of a config with AI on (`from_config`)."""

    base_url: str
    chat_model: str
    embedding_model: str | None
    api_key: str | None = field(repr=False)
    timeout_seconds: float = 20.0
    max_retries: int = 2
    requests_per_minute: int = 60

    @classmethod
    def from_config(cls, ai: AiConfig, env: Mapping[str, str]) -> AiSettings | None:
        """The settings when AI is on and has an endpoint and a chat model; None otherwise."""
        endpoint = ai.endpoint()
        if not ai.active() or endpoint is None or ai.model is None:
            return None
        key = env.get(ai.api_key_env) if ai.api_key_env else None
        return cls(
            base_url=endpoint,
            chat_model=ai.model,
            embedding_model=ai.embedding_model,
            api_key=key or None,
            timeout_seconds=ai.timeout_seconds,
            max_retries=ai.max_retries,
            requests_per_minute=ai.requests_per_minute,
        )


@dataclass
class EndpointUsage:
    """What one endpoint (chat, embeddings) was asked and answered."""

    calls: int = 0  # requests that got a usable answer
    failures: int = 0  # calls that ended in an AiError (after retries)
    retries: int = 0
    throttled: int = 0  # 429 answers
    over_budget: int = 0  # refused here: the per-minute budget was spent
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class AiUsage:
    """Counters the worker logs and the metrics read; they only grow (take a `snapshot`)."""

    endpoints: dict[str, EndpointUsage] = field(default_factory=dict)
    fallbacks: dict[str, int] = field(default_factory=dict)  # by capability: the plain path won
    cache_hits: dict[str, int] = field(default_factory=dict)  # by capability

    def of(self, endpoint: str) -> EndpointUsage:
        return self.endpoints.setdefault(endpoint, EndpointUsage())

    def fallback(self, capability: str) -> None:
        self.fallbacks[capability] = self.fallbacks.get(capability, 0) + 1

    def cache_hit(self, capability: str) -> None:
        self.cache_hits[capability] = self.cache_hits.get(capability, 0) + 1

    def copy(self) -> AiUsage:
        """A consistent copy, safe to take from another thread (a metrics scrape) while the
        worker's loop counts: a dict that grew meanwhile is copied again."""
        for _ in range(5):
            try:
                return AiUsage(
                    {k: replace(v) for k, v in list(self.endpoints.items())},
                    dict(self.fallbacks), dict(self.cache_hits),
                )
            except RuntimeError:  # "dictionary changed size during iteration"
                continue
        return AiUsage()

    def snapshot(self) -> dict[str, int]:
        """Flat counters: `chat_calls`, `embeddings_prompt_tokens`, ... and the totals."""
        flat: dict[str, int] = {}
        for endpoint, used in sorted(self.endpoints.items()):
            prefix = "chat" if endpoint == CHAT else endpoint
            for name, value in vars(used).items():
                flat[f"{prefix}_{name}"] = value
        for total in ("calls", "failures", "prompt_tokens", "completion_tokens"):
            flat[total] = sum(getattr(u, total) for u in self.endpoints.values())
        for capability, count in sorted(self.fallbacks.items()):
            flat[f"{capability}_fallbacks"] = count
        for capability, count in sorted(self.cache_hits.items()):
            flat[f"{capability}_cache_hits"] = count
        return flat
