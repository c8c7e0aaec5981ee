"""Deterministic console data for the TUI tests and snapshots (imported, not collected).

Everything is written through the peewee models on the database the caller bound, with times
derived from one fixed `NOW`, so screenshots and assertions never depend on the wall clock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from mrt.store.models import (
    Alert,
    CycleMetric,
    DeliveryAttempt,
    Event,
    Outbox,
    SourceState,
    WorkerHeartbeat,
)

NOW = datetime(2026, 11, 20, 9, 30, 0, tzinfo=UTC)
SOURCES = ("github:vllm-project/vllm", "huggingface:deepseek-ai", "modelscope:qwen")
TITLES = (
    "Support DeepSeek-V3 FP8 weights in the fused MoE kernel",
    "Qwen3-Coder-480B-A35B-Instruct",
    "Release v0.9.2: speculative decoding for Llama 4",
    "CUDA graph capture fails with tensor parallel size 8",
    "DeepSeek-R1-Distill-Qwen-32B updated",
)


def add_alert(
    title: str,
    *,
    source_key: str = SOURCES[0],
    at: datetime = NOW,
    priority: str = "normal",
    rule: str = "watch_keywords",
    reasons: tuple[str, ...] = ("title or summary contained 'deepseek'",),
    deliveries: tuple[tuple[str, str, str, str | None], ...] = (
        ("welink", "welink://***@example.invalid", "sent", None),
    ),
    url: str = "https://github.com/vllm-project/vllm/issues/1",
) -> int:
    """One event, its alert, and one outbox row per (channel, target, status, last_error)."""
    n = Event.select().count() + 1
    event = Event.create(
        fingerprint=f"fp-{n:08d}-{title}",
        source=source_key.split(":", 1)[0],
        source_key=source_key,
        resource_type="issue",
        resource_id=str(n),
        event_type="issue_opened",
        event_id=str(n),
        title=title,
        summary=f"Summary of {title}",
        url=url,
        author="octocat",
        observed_at=at,
        occurred_at=at,
        details={"labels": ["bug"], "state": "open"},
        decision="notify",
        decision_detail={"matched": [{"rule": rule, "reasons": list(reasons)}]},
    )
    alert = Alert.create(
        event=event.id,
        fingerprint=event.fingerprint,
        title=title,
        source_key=source_key,
        priority=priority,
        matched=[{"rule": rule, "reasons": list(reasons)}],
        created_at=at,
    )
    for channel, target, status, error in deliveries:
        box = Outbox.create(
            alert=alert.id,
            channel=channel,
            target=target,
            status=status,
            subject=title,
            body=title,
            attempts=0 if status == "pending" else 3 if status == "dead" else 1,
            next_attempt_at=at + timedelta(minutes=5),
            last_error=error,
            created_at=at,
            updated_at=at,
            sent_at=at if status == "sent" else None,
        )
        outcome = {"sent": "sent", "dead": "dead", "retrying": "retry"}.get(status)
        if outcome:
            DeliveryAttempt.create(
                outbox=box.id,
                started_at=at + timedelta(seconds=2),
                duration_ms=120,
                outcome=outcome,
                http_status=200 if outcome == "sent" else 502,
                error_class=None if outcome == "sent" else "HTTPStatusError",
                message=error,
            )
    return int(alert.id)


def bulk_alerts(
    count: int, *, title: str = "Routine dependency bump", start: datetime = NOW
) -> None:
    """`count` plain alerts (one sent delivery each), one a minute back from `start`, fast."""
    base = Event.select().count()
    events: list[dict[str, Any]] = []
    for i in range(count):
        at = start - timedelta(minutes=count - i)
        events.append(
            {
                "fingerprint": f"bulk-{base + i}",
                "source": "github",
                "source_key": SOURCES[i % len(SOURCES)],
                "resource_type": "issue",
                "resource_id": str(base + i),
                "event_type": "issue_opened",
                "event_id": str(base + i),
                "title": f"{title} #{i}",
                "observed_at": at,
                "decision": "notify",
            }
        )
    for i in range(0, len(events), 500):
        Event.insert_many(events[i : i + 500]).execute()
    rows = list(
        Event.select(Event.id, Event.title, Event.source_key, Event.observed_at)
        .where(Event.fingerprint.startswith("bulk-"))
        .order_by(Event.id)
    )[-count:]
    alerts = [
        {
            "event": e.id,
            "title": e.title,
            "source_key": e.source_key,
            "priority": "normal",
            "matched": [{"rule": "routine", "reasons": ["always"]}],
            "created_at": e.observed_at,
        }
        for e in rows
    ]
    for i in range(0, len(alerts), 500):
        Alert.insert_many(alerts[i : i + 500]).execute()


def add_source(key: str, **fields: Any) -> None:
    values: dict[str, Any] = {
        "source_key": key,
        "source": key.split(":", 1)[0],
        "updated_at": NOW,
        "health": "ok",
        "last_poll_at": NOW - timedelta(minutes=2),
        "last_success_at": NOW - timedelta(minutes=2),
        "next_poll_at": NOW + timedelta(minutes=3),
        "cursor": {"since": "2026-11-20T09:28:00Z"},
        "validators": {"https://api.github.com/x": {"etag": '"abc"'}},
        "ratelimit_remaining": 4990,
    }
    values.update(fields)
    SourceState.create(**values)


def add_cycle(key: str, at: datetime, *, new_events: int, matched: int, alerts: int) -> None:
    CycleMetric.create(
        source_key=key, started_at=at, new_events=new_events, matched=matched, alerts=alerts
    )


def beat(at: datetime = NOW) -> None:
    WorkerHeartbeat.insert(
        worker_id="w1", hostname="host", pid=1, version="1.0", started_at=at, heartbeat_at=at
    ).on_conflict_replace().execute()


def console_scene() -> None:
    """The scene the snapshots show: three sources, a dozen alerts, dead letters, metrics."""
    add_source(SOURCES[0])
    add_source(
        SOURCES[1],
        health="failing",
        last_error="HTTP 503 from huggingface.co: service unavailable",
        consecutive_failures=4,
        cursor={"last_modified_after": "2026-11-19T00:00:00Z"},
        ratelimit_remaining=None,
    )
    add_source(SOURCES[2], health="new", cursor=None, last_poll_at=None, last_success_at=None)
    beat(NOW - timedelta(seconds=5))
    for i in range(12):
        at = NOW - timedelta(minutes=90 - i * 7)
        status = "dead" if i % 4 == 1 else "retrying" if i % 4 == 2 else "sent"
        error = {
            "dead": "HTTP 404 from the WeLink robot: robot not found",
            "retrying": "timed out after 20 s",
        }.get(status)
        add_alert(
            TITLES[i % len(TITLES)] + f" ({i})",
            source_key=SOURCES[i % len(SOURCES)],
            at=at,
            priority="high" if i % 5 == 0 else "normal",
            rule="deepseek" if i % 2 else "qwen",
            reasons=("title or summary contained " + ("'deepseek'" if i % 2 else "'qwen'"),),
            deliveries=(
                ("welink", "welink://***@example.invalid/robot", status, error),
                ("email", "mailtos://ops@example.invalid", "sent", None),
            ),
        )
    for h in range(24):
        for key in SOURCES[:2]:
            add_cycle(
                key,
                NOW - timedelta(hours=h, minutes=10),
                new_events=(h * 7) % 11,
                matched=h % 3,
                alerts=h % 2,
            )
