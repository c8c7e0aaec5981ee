"""When to try a failed delivery again, and when to give up on it.

Exponential backoff with full jitter (a uniform draw in [0, min(cap, base * 2**(n-1)))): many
rows failing at once against one target spread out instead of hammering it in step. A target
that says how long to wait (HTTP 429 Retry-After, a vendor's throttling code) is never asked
sooner than that.

A core module rather than part of delivery/: the outbox (mrt/store/outbox.py) computes a row's
next try with it, and the store imports nothing above the core types.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mrt.timefmt import duration

if TYPE_CHECKING:  # an annotation only: the outbox (and the console) need not load pydantic
    from mrt.config import DeliveryConfig


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    max_attempts: int
    max_age_seconds: float
    backoff_base_seconds: float
    backoff_max_seconds: float
    # Injectable so tests (and replays of a problem) get the same delays every run.
    rng: random.Random = field(default_factory=random.Random, repr=False, compare=False)

    @classmethod
    def from_config(cls, delivery: DeliveryConfig, rng: random.Random | None = None) -> RetryPolicy:
        return cls(
            max_attempts=delivery.max_attempts,
            max_age_seconds=float(delivery.max_age_seconds),
            backoff_base_seconds=delivery.backoff_base_seconds,
            backoff_max_seconds=delivery.backoff_max_seconds,
            rng=rng if rng is not None else random.Random(),
        )

    def backoff_ceiling(self, attempts: int) -> float:
        """The upper bound of the jittered delay after `attempts` failed tries (>= 1)."""
        exponent = max(0, attempts - 1)
        # Cap the exponent before computing: 2**10_000 would be a float overflow.
        if exponent > 62:
            return self.backoff_max_seconds
        return float(min(self.backoff_max_seconds, self.backoff_base_seconds * (2**exponent)))

    def backoff_seconds(self, attempts: int) -> float:
        """Full jitter: a uniform draw between 0 and the ceiling."""
        return self.rng.uniform(0.0, self.backoff_ceiling(attempts))

    def retry_delay_seconds(self, attempts: int, retry_after: float | None = None) -> float:
        """The delay before the next try; a target's own `retry_after` is a floor."""
        delay = self.backoff_seconds(attempts)
        if retry_after is not None and retry_after > 0:
            return max(float(retry_after), delay)
        return delay

    def gives_up(self, *, attempts: int, age_seconds: float, retryable: bool) -> str | None:
        """Why a failed row is dead now (plain words), or None when it is worth another try."""
        if not retryable:
            return "permanent failure"
        if attempts >= self.max_attempts:
            return f"gave up after {attempts} attempts (max_attempts {self.max_attempts})"
        if age_seconds > self.max_age_seconds:
            return (
                f"gave up after {duration(age_seconds)} "
                f"(max_age_seconds {int(self.max_age_seconds)})"
            )
        return None
