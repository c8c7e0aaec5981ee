"""GitHub webhook deliveries, received by the daemon (`webhooks.github`), become the events a poll
would have made of the same change, stored at once; polling goes on as the safety net.

    POST {path}  X-GitHub-Event, X-GitHub-Delivery, X-Hub-Signature-256: sha256=HMAC(secret, body)

A request is answered only after it is checked, in this order: method and path, a
Content-Length within `max_body_bytes` (413 before the body is read), the HMAC SHA-256 of the
body with the secret from `secret_env` (compared in constant time; 401 otherwise), a delivery id.
Then: `ping` is answered; an event the source cannot use, or a repository no source polls, or
a source whose baseline poll has not run, is acknowledged (202) and left to polling; otherwise,
in one write transaction: the source's state row is locked, the delivery id is recorded (the
same delivery again is answered "duplicate", nothing done), the source plugin maps the payload
(mrt/sources/github/webhook.py, the poll's own difference functions against the stored
snapshots, so the fingerprints are the poll's), the rules plan the events, and mrt/store/pushed.py
stores them with their alerts and outbox rows. The senders deliver them as any other.

The listener speaks plain HTTP/1.1, one request a connection: put it behind the TLS proxy that
faces GitHub. Nothing from a request reaches the log but its event name, delivery id and size.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from types import ModuleType
from typing import Any

from mrt.config import Config
from mrt.config.models import GithubWebhookConfig
from mrt.errors import ConfigError, MissingSecretError, MrtError
from mrt.events import utcnow
from mrt.noise.collect import collect_cycle
from mrt.pipeline import Engine, plan_events
from mrt.source_kit.contract import SourceSpec
from mrt.source_kit.items import BadItem
from mrt.store import pushed
from mrt.store.db import write_transaction

log = logging.getLogger("mrt.worker.webhooks")

MAX_HEAD_BYTES = 16 * 1024  # request line and headers
READ_SECONDS = 30.0  # a client slower than this is dropped
_REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
            405: "Method Not Allowed", 411: "Length Required", 413: "Content Too Large",
            422: "Unprocessable Content", 500: "Internal Server Error"}
Current = Callable[[], tuple[Engine, Mapping[str, SourceSpec]]]


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    text: str


def signature_of(secret: bytes, body: bytes) -> str:
    """What GitHub sends in X-Hub-Signature-256 for `body`."""
    return "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()


class GithubReceiver:
    def __init__(
        self,
        settings: GithubWebhookConfig,
        secret: bytes,
        current: Current,
        now: Callable[[], datetime] = utcnow,
        on_stored: Callable[[], None] | None = None,
    ) -> None:
        self.settings = settings
        self.on_stored = on_stored  # told when a delivery stored outbox rows (wakes the senders)
        self.secret = secret
        self.current = current  # the running engine and sources (a reload replaces them)
        self.now = now

    def handle(self, headers: Mapping[str, str], body: bytes) -> Answer:
        """One delivery whose size was checked; `headers` by lower-case name."""
        given = headers.get("x-hub-signature-256", "")
        if not hmac.compare_digest(given.encode(), signature_of(self.secret, body).encode()):
            log.warning("webhook refused: the X-Hub-Signature-256 does not match the secret")
            return Answer(401, "signature does not match")
        delivery = headers.get("x-github-delivery", "")
        event = headers.get("x-github-event", "")
        if not delivery or len(delivery) > 100 or not delivery.isprintable():
            return Answer(400, "X-GitHub-Delivery is missing or not an id")
        if event == "ping":
            return Answer(200, "pong")
        engine, specs = self.current()
        plugin = engine.plugins.get("github")
        if plugin is None or event not in getattr(plugin, "WEBHOOK_EVENTS", ()):
            return Answer(202, f"ignored: MRT takes no {event or 'unnamed'} events")
        try:
            payload = json.loads(body)
        except ValueError:
            return Answer(400, "the body is not JSON (set the webhook's content type to JSON)")
        if not isinstance(payload, dict):
            return Answer(400, "the body is not a JSON object")
        key = plugin.webhook_source_key(event, payload)
        spec = specs.get(key) if key else None
        if spec is None:
            return Answer(202, "ignored: no configured source polls for this")
        try:
            return self._store(engine, plugin, spec, event, delivery, payload)
        except (BadItem, MrtError) as exc:  # the payload lacks what the poll would require
            log.warning("webhook %s (%s) not used: %s", delivery, event, exc,
                        extra={"source_key": spec.key})
            return Answer(422, f"not used: {exc}")

    def _store(self, engine: Engine, plugin: ModuleType, spec: SourceSpec, event: str,
               delivery: str, payload: dict[str, Any]) -> Answer:
        now = self.now()
        with write_transaction(engine.db):
            state = pushed.lock_source(engine.db, spec.key)
            if state is None or state.cursor is None:
                return Answer(202, f"ignored: {spec.key} has not been polled yet")
            if not pushed.claim_delivery(delivery, "github", event, now):
                return Answer(200, "duplicate delivery: already done")
            result = plugin.webhook_result(spec, event, payload, cursor=state.cursor,
                                           snapshots=_snapshots(spec.key), now=now)
            planned = plan_events(engine, spec, result, baseline=False, now=now)
            counts = pushed.commit_pushed(
                engine.db, spec.key, planned, result.snapshots,
                rule_digest=engine.ruleset.digest, rule_canonical=engine.ruleset.canonical,
                now=now,
            )
            collect_cycle(planned, now)
            pushed.finish_delivery(delivery, spec.key, counts.new_events)
        if counts.deliveries and self.on_stored is not None:
            self.on_stored()  # committed: the senders may claim them now
        log.info("webhook %s (%s): %d new events, %d alerts", delivery, event,
                 counts.new_events, counts.alerts, extra={"source_key": spec.key})
        return Answer(200, f"{counts.new_events} new events, {counts.alerts} alerts")

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        try:
            answer = await self._read_and_answer(reader)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError,
                TimeoutError, ConnectionError):
            answer = Answer(400, "malformed request")
        text = answer.text.encode("utf-8")
        head = (f"HTTP/1.1 {answer.status} {_REASONS.get(answer.status, 'Error')}\r\n"
                "Content-Type: text/plain; charset=utf-8\r\n"
                f"Content-Length: {len(text)}\r\nConnection: close\r\n\r\n")
        with contextlib.suppress(ConnectionError):
            writer.write(head.encode("ascii") + text)
            await writer.drain()
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()

    async def _read_and_answer(self, reader: asyncio.StreamReader) -> Answer:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_SECONDS)
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        if method != "POST":
            return Answer(405, "POST only")
        if target.split("?", 1)[0] != self.settings.path:
            return Answer(404, "not the webhook's path")
        length = headers.get("content-length", "")
        if "transfer-encoding" in headers or not length.isdigit():
            return Answer(411, "a Content-Length is required")
        if int(length) > self.settings.max_body_bytes:
            log.warning("webhook refused: %s bytes, more than webhooks.github.max_body_bytes",
                        length)
            return Answer(413, f"the body is larger than {self.settings.max_body_bytes} bytes")
        body = await asyncio.wait_for(reader.readexactly(int(length)), READ_SECONDS)
        try:
            return self.handle(headers, body)
        except Exception as exc:  # the database: GitHub may redeliver; polling catches up
            log.error("webhook %s failed: %s: %s", headers.get("x-github-delivery", "?"),
                      type(exc).__name__, exc)
            return Answer(500, "not stored; polling will catch up")


def _snapshots(key: str) -> Callable[[Any], dict[str, dict[str, Any]]]:
    from mrt.store import sources

    return lambda keys: sources.snapshots_for(key, keys)


async def open_webhooks(
    config: Config, env: Mapping[str, str], current: Current,
    on_stored: Callable[[], None] | None = None,
) -> asyncio.Server | None:
    """Start listening when the config asks (`webhooks.github`); None when it does not.
    A missing secret or an address that cannot be bound is a ConfigError naming the field."""
    settings = config.webhooks.github
    if settings is None:
        return None
    secret = env.get(settings.secret_env)
    if not secret:
        raise MissingSecretError(
            f"webhooks.github.secret_env: the environment variable {settings.secret_env} is not "
            "set: it holds the secret GitHub signs its webhook deliveries with"
        )
    receiver = GithubReceiver(settings, secret.encode("utf-8"), current, on_stored=on_stored)
    host, port = settings.address
    try:
        server = await asyncio.start_server(receiver._connection, host, port,
                                            limit=MAX_HEAD_BYTES)
    except OSError as exc:
        raise ConfigError(
            f"webhooks.github.listen: cannot listen on {settings.listen}: {exc.strerror or exc}"
        ) from exc
    log.info("listening for GitHub webhooks on %s%s", settings.listen, settings.path)
    return server
