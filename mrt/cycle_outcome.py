"""What a source cycle ended as, recorded and reported whichever stage it failed in.

    setup -> poll -> planning (rules, rendering) -> commit -> operators' notice

A failure in any stage is the source's failed cycle: recorded in the source state (the error,
naming the stage unless it was the poll, whose errors already name the URL; consecutive
failures) and in the cycle metrics, and returned as a CycleReport for `--once`. If the database
refuses even that record, the report still says so. After `failure_alert_after` failures in a
row the operators are told once, and once again on recovery; a notice that cannot be stored
makes the cycle failed too (its committed events stay) and is tried again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from mrt.alerting import ops_notice
from mrt.delivery.base import Message
from mrt.errors import MrtError, SourceError
from mrt.source_kit.contract import SourceSpec
from mrt.store import cycle, sources
from mrt.store.db import write_transaction
from mrt.store.db_errors import unavailable_kind

if TYPE_CHECKING:
    from mrt.http import HttpClient
    from mrt.pipeline import Engine

log = logging.getLogger("mrt.pipeline")


@dataclass(slots=True)
class CycleReport:
    source_key: str
    outcome: str  # ok | failed (in any stage: `error` says which) | deferred | lease_lost
    new_events: int = 0
    alerts: int = 0
    deliveries: int = 0
    requests: int = 0
    error: str | None = None
    alert_ids: list[int] = field(default_factory=list)
    quarantined: int = 0  # upstream items never seen before that this cycle kept aside


# The stages of a cycle, as a failed one names them in its error (`mrt sources`, --once).
SETUP, POLL, PLANNING, COMMIT, NOTICE = "setup", "poll", "planning", "commit", "operators' notice"
# When even the next poll time cannot be computed, a failed cycle is tried again after this.
FALLBACK_RETRY = timedelta(minutes=5)


@dataclass(slots=True)
class Progress:
    """How far one cycle got: what its failure is recorded with, whichever stage failed."""

    stage: str = SETUP
    started: float = field(default_factory=time.monotonic)
    client: HttpClient | None = None
    next_at: datetime | None = None

    def metric(self, **extra: Any) -> dict[str, Any]:
        client = self.client
        return {
            "requests": client.requests if client else 0,
            "retries": client.retries if client else 0,
            "http_statuses": {str(k): v for k, v in client.statuses.items()} if client else {},
            "duration_ms": int((time.monotonic() - self.started) * 1000),
            **extra,
        }


def _text(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, MrtError) else f"{type(exc).__name__}: {exc}"


def _describe(exc: BaseException, stage: str) -> str:
    # a poll's errors already say what was asked of whom; other stages say which they were
    return _text(exc) if stage == POLL else f"{stage} failed: {_text(exc)}"


def record_failure(
    engine: Engine, spec: SourceSpec, exc: Exception, now: datetime, progress: Progress
) -> CycleReport:
    message = _describe(exc, progress.stage)
    status = exc.http_status if isinstance(exc, SourceError) else None
    metric = progress.metric()
    report = CycleReport(spec.key, "failed", requests=metric["requests"], error=message)
    logged = f"poll failed: {message}" if progress.stage == POLL else message
    # a database that is locked or full for a while: what failed rolled back, and the source
    # stays due so that it polls again as soon as the worker's database watch lets it
    retry_at = now if unavailable_kind(exc) else progress.next_at or now + FALLBACK_RETRY
    log.error("%s: %s", spec.key, logged, extra={"source_key": spec.key})
    try:
        with write_transaction(engine.db):
            state = sources.record_failure(
                spec.key,
                error=message,
                error_class=type(exc).__name__,
                http_status=status,
                now=now,
                next_poll_at=retry_at,
            )
            cycle.record_metric(spec.key, now, outcome="failed", error=message, **metric)
    except Exception as record_exc:
        # the database refuses even this: the report still tells; the next cycle tries again
        report.error = f"{message} (not recorded: {_text(record_exc)})"
        log.error("%s: recording the failure failed: %s", spec.key, record_exc)
        return report
    threshold = engine.config.observability.failure_alert_after
    if state.consecutive_failures >= threshold and not state.failure_notified:
        text = (
            f"MRT source {spec.key} is failing: {state.consecutive_failures} polls in a row. "
            f"Last error: {message}"
        )
        failed = (message, type(exc).__name__)
        if error := notify_or_record(engine, spec.key, text, now, notified=True, after=failed):
            report.error = error
    return report


def notify_or_record(
    engine: Engine,
    source_key: str,
    text: str,
    now: datetime,
    *,
    notified: bool,
    after: tuple[str, str] | None = None,
) -> str | None:
    """The operators' notice; if it fails, that failure joins the source's last error (after
    the failed cycle's own (message, class), if any) and that error is returned. The notice is
    tried again by the next cycle that qualifies."""
    try:
        notify_ops(engine, source_key, text, now, notified=notified)
    except Exception as exc:
        failed = _describe(exc, NOTICE)
        error, error_class = (f"{after[0]}; {failed}", after[1]) if after else (failed, None)
        log.error("%s: %s", source_key, failed, extra={"source_key": source_key})
        try:
            with write_transaction(engine.db):
                sources.record_notice_failure(
                    source_key,
                    error=error,
                    error_class=error_class or type(exc).__name__,
                    now=now,
                )
        except Exception as record_exc:
            error = f"{error} (not recorded: {_text(record_exc)})"
        return error
    return None


def notify_ops(
    engine: Engine, source_key: str, text: str, now: datetime, *, notified: bool
) -> None:
    """Tell the operators once when a source keeps failing, and once when it recovers."""
    message = Message(subject=text.split(":")[0], body=text)
    with write_transaction(engine.db):
        ops_notice(
            engine.config,
            engine.targets,
            message,
            title=text,
            kind="source_health",
            tags=("source-health",),
            source_key=source_key,
            now=now,
        )
        sources.set_failure_notified(source_key, notified)
