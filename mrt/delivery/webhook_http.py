"""One pooled HTTP client for the webhook-style channels (WeLink, JSON webhooks, chat robots).

Apprise builds a plugin and opens a connection for every send and runs it in a thread; for a
robot that takes one JSON POST, our own client does the same work with a kept-alive connection
on the worker's event loop. Channel plugins call `post_json` and turn the `WebhookAnswer` into a
SendOutcome with the vendor's meaning (`outcome_for_status` covers what HTTP alone says).

The clients are per event loop (an httpx.AsyncClient is bound to the loop it first ran on), one
per webhook URL (MAX_LANES says why), built on first use and closed by `aclose()` at shutdown.
Secrets: the URL usually carries the robot's token, so no error text here ever contains the URL,
only the error's class and what the far side said, scrubbed of the target's secrets by the
caller's Scrubber. (The URL is a lane's key in memory only.)
"""

from __future__ import annotations

import asyncio
import json
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from mrt.events import utcnow
from mrt.http.parsing import parse_retry_after
from mrt.http.settings import USER_AGENT
from mrt.message import SendOutcome

# A robot's answer is a few hundred bytes; anything past this is not read.
MAX_ANSWER_BYTES = 64 * 1024
# Status codes that say "later" rather than "never".
RETRYABLE_STATUS = frozenset({408, 425, 429})

# Connection pools kept per event loop, one per webhook URL (a "lane"), at most this many (the
# least recently used is closed past it). A target never has two sends in flight, so its lane
# holds one kept-alive connection; in one pool shared by every target, each request's turn
# checked every idle connection for a hang-up (httpcore polls each socket): profiled, a quarter
# of the sender's CPU per message with 8 targets.
MAX_LANES = 256
LANE_LIMITS = httpx.Limits(max_connections=8, max_keepalive_connections=2)


class _Lanes:
    def __init__(self) -> None:
        self.clients: OrderedDict[str, httpx.AsyncClient] = OrderedDict()
        # one TLS context for all of them (verify on, SSL_CERT_FILE/DIR honoured, as httpx does)
        self.tls = httpx.create_ssl_context(verify=True, trust_env=True)
        self.closing: set[asyncio.Task[None]] = set()


_lanes: dict[asyncio.AbstractEventLoop, _Lanes] = {}


@dataclass(frozen=True, slots=True)
class WebhookAnswer:
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def json(self) -> Any:
        """The answer's JSON value, or None when it is not JSON."""
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    def retry_after(self, now: datetime | None = None) -> float | None:
        """Seconds the far side asked us to wait (Retry-After), or None."""
        now = now or utcnow()
        until = parse_retry_after(self.headers.get("retry-after"), now)
        return None if until is None else max(0.0, (until - now).total_seconds())


class TransportError(Exception):
    """The POST never got an answer: `error_class` is Timeout or ConnectionError."""

    def __init__(self, error_class: str, message: str) -> None:
        super().__init__(message)
        self.error_class = error_class


def client(lane: str = "") -> httpx.AsyncClient:
    """This loop's client for `lane` (post_json uses the URL: one per target)."""
    loop = asyncio.get_running_loop()
    lanes = _lanes.get(loop)
    if lanes is None:
        for stale in [other for other in _lanes if other.is_closed()]:
            _lanes.pop(stale, None)
        lanes = _lanes[loop] = _Lanes()
    found = lanes.clients.get(lane)
    if found is not None and not found.is_closed:
        lanes.clients.move_to_end(lane)
        return found
    found = httpx.AsyncClient(
        headers={"User-Agent": USER_AGENT},
        follow_redirects=False,  # a robot that redirects is misconfigured: say so, not follow
        limits=LANE_LIMITS,
        verify=lanes.tls,
    )
    lanes.clients[lane] = found
    while len(lanes.clients) > MAX_LANES:
        _, old = lanes.clients.popitem(last=False)
        task = loop.create_task(old.aclose())
        lanes.closing.add(task)
        task.add_done_callback(lanes.closing.discard)
    return found


async def aclose() -> None:
    """Close this loop's clients (worker shutdown); the next post builds new ones."""
    lanes = _lanes.pop(asyncio.get_running_loop(), None)
    if lanes is not None:
        for found in lanes.clients.values():
            await found.aclose()


async def post_json(
    url: str,
    payload: Any,
    *,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
) -> WebhookAnswer:
    """POST `payload` as UTF-8 JSON; the answer's first MAX_ANSWER_BYTES.

    Raises TransportError (never with the URL in it) when no answer came."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    sent_headers = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    try:
        async with client(url).stream(
            "POST",
            url,
            content=body,
            headers=sent_headers,
            params=params,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
        ) as response:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size >= MAX_ANSWER_BYTES:
                    break
            return WebhookAnswer(
                status=response.status_code,
                headers={k.lower(): v for k, v in response.headers.items()},
                body=b"".join(chunks)[:MAX_ANSWER_BYTES],
            )
    except httpx.TimeoutException as exc:
        raise TransportError("Timeout", f"no answer within {timeout:g} s") from exc
    except httpx.HTTPError as exc:
        raise TransportError("ConnectionError", type(exc).__name__) from exc


def outcome_for_status(answer: WebhookAnswer, reason: str = "") -> SendOutcome:
    """What the HTTP status alone says: 2xx ok, 429 throttled, 408/425/5xx later, else never.

    A vendor that answers 200 with an error code in its body must read the body first."""
    status = answer.status
    if 200 <= status < 300:
        return SendOutcome(ok=True, retryable=False, http_status=status)
    said = f"HTTP {status}" + (f": {reason}" if reason else "")
    if status == 429:
        return SendOutcome(
            ok=False, throttled=True, retry_after=answer.retry_after(), http_status=status,
            error_class="Throttled", message=said,
        )
    retryable = status >= 500 or status in RETRYABLE_STATUS
    return SendOutcome(
        ok=False, retryable=retryable, retry_after=answer.retry_after() if retryable else None,
        http_status=status, error_class="HttpError", message=said,
    )


def transport_outcome(exc: TransportError) -> SendOutcome:
    return SendOutcome(ok=False, retryable=True, error_class=exc.error_class, message=str(exc))
