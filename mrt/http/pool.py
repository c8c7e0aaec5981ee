"""HttpPool: the HTTP machinery one worker shares (transports per TLS setting, host budgets)."""

from __future__ import annotations

import asyncio
import random
import ssl
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from mrt.errors import SourceError
from mrt.events import utcnow
from mrt.http.settings import (
    DEFAULT_MAX_BODY,
    USER_AGENT,
    ClientSettings,
    Clock,
    HostBudget,
    Sleep,
)

if TYPE_CHECKING:
    from types import TracebackType

    from mrt.http.client import HttpClient


@dataclass(slots=True)
class _HostState:
    budget: HostBudget
    in_flight: asyncio.Semaphore
    sent_at: deque[datetime] = field(default_factory=deque)
    # (token env name) -> until: a spent rate limit defers every source sharing that identity
    blocked_until: dict[str, datetime] = field(default_factory=dict)


class HttpPool:
    """Shared HTTP machinery for a whole worker; `async with HttpPool() as pool:`."""

    def __init__(
        self,
        *,
        user_agent: str = USER_AGENT,
        max_body_bytes: int = DEFAULT_MAX_BODY,
        max_attempts: int = 4,
        backoff_base_seconds: float = 1.0,
        backoff_max_seconds: float = 30.0,
        short_wait_seconds: float = 5.0,
        default_budget: HostBudget | None = None,
        budgets: Mapping[str, HostBudget] | None = None,
        sleep: Sleep = asyncio.sleep,
        now: Clock = utcnow,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.user_agent = user_agent
        self.max_body_bytes = max_body_bytes
        self.max_attempts = max_attempts
        self.backoff_base_seconds = backoff_base_seconds
        self.backoff_max_seconds = backoff_max_seconds
        self.short_wait_seconds = short_wait_seconds
        self.default_budget = default_budget or HostBudget()
        # kept as given: a lazy mapping (mrt.plugins.SourceBudgets) is read host by host
        self.budgets: Mapping[str, HostBudget] = budgets if budgets is not None else {}
        self.sleep = sleep
        self.now = now
        self.jitter = jitter
        self._clients: dict[str | None, httpx.AsyncClient] = {}
        self._hosts: dict[str, _HostState] = {}

    async def __aenter__(self) -> HttpPool:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()

    def client(
        self,
        settings: ClientSettings,
        *,
        validators: Mapping[str, Any],
        contact: str | None = None,
    ) -> HttpClient:
        from mrt.http.client import HttpClient

        return HttpClient(self, settings, validators=validators, contact=contact)

    def transport_for(self, ca_bundle: str | None) -> httpx.AsyncClient:
        """One client per TLS setting; verification is always on."""
        if ca_bundle not in self._clients:
            verify: ssl.SSLContext | bool = True
            if ca_bundle:
                try:
                    verify = ssl.create_default_context(cafile=ca_bundle)
                except (OSError, ssl.SSLError) as exc:
                    raise SourceError(f"cannot load ca_bundle {ca_bundle}: {exc}") from None
            self._clients[ca_bundle] = httpx.AsyncClient(
                verify=verify, follow_redirects=True, trust_env=False
            )
        return self._clients[ca_bundle]

    def host(self, host: str) -> _HostState:
        if host not in self._hosts:
            budget = self.budgets.get(host, self.default_budget)
            self._hosts[host] = _HostState(budget, asyncio.Semaphore(budget.concurrency))
        return self._hosts[host]

    async def take_slot(self, state: _HostState) -> None:
        """Wait (through the injected sleep) until the host's request window has room."""
        window = timedelta(seconds=state.budget.window_seconds)
        while True:
            now = self.now()
            while state.sent_at and state.sent_at[0] <= now - window:
                state.sent_at.popleft()
            if len(state.sent_at) < state.budget.requests:
                state.sent_at.append(now)
                return
            await self.sleep(max((state.sent_at[0] + window - now).total_seconds(), 0.001))
