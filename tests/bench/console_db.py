"""The console benchmark's database: a year of history at a chosen scale, built once through
the real migrations (rows by `executemany`) and cached under `$TMPDIR/mrt-bench-console/` or
`$MRT_BENCH_DIR`, rebuilt when the generated data or the schema changes. bench_console.py
measures the console on it.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from mrt.store.db import open_database
from mrt.store.migrations import LATEST, migrate


@dataclass(frozen=True, slots=True)
class Scale:
    """How big the database is and how much is timed (`--quick` shrinks everything)."""

    name: str
    events: int
    alerts: int
    outbox: int
    pages: int
    repeat: int
    cycles: int = 7 * 24 * 12  # cycle metrics per source: a week of 5-minute cycles


FULL = Scale("1m", 1_000_000, 200_000, 50_000, pages=40, repeat=3)
QUICK = Scale("quick", 20_000, 4_000, 1_000, pages=6, repeat=1, cycles=24 * 12)
SOURCES = [f"github:org{i}/repo{i}" for i in range(15)] + [f"huggingface:org{i}" for i in range(5)]
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
SPAN = timedelta(days=365)
BUILD_VERSION = f"2-schema{LATEST}"  # changes with the generated data or the schema
WORDS = [
    "Support",
    "DeepSeek-V3",
    "FP8",
    "weights",
    "in",
    "the",
    "fused",
    "MoE",
    "kernel;",
    "CUDA",
    "graph",
    "capture",
    "fails",
    "with",
    "tensor",
    "parallel",
    "8;",
    "Qwen3-Coder",
    "release;",
    "speculative",
    "decoding",
    "for",
    "Llama",
    "4;",
    "bump",
    "transformers;",
    "fix",
    "tokenizer",
    "regression",
    "on",
    "long",
    "prompts;",
    "add",
    "ROCm",
    "wheels;",
    "vLLM",
    "scheduler",
    "starvation",
]


def ts(at: datetime) -> str:
    """UtcDateTimeField's storage form: naive UTC text."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


def title(i: int) -> str:
    n = 6 + i % 7
    return " ".join(WORDS[(i * 7 + k * 3) % len(WORDS)] for k in range(n)) + f" #{i}"


