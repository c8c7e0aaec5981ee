"""The one HTTP client every source uses (budgets, backoff, conditional requests, size caps)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any


class HttpClient:
    """Per-source view of the shared HTTP layer."""

    validators: dict[str, Any]
    requests: int
    retries: int
    statuses: Counter[int]
    ratelimit_remaining: int | None
    ratelimit_reset_at: datetime | None


class HttpPool:
    """Shared by every source: per-host budgets."""

    def client(self, spec: Any, *, validators: dict[str, Any], env: Any) -> HttpClient:
        raise NotImplementedError
