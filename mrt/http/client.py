"""HttpClient: one poll's view of the HTTP layer, and the one way a source asks an upstream.

It sends the User-Agent, the token and the stored validators, gives each request a total
deadline, retries 5xx, timeouts and connection errors with backoff and full jitter, turns a rate
limit into RateLimited unless the wait is short, caps the body while streaming it, and counts
what it did for the runner.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx

from mrt.errors import RateLimited, SourceError
from mrt.http.parsing import (
    decode_json,
    parse_ratelimit,
    parse_retry_after,
    redact_url,
    snippet,
    validator_key,
)
from mrt.http.settings import ClientSettings, JsonResponse, user_agent

if TYPE_CHECKING:
    from mrt.http.pool import HttpPool, _HostState

log = logging.getLogger("mrt.http")
_RETRYABLE_STATUS = frozenset({500, 502, 503, 504})
FEED_ACCEPT = "application/atom+xml, application/rss+xml, application/xml;q=0.9, */*;q=0.5"


class HttpClient:
    """Per-source view of the shared HTTP layer; the runner reads its counters after a poll."""

    def __init__(
        self,
        pool: HttpPool,
        settings: ClientSettings,
        *,
        validators: Mapping[str, Any],
        contact: str | None = None,
    ) -> None:
        self.pool = pool
        self.settings = settings
        self.user_agent = user_agent(contact) if contact else pool.user_agent
        self._previous: dict[str, dict[str, str]] = {
            k: dict(v) for k, v in validators.items() if isinstance(v, Mapping)
        }
        # only the URLs asked this poll: a URL carrying an old `since` is never asked again,
        # so its validators would pile up in the source state forever
        self.validators: dict[str, dict[str, str]] = {}
        self.requests = 0
        self.statuses: Counter[int] = Counter()
        self.retries = 0
        self.ratelimit_remaining: int | None = None
        self.ratelimit_reset_at: datetime | None = None
        token = settings.token
        self._identity = settings.identity
        self._auth = {settings.token_header: f"{settings.token_prefix}{token}"} if token else {}

    def __repr__(self) -> str:  # never shows the token
        return f"HttpClient({self.settings.name!r}, requests={self.requests})"

    async def get_json(
        self,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        conditional: bool = True,
    ) -> JsonResponse:
        return await self.request_json(
            "GET", url, params=params, headers=headers, conditional=conditional
        )

    async def get_bytes(
        self,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        conditional: bool = True,
    ) -> JsonResponse:
        """One GET whose body is not JSON (a feed): `json` holds the body's bytes (None on 304),
        with the same retries, budgets, validators and size cap as a JSON call."""
        send = {"Accept": FEED_ACCEPT, **(headers or {})}
        return await self.request_json(
            "GET", url, params=params, headers=send, conditional=conditional, decode=False
        )

    async def request_json(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        conditional: bool = True,
        decode: bool = True,
    ) -> JsonResponse:
        """One JSON call with retries; raises SourceError / RateLimited, never returns half.

        `conditional`: send the stored validators and remember the new ones (first pages);
        later pages pass False so cursor-bearing URLs do not pile up in the source state.
        """
        key = validator_key(url, params)
        shown = redact_url(key)
        send = {"User-Agent": self.user_agent, "Accept": "application/json"}
        send.update(headers or {})
        known = self._previous.get(key, {}) if conditional and method == "GET" else {}
        if known.get("etag"):
            send["If-None-Match"] = known["etag"]
        if known.get("last_modified"):
            send["If-Modified-Since"] = known["last_modified"]
        send.update(self._auth)
        host = httpx.URL(url).host
        state = self.pool.host(host)
        attempt = 0
        while True:
            attempt += 1
            blocked = state.blocked_until.get(self._identity)
            if blocked and blocked > self.pool.now():
                raise RateLimited(
                    f"{host}: rate limit spent until {blocked.isoformat()}; not calling {shown}",
                    until=blocked,
                    url=shown,
                )
            try:
                return await self._attempt(
                    method, url, params, send, json_body, key, shown, state, conditional, decode
                )
            except _Retry as retry:
                if attempt >= self.pool.max_attempts:
                    retry.error.context["attempts"] = attempt
                    raise retry.error from None
                wait = retry.wait
                if wait is None:
                    cap = min(
                        self.pool.backoff_max_seconds,
                        self.pool.backoff_base_seconds * 2 ** (attempt - 1),
                    )
                    wait = self.pool.jitter() * cap  # full jitter
                self.retries += 1
                log.warning(
                    "%s: %s; retry %d in %.1f s", self.settings.name, retry.error.message, attempt, wait
                )
                await self.pool.sleep(wait)

    async def _attempt(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | None,
        send: dict[str, str],
        json_body: Any,
        key: str,
        shown: str,
        state: _HostState,
        conditional: bool,
        decode: bool = True,
    ) -> JsonResponse:
        client = self.pool.transport_for(self.settings.ca_bundle)
        # httpx's timeout bounds each phase (connect, each read); a body trickled a byte at a
        # time never trips it, so the whole request also has a deadline of the same length
        deadline = self.settings.timeout_seconds
        timeout = httpx.Timeout(deadline)
        async with state.in_flight:
            await self.pool.take_slot(state)  # waiting for our own budget is not the host's time
            self.requests += 1
            try:
                async with asyncio.timeout(deadline):
                    request = client.build_request(
                        method, url, params=params, headers=send, json=json_body, timeout=timeout
                    )
                    response = await client.send(request, stream=True)
                    try:
                        body = await self._read_capped(response, shown)
                    finally:
                        await response.aclose()
            except TimeoutError:
                raise _Retry(
                    SourceError(
                        f"{host_of(url)}: no complete answer within the {deadline:g}-second "
                        f"deadline (the source's timeout_seconds) for {shown}",
                        url=shown,
                        kind="timeout",
                        deadline_seconds=deadline,
                    )
                ) from None
            except httpx.TimeoutException as exc:
                raise _Retry(
                    SourceError(
                        f"{shown}: timed out ({type(exc).__name__})", url=shown, kind="timeout"
                    )
                ) from None
            except httpx.TransportError as exc:
                if "CERTIFICATE_VERIFY_FAILED" in str(exc):  # retrying cannot help
                    raise SourceError(
                        f"{shown}: TLS certificate verification failed; for a private CA set "
                        "this source's ca_bundle",
                        url=shown,
                        kind="tls",
                    ) from None
                raise _Retry(
                    SourceError(
                        f"{shown}: connection failed ({type(exc).__name__})",
                        url=shown,
                        kind="connection",
                    )
                ) from None
        now = self.pool.now()
        status = response.status_code
        self.statuses[status] += 1
        log.debug("%s: %s %s -> %d (%d bytes)", self.settings.name, method, shown, status, len(body))
        remaining, reset_at = parse_ratelimit(response.headers, now)
        if remaining is not None:
            self.ratelimit_remaining, self.ratelimit_reset_at = remaining, reset_at
            if remaining == 0 and reset_at and reset_at > now and status < 400:
                # that was the last allowed call: the next one would only earn a 403
                state.blocked_until[self._identity] = reset_at
        self._check_rate_limit(
            status, response.headers, body, remaining, reset_at, now, shown, state
        )
        if status in _RETRYABLE_STATUS:
            error = SourceError(f"{shown}: answered HTTP {status}", url=shown, status=status)
            until = parse_retry_after(response.headers.get("retry-after"), now)
            wait = (until - now).total_seconds() if until else None
            if until is not None and wait is not None and wait > self.pool.short_wait_seconds:
                raise RateLimited(
                    f"{shown}: HTTP {status}, retry after {until}",
                    until=until,
                    url=shown,
                    status=status,
                ) from None
            raise _Retry(error, max(wait, 0.0) if wait is not None else None)
        links = {
            str(rel): str(response.url.join(v["url"]))
            for rel, v in response.links.items()
            if rel and v.get("url")
        }
        if status == 304:
            if conditional and key in self._previous:
                self.validators[key] = self._previous[key]
            return JsonResponse(shown, status, response.headers, None, True, links)
        if not 200 <= status < 300:
            # a 401's challenge says where a token is to be had (RFC 6750): the caller may ask
            challenge = response.headers.get("www-authenticate") if status == 401 else None
            extra = {"challenge": challenge} if challenge else {}
            raise SourceError(
                f"{shown}: answered HTTP {status}{snippet(body)}", url=shown, status=status,
                **extra,
            )
        data = decode_json(body, response.headers.get("content-type", ""), status, shown) if decode \
            else body
        new = {
            k: v
            for k, v in (
                ("etag", response.headers.get("etag")),
                ("last_modified", response.headers.get("last-modified")),
            )
            if v
        }
        if method == "GET" and conditional and new:
            self.validators[key] = new
        return JsonResponse(shown, status, response.headers, data, False, links)

    def _check_rate_limit(
        self,
        status: int,
        headers: httpx.Headers,
        body: bytes,
        remaining: int | None,
        reset_at: datetime | None,
        now: datetime,
        shown: str,
        state: _HostState,
    ) -> None:
        """GitHub answers 403 or 429 for primary and secondary limits; HF and others 429."""
        if status not in (403, 429):
            return
        retry_at = parse_retry_after(headers.get("retry-after"), now)
        secondary = b"secondary rate limit" in body.lower() or b"abuse" in body.lower()
        primary = remaining == 0
        if status == 403 and not (primary or retry_at or secondary):
            return  # a plain permission error: reported as such by the caller
        until = retry_at or (reset_at if primary and reset_at else None)
        if until is None:
            until = now + timedelta(seconds=60)  # GitHub: "wait at least one minute"
        wait = (until - now).total_seconds()
        kind = "secondary rate limit" if secondary else "rate limit"
        error = RateLimited(
            f"{shown}: {kind} (HTTP {status}), deferred until {until.isoformat()}",
            until=until,
            url=shown,
            status=status,
            retry_after=max(wait, 0.0),
        )
        if wait <= self.pool.short_wait_seconds:
            raise _Retry(error, max(wait, 0.0))
        # every source with this identity on this host would hit the same wall: defer them all
        state.blocked_until[self._identity] = until
        raise error

    async def _read_capped(self, response: httpx.Response, shown: str) -> bytes:
        cap = self.pool.max_body_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise SourceError(
                f"{shown}: response of {declared} bytes exceeds the {cap}-byte cap",
                url=shown,
                status=response.status_code,
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise SourceError(
                    f"{shown}: response exceeds the {cap}-byte cap",
                    url=shown,
                    status=response.status_code,
                )
            chunks.append(chunk)
        return b"".join(chunks)


def host_of(url: str) -> str:
    """host[:port] of a URL, for messages (never the userinfo)."""
    return httpx.URL(url).netloc.decode().rpartition("@")[2]


class _Retry(Exception):
    """Internal: this attempt failed in a way worth another try (after `wait`, if given)."""

    def __init__(self, error: SourceError, wait: float | None = None) -> None:
        super().__init__(error.message)
        self.error = error
        self.wait = wait