def chunks(rows: Iterator[tuple[Any, ...]], size: int = 50_000) -> Iterator[list[tuple[Any, ...]]]:
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def build(path: Path, scale: Scale) -> None:
    """The schema through the real migration, the rows through raw executemany (fast)."""
    path.unlink(missing_ok=True)
    db = open_database(path)
    migrate(db)
    db.close()
    con = sqlite3.connect(path)
    con.execute("PRAGMA journal_mode=wal")
    con.execute("PRAGMA synchronous=off")
    EVENTS, ALERTS, OUTBOX = scale.events, scale.alerts, scale.outbox
    step = SPAN / EVENTS

    def events() -> Iterator[tuple[Any, ...]]:
        for i in range(EVENTS):
            key = SOURCES[i % len(SOURCES)]
            at = ts(NOW - SPAN + step * i)
            yield (
                f"fp{i:08d}",
                key.split(":")[0],
                key,
                "issue",
                str(i),
                "issue_opened",
                str(i),
                title(i),
                "",
                f"https://github.com/x/y/issues/{i}",
                "octocat",
                "[]",
                at,
                at,
                "{}",
                "{}",
                "notify" if i % 5 == 0 else "none",
                "{}",
            )

    for batch in chunks(events()):
        with con:
            con.executemany(
                "INSERT INTO event (fingerprint, source, source_key, resource_type, resource_id, "
                "event_type, event_id, title, summary, url, author, labels, occurred_at, "
                "observed_at, details, raw, decision, decision_detail) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                batch,
            )

    def alerts() -> Iterator[tuple[Any, ...]]:
        for j in range(ALERTS):
            i = j * 5  # every fifth event notified
            key = SOURCES[i % len(SOURCES)]
            matched = json.dumps(
                [{"reasons": ["title contained 'deepseek'"], "rule": f"rule{j % 20}"}]
            )
            prio = ("normal", "normal", "high", "low", "critical")[j % 5]
            yield (
                i + 1,
                f"fp{i:08d}",
                title(i),
                key,
                prio,
                "[]",
                matched,
                "{}",
                ts(NOW - SPAN + step * i),
                "event",
            )

    for batch in chunks(alerts()):
        with con:
            con.executemany(
                "INSERT INTO alert (event_id, fingerprint, title, source_key, priority, tags, "
                "matched, payload, created_at, kind) VALUES (?,?,?,?,?,?,?,?,?,?)",
                batch,
            )

    def outbox() -> Iterator[tuple[Any, ...]]:
        for k in range(OUTBOX):
            alert_id = ALERTS - OUTBOX + k + 1  # the newest alerts have deliveries
            status = "dead" if k % 50 == 0 else "retrying" if k % 97 == 0 else "sent"
            error = "HTTP 404 from the WeLink robot" if status != "sent" else None
            at = ts(NOW - timedelta(minutes=OUTBOX - k))
            yield (
                alert_id,
                "welink",
                "welink://***@example.invalid",
                status,
                "s",
                "b",
                3 if status == "dead" else 1,
                at,
                error,
                at,
                at,
            )

    for batch in chunks(outbox()):
        with con:
            con.executemany(
                "INSERT INTO outbox (alert_id, channel, target, status, subject, body, attempts, "
                "next_attempt_at, last_error, created_at, updated_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                batch,
            )
    with con:
        con.execute(
            "INSERT INTO delivery_attempt (outbox_id, started_at, duration_ms, outcome, "
            "http_status) SELECT id, updated_at, 100, CASE status WHEN 'sent' THEN 'sent' "
            "ELSE 'dead' END, 200 FROM outbox"
        )
        metrics = []
        for m in range(scale.cycles):  # 5-minute cycles per source, back from NOW
            for key in SOURCES:
                metrics.append((key, ts(NOW - timedelta(minutes=5 * m)), 5, 1, 0, 0, 1))
        # peewee's defaults live in Python: a raw insert names every NOT NULL column.
        con.executemany(
            "INSERT INTO cycle_metric (source_key, started_at, new_events, matched, alerts, "
            "duration_ms, requests, outcome, fetched, deliveries_ok, deliveries_failed, retries, "
            "http_statuses) VALUES (?,?,?,?,?,?,?,'ok',5,0,0,0,'{}')",
            metrics,
        )
        con.executemany(
            "INSERT INTO source_state (source_key, source, cursor, validators, health, "
            "consecutive_failures, last_poll_at, next_poll_at, updated_at, failure_notified) "
            "VALUES (?,?,?,?,?,?,?,?,?,0)",
            [
                (
                    k,
                    k.split(":")[0],
                    '{"since": "2026-11-20T11:55:00Z"}',
                    "{}",
                    "ok",
                    0,
                    ts(NOW - timedelta(minutes=1)),
                    ts(NOW + timedelta(minutes=4)),
                    ts(NOW),
                )
                for k in SOURCES
            ],
        )
        con.execute(
            "INSERT INTO worker_heartbeat (worker_id, hostname, pid, version, started_at, "
            "heartbeat_at) VALUES ('w', 'host', 1, '1.0', ?, ?)",
            (ts(NOW - timedelta(days=1)), ts(NOW - timedelta(seconds=3))),
        )
    con.execute("ANALYZE")
    con.close()
    path.with_suffix(".version").write_text(f"{BUILD_VERSION} {scale}")


def database(scale: Scale, rebuild: bool = False) -> Path:
    """The cached database of this scale, built when missing or out of date."""
    folder = Path(
        os.environ.get("MRT_BENCH_DIR", Path(tempfile.gettempdir()) / "mrt-bench-console")
    )
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"console-{scale.name}.sqlite3"
    marker = path.with_suffix(".version")
    if (
        rebuild
        or not path.exists()
        or not marker.exists()
        or marker.read_text() != f"{BUILD_VERSION} {scale}"
    ):
        started = time.perf_counter()
        print(
            f"building {path} ({scale.events:,} events, {scale.alerts:,} alerts, "
            f"{scale.outbox:,} outbox rows) ...",
            flush=True,
        )
        build(path, scale)
        print(f"built in {time.perf_counter() - started:.1f} s", flush=True)
    return path
