"""Shared helpers for the outbox/sender/trace tests, and a check of the sink they rely on.

`http_send` stands in for the channels engineer's dispatcher: it POSTs the message as JSON to a
loopback pytest-httpserver sink over real HTTP (httpx) and maps the answer onto a SendOutcome
the way a channel plugin does (2xx ok; 429 throttled with Retry-After; other 4xx permanent;
5xx and network errors retryable). The sink can fail on demand.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from mrt.config import Config, DeliveryConfig
from mrt.delivery.base import Message, SendOutcome, Target
from mrt.store.models import Alert, Event
from mrt.store.outbox import ClaimedDelivery, enqueue

T0 = datetime(2026, 11, 20, 12, 0, 0, tzinfo=UTC)
# Built once: each new httpx client would otherwise load the CA bundle again (~0.2 s a send).
# The sinks are plain HTTP on loopback; the context is never used for a handshake.
TLS_CONTEXT = ssl.create_default_context()


def claim_in_threads(
    names: Sequence[str],
    claim: Callable[[str], list[ClaimedDelivery]],
    close: Callable[[], None],
) -> dict[str, list[int]]:
    """Each of `names` claims on its own thread, with its own connection (peewee's are
    thread-local, `close` ends it), until a claim comes back empty: the ids each one got.
    What a thread raised is raised here."""
    got: dict[str, list[int]] = {name: [] for name in names}
    errors: list[BaseException] = []

    def claimer(name: str) -> None:
        try:
            while batch := claim(name):
                got[name].extend(c.id for c in batch)
        except BaseException as exc:
            errors.append(exc)
        finally:
            close()

    threads = [threading.Thread(target=claimer, args=(name,)) for name in names]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return got


def make_alert(
    now: datetime, *, title: str = "vllm v0.7.0 released", fingerprint: str | None = None,
    source_key: str = "github:vllm-project/vllm",
) -> int:
    fp = fingerprint or f"{abs(hash((title, now))):064x}"[-64:]
    event = Event.create(
        fingerprint=fp, source="github", source_key=source_key, resource_type="release",
        resource_id="vllm-project/vllm", event_type="release_published", event_id=title,
        title=title, url="https://github.com/vllm-project/vllm/releases/tag/v0.7.0",
        observed_at=now, decision="notify",
        decision_detail={"matched": [{"rule": "releases", "reasons": ["event_type is release_published"]}]},
    )
    alert = Alert.create(
        event=event.id, fingerprint=fp, title=title, source_key=source_key,
        matched=[{"rule": "releases", "reasons": ["event_type is release_published"]}],
        created_at=now,
    )
    return int(alert.id)


def enqueue_alerts(now: datetime, targets: list[Target], count: int = 1) -> list[int]:
    ids = []
    for i in range(count):
        fingerprint = hashlib.sha256(f"{now.isoformat()} {i}".encode()).hexdigest()
        alert_id = make_alert(now, title=f"release {i}", fingerprint=fingerprint)
        for t in targets:
            ids.append(enqueue(alert_id, t.channel, t.key, Message(f"release {i}", f"body {i}"), now))
    return ids


@dataclass
class Sink:
    """One loopback webhook: answers from `script` first, then `default`."""

    name: str
    script: list[tuple[int, dict[str, Any], dict[str, str]]] = field(default_factory=list)
    default: tuple[int, dict[str, Any], dict[str, str]] = (200, {"code": "0"}, {})
    received: list[dict[str, Any]] = field(default_factory=list)

    def fail_next(self, times: int, status: int = 500, body: dict[str, Any] | None = None,
                  headers: dict[str, str] | None = None) -> None:
        self.script.extend([(status, body or {"code": "58500"}, headers or {})] * times)

    def always(self, status: int, body: dict[str, Any] | None = None) -> None:
        self.default = (status, body or {"code": "58500"}, {})

    def recover(self) -> None:
        self.script.clear()
        self.default = (200, {"code": "0"}, {})

    def handle(self, request: Request) -> Response:
        status, body, headers = self.script.pop(0) if self.script else self.default
        if status < 300:
            self.received.append(json.loads(request.get_data()))
        return Response(json.dumps(body), status=status, headers=headers,
                        content_type="application/json")


def add_sink(httpserver: HTTPServer, name: str, secret: str = "s3cr3t-token") -> tuple[Sink, Target]:
    sink = Sink(name)
    httpserver.expect_request(f"/hook/{name}", method="POST").respond_with_handler(sink.handle)
    base = httpserver.url_for(f"/hook/{name}")
    target = Target(
        channel=name, key=f"json://{base.split('://', 1)[1]}?token=***",
        url=f"{base}?token={secret}", kind="json", secrets=(secret,),
    )
    return sink, target


async def http_send(target: Target, message: Message, timeout: float) -> SendOutcome:
    try:
        async with httpx.AsyncClient(trust_env=False, timeout=timeout, verify=TLS_CONTEXT) as client:
            response = await client.post(
                target.url, json={"subject": message.subject, "body": message.body}
            )
    except httpx.HTTPError as exc:
        # Deliberately unscrubbed (httpx puts the URL in its messages): the sender scrubs.
        return SendOutcome(ok=False, error_class=type(exc).__name__, message=f"{exc} {target.url}")
    if response.status_code < 300:
        return SendOutcome(ok=True, http_status=response.status_code)
    text = response.text
    vendor = None
    with contextlib.suppress(ValueError, AttributeError):
        vendor = str(json.loads(text).get("code"))
    if response.status_code == 429:
        after = response.headers.get("Retry-After")
        return SendOutcome(ok=False, throttled=True, retry_after=float(after) if after else None,
                           http_status=429, vendor_code=vendor, message=text)
    return SendOutcome(
        ok=False, retryable=response.status_code >= 500 or response.status_code == 408,
        http_status=response.status_code, vendor_code=vendor, message=text,
    )


def config(**delivery: Any) -> Config:
    return Config(delivery=DeliveryConfig(**delivery))


def test_sink_answers_as_scripted(httpserver: HTTPServer) -> None:
    sink, target = add_sink(httpserver, "robot")
    sink.fail_next(1, 503)
    first = asyncio.run(http_send(target, Message("s", "b"), 5))
    second = asyncio.run(http_send(target, Message("s", "b"), 5))
    assert (first.ok, first.http_status, first.retryable, first.vendor_code) == (False, 503, True, "58500")
    assert second.ok and sink.received == [{"subject": "s", "body": "b"}]
