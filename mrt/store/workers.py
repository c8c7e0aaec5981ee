"""Worker heartbeats and the command queue between consoles (TUI, CLI) and running workers."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

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
    """Claim pending commands for this worker (each is taken by exactly one worker)."""
    with write_transaction(bound_database()):
        rows = list(
            Command.select().where(Command.taken_at.is_null()).order_by(Command.id).limit(limit)
        )
        if rows:
            Command.update(taken_by=worker_id, taken_at=now).where(
                Command.id.in_([r.id for r in rows]) & Command.taken_at.is_null()
            ).execute()
    return rows


def finish_command(command_id: int, result: dict[str, Any], now: datetime) -> None:
    Command.update(done_at=now, result=result).where(Command.id == command_id).execute()
