"""`mrt ... | head`: a reader that stops early ends the command quietly (exit 0, no traceback)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import peewee
import pytest
from test_outbox_support import T0, enqueue_alerts

from mrt.delivery.base import Target
from mrt.store.models import Outbox

COMMANDS = (["outbox", "--json", "--limit", "500"], ["outbox", "--limit", "500"], ["trace", "1"])


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda a: " ".join(a))
def test_a_closed_pipe_is_a_quiet_exit(
    db: peewee.Database, db_path: Path, argv: list[str]
) -> None:
    # one alert delivered to 400 robots: every command prints far more than a pipe holds
    targets = [Target("welink", f"welink://robot-{n}/***", f"welink://robot-{n}/s") for n in range(400)]
    ids = enqueue_alerts(T0, targets)
    Outbox.update(last_error="HTTP 500: " + "robot busy " * 20).where(Outbox.id << ids).execute()
    db.close()
    proc = subprocess.Popen(
        [sys.executable, "-m", "mrt", argv[0], "--db", str(db_path), *argv[1:]],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(40)  # a few bytes, then the reader goes away, as `head -c 40` does
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    assert "Traceback" not in err and "BrokenPipeError" not in err
    assert err == ""
