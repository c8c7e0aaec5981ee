"""Send a test message to channels now, through the real path (audit action `notify.test`).

    await send_test(config, targets, channels, actor=, now=) -> [TestResult]

One alert of kind "test" with one outbox row per target (mrt/store/notify_test.py), each sent by
the channel's plugin at once and recorded like any delivery (an attempt, `mrt trace`): "sent",
or "dead" on failure (a test is not retried later). Each result carries what the far side said,
in its own words, scrubbed of the target's secrets.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from mrt.config import Config
from mrt.delivery import channels as delivery
from mrt.message import Message, SendOutcome, Target
from mrt.retry import RetryPolicy
from mrt.secrets import Scrubber
from mrt.store import audit, outbox
from mrt.store.notify_test import enqueue_test
from mrt.store.outbox_records import AttemptRecord

SendFn = Callable[[Target, Message, float], Awaitable[SendOutcome]]
TITLE = "[MRT TEST] test message"


@dataclass(frozen=True, slots=True)
class TestResult:
    channel: str
    target: str  # the redacted key
    outbox_id: int
    alert_id: int
    status: str  # sent | dead | lease_lost
    http_status: int | None
    vendor_code: str | None
    error_class: str | None
    said: str  # the far side's words (or the error), secrets removed

    @property
    def ok(self) -> bool:
        return self.status == "sent"

    def answer(self) -> str:
        """What the far side said: `HTTP 400, code 310000, VendorError: its words`."""
        parts = [f"HTTP {self.http_status}"] if self.http_status is not None else []
        if self.vendor_code is not None:
            parts.append(f"code {self.vendor_code}")
        if self.error_class and not self.ok:
            parts.append(self.error_class)
        head = ", ".join(parts)
        return f"{head}: {self.said}" if head and self.said else head or self.said or "-"


def test_message(channel: str, now: datetime) -> Message:
    host = socket.gethostname() or "localhost"
    return Message(
        subject=f"{TITLE} for channel {channel}",
        body=(
            f"[MRT TEST] Test message for channel {channel}\n"
            f"Sent by `mrt notify test` from {host} at {now:%Y-%m-%d %H:%M:%S} UTC.\n"
            "If you can read this, MRT reaches this channel. No action needed."
        ),
    )


async def _send_safely(send: SendFn, target: Target, message: Message, timeout: float
                       ) -> SendOutcome:
    try:
        return await send(target, message, timeout)
    except Exception as exc:  # the contract says never; a plugin bug still might
        return SendOutcome(ok=False, error_class=type(exc).__name__, message=str(exc))


async def _default_send(target: Target, message: Message, timeout: float) -> SendOutcome:
    return await delivery.send(target, message, timeout=timeout)


async def send_test(
    config: Config,
    targets: Mapping[str, Sequence[Target]],
    channels: Sequence[str],
    *,
    actor: str,
    now: datetime,
    send: SendFn = _default_send,
) -> list[TestResult]:
    """A test message to every target of `channels` (names the caller checked exist)."""
    owner = f"notify-test:{socket.gethostname()}:{os.getpid()}"
    wanted = [(name, t) for name in channels for t in targets.get(name, ())]
    by_key = {(name, t.key): t for name, t in wanted}
    rows = enqueue_test(
        TITLE,
        [(name, t.key, test_message(name, now)) for name, t in wanted],
        owner=owner, now=now, lease_seconds=config.delivery.lease_seconds,
    )
    results: list[TestResult] = []
    timeout = config.delivery.send_timeout_seconds
    policy = RetryPolicy.from_config(config.delivery)
    for row in rows:
        target = by_key[(row.channel, row.target)]
        secrets = (*target.secrets, target.url)
        clock = time.perf_counter()
        outcome = await _send_safely(send, target, row.message, timeout)
        said = outbox.redact_common_secrets(Scrubber(secrets)(outcome.message or ""))
        attempt = AttemptRecord(
            started_at=now, duration_ms=int((time.perf_counter() - clock) * 1000),
            http_status=outcome.http_status, vendor_code=outcome.vendor_code,
            error_class=outcome.error_class, message=said or None, throttled=outcome.throttled,
        )
        if outcome.ok:
            status = outbox.mark_sent(row.id, owner, now, attempt)
        else:
            status = outbox.mark_failed(row.id, owner, now, attempt, retryable=False,
                                        retry_after=None, policy=policy)
        results.append(TestResult(
            channel=row.channel, target=row.target, outbox_id=row.id, alert_id=row.alert_id,
            status=status, http_status=outcome.http_status, vendor_code=outcome.vendor_code,
            error_class=outcome.error_class, said=said,
        ))
    audit.record(
        actor, "notify.test", {"channels": list(channels)},
        result={"sent": sum(r.ok for r in results), "failed": sum(not r.ok for r in results),
                "outbox_ids": [r.outbox_id for r in results]},
        now=now,
    )
    return results
