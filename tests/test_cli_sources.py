"""`mrt sources` and `mrt sources poll` through mrt.cli.main, on a real SQLite file.

The states are written with the store's own functions (what the worker calls after a poll), so
the command reads exactly what a running worker leaves behind.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import peewee
import pytest

from mrt.cli import main
from mrt.commands.sources import relative, render_table, source_rows
from mrt.config import load_config
from mrt.events import utcnow
from mrt.pipeline import build_specs
from mrt.store import sources as source_store
from mrt.store.models import AuditLog, SourceState, database_proxy

CONFIG = """
version = 1
poll_interval_seconds = 300
[state]
sqlite_path = "{db}"
[sources.github]
repos = ["vllm-project/vllm", "sgl-project/sglang"]
[sources.huggingface]
orgs = ["deepseek-ai"]
[sources.modelscope]
orgs = ["deepseek-ai"]
"""
KEYS = ["github:vllm-project/vllm", "github:sgl-project/sglang", "huggingface:deepseek-ai",
        "modelscope:deepseek-ai"]


@pytest.fixture
def config_file(tmp_path: Path, db_path: Path) -> Path:
    path = tmp_path / "mrt.toml"
    path.write_text(CONFIG.format(db=db_path), encoding="utf-8")
    return path


def cli(db: peewee.Database | None, *argv: str) -> int:
    code = main(list(argv))
    if db is not None:
        database_proxy.initialize(db)  # the command bound (and closed) a connection of its own
    return code


def as_json(db: peewee.Database | None, capsys: pytest.CaptureFixture[str], *argv: str
            ) -> dict[str, Any]:
    capsys.readouterr()
    assert cli(db, "sources", *argv, "--json") == 0
    data: dict[str, Any] = json.loads(capsys.readouterr().out)
    return {row["key"]: row for row in data["sources"]}


def seed_states(now: Any) -> None:
    """One source of each kind: fine, failing, rate-limited, never polled, and a forgotten one."""
    source_store.ensure_states([(k, k.split(":")[0]) for k in KEYS[:3]], now)
    source_store.ensure_states([("github:old/repo", "github")], now)
    source_store.record_success(
        KEYS[0], cursor={"updated_after": "2026-11-22T09:00:00Z"}, validators={},
        degraded=None, http_status=304, ratelimit_remaining=4983,
        ratelimit_reset_at=now + timedelta(minutes=40), now=now - timedelta(minutes=3),
        next_poll_at=now + timedelta(minutes=2),
    )
    for _ in range(2):
        source_store.record_failure(
            KEYS[1], error="HTTP 500 from /repos/sgl-project/sglang/issues",
            error_class="SourceError", http_status=500, now=now - timedelta(minutes=1),
            next_poll_at=now + timedelta(minutes=4),
        )
    source_store.record_deferral(
        KEYS[2], until=now + timedelta(minutes=10), message="429: Retry-After 600 s",
        http_status=429, now=now,
    )
    source_store.record_success(
        "github:old/repo", cursor={"updated_after": "2025-01-01T00:00:00Z"}, validators={},
        degraded=None, http_status=200, ratelimit_remaining=None, ratelimit_reset_at=None,
        now=now - timedelta(days=3), next_poll_at=now - timedelta(days=3),
    )


def test_json_joins_the_config_with_the_database(
    db: peewee.Database, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    now = utcnow()
    seed_states(now)

    rows = as_json(db, capsys, "--config", str(config_file))

    assert list(rows) == [*KEYS, "github:old/repo"]  # config order, then the unconfigured
    ok = rows[KEYS[0]]
    assert (ok["health"], ok["configured"], ok["polled"]) == ("ok", True, True)
    assert ok["cursor"] == {"updated_after": "2026-11-22T09:00:00Z"}
    assert ok["last_error"] is None and ok["consecutive_failures"] == 0
    assert ok["ratelimit_remaining"] == 4983
    assert ok["ratelimit_reset_at"] == (now + timedelta(minutes=40)).isoformat()
    assert ok["next_poll_at"] == (now + timedelta(minutes=2)).isoformat()
    assert ok["last_poll_at"] == (now - timedelta(minutes=3)).isoformat()

    failing = rows[KEYS[1]]
    assert failing["health"] == "failing" and failing["consecutive_failures"] == 2
    assert failing["last_error"] == {"class": "SourceError", "http_status": 500,
                                     "message": "HTTP 500 from /repos/sgl-project/sglang/issues"}
    assert failing["cursor"] is None  # never succeeded: no baseline yet

    deferred = rows[KEYS[2]]
    assert deferred["health"] == "deferred"
    assert deferred["health_detail"] == "429: Retry-After 600 s"
    assert deferred["deferred_until"] == (now + timedelta(minutes=10)).isoformat()
    assert deferred["ratelimit_remaining"] == 0

    never = rows[KEYS[3]]
    assert (never["polled"], never["health"], never["last_poll_at"]) == (False, "new", None)

    gone = rows["github:old/repo"]
    assert (gone["configured"], gone["health"]) == (False, "not configured")
    assert gone["cursor"] == {"updated_after": "2025-01-01T00:00:00Z"}  # history is kept


def test_table_shows_ages_errors_and_the_unconfigured(
    db: peewee.Database, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_states(utcnow())
    capsys.readouterr()

    assert cli(db, "sources", "--config", str(config_file)) == 0

    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert lines["SOURCE"].split()[:3] == ["SOURCE", "HEALTH", "LAST"]
    vllm = lines[KEYS[0]]
    assert " ok " in vllm and "3m ago" in vllm and "in 1m" in vllm and "4983 left" in vllm
    assert "SourceError HTTP 500: HTTP 500 from" in lines[KEYS[1]]
    assert "deferred in 9m" in lines[KEYS[2]] or "deferred in 10m" in lines[KEYS[2]]
    assert "never polled" in lines[KEYS[3]] and "first run" in lines[KEYS[3]]
    assert "not configured" in lines["github:old/repo"] and "3d ago" in lines["github:old/repo"]


def test_ages_read_like_a_person_would_say_them() -> None:
    now = utcnow()
    assert relative(None, now) == "-"
    assert relative(now + timedelta(seconds=2), now) == "now"
    assert relative(now - timedelta(seconds=40), now) == "40s ago"
    assert relative(now - timedelta(minutes=3, seconds=5), now) == "3m ago"
    assert relative(now + timedelta(minutes=2, seconds=1), now) == "in 2m"
    assert relative(now - timedelta(hours=5), now) == "5h ago"
    assert relative(now + timedelta(days=2, hours=1), now) == "in 2d1h"


def test_without_a_database_every_configured_source_is_never_polled(
    config_file: Path, db_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert not db_path.exists()
    rows = as_json(None, capsys, "--config", str(config_file))
    assert list(rows) == KEYS and all(not r["polled"] for r in rows.values())
    assert cli(None, "sources", "--config", str(config_file)) == 0
    out = capsys.readouterr().out
    assert f"no database at {db_path} yet" in out and out.count("never polled") == 4
    assert not db_path.exists()  # listing creates nothing


def test_db_option_overrides_the_configs_database(
    db: peewee.Database, db_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    elsewhere = tmp_path / "other.toml"
    elsewhere.write_text(CONFIG.format(db=tmp_path / "missing.sqlite3"), encoding="utf-8")
    seed_states(utcnow())
    rows = as_json(db, capsys, "--config", str(elsewhere), "--db", str(db_path))
    assert rows[KEYS[1]]["consecutive_failures"] == 2


def test_poll_requests_a_poll_and_audits_it(
    db: peewee.Database, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_states(utcnow())

    assert cli(db, "sources", "poll", KEYS[1], "--config", str(config_file),
               "--reason", "fixed the proxy") == 0
    assert f"poll of {KEYS[1]} requested" in capsys.readouterr().out
    assert SourceState.get_by_id(KEYS[1]).poll_requested_at is not None
    assert source_store.due_keys([KEYS[1]], utcnow()) == [KEYS[1]]
    (entry,) = AuditLog.select()
    assert (entry.actor, entry.action, entry.params, entry.reason, entry.result) == (
        "cli", "source.poll", {"source_key": KEYS[1]}, "fixed the proxy", {"requested": 1})

    # a rate-limited source stays deferred even when asked: the table says until when
    assert cli(db, "sources", "poll", KEYS[2], "--config", str(config_file)) == 0
    capsys.readouterr()
    assert cli(db, "sources", "--config", str(config_file)) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith(KEYS[2]))
    assert "asked" not in line and line.count("in 9m") + line.count("in 10m") >= 2
    assert source_store.due_keys([KEYS[2]], utcnow()) == []

    # configured but never polled: the state row is created so the worker sees the request
    assert cli(db, "sources", "--config", str(config_file), "poll", KEYS[3]) == 0
    assert SourceState.get_by_id(KEYS[3]).poll_requested_at is not None
    rows = as_json(db, capsys, "--config", str(config_file))
    assert rows[KEYS[3]]["poll_requested_at"] is not None


def test_poll_of_an_unknown_or_unconfigured_source_is_refused(
    db: peewee.Database, config_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_states(utcnow())
    capsys.readouterr()
    for key in ("github:old/repo", "github:nope/nope"):
        assert cli(db, "sources", "poll", key, "--config", str(config_file)) == 1
        err = capsys.readouterr().err
        assert f"{key} is not a configured source" in err and KEYS[0] in err
    assert SourceState.get_by_id("github:old/repo").poll_requested_at is None
    assert AuditLog.select().count() == 0


def test_a_bad_config_is_exit_2_without_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[sources.github]\nrepoz = ['a/b']\n", encoding="utf-8")
    assert cli(None, "sources", "--config", str(bad)) == 2
    err = capsys.readouterr().err
    assert "repoz" in err and "Traceback" not in err


def test_source_rows_for_an_empty_config_and_database() -> None:
    assert source_rows([], []) == []
    assert render_table([], utcnow()) == "no sources configured"


def test_rows_follow_the_config_order_not_the_database_order(
    db: peewee.Database, config_file: Path
) -> None:
    seed_states(utcnow())
    specs = build_specs(load_config(config_file))
    rows = source_rows(list(reversed(specs)), source_store.list_states())
    assert [r.key for r in rows] == [*reversed(KEYS), "github:old/repo"]
