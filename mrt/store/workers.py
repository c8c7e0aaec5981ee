"""Worker heartbeats and the command queue between consoles (TUI, CLI) and running workers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from mrt.inert import inert_text
from mrt.store.db import bound_database, write_transaction
from mrt.store.models import Command, WorkerHeartbeat

WORKER_MODES = ("daemon", "once", "service")  # WorkerHeartbeat.mode


def beat(
    worker_id: str,
    *,
    hostname: str,
    pid: int,
    version: str,
    started_at: datetime,
    now: datetime,
    mode: str | None = None,
) -> None:
    """`mode`: how the worker runs (WORKER_MODES), so a console can tell a cron run that ended
    from a daemon that died."""
    WorkerHeartbeat.insert(
        worker_id=worker_id,
        hostname=hostname,
        pid=pid,
        version=version,
        started_at=started_at,
        heartbeat_at=now,
        mode=mode,
    ).on_conflict(
        conflict_target=[WorkerHeartbeat.worker_id],
        update={
            WorkerHeartbeat.heartbeat_at: now,
            WorkerHeartbeat.stopped_at: None,
            WorkerHeartbeat.mode: mode,
        },
    ).execute()


def mark_stopped(worker_id: str, now: datetime) -> None:
    WorkerHeartbeat.update(stopped_at=now, heartbeat_at=now).where(
        WorkerHeartbeat.worker_id == worker_id
    ).execute()


def live_workers(
    now: datetime, *, stale_after: timedelta = timedelta(seconds=60)
) -> list[WorkerHeartbeat]:
    return list(
        WorkerHeartbeat.select()
        .where(
            WorkerHeartbeat.stopped_at.is_null()
            & (WorkerHeartbeat.heartbeat_at >= now - stale_after)
        )
        .order_by(WorkerHeartbeat.heartbeat_at.desc())
    )


def submit_command(kind: str, args: dict[str, Any], now: datetime) -> int:
    return int(Command.create(kind=kind, args=args, created_at=now).id)


def take_commands(worker_id: str, now: datetime, *, limit: int = 50) -> list[Command]:
    """Claim pending commands for this worker (each is taken by exactly one worker).

    On PostgreSQL two workers may read the same pending rows; the conditional UPDATE gives each
    row to one of them (the other's waits, then matches nothing), so only the rows this
    worker's UPDATE took are returned."""
    with write_transaction(bound_database()):
        rows = list(
            Command.select().where(Command.taken_at.is_null()).order_by(Command.id).limit(limit)
        )
        if not rows:
            return rows
        Command.update(taken_by=worker_id, taken_at=now).where(
            Command.id.in_([r.id for r in rows]) & Command.taken_at.is_null()
        ).execute()
        return list(
            Command.select()
            .where(Command.id.in_([r.id for r in rows]) & (Command.taken_by == worker_id))
            .order_by(Command.id)
        )


def finish_command(command_id: int, result: dict[str, Any], now: datetime) -> None:
    Command.update(done_at=now, result=result).where(Command.id == command_id).execute()


# ------------------------------------------------------------------ config reloads (schema v9)

RELOAD_ERROR_CHARS = 1000  # what a heartbeat keeps of a reload error


@dataclass(frozen=True, slots=True)
class ReloadFailure:
    """A running worker whose last config reload failed: it runs its previous config."""

    worker_id: str
    hostname: str
    pid: int
    error: str  # "FILE: what the loader said" (worker/reload_status.py writes it so)
    failed_at: datetime

    def sentence(self) -> str:
        """How `mrt check`, `mrt sources` and the console say it."""
        file, sep, detail = self.error.partition(": ")
        if not sep:
            file, detail = "its config", self.error
        at = self.failed_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        return (f"the running worker failed to reload {file} at {at}: {detail}; "
                "it runs the previous config")


def record_reload(worker_id: str, *, error: str | None, now: datetime) -> None:
    """The outcome of a worker's config reload. `error` must already be secret-free (the worker
    scrubs it, worker/reload_status.py); it is made inert and bounded here. A success clears
    the failure."""
    if error is None:
        fields: dict[Any, Any] = {WorkerHeartbeat.reload_error: None,
                                  WorkerHeartbeat.reload_failed_at: None,
                                  WorkerHeartbeat.reloaded_at: now}
    else:
        text = inert_text(error, max_chars=RELOAD_ERROR_CHARS) or "unknown error"
        fields = {WorkerHeartbeat.reload_error: text, WorkerHeartbeat.reload_failed_at: now}
    WorkerHeartbeat.update(fields).where(WorkerHeartbeat.worker_id == worker_id).execute()


def reload_failures(
    now: datetime, *, stale_after: timedelta = timedelta(seconds=60)
) -> list[ReloadFailure]:
    """Running workers (not stopped, heartbeat within `stale_after`) whose last reload failed,
    newest failure first. A worker that stopped or died runs no config at all."""
    query = (
        WorkerHeartbeat.select()
        .where(
            WorkerHeartbeat.stopped_at.is_null()
            & (WorkerHeartbeat.heartbeat_at >= now - stale_after)
            & WorkerHeartbeat.reload_error.is_null(False)
        )
        .order_by(WorkerHeartbeat.reload_failed_at.desc())
    )
    return [
        ReloadFailure(str(b.worker_id), str(b.hostname), int(b.pid), str(b.reload_error),
                      b.reload_failed_at)
        for b in query
    ]
