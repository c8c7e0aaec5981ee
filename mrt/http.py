"""The one HTTP client every source uses (budgets, backoff, conditional requests, size caps)."""

from __future__ import annotations


class HttpClient:
    """Per-source view of the shared HTTP layer."""
