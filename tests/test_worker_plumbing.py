"""Logging, systemd notifications, heartbeats and the command queue."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import peewee

from mrt.logs import configure_logging
from mrt.ops.sources import poll_now
from mrt.store import sources, workers
from mrt.store.models import Command, SourceState
from worker.assembly import Runtime
from worker.runtime import _handle_commands
from worker.systemd import SystemdNotifier

NOW = datetime(2026, 11, 22, 10, 0, tzinfo=UTC)


def test_json_lines_carry_context_and_never_a_secret() -> None:
    out = io.StringIO()
    configure_logging("json", "info", secrets=["tok-SECRET-123"], stream=out)
    logging.getLogger("mrt.test").info(
        "posting to https://x/?token=%s",
        "tok-SECRET-123",
        extra={"source_key": "github:a/b", "outbox_id": 7},
    )
    line = json.loads(out.getvalue().strip())
    assert line["source_key"] == "github:a/b" and line["outbox_id"] == 7
    assert "tok-SECRET-123" not in out.getvalue()
    assert line["msg"] == "posting to https://x/?token=***"


def test_text_format_appends_context() -> None:
    out = io.StringIO()
    configure_logging("text", "info", stream=out)
    logging.getLogger("mrt.test").warning("deferred", extra={"source_key": "huggingface:org"})
    assert out.getvalue().rstrip().endswith("[source_key=huggingface:org]")


def test_systemd_notifier_sends_datagrams(tmp_path: Path) -> None:
    path = str(tmp_path / "notify.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    server.bind(path)
    try:
        notifier = SystemdNotifier(path)
        assert notifier.ready("polling 3 sources")
        assert server.recv(1024) == b"READY=1\nSTATUS=polling 3 sources"
        assert notifier.watchdog()
        assert server.recv(1024) == b"WATCHDOG=1"
    finally:
        server.close()
    assert SystemdNotifier("").notify("READY=1") is False  # outside systemd: a no-op


def test_heartbeat_and_liveness(db: peewee.Database) -> None:
    workers.beat("w1", hostname="h", pid=1, version="1", started_at=NOW, now=NOW)
    assert [w.worker_id for w in workers.live_workers(NOW + timedelta(seconds=30))] == ["w1"]
    assert workers.live_workers(NOW + timedelta(minutes=5)) == []
    workers.beat(
        "w1", hostname="h", pid=1, version="1", started_at=NOW, now=NOW + timedelta(minutes=5)
    )
    assert len(workers.live_workers(NOW + timedelta(minutes=5))) == 1
    workers.mark_stopped("w1", NOW + timedelta(minutes=6))
    assert workers.live_workers(NOW + timedelta(minutes=6)) == []


def test_each_command_is_taken_once(db: peewee.Database) -> None:
    first = workers.submit_command("wake_senders", {}, NOW)
    workers.submit_command("reload", {}, NOW)
    taken = workers.take_commands("w1", NOW)
    assert [c.kind for c in taken] == ["wake_senders", "reload"]
    assert workers.take_commands("w2", NOW) == []
    workers.finish_command(first, {"ok": True}, NOW)



def test_poll_now_is_not_a_worker_command_the_flag_is_the_one_way(db: peewee.Database) -> None:
    """"Poll now" has one mechanism (poll_requested_at, which mrt.ops.sources.poll_now sets and
    the scheduler reads); a queued "poll_now" command is answered as unknown, requesting nothing."""
    key = "github:a/b"
    sources.ensure_states([(key, "github")], NOW)
    command = workers.submit_command("poll_now", {"source_key": key}, NOW)
    rt = cast(Runtime, SimpleNamespace(worker_id="w1", pending_commands=[]))
    _handle_commands(rt, NOW, asyncio.Event())
    assert Command.get_by_id(command).result == {
        "ok": False, "error": "unknown command 'poll_now'"}
    assert SourceState.get_by_id(key).poll_requested_at is None

    assert poll_now(key, now=NOW, actor="cli") == 1
    assert sources.due_keys([key], NOW) == [key]
