"""The one HTTP client every source uses (budgets, backoff, conditional requests, size caps).

    HttpPool (async context manager, one per worker)
      ├── one httpx.AsyncClient per distinct TLS setting (system CAs, or a source's ca_bundle)
      ├── one HostBudget per host: at most `concurrency` requests in flight and at most
      │   `requests` per `window_seconds`, shared by every source on that host
      └── client(settings, validators=, contact=) -> HttpClient, the per-poll view a source uses

It knows no source: a client is made from plain ClientSettings (a name for logs, a timeout, a CA
bundle, a token and the header it goes in); host budgets are plain HostBudgets by host name,
which the worker gathers from the source plugins (each declares BUDGETS for the hosts it knows).

The HttpClient adds the User-Agent (name/version, the homepage the package declares if any, the
config's `http.contact`) and the token, sends If-None-Match / If-Modified-Since from the
validators it was given, gives each request a total deadline (the source's timeout_seconds, from
connecting to the last byte), retries 5xx, timeouts and connection errors with exponential
backoff and full jitter, turns a rate limit into RateLimited(until=...) unless the wait is short,
caps the body while streaming it, and counts what it did for the runner. Sleeping and the clock
are injected, so tests never wait.
"""

from mrt.http.client import HttpClient
from mrt.http.parsing import parse_ratelimit, parse_retry_after, redact_url, validator_key
from mrt.http.pool import HttpPool
from mrt.http.settings import (
    USER_AGENT,
    ClientSettings,
    HostBudget,
    JsonResponse,
    homepage,
    user_agent,
)

__all__ = [
    "USER_AGENT",
    "ClientSettings",
    "HostBudget",
    "HttpClient",
    "HttpPool",
    "JsonResponse",
    "homepage",
    "parse_ratelimit",
    "parse_retry_after",
    "redact_url",
    "user_agent",
    "validator_key",
]
